// Internal to client/plot: a cairo drawing surface that becomes a PNG or an SVG file, with the
// text, axis and legend helpers the plots share. Not a public API.
//
// Usage: measure text with a Canvas::Measurer (layout first), then create the Canvas at its final
// size, draw, and Save. A Canvas is used by one thread.
#ifndef BOTTLENECK_CLIENT_PLOT_CANVAS_H_
#define BOTTLENECK_CLIENT_PLOT_CANVAS_H_

#include <cairo.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "client/plot/plot.h"

namespace bn::plot {

enum class Format { kPng, kSvg };

// ".png" or ".svg" (case-insensitive); InvalidArgument otherwise.
absl::StatusOr<Format> FormatForPath(const std::string& path);

enum class Align { kLeft, kCenter, kRight };

// Text measurement without a target surface (a 1x1 image surface).
class TextMeasurer {
 public:
  TextMeasurer();
  ~TextMeasurer();
  TextMeasurer(const TextMeasurer&) = delete;
  TextMeasurer& operator=(const TextMeasurer&) = delete;
  double Width(const std::string& text, double size, bool bold = false);

 private:
  cairo_surface_t* surface_;
  cairo_t* cr_;
};

class Canvas {
 public:
  // A white canvas of width x height pixels. Internal if cairo cannot create it.
  static absl::StatusOr<std::unique_ptr<Canvas>> Create(Format format, int width, int height);
  ~Canvas();
  Canvas(const Canvas&) = delete;
  Canvas& operator=(const Canvas&) = delete;

  cairo_t* cr() { return cr_; }
  void SetColor(Rgb c, double alpha = 1.0);
  // Text whose baseline starts (kLeft), is centred (kCenter) or ends (kRight) at (x, y);
  // `rotate_ccw` turns it 90 degrees counter-clockwise around (x, y) (a y-axis label).
  void Text(const std::string& text, double x, double y, double size, Align align,
            bool bold = false, bool rotate_ccw = false);
  double TextWidth(const std::string& text, double size, bool bold = false);
  void Line(double x0, double y0, double x1, double y1, double width);
  void FillRect(double x, double y, double w, double h);
  void StrokeRect(double x, double y, double w, double h, double width);
  void FillCircle(double x, double y, double r);
  // Legend: one row per entry (a filled circle or a short line in PaletteColor(i), then the
  // name) starting at (x, y) (top-left). Returns the height used.
  double Legend(const std::vector<std::string>& names, double x, double y, bool lines);

  // Finishes drawing and writes the file atomically. Internal on cairo or I/O errors.
  absl::Status Save(const std::string& path);

 private:
  Canvas() = default;
  Format format_ = Format::kPng;
  cairo_surface_t* surface_ = nullptr;
  cairo_t* cr_ = nullptr;
  std::string svg_bytes_;  // The SVG stream's output.
};

// Width of the legend Canvas::Legend draws for these names at its font size.
double LegendWidth(TextMeasurer& m, const std::vector<std::string>& names);
inline constexpr double kLegendRow = 18;

// Formats a tick value compactly: "0", "0.5", "1e+03", "-2.25".
std::string TickLabel(double v, double step);

// A rectangle of the canvas mapping data [x0, x1] x [y0, y1] to pixels (y up).
struct Frame {
  double left = 0, top = 0, width = 0, height = 0;
  double x0 = 0, x1 = 1, y0 = 0, y1 = 1;
  double X(double x) const { return left + (x - x0) / (x1 - x0) * width; }
  double Y(double y) const { return top + height - (y - y0) / (y1 - y0) * height; }
};

// Data range [lo, hi] of `v` widened by `margin` of its span (a zero span becomes +-0.5).
void PaddedRange(const std::vector<double>& v, double margin, double* lo, double* hi);

// Draws the frame's border, grid lines and tick labels (about `ticks` per axis); with
// `integer_x` the x ticks are whole numbers only.
void DrawAxes(Canvas& canvas, const Frame& frame, int ticks, bool integer_x = false);

}  // namespace bn::plot

#endif  // BOTTLENECK_CLIENT_PLOT_CANVAS_H_
