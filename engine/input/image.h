// Image inputs: PNG/JPEG decoding, raw pixel tensors, conversion to a collection's geometry and
// PNG encoding for responses.
//
// Every decoded or converted image is float HWC (row-major, channels interleaved) in [0, 1]:
// exactly the row a Model expects for an image collection (see engine/model/model.h).
//
// Safety: the encoded size is checked before anything is parsed, the header's dimensions are
// checked against the limits before any pixel memory is allocated (a 100 KB file that claims
// 60000x60000 pixels is refused), and truncated or corrupt files return InvalidArgument with a
// message naming the problem. libpng/libjpeg errors are caught (setjmp/longjmp inside the
// decoder, no C++ object crosses them); nothing aborts, exits or throws.
//
// Thread safety: free functions without shared state; safe to call concurrently.
#ifndef BOTTLENECK_ENGINE_INPUT_IMAGE_H_
#define BOTTLENECK_ENGINE_INPUT_IMAGE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace bn {

// A float HWC image in [0, 1]; channels is 1 (grey) or 3 (RGB).
struct Image {
  int height = 0;
  int width = 0;
  int channels = 0;
  std::vector<float> pixels;  // height * width * channels values.
};

// The shape a collection's model expects. channels: 1 or 3.
struct ImageGeometry {
  int height = 0;
  int width = 0;
  int channels = 0;
  int64_t size() const { return int64_t{height} * width * channels; }
};

struct ImageLimits {
  int64_t max_encoded_bytes = int64_t{32} << 20;  // Encoded file (or raw tensor) size.
  int64_t max_pixels = int64_t{40} << 20;         // height * width of the decoded image.
  int max_jpeg_scans = 200;  // Progressive JPEGs with more scans are refused (CPU bombs).
};

enum class ImageFormat { kUnknown, kPng, kJpeg };

// Detects PNG or JPEG from the signature bytes.
ImageFormat DetectImageFormat(absl::string_view bytes);

// Decodes a PNG or a JPEG (detected from the signature). Alpha is dropped, palettes are expanded,
// 16-bit samples scaled to [0, 1]; grey images give 1 channel, colour images 3.
// InvalidArgument: unknown format, corrupt or truncated data, CMYK JPEG, or a header that
// exceeds the limits (checked before allocating pixels). ResourceExhausted if memory runs out.
[[nodiscard]] absl::StatusOr<Image> DecodeImage(absl::string_view bytes,
                                                const ImageLimits& limits = {});
[[nodiscard]] absl::StatusOr<Image> DecodePng(absl::string_view bytes,
                                              const ImageLimits& limits = {});
[[nodiscard]] absl::StatusOr<Image> DecodeJpeg(absl::string_view bytes,
                                               const ImageLimits& limits = {});

// Like DecodeImage, but a JPEG larger than needed may be decoded at 1/2, 1/4 or 1/8 scale by
// libjpeg's scaled IDCT (much faster for photos), never below min_height x min_width; the limits
// still apply to the full-size header. PNGs are decoded at full size.
[[nodiscard]] absl::StatusOr<Image> DecodeImageAtLeast(absl::string_view bytes, int min_height,
                                                       int min_width,
                                                       const ImageLimits& limits = {});
// DecodeJpeg with the scaling of DecodeImageAtLeast (min sides <= 0: full size).
[[nodiscard]] absl::StatusOr<Image> DecodeJpegScaled(absl::string_view bytes,
                                                     const ImageLimits& limits, int min_height,
                                                     int min_width);

enum class RawPixelType {
  kUint8,    // One byte per sample, 0..255 scaled by 1/255.
  kFloat32,  // Little-endian IEEE floats, each in [0, 1].
};

// Wraps a raw HWC tensor. InvalidArgument unless height, width >= 1, channels is 1 or 3, the
// byte length is exactly height*width*channels*sample size, the limits hold, and (float32) every
// value is finite and in [0, 1].
[[nodiscard]] absl::StatusOr<Image> ImageFromRawPixels(absl::string_view data, RawPixelType type,
                                                       int height, int width, int channels,
                                                       const ImageLimits& limits = {});

// Converts to `target`: grey -> RGB replicates, RGB -> grey is ITU-R 601 luma
// (0.299 R + 0.587 G + 0.114 B); each axis is resized independently, with an area (box-coverage)
// filter when shrinking and bilinear interpolation (pixel centres, edge clamped) when enlarging.
// InvalidArgument for a malformed image or target (sides < 1 or > 65535, channels not 1 or 3).
[[nodiscard]] absl::StatusOr<Image> ConvertImage(const Image& image, const ImageGeometry& target);

// The service's entry points: encoded PNG/JPEG bytes, or a raw tensor, to a model input row of
// target.size() floats (HWC, [0, 1]). EncodedImageToInput decodes with DecodeImageAtLeast(target)
// and then ConvertImage.
[[nodiscard]] absl::StatusOr<std::vector<float>> EncodedImageToInput(
    absl::string_view bytes, const ImageGeometry& target, const ImageLimits& limits = {});
[[nodiscard]] absl::StatusOr<std::vector<float>> RawPixelsToInput(absl::string_view data,
                                                                  RawPixelType type, int height,
                                                                  int width, int channels,
                                                                  const ImageGeometry& target,
                                                                  const ImageLimits& limits = {});

// Encodes float HWC pixels (values clamped to [0, 1], rounded to 8 bits) as a PNG (grey for 1
// channel, RGB for 3). InvalidArgument for bad sizes or channel counts or a non-finite value.
[[nodiscard]] absl::StatusOr<std::string> EncodePng(const float* pixels, int height, int width,
                                                    int channels);
[[nodiscard]] absl::StatusOr<std::string> EncodePng(const Image& image);

}  // namespace bn

#endif  // BOTTLENECK_ENGINE_INPUT_IMAGE_H_
