// libFuzzer target: PNG/JPEG decoding (and, for decoded images, conversion and PNG encoding),
// plus raw pixel tensors whose shape comes from the first bytes. Built by run_fuzzers.sh.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "engine/input/image.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view bytes(reinterpret_cast<const char*>(data), size);
  bn::ImageLimits limits;
  limits.max_pixels = 4 << 20;  // Keep single inputs cheap.
  absl::StatusOr<bn::Image> image = bn::DecodeImage(bytes, limits);
  if (image.ok()) {
    if (image->pixels.size() !=
        static_cast<size_t>(image->height) * image->width * image->channels) {
      std::abort();
    }
    for (float v : image->pixels) {
      if (!(v >= 0.0f && v <= 1.0f)) std::abort();
    }
    absl::StatusOr<bn::Image> small = bn::ConvertImage(*image, {28, 28, 1});
    if (!small.ok()) std::abort();
    absl::StatusOr<std::string> png = bn::EncodePng(*small);
    if (!png.ok()) std::abort();
    absl::StatusOr<bn::Image> back = bn::DecodePng(*png);
    if (!back.ok() || back->height != 28 || back->width != 28) std::abort();
  }
  absl::StatusOr<bn::Image> scaled = bn::DecodeImageAtLeast(bytes, 7, 5, limits);
  if (scaled.ok() != image.ok()) std::abort();
  if (scaled.ok() &&
      (scaled->height < std::min(7, image->height) || scaled->width < std::min(5, image->width))) {
    std::abort();
  }
  if (size >= 4) {
    const int h = 1 + data[0] % 64, w = 1 + data[1] % 64, c = data[2] % 4;
    const auto type = data[3] % 2 == 0 ? bn::RawPixelType::kUint8 : bn::RawPixelType::kFloat32;
    absl::StatusOr<std::vector<float>> input =
        bn::RawPixelsToInput(bytes.substr(4), type, h, w, c, {7, 5, 3});
    if (input.ok() && input->size() != 7 * 5 * 3) std::abort();
  }
  return 0;
}
