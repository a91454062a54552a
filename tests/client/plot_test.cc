// client/plot: the files decode (PNG with the engine's decoder, SVG with Python's XML parser),
// have the promised sizes, and draw what was asked where it was asked.
#include "client/plot/plot.h"

#include <cmath>
#include <cstdio>
#include <set>

#include "engine/input/image.h"
#include "engine/util/atomic_file.h"
#include "gtest/gtest.h"
#include "tests/util/temp_dir.h"

namespace bn::plot {
namespace {

Image Decoded(const std::string& path) {
  auto bytes = ReadFileToString(path);
  EXPECT_TRUE(bytes.ok()) << bytes.status();
  if (!bytes.ok()) return {};
  auto image = DecodePng(*bytes);
  EXPECT_TRUE(image.ok()) << image.status();
  return image.ok() ? *image : Image{};
}

Rgb PixelAt(const Image& im, int x, int y) {
  const float* p = im.pixels.data() + (static_cast<size_t>(y) * im.width + x) * im.channels;
  auto byte = [](float v) { return static_cast<uint8_t>(std::lround(v * 255.0f)); };
  if (im.channels == 1) return {byte(p[0]), byte(p[0]), byte(p[0])};
  return {byte(p[0]), byte(p[1]), byte(p[2])};
}

int64_t CountColor(const Image& im, Rgb c) {
  int64_t n = 0;
  for (int y = 0; y < im.height; ++y) {
    for (int x = 0; x < im.width; ++x) n += PixelAt(im, x, y) == c;
  }
  return n;
}

// Parses an SVG with Python's XML parser (well-formedness) and counts <path> elements whose
// style has the fill colour `c` as cairo writes it ("fill:rgb(R%,G%,B%)"). -1 if parsing failed.
// cairo prints each channel as a percentage with "%f" and then drops trailing zeros.
std::string Percent(uint8_t v) {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%f", v * 100.0 / 255);
  std::string s = buffer;
  while (s.back() == '0') s.pop_back();
  if (s.back() == '.') s.pop_back();
  return s + "%";
}

int SvgPathsFilled(const std::string& path, Rgb c) {
  const std::string fill =
      "fill:rgb(" + Percent(c.r) + "," + Percent(c.g) + "," + Percent(c.b) + ")";
  const std::string command =
      "/usr/bin/python3 -c 'import sys, xml.etree.ElementTree as E\n"
      "root = E.parse(sys.argv[1]).getroot()\n"
      "print(sum(1 for e in root.iter() if e.tag.endswith(\"}path\") and "
      "sys.argv[2] in e.get(\"style\", \"\")))' '" +
      path + "' '" + fill + "' 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return -1;
  char line[256] = {0};
  const bool got = std::fgets(line, sizeof(line), pipe) != nullptr;
  const int status = pclose(pipe);
  if (!got || status != 0) {
    ADD_FAILURE() << "python3 could not parse " << path << ": " << line;
    return -1;
  }
  return std::atoi(line);
}

Image Solid(int h, int w, std::vector<float> color) {
  Image im;
  im.height = h;
  im.width = w;
  im.channels = static_cast<int>(color.size());
  for (int i = 0; i < h * w; ++i) im.pixels.insert(im.pixels.end(), color.begin(), color.end());
  return im;
}

TEST(NiceTicksTest, StepsAreOneTwoOrFiveTimesAPowerOfTenInsideTheRange) {
  for (auto [lo, hi] : std::vector<std::pair<double, double>>{
           {0, 10}, {-3.7, 12.2}, {0.001, 0.0042}, {-5e6, 3e6}, {17, 18}}) {
    const std::vector<double> t = NiceTicks(lo, hi, 6);
    ASSERT_GE(t.size(), 3u) << lo << " " << hi;
    ASSERT_LE(t.size(), 16u) << lo << " " << hi;
    const double step = t[1] - t[0];
    const double mantissa = step / std::pow(10.0, std::floor(std::log10(step) + 1e-9));
    EXPECT_TRUE(std::fabs(mantissa - 1) < 1e-6 || std::fabs(mantissa - 2) < 1e-6 ||
                std::fabs(mantissa - 5) < 1e-6)
        << step;
    for (size_t i = 0; i < t.size(); ++i) {
      EXPECT_GE(t[i], lo - 1e-9 * step);
      EXPECT_LE(t[i], hi + 1e-9 * step);
      if (i > 0) {
        EXPECT_NEAR(t[i] - t[i - 1], step, 1e-6 * step);
      }
    }
    EXPECT_LT(t.front() - step, lo);  // No tick was left out at either end.
    EXPECT_GT(t.back() + step, hi);
  }
  // By hand: 10 / 6 = 1.67 rounds up to the step 2 -> 0, 2, ..., 10.
  EXPECT_EQ(NiceTicks(0, 10, 6), (std::vector<double>{0, 2, 4, 6, 8, 10}));
  EXPECT_TRUE(NiceTicks(1, 1, 6).empty());
}

TEST(PlotTest, PaletteHasTenDistinctColours) {
  std::set<std::tuple<int, int, int>> seen;
  for (int i = 0; i < 10; ++i) {
    const Rgb c = PaletteColor(i);
    seen.insert({c.r, c.g, c.b});
    EXPECT_EQ(PaletteColor(i + 10), c);
  }
  EXPECT_EQ(seen.size(), 10u);
}

TEST(PlotTest, ScatterPngDecodesAndEachPointHasItsLabelsColour) {
  testing::TempDir dir;
  ScatterPanel pca{"PCA", {0, 10, 20, 5}, {0, 10, 0, 20}, {0, 1, 2, 3}};
  ScatterPanel ae{"AE", {-1, 1, -1, 1}, {-1, 1, 1, -1}, {3, 2, 1, 0}};
  ScatterOptions options;
  options.title = "codes";
  options.label_names = {"zero", "one", "two", "three"};
  options.panel_size = 200;
  options.point_radius = 3;
  std::vector<std::vector<Pixel>> drawn;
  const std::string path = dir.Sub("s.png");
  ASSERT_TRUE(ScatterPanels({pca, ae}, options, path, &drawn).ok());
  const Image im = Decoded(path);
  ASSERT_EQ(im.channels, 3);
  ASSERT_EQ(drawn.size(), 2u);
  const std::vector<const ScatterPanel*> panels = {&pca, &ae};
  for (size_t p = 0; p < 2; ++p) {
    ASSERT_EQ(drawn[p].size(), 4u);
    for (size_t i = 0; i < 4; ++i) {
      const int x = static_cast<int>(drawn[p][i].x), y = static_cast<int>(drawn[p][i].y);
      ASSERT_TRUE(x >= 0 && y >= 0 && x < im.width && y < im.height) << x << "," << y;
      EXPECT_EQ(PixelAt(im, x, y), PaletteColor(panels[p]->labels[i])) << p << " " << i;
    }
  }
  // Larger x is further right, larger y further up, and the second panel is right of the first.
  EXPECT_LT(drawn[0][0].x, drawn[0][1].x);
  EXPECT_GT(drawn[0][0].y, drawn[0][1].y);
  EXPECT_GT(drawn[1][0].x, drawn[0][2].x);
  // The square panels: points at the data extremes are panel_size * 0.9 / 1.1 apart (5 % margins).
  EXPECT_NEAR(drawn[0][2].x - drawn[0][0].x, 200 / 1.1, 0.5);
  EXPECT_NEAR(drawn[0][0].y - drawn[0][3].y, 200 / 1.1, 0.5);
  // Both panels fit; a single panel is narrower by a panel and the gap between panels.
  std::vector<Pixel> one;
  ASSERT_TRUE(ScatterPlot(pca, options, dir.Sub("one.png"), &one).ok());
  const Image single = Decoded(dir.Sub("one.png"));
  EXPECT_EQ(single.height, im.height);
  EXPECT_GT(im.width - single.width, 200);
  EXPECT_EQ(one.size(), 4u);
}

TEST(PlotTest, ScatterSvgIsWellFormedWithOnePathPerPointAndLegendEntry) {
  testing::TempDir dir;
  ScatterPanel panel;
  const int counts[3] = {7, 3, 5};
  for (int label = 0; label < 3; ++label) {
    for (int i = 0; i < counts[label]; ++i) {
      panel.x.push_back(label * 10 + i);
      panel.y.push_back(i * i - label);
      panel.labels.push_back(label);
    }
  }
  ScatterOptions options;
  options.title = "svg";
  options.label_names = {"a", "b", "c", "unused"};
  const std::string path = dir.Sub("s.svg");
  ASSERT_TRUE(ScatterPlot(panel, options, path).ok());
  for (int label = 0; label < 4; ++label) {
    // Every point is one filled path, and the legend adds one circle per label.
    EXPECT_EQ(SvgPathsFilled(path, PaletteColor(label)), (label < 3 ? counts[label] : 0) + 1)
        << label;
  }
  EXPECT_EQ(SvgPathsFilled(path, PaletteColor(4)), 0);
}

TEST(PlotTest, ImageGridDrawsEveryPixelScaledWithoutBlur) {
  testing::TempDir dir;
  const Rgb red{255, 0, 0};
  auto grid = [&](int scale, const std::string& path) {
    std::vector<GridRow> rows(2);
    rows[0].cells.push_back({Solid(28, 28, {0}), "", std::nullopt});        // Black, grey image.
    rows[0].cells.push_back({Solid(28, 28, {1, 0, 0}), "", std::nullopt});  // Red, RGB.
    rows[0].cells.push_back({Solid(28, 28, {1}), "", std::nullopt});        // White.
    rows[1].cells.push_back({Solid(14, 20, {0}), "", std::nullopt});        // Smaller, centred.
    ImageGridOptions options;
    options.scale = scale;
    return ImageGrid(rows, options, path);
  };
  ASSERT_TRUE(grid(2, dir.Sub("g2.png")).ok());
  ASSERT_TRUE(grid(3, dir.Sub("g3.png")).ok());
  const Image g2 = Decoded(dir.Sub("g2.png")), g3 = Decoded(dir.Sub("g3.png"));
  // One more unit of scale adds one image side per column and per row, nothing else.
  EXPECT_EQ(g3.width - g2.width, 3 * 28);
  EXPECT_EQ(g3.height - g2.height, 2 * 28);
  for (auto [im, s] : {std::pair<const Image*, int>{&g2, 2}, {&g3, 3}}) {
    EXPECT_EQ(CountColor(*im, {0, 0, 0}), (28 * 28 + 14 * 20) * s * s);
    EXPECT_EQ(CountColor(*im, red), 28 * 28 * s * s);
  }
}

TEST(PlotTest, ImageGridWithCaptionsAndFramesWritesPngAndSvg) {
  testing::TempDir dir;
  std::vector<GridRow> rows(2);
  rows[0].caption = "query";
  rows[0].cells.push_back({Solid(28, 28, {0.5}), "sneaker", std::nullopt});
  rows[1].caption = "neighbours";
  for (int i = 0; i < 4; ++i) {
    rows[1].cells.push_back(
        {Solid(28, 28, {0.2f * i}), "d=" + std::to_string(i), PaletteColor(i % 2 ? 3 : 2)});
  }
  ImageGridOptions options;
  options.title = "a query and its neighbours";
  options.column_captions = {"1", "2", "3", "4"};
  ASSERT_TRUE(ImageGrid(rows, options, dir.Sub("q.png")).ok());
  const Image im = Decoded(dir.Sub("q.png"));
  EXPECT_GT(CountColor(im, PaletteColor(2)), 2 * 4 * 28 * 3);  // Two green frames.
  EXPECT_GT(CountColor(im, PaletteColor(3)), 2 * 4 * 28 * 3);  // Two red frames.
  ASSERT_TRUE(ImageGrid(rows, options, dir.Sub("q.svg")).ok());
  EXPECT_EQ(SvgPathsFilled(dir.Sub("q.svg"), PaletteColor(0)), 0);  // Parses.
}

TEST(PlotTest, LineChartHasTheRequestedSizeAndDrawsEachSeries) {
  testing::TempDir dir;
  Series train{"train loss", {1, 2, 3, 4, 5}, {10, 6, 4.5, 4, 3.8}};
  Series validation{"validation", {1, 2, 3, 4, 5}, {11, 7, 5, 4.6, 4.4}};
  LineChartOptions options;
  options.title = "loss";
  options.x_label = "epoch";
  options.y_label = "squared error per image";
  options.width = 640;
  options.height = 400;
  ASSERT_TRUE(LineChart({train, validation}, options, dir.Sub("l.png")).ok());
  const Image im = Decoded(dir.Sub("l.png"));
  EXPECT_EQ(im.width, 640);
  EXPECT_EQ(im.height, 400);
  EXPECT_GT(CountColor(im, PaletteColor(0)), 100);
  EXPECT_GT(CountColor(im, PaletteColor(1)), 100);
  EXPECT_EQ(CountColor(im, PaletteColor(2)), 0);
  ASSERT_TRUE(LineChart({train}, options, dir.Sub("l.svg")).ok());
  // Five markers and the line's stroke (a path too, but stroked, not filled).
  EXPECT_EQ(SvgPathsFilled(dir.Sub("l.svg"), PaletteColor(0)), 5);
}

TEST(PlotTest, BadInputIsInvalidArgumentAndWritesNothing) {
  testing::TempDir dir;
  ScatterOptions options;
  options.label_names = {"a"};
  ScatterPanel ok{"", {1, 2}, {1, 2}, {0, 0}};
  EXPECT_EQ(ScatterPlot(ok, options, dir.Sub("x.jpg")).code(), absl::StatusCode::kInvalidArgument);
  ScatterPanel bad_label{"", {1, 2}, {1, 2}, {0, 1}};
  EXPECT_EQ(ScatterPlot(bad_label, options, dir.Sub("x.png")).code(),
            absl::StatusCode::kInvalidArgument);
  ScatterPanel bad_size{"", {1, 2}, {1}, {0, 0}};
  EXPECT_EQ(ScatterPlot(bad_size, options, dir.Sub("x.png")).code(),
            absl::StatusCode::kInvalidArgument);
  ScatterPanel nan{"", {1, NAN}, {1, 2}, {0, 0}};
  EXPECT_EQ(ScatterPlot(nan, options, dir.Sub("x.png")).code(), absl::StatusCode::kInvalidArgument);
  Image wrong = Solid(4, 4, {0});
  wrong.pixels.pop_back();
  EXPECT_EQ(ImageGrid({{"", {{wrong, "", std::nullopt}}}}, {}, dir.Sub("x.png")).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ImageGrid({}, {}, dir.Sub("x.png")).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(LineChart({}, {}, dir.Sub("x.png")).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(LineChart({{"s", {1, 2}, {1}}}, {}, dir.Sub("x.png")).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(ReadFileToString(dir.Sub("x.png")).ok());
  // An unwritable destination is an error, not a crash.
  EXPECT_FALSE(ScatterPlot(ok, options, dir.Sub("no/such/dir/x.png")).ok());
}

}  // namespace
}  // namespace bn::plot
