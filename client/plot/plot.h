// Plots for people: labelled 2-D scatter plots (single or side-by-side panels), grids of images
// with captions, and line charts (training-loss curves). Drawn with Debian's cairo, which renders
// the text (fontconfig's default sans font) and writes the PNG or SVG file; nothing here
// rasterises by itself.
//
// Output format by file extension: ".png" (RGB, white background) or ".svg" (vector; images in
// an ImageGrid are embedded as PNG). Any other extension is InvalidArgument. Files are written to
// a temporary name next to `path` and renamed into place, so a reader never sees half a plot.
//
// Errors: InvalidArgument for inconsistent input (sizes that disagree, a label outside the
// names, non-finite coordinates, an image whose pixel count does not match its shape, nothing to
// draw); Internal when cairo fails or the file cannot be written. Nothing throws.
//
// Thread safety: free functions without shared state; calls may run concurrently on different
// paths (cairo is thread-safe for separate surfaces).
#ifndef BOTTLENECK_CLIENT_PLOT_PLOT_H_
#define BOTTLENECK_CLIENT_PLOT_PLOT_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "engine/input/image.h"

namespace bn::plot {

struct Rgb {
  uint8_t r = 0, g = 0, b = 0;
  bool operator==(const Rgb& o) const { return r == o.r && g == o.g && b == o.b; }
};

// The colour of label / series `i`: the ten "tab10" colours, then repeated.
Rgb PaletteColor(int i);

// A position in the written image, in pixels from the top-left corner (PNG pixel (x, y) covers
// [x, x+1) x [y, y+1)).
struct Pixel {
  double x = 0, y = 0;
};

// One scatter panel: point i is (x[i], y[i]) drawn in PaletteColor(labels[i]).
struct ScatterPanel {
  std::string title;
  std::vector<double> x, y;
  std::vector<int> labels;  // Each in [0, label_names.size()).
};

struct ScatterOptions {
  std::string title;                     // Above all panels; optional.
  std::vector<std::string> label_names;  // Legend entries, one per label; at least one.
  int panel_size = 460;                  // Side of each square plot area, pixels (100..4000).
  double point_radius = 2.2;             // Pixels; points are opaque filled circles.
};

// Side-by-side scatter panels (e.g. PCA and an auto-encoder's 2-D codes) sharing one legend on
// the right. Each panel scales its own axes to its data (a 5 % margin) and draws ticks. Points
// are drawn in input order (later points on top). When `drawn` is non-null it receives, per panel,
// the pixel centre of every point (for image maps or tests).
[[nodiscard]] absl::Status ScatterPanels(const std::vector<ScatterPanel>& panels,
                                         const ScatterOptions& options, const std::string& path,
                                         std::vector<std::vector<Pixel>>* drawn = nullptr);

// One panel: ScatterPanels({panel}, ...); a panel without a title gets options.title as its title.
[[nodiscard]] absl::Status ScatterPlot(const ScatterPanel& panel, const ScatterOptions& options,
                                       const std::string& path,
                                       std::vector<Pixel>* drawn = nullptr);

// One cell of an image grid: an image (1 or 3 channels, HWC floats in [0, 1]; values outside are
// clamped) with an optional caption under it and an optional coloured frame around it.
struct GridCell {
  Image image;
  std::string caption;
  std::optional<Rgb> frame;
};

struct GridRow {
  std::string caption;  // Drawn left of the row; optional.
  std::vector<GridCell> cells;
};

struct ImageGridOptions {
  std::string title;                         // Optional.
  std::vector<std::string> column_captions;  // Optional; drawn above the first row.
  int scale = 3;                             // Each image pixel becomes scale x scale (1..32).
  int gap = 6;                               // Pixels between cells.
};

// Rows of images (rows may have different lengths; cells are laid out on a common column grid
// whose cell size is the largest image). Images are enlarged with nearest-neighbour sampling so
// pixels stay crisp. InvalidArgument for no cells or an image whose pixels do not match its shape.
[[nodiscard]] absl::Status ImageGrid(const std::vector<GridRow>& rows,
                                     const ImageGridOptions& options, const std::string& path);

// One line of a chart: y[i] at x[i] (equal sizes, finite values, at least one point).
struct Series {
  std::string name;  // Legend entry.
  std::vector<double> x, y;
};

struct LineChartOptions {
  std::string title, x_label, y_label;
  int width = 720, height = 440;  // Whole image, pixels (200..8000).
  bool markers = true;            // A dot at every point.
  bool integer_x = false;         // x ticks only at whole numbers (e.g. epochs).
};

// Series as lines in PaletteColor(i), with axes scaled to all points, "nice" ticks (1/2/5 x
// 10^k), axis labels and a legend. InvalidArgument for no series or a malformed one.
[[nodiscard]] absl::Status LineChart(const std::vector<Series>& series,
                                     const LineChartOptions& options, const std::string& path);

// Ticks covering [lo, hi] at a 1/2/5 x 10^k step giving about `target` ticks; exposed for tests.
// Returns the tick values in increasing order, all within [lo, hi] (lo < hi, target >= 2).
std::vector<double> NiceTicks(double lo, double hi, int target);

}  // namespace bn::plot

#endif  // BOTTLENECK_CLIENT_PLOT_PLOT_H_
