#include "engine/input/augment.h"

#include <algorithm>
#include <cmath>

namespace bn {

namespace {

constexpr double kPi = 3.14159265358979323846;

bool Finite(float v) { return std::isfinite(v); }

}  // namespace

bool AugmentOptions::enabled() const {
  return max_shift > 0 || max_rotation > 0 || min_scale != 1 || max_scale != 1 || crop > 0 ||
         horizontal_flip || vertical_flip;
}

absl::StatusOr<ImageAugmenter> ImageAugmenter::Create(const AugmentOptions& o, int height,
                                                      int width, int channels) {
  if (height < 1 || width < 1 || (channels != 1 && channels != 3)) {
    return absl::InvalidArgumentError("augmentation needs an image geometry");
  }
  for (float v : {o.max_shift, o.max_rotation, o.min_scale, o.max_scale, o.crop}) {
    if (!Finite(v)) return absl::InvalidArgumentError("augmentation values must be finite");
  }
  if (o.max_shift < 0 || 2 * o.max_shift >= std::min(height, width)) {
    return absl::InvalidArgumentError("augmentation shift must be below half the image side (" +
                                      std::to_string(std::min(height, width) / 2) + " pixels)");
  }
  if (o.max_rotation < 0 || o.max_rotation > 180) {
    return absl::InvalidArgumentError("augmentation rotation must be in 0..180 degrees");
  }
  if (!(o.min_scale > 0) || o.max_scale > 4 || o.min_scale > o.max_scale) {
    return absl::InvalidArgumentError("augmentation scales must satisfy 0 < min <= max <= 4");
  }
  if (o.crop < 0 || o.crop >= 1) {
    return absl::InvalidArgumentError("augmentation crop must be in [0, 1)");
  }
  return ImageAugmenter(o, height, width, channels);
}

void ImageAugmenter::Apply(float* rows, int64_t m, std::mt19937_64* rng) const {
  const int h = height_, w = width_, c = channels_;
  const int64_t size = int64_t{h} * w * c;
  std::vector<float> src(static_cast<size_t>(size));
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  auto uniform = [&](double lo, double hi) { return lo + (hi - lo) * unit(*rng); };
  const double cy = (h - 1) / 2.0, cx = (w - 1) / 2.0;
  for (int64_t r = 0; r < m; ++r) {
    float* img = rows + r * size;
    // The draws, in a fixed order so that a seed always gives the same images.
    const double angle = uniform(-options_.max_rotation, options_.max_rotation) * kPi / 180;
    const double scale = uniform(options_.min_scale, options_.max_scale);
    const double crop = options_.crop > 0 ? 1 - options_.crop * unit(*rng) : 1.0;
    double ty = uniform(-options_.max_shift, options_.max_shift);
    double tx = uniform(-options_.max_shift, options_.max_shift);
    const bool flip_x = options_.horizontal_flip && unit(*rng) < 0.5;
    const bool flip_y = options_.vertical_flip && unit(*rng) < 0.5;
    if (crop < 1) {  // A window of side `crop` at a random place, stretched to the full image.
      ty += uniform(-1, 1) * (1 - crop) * cy;
      tx += uniform(-1, 1) * (1 - crop) * cx;
    }
    // Output pixel (y, x) samples the source at centre + R(-angle) (p - centre - t) / zoom.
    const double zoom = scale / crop;
    const double cos_a = std::cos(angle) / zoom, sin_a = std::sin(angle) / zoom;
    std::copy_n(img, size, src.data());
    for (int y = 0; y < h; ++y) {
      for (int x = 0; x < w; ++x) {
        const double dy = (flip_y ? h - 1 - y : y) - cy - ty;
        const double dx = (flip_x ? w - 1 - x : x) - cx - tx;
        const double sy = std::clamp(cy + cos_a * dy - sin_a * dx, 0.0, h - 1.0);
        const double sx = std::clamp(cx + sin_a * dy + cos_a * dx, 0.0, w - 1.0);
        const int y0 = static_cast<int>(sy), x0 = static_cast<int>(sx);
        const int y1 = std::min(y0 + 1, h - 1), x1 = std::min(x0 + 1, w - 1);
        const double fy = sy - y0, fx = sx - x0;
        for (int k = 0; k < c; ++k) {
          auto at = [&](int yy, int xx) { return double(src[(int64_t{yy} * w + xx) * c + k]); };
          const double v = (1 - fy) * ((1 - fx) * at(y0, x0) + fx * at(y0, x1)) +
                           fy * ((1 - fx) * at(y1, x0) + fx * at(y1, x1));
          img[(int64_t{y} * w + x) * c + k] = static_cast<float>(v);
        }
      }
    }
  }
}

}  // namespace bn
