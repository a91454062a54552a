// LineChart.
#include <cmath>

#include "client/plot/canvas.h"
#include "client/plot/plot.h"

namespace bn::plot {

absl::Status LineChart(const std::vector<Series>& series, const LineChartOptions& options,
                       const std::string& path) {
  auto format = FormatForPath(path);
  if (!format.ok()) return format.status();
  if (series.empty()) return absl::InvalidArgumentError("line chart: no series");
  if (options.width < 200 || options.width > 8000 || options.height < 200 ||
      options.height > 8000) {
    return absl::InvalidArgumentError("line chart: width and height must be in 200..8000");
  }
  std::vector<double> all_x, all_y;
  std::vector<std::string> names;
  for (const Series& s : series) {
    if (s.x.size() != s.y.size() || s.x.empty()) {
      return absl::InvalidArgumentError("line chart: series '" + s.name +
                                        "' needs x and y of one non-zero size");
    }
    for (size_t i = 0; i < s.x.size(); ++i) {
      if (!std::isfinite(s.x[i]) || !std::isfinite(s.y[i])) {
        return absl::InvalidArgumentError("line chart: series '" + s.name +
                                          "' has a non-finite point");
      }
    }
    all_x.insert(all_x.end(), s.x.begin(), s.x.end());
    all_y.insert(all_y.end(), s.y.begin(), s.y.end());
    names.push_back(s.name);
  }
  TextMeasurer measure;
  const double legend_w = LegendWidth(measure, names);
  const double top = options.title.empty() ? 16 : 40;
  Frame f;
  f.left = options.y_label.empty() ? 60 : 78;
  f.top = top;
  f.width = options.width - f.left - legend_w - 40;
  f.height = options.height - top - (options.x_label.empty() ? 36 : 56);
  if (f.width < 60 || f.height < 60) {
    return absl::InvalidArgumentError("line chart: too small for its legend and labels");
  }
  PaddedRange(all_x, 0.02, &f.x0, &f.x1);
  PaddedRange(all_y, 0.06, &f.y0, &f.y1);

  auto canvas_or = Canvas::Create(*format, options.width, options.height);
  if (!canvas_or.ok()) return canvas_or.status();
  Canvas& canvas = **canvas_or;
  canvas.SetColor({20, 20, 20});
  canvas.Text(options.title, options.width / 2.0, 26, 16, Align::kCenter, true);
  DrawAxes(canvas, f, 7, options.integer_x);
  canvas.SetColor({40, 40, 40});
  canvas.Text(options.x_label, f.left + f.width / 2, f.top + f.height + 40, 13, Align::kCenter);
  canvas.Text(options.y_label, 22, f.top + f.height / 2, 13, Align::kCenter, false, true);

  cairo_t* cr = canvas.cr();
  cairo_save(cr);
  cairo_rectangle(cr, f.left - 5, f.top - 5, f.width + 10, f.height + 10);
  cairo_clip(cr);
  cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
  for (size_t k = 0; k < series.size(); ++k) {
    const Series& s = series[k];
    canvas.SetColor(PaletteColor(static_cast<int>(k)));
    cairo_new_path(cr);
    for (size_t i = 0; i < s.x.size(); ++i) {
      if (i == 0) {
        cairo_move_to(cr, f.X(s.x[i]), f.Y(s.y[i]));
      } else {
        cairo_line_to(cr, f.X(s.x[i]), f.Y(s.y[i]));
      }
    }
    cairo_set_line_width(cr, 2.2);
    cairo_stroke(cr);
    if (options.markers) {
      for (size_t i = 0; i < s.x.size(); ++i) canvas.FillCircle(f.X(s.x[i]), f.Y(s.y[i]), 3.2);
    }
  }
  cairo_restore(cr);
  canvas.Legend(names, f.left + f.width + 22, f.top, true);
  return canvas.Save(path);
}

}  // namespace bn::plot
