// ImageGrid.
#include <algorithm>
#include <cmath>

#include "client/plot/canvas.h"
#include "client/plot/plot.h"

namespace bn::plot {

namespace {

constexpr double kCaptionFont = 10.5, kRowCaptionFont = 12.5, kTitleFont = 16;

absl::Status ValidateImage(const Image& im, size_t row, size_t col) {
  const std::string where = " (row " + std::to_string(row) + ", cell " + std::to_string(col) + ")";
  if (im.height < 1 || im.width < 1 || im.height > 4096 || im.width > 4096) {
    return absl::InvalidArgumentError("image grid: image sides must be in 1..4096" + where);
  }
  if (im.channels != 1 && im.channels != 3) {
    return absl::InvalidArgumentError("image grid: images need 1 or 3 channels" + where);
  }
  if (im.pixels.size() != static_cast<size_t>(im.height) * im.width * im.channels) {
    return absl::InvalidArgumentError("image grid: pixel count does not match the shape" + where);
  }
  return absl::OkStatus();
}

uint32_t Byte(float v) {
  if (!(v > 0)) return 0;  // Also NaN.
  if (v >= 1) return 255;
  return static_cast<uint32_t>(std::lround(v * 255.0f));
}

// Draws `im` enlarged `scale` times (nearest neighbour, done here so that PNG and SVG viewers
// show the same crisp pixels) with its top-left corner at (x, y).
void DrawImage(Canvas& canvas, const Image& im, int scale, double x, double y) {
  const int w = im.width * scale, h = im.height * scale;
  cairo_surface_t* surface = cairo_image_surface_create(CAIRO_FORMAT_RGB24, w, h);
  if (cairo_surface_status(surface) != CAIRO_STATUS_SUCCESS) {
    cairo_surface_destroy(surface);
    return;
  }
  cairo_surface_flush(surface);
  unsigned char* data = cairo_image_surface_get_data(surface);
  const int stride = cairo_image_surface_get_stride(surface);
  for (int r = 0; r < h; ++r) {
    auto* out = reinterpret_cast<uint32_t*>(data + static_cast<size_t>(r) * stride);
    for (int c = 0; c < w; ++c) {
      const float* p =
          im.pixels.data() + (static_cast<size_t>(r / scale) * im.width + c / scale) * im.channels;
      const uint32_t red = Byte(p[0]);
      const uint32_t green = im.channels == 3 ? Byte(p[1]) : red;
      const uint32_t blue = im.channels == 3 ? Byte(p[2]) : red;
      out[c] = (red << 16) | (green << 8) | blue;
    }
  }
  cairo_surface_mark_dirty(surface);
  cairo_save(canvas.cr());
  cairo_set_source_surface(canvas.cr(), surface, x, y);
  cairo_pattern_set_filter(cairo_get_source(canvas.cr()), CAIRO_FILTER_NEAREST);
  cairo_rectangle(canvas.cr(), x, y, w, h);
  cairo_fill(canvas.cr());
  cairo_restore(canvas.cr());
  cairo_surface_destroy(surface);
}

}  // namespace

absl::Status ImageGrid(const std::vector<GridRow>& rows, const ImageGridOptions& options,
                       const std::string& path) {
  auto format = FormatForPath(path);
  if (!format.ok()) return format.status();
  if (options.scale < 1 || options.scale > 32) {
    return absl::InvalidArgumentError("image grid: scale must be in 1..32");
  }
  if (options.gap < 0 || options.gap > 200) {
    return absl::InvalidArgumentError("image grid: gap must be in 0..200");
  }
  size_t columns = options.column_captions.size();
  int max_h = 0, max_w = 0;
  for (size_t r = 0; r < rows.size(); ++r) {
    columns = std::max(columns, rows[r].cells.size());
    for (size_t c = 0; c < rows[r].cells.size(); ++c) {
      const Image& im = rows[r].cells[c].image;
      if (absl::Status s = ValidateImage(im, r, c); !s.ok()) return s;
      max_h = std::max(max_h, im.height);
      max_w = std::max(max_w, im.width);
    }
  }
  if (max_w == 0) return absl::InvalidArgumentError("image grid: no images");

  TextMeasurer measure;
  double cell_w = max_w * options.scale;
  const double cell_h = max_h * options.scale;
  double row_caption_w = 0;
  std::vector<bool> row_has_captions(rows.size(), false);
  for (size_t r = 0; r < rows.size(); ++r) {
    if (!rows[r].caption.empty()) {
      row_caption_w = std::max(row_caption_w, measure.Width(rows[r].caption, kRowCaptionFont) + 14);
    }
    for (const GridCell& cell : rows[r].cells) {
      if (cell.caption.empty()) continue;
      row_has_captions[r] = true;
      cell_w = std::max(cell_w, measure.Width(cell.caption, kCaptionFont) + 4);
    }
  }
  for (const auto& caption : options.column_captions) {
    cell_w = std::max(cell_w, measure.Width(caption, kCaptionFont) + 4);
  }
  const double gap = options.gap, margin = 10;
  const double title_h = options.title.empty() ? 0 : 30;
  const double column_caption_h = options.column_captions.empty() ? 0 : 16;
  const double caption_h = 15;
  double height = margin + title_h + column_caption_h;
  std::vector<double> row_top(rows.size());
  for (size_t r = 0; r < rows.size(); ++r) {
    row_top[r] = height;
    height += cell_h + (row_has_captions[r] ? caption_h : 0) + gap;
  }
  height += margin - gap;
  const double grid_left = margin + row_caption_w;
  const double width = grid_left + columns * cell_w + (columns - 1) * gap + margin;
  const double content_w = std::max(
      width,
      options.title.empty() ? 0.0 : measure.Width(options.title, kTitleFont, true) + 2 * margin);
  auto canvas_or = Canvas::Create(*format, static_cast<int>(std::ceil(content_w)),
                                  static_cast<int>(std::ceil(height)));
  if (!canvas_or.ok()) return canvas_or.status();
  Canvas& canvas = **canvas_or;

  canvas.SetColor({20, 20, 20});
  if (!options.title.empty()) {
    canvas.Text(options.title, content_w / 2, margin + 17, kTitleFont, Align::kCenter, true);
  }
  auto column_x = [&](size_t c) { return grid_left + c * (cell_w + gap); };
  canvas.SetColor({60, 60, 60});
  for (size_t c = 0; c < options.column_captions.size(); ++c) {
    canvas.Text(options.column_captions[c], column_x(c) + cell_w / 2,
                margin + title_h + column_caption_h - 4, kCaptionFont, Align::kCenter);
  }
  for (size_t r = 0; r < rows.size(); ++r) {
    const GridRow& row = rows[r];
    canvas.SetColor({20, 20, 20});
    canvas.Text(row.caption, margin + row_caption_w - 10, row_top[r] + cell_h / 2 + 4,
                kRowCaptionFont, Align::kRight);
    for (size_t c = 0; c < row.cells.size(); ++c) {
      const GridCell& cell = row.cells[c];
      const double iw = cell.image.width * options.scale, ih = cell.image.height * options.scale;
      const double x = column_x(c) + (cell_w - iw) / 2, y = row_top[r] + (cell_h - ih) / 2;
      DrawImage(canvas, cell.image, options.scale, std::round(x), std::round(y));
      if (cell.frame.has_value()) {
        canvas.SetColor(*cell.frame);
        canvas.StrokeRect(std::round(x) - 1.5, std::round(y) - 1.5, iw + 3, ih + 3, 3);
      }
      canvas.SetColor({50, 50, 50});
      canvas.Text(cell.caption, column_x(c) + cell_w / 2, row_top[r] + cell_h + 12, kCaptionFont,
                  Align::kCenter);
    }
  }
  return canvas.Save(path);
}

}  // namespace bn::plot
