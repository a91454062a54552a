// Random geometric augmentation of images for training (fresh draws each time it is called):
// shifts, rotations, scales, crops and flips, applied as one affine map per image with bilinear
// sampling; samples that fall outside the image take the nearest edge pixel.
//
// Thread safety: an ImageAugmenter is immutable; Apply uses only the caller's rng and buffers.
#ifndef BOTTLENECK_ENGINE_INPUT_AUGMENT_H_
#define BOTTLENECK_ENGINE_INPUT_AUGMENT_H_

#include <cstdint>
#include <random>
#include <vector>

#include "absl/status/statusor.h"

namespace bn {

struct AugmentOptions {
  float max_shift = 0;                 // Pixels, in each direction (uniform in [-max, max]).
  float max_rotation = 0;              // Degrees (uniform in [-max, max]).
  float min_scale = 1, max_scale = 1;  // Zoom factor (uniform); > 1 enlarges the content.
  float crop = 0;  // In [0, 1): keep a random window of side (1 - u * crop) of the image and
                   // stretch it back to full size (u uniform in [0, 1]).
  bool horizontal_flip = false;  // Each image mirrored with probability 1/2.
  bool vertical_flip = false;
  bool enabled() const;
};

class ImageAugmenter {
 public:
  // InvalidArgument when the options do not fit an image of height x width x channels: a shift
  // of half a side or more, a rotation beyond 180 degrees, scales outside (0, 4] or min > max,
  // crop outside [0, 1), a non-finite value, or a bad geometry.
  [[nodiscard]] static absl::StatusOr<ImageAugmenter> Create(const AugmentOptions& options,
                                                             int height, int width, int channels);

  // Transforms `m` HWC rows in place (each height * width * channels floats).
  void Apply(float* rows, int64_t m, std::mt19937_64* rng) const;

 private:
  ImageAugmenter(const AugmentOptions& options, int height, int width, int channels)
      : options_(options), height_(height), width_(width), channels_(channels) {}

  AugmentOptions options_;
  int height_, width_, channels_;
};

}  // namespace bn

#endif  // BOTTLENECK_ENGINE_INPUT_AUGMENT_H_
