// ScatterPanels / ScatterPlot.
#include <algorithm>
#include <cmath>

#include "client/plot/canvas.h"
#include "client/plot/plot.h"

namespace bn::plot {

namespace {

absl::Status Validate(const std::vector<ScatterPanel>& panels, const ScatterOptions& options) {
  if (panels.empty()) return absl::InvalidArgumentError("scatter: no panels");
  if (options.label_names.empty()) return absl::InvalidArgumentError("scatter: no label names");
  if (options.panel_size < 100 || options.panel_size > 4000) {
    return absl::InvalidArgumentError("scatter: panel_size must be in 100..4000");
  }
  if (!(options.point_radius > 0) || options.point_radius > 50) {
    return absl::InvalidArgumentError("scatter: point_radius must be in (0, 50]");
  }
  const int names = static_cast<int>(options.label_names.size());
  for (const ScatterPanel& p : panels) {
    if (p.x.size() != p.y.size() || p.x.size() != p.labels.size()) {
      return absl::InvalidArgumentError("scatter: panel '" + p.title +
                                        "' has x, y and labels of different sizes");
    }
    if (p.x.empty()) return absl::InvalidArgumentError("scatter: panel '" + p.title + "' is empty");
    for (size_t i = 0; i < p.x.size(); ++i) {
      if (!std::isfinite(p.x[i]) || !std::isfinite(p.y[i])) {
        return absl::InvalidArgumentError("scatter: point " + std::to_string(i) + " of '" +
                                          p.title + "' is not finite");
      }
      if (p.labels[i] < 0 || p.labels[i] >= names) {
        return absl::InvalidArgumentError("scatter: label " + std::to_string(p.labels[i]) +
                                          " has no name");
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ScatterPanels(const std::vector<ScatterPanel>& panels, const ScatterOptions& options,
                           const std::string& path, std::vector<std::vector<Pixel>>* drawn) {
  auto format = FormatForPath(path);
  if (!format.ok()) return format.status();
  if (absl::Status s = Validate(panels, options); !s.ok()) return s;

  constexpr double kLeft = 58, kBetween = 72, kRightPad = 18, kTitle = 34, kPanelTitle = 24,
                   kBottom = 34, kTitleFont = 17, kPanelTitleFont = 14;
  const double side = options.panel_size;
  const double n = static_cast<double>(panels.size());
  TextMeasurer measure;
  const double legend_w = LegendWidth(measure, options.label_names);
  const double top = (options.title.empty() ? 12 : kTitle) + kPanelTitle;
  const double legend_h = kLegendRow * options.label_names.size();
  const int width =
      static_cast<int>(kLeft + n * side + (n - 1) * kBetween + 24 + legend_w + kRightPad);
  const int height = static_cast<int>(top + std::max(side, legend_h) + kBottom);
  auto canvas_or = Canvas::Create(*format, width, height);
  if (!canvas_or.ok()) return canvas_or.status();
  Canvas& canvas = **canvas_or;

  if (!options.title.empty()) {
    canvas.SetColor({20, 20, 20});
    canvas.Text(options.title, width / 2.0, 24, kTitleFont, Align::kCenter, true);
  }
  if (drawn != nullptr) drawn->assign(panels.size(), {});
  for (size_t p = 0; p < panels.size(); ++p) {
    const ScatterPanel& panel = panels[p];
    Frame f;
    f.left = kLeft + p * (side + kBetween);
    f.top = top;
    f.width = side;
    f.height = side;
    PaddedRange(panel.x, 0.05, &f.x0, &f.x1);
    PaddedRange(panel.y, 0.05, &f.y0, &f.y1);
    DrawAxes(canvas, f, 6);
    canvas.SetColor({20, 20, 20});
    canvas.Text(panel.title, f.left + side / 2, top - 8, kPanelTitleFont, Align::kCenter, true);
    cairo_save(canvas.cr());
    cairo_rectangle(canvas.cr(), f.left, f.top, f.width, f.height);
    cairo_clip(canvas.cr());
    for (size_t i = 0; i < panel.x.size(); ++i) {
      const double px = f.X(panel.x[i]), py = f.Y(panel.y[i]);
      canvas.SetColor(PaletteColor(panel.labels[i]));
      canvas.FillCircle(px, py, options.point_radius);
      if (drawn != nullptr) (*drawn)[p].push_back({px, py});
    }
    cairo_restore(canvas.cr());
  }
  canvas.Legend(options.label_names, kLeft + n * side + (n - 1) * kBetween + 24, top, false);
  return canvas.Save(path);
}

absl::Status ScatterPlot(const ScatterPanel& panel, const ScatterOptions& options,
                         const std::string& path, std::vector<Pixel>* drawn) {
  ScatterPanel titled = panel;
  ScatterOptions single = options;
  if (titled.title.empty()) {
    titled.title = options.title;
    single.title.clear();
  }
  std::vector<std::vector<Pixel>> positions;
  absl::Status s = ScatterPanels({titled}, single, path, drawn != nullptr ? &positions : nullptr);
  if (s.ok() && drawn != nullptr) *drawn = std::move(positions[0]);
  return s;
}

}  // namespace bn::plot
