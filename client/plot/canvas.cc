#include "client/plot/canvas.h"

#include <cairo-svg.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>

#include "engine/util/atomic_file.h"

namespace bn::plot {

namespace {

constexpr const char* kFont = "sans-serif";
constexpr double kLegendFont = 12;

void SelectFont(cairo_t* cr, double size, bool bold) {
  cairo_select_font_face(cr, kFont, CAIRO_FONT_SLANT_NORMAL,
                         bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
  cairo_set_font_size(cr, size);
}

double MeasureWidth(cairo_t* cr, const std::string& text, double size, bool bold) {
  SelectFont(cr, size, bold);
  cairo_text_extents_t extents;
  cairo_text_extents(cr, text.c_str(), &extents);
  return extents.x_advance;
}

cairo_status_t AppendToString(void* closure, const unsigned char* data, unsigned int length) {
  static_cast<std::string*>(closure)->append(reinterpret_cast<const char*>(data), length);
  return CAIRO_STATUS_SUCCESS;
}

absl::Status CairoError(const char* what, cairo_status_t status) {
  return absl::InternalError(std::string(what) + ": " + cairo_status_to_string(status));
}

}  // namespace

absl::StatusOr<Format> FormatForPath(const std::string& path) {
  std::string lower = path;
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  auto ends_with = [&](const std::string& suffix) {
    return lower.size() >= suffix.size() &&
           lower.compare(lower.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  if (ends_with(".png")) return Format::kPng;
  if (ends_with(".svg")) return Format::kSvg;
  return absl::InvalidArgumentError("plot file must end in .png or .svg: " + path);
}

Rgb PaletteColor(int i) {
  static const Rgb kTab10[10] = {{31, 119, 180},  {255, 127, 14}, {44, 160, 44},   {214, 39, 40},
                                 {148, 103, 189}, {140, 86, 75},  {227, 119, 194}, {127, 127, 127},
                                 {188, 189, 34},  {23, 190, 207}};
  const int n = 10;
  return kTab10[((i % n) + n) % n];
}

TextMeasurer::TextMeasurer()
    : surface_(cairo_image_surface_create(CAIRO_FORMAT_RGB24, 1, 1)), cr_(cairo_create(surface_)) {}

TextMeasurer::~TextMeasurer() {
  cairo_destroy(cr_);
  cairo_surface_destroy(surface_);
}

double TextMeasurer::Width(const std::string& text, double size, bool bold) {
  return MeasureWidth(cr_, text, size, bold);
}

absl::StatusOr<std::unique_ptr<Canvas>> Canvas::Create(Format format, int width, int height) {
  if (width < 1 || height < 1 || width > 20000 || height > 20000) {
    return absl::InvalidArgumentError("plot size out of range: " + std::to_string(width) + "x" +
                                      std::to_string(height));
  }
  std::unique_ptr<Canvas> canvas(new Canvas());
  canvas->format_ = format;
  if (format == Format::kPng) {
    canvas->surface_ = cairo_image_surface_create(CAIRO_FORMAT_RGB24, width, height);
  } else {
    canvas->surface_ =
        cairo_svg_surface_create_for_stream(AppendToString, &canvas->svg_bytes_, width, height);
  }
  if (cairo_status_t s = cairo_surface_status(canvas->surface_); s != CAIRO_STATUS_SUCCESS) {
    return CairoError("cairo surface", s);
  }
  canvas->cr_ = cairo_create(canvas->surface_);
  if (cairo_status_t s = cairo_status(canvas->cr_); s != CAIRO_STATUS_SUCCESS) {
    return CairoError("cairo context", s);
  }
  cairo_set_source_rgb(canvas->cr_, 1, 1, 1);
  cairo_paint(canvas->cr_);
  return canvas;
}

Canvas::~Canvas() {
  if (cr_ != nullptr) cairo_destroy(cr_);
  if (surface_ != nullptr) cairo_surface_destroy(surface_);
}

void Canvas::SetColor(Rgb c, double alpha) {
  cairo_set_source_rgba(cr_, c.r / 255.0, c.g / 255.0, c.b / 255.0, alpha);
}

double Canvas::TextWidth(const std::string& text, double size, bool bold) {
  return MeasureWidth(cr_, text, size, bold);
}

void Canvas::Text(const std::string& text, double x, double y, double size, Align align, bool bold,
                  bool rotate_ccw) {
  if (text.empty()) return;
  const double w = TextWidth(text, size, bold);
  const double shift = align == Align::kLeft ? 0 : align == Align::kCenter ? -w / 2 : -w;
  cairo_save(cr_);
  cairo_translate(cr_, x, y);
  if (rotate_ccw) cairo_rotate(cr_, -M_PI / 2);
  cairo_move_to(cr_, shift, 0);
  cairo_show_text(cr_, text.c_str());
  cairo_restore(cr_);
}

void Canvas::Line(double x0, double y0, double x1, double y1, double width) {
  cairo_set_line_width(cr_, width);
  cairo_move_to(cr_, x0, y0);
  cairo_line_to(cr_, x1, y1);
  cairo_stroke(cr_);
}

void Canvas::FillRect(double x, double y, double w, double h) {
  cairo_rectangle(cr_, x, y, w, h);
  cairo_fill(cr_);
}

void Canvas::StrokeRect(double x, double y, double w, double h, double width) {
  cairo_set_line_width(cr_, width);
  cairo_rectangle(cr_, x, y, w, h);
  cairo_stroke(cr_);
}

void Canvas::FillCircle(double x, double y, double r) {
  cairo_new_path(cr_);
  cairo_arc(cr_, x, y, r, 0, 2 * M_PI);
  cairo_fill(cr_);
}

double Canvas::Legend(const std::vector<std::string>& names, double x, double y, bool lines) {
  for (size_t i = 0; i < names.size(); ++i) {
    const double cy = y + kLegendRow * (i + 0.5);
    SetColor(PaletteColor(static_cast<int>(i)));
    if (lines) {
      Line(x, cy, x + 18, cy, 2.5);
    } else {
      FillCircle(x + 9, cy, 4.5);
    }
    SetColor({40, 40, 40});
    Text(names[i], x + 24, cy + kLegendFont * 0.35, kLegendFont, Align::kLeft);
  }
  return kLegendRow * names.size();
}

double LegendWidth(TextMeasurer& m, const std::vector<std::string>& names) {
  double w = 0;
  for (const auto& n : names) w = std::max(w, m.Width(n, kLegendFont));
  return 24 + w;
}

absl::Status Canvas::Save(const std::string& path) {
  std::string bytes;
  if (format_ == Format::kPng) {
    cairo_surface_flush(surface_);
    cairo_status_t s = cairo_surface_write_to_png_stream(surface_, AppendToString, &bytes);
    if (s != CAIRO_STATUS_SUCCESS) return CairoError("writing PNG", s);
  } else {
    cairo_destroy(cr_);
    cr_ = nullptr;
    cairo_surface_finish(surface_);
    if (cairo_status_t s = cairo_surface_status(surface_); s != CAIRO_STATUS_SUCCESS) {
      return CairoError("writing SVG", s);
    }
    bytes.swap(svg_bytes_);
  }
  return WriteFileAtomically(path, bytes);
}

std::string TickLabel(double v, double step) {
  if (std::fabs(v) < step * 1e-6) return "0";
  char buffer[32];
  const double mag = std::fabs(v);
  if (mag >= 1e5 || mag < 1e-3) {
    std::snprintf(buffer, sizeof(buffer), "%.3g", v);
  } else {
    const int decimals = std::max(0, static_cast<int>(std::ceil(-std::log10(step) - 1e-9)));
    std::snprintf(buffer, sizeof(buffer), "%.*f", std::min(decimals, 6), v);
  }
  return buffer;
}

std::vector<double> NiceTicks(double lo, double hi, int target) {
  std::vector<double> ticks;
  if (!(hi > lo) || target < 2 || !std::isfinite(lo) || !std::isfinite(hi)) return ticks;
  const double raw = (hi - lo) / target;
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  double step = mag;
  for (double m : {1.0, 2.0, 5.0, 10.0}) {
    step = m * mag;
    if (step >= raw) break;
  }
  const double first = std::ceil(lo / step - 1e-9) * step;
  for (int i = 0; i < 1000; ++i) {
    const double v = first + i * step;
    if (v > hi + step * 1e-9) break;
    ticks.push_back(std::fabs(v) < step * 1e-9 ? 0.0 : v);
  }
  return ticks;
}

void PaddedRange(const std::vector<double>& v, double margin, double* lo, double* hi) {
  if (v.empty()) {
    *lo = 0;
    *hi = 1;
    return;
  }
  auto [mn, mx] = std::minmax_element(v.begin(), v.end());
  double a = *mn, b = *mx;
  if (b - a <= 0) {
    a -= 0.5;
    b += 0.5;
  }
  const double pad = (b - a) * margin;
  *lo = a - pad;
  *hi = b + pad;
}

void DrawAxes(Canvas& canvas, const Frame& f, int ticks, bool integer_x) {
  constexpr double kTickFont = 11;
  std::vector<double> xs = NiceTicks(f.x0, f.x1, ticks);
  if (integer_x && (xs.size() < 2 || xs[1] - xs[0] < 1)) {
    xs.clear();
    for (double x = std::ceil(f.x0); x <= f.x1; ++x) xs.push_back(x);
  }
  const std::vector<double> ys = NiceTicks(f.y0, f.y1, ticks);
  const double xstep = xs.size() > 1 ? xs[1] - xs[0] : 1;
  const double ystep = ys.size() > 1 ? ys[1] - ys[0] : 1;
  canvas.SetColor({232, 232, 232});
  for (double x : xs) canvas.Line(f.X(x), f.top, f.X(x), f.top + f.height, 1);
  for (double y : ys) canvas.Line(f.left, f.Y(y), f.left + f.width, f.Y(y), 1);
  canvas.SetColor({70, 70, 70});
  canvas.StrokeRect(f.left, f.top, f.width, f.height, 1);
  for (double x : xs) {
    canvas.Line(f.X(x), f.top + f.height, f.X(x), f.top + f.height + 4, 1);
    canvas.Text(TickLabel(x, xstep), f.X(x), f.top + f.height + 16, kTickFont, Align::kCenter);
  }
  for (double y : ys) {
    canvas.Line(f.left - 4, f.Y(y), f.left, f.Y(y), 1);
    canvas.Text(TickLabel(y, ystep), f.left - 7, f.Y(y) + 4, kTickFont, Align::kRight);
  }
}

}  // namespace bn::plot
