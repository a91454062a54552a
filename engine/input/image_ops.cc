// Raw pixel tensors, channel conversion and resizing.
#include <cmath>
#include <cstring>
#include <new>

#include "engine/input/image.h"

namespace bn {
namespace {

constexpr int kMaxSide = 65535;

struct Tap {
  int index;
  float weight;
};

// Per output position, the input positions and weights along one axis.
std::vector<std::vector<Tap>> AxisWeights(int in, int out) {
  std::vector<std::vector<Tap>> taps(out);
  if (out == in) {
    for (int o = 0; o < out; ++o) taps[o].push_back({o, 1.0f});
  } else if (out < in) {
    // Area: output pixel o covers [o*s, (o+1)*s) of the input; each input pixel contributes
    // the fraction of that interval it overlaps.
    const double s = static_cast<double>(in) / out;
    for (int o = 0; o < out; ++o) {
      const double lo = o * s, hi = (o + 1) * s;
      const int first = static_cast<int>(std::floor(lo));
      const int last = std::min(in - 1, static_cast<int>(std::ceil(hi)) - 1);
      for (int i = first; i <= last; ++i) {
        const double overlap = std::min(hi, i + 1.0) - std::max(lo, static_cast<double>(i));
        if (overlap > 1e-12) taps[o].push_back({i, static_cast<float>(overlap / s)});
      }
    }
  } else {
    // Bilinear between pixel centres, clamped at the edges.
    const double s = static_cast<double>(in) / out;
    for (int o = 0; o < out; ++o) {
      double src = (o + 0.5) * s - 0.5;
      src = std::max(0.0, std::min(src, static_cast<double>(in - 1)));
      const int i0 = static_cast<int>(std::floor(src));
      const int i1 = std::min(i0 + 1, in - 1);
      const float f = static_cast<float>(src - i0);
      taps[o].push_back({i0, 1.0f - f});
      if (i1 != i0 && f > 0) taps[o].push_back({i1, f});
    }
  }
  return taps;
}

absl::Status CheckImage(const Image& image) {
  if (image.height < 1 || image.width < 1 || image.height > kMaxSide || image.width > kMaxSide ||
      (image.channels != 1 && image.channels != 3) ||
      image.pixels.size() != size_t(image.height) * image.width * image.channels) {
    return absl::InvalidArgumentError("malformed image " + std::to_string(image.width) + "x" +
                                      std::to_string(image.height) + "x" +
                                      std::to_string(image.channels));
  }
  return absl::OkStatus();
}

Image ToChannels(const Image& in, int channels) {
  if (in.channels == channels) return in;
  Image out;
  out.height = in.height;
  out.width = in.width;
  out.channels = channels;
  const size_t n = size_t(in.height) * in.width;
  out.pixels.resize(n * channels);
  if (channels == 3) {
    for (size_t i = 0; i < n; ++i) {
      out.pixels[3 * i] = out.pixels[3 * i + 1] = out.pixels[3 * i + 2] = in.pixels[i];
    }
  } else {
    for (size_t i = 0; i < n; ++i) {
      out.pixels[i] =
          0.299f * in.pixels[3 * i] + 0.587f * in.pixels[3 * i + 1] + 0.114f * in.pixels[3 * i + 2];
    }
  }
  return out;
}

Image Resize(const Image& in, int height, int width) {
  if (in.height == height && in.width == width) return in;
  const int c = in.channels;
  const auto wx = AxisWeights(in.width, width);
  const auto wy = AxisWeights(in.height, height);
  // Horizontal pass: in.height x width.
  std::vector<float> tmp(size_t(in.height) * width * c, 0.0f);
  for (int y = 0; y < in.height; ++y) {
    const float* src = in.pixels.data() + size_t(y) * in.width * c;
    float* dst = tmp.data() + size_t(y) * width * c;
    for (int x = 0; x < width; ++x) {
      for (const Tap& t : wx[x]) {
        for (int k = 0; k < c; ++k) dst[x * c + k] += t.weight * src[t.index * c + k];
      }
    }
  }
  // Vertical pass.
  Image out;
  out.height = height;
  out.width = width;
  out.channels = c;
  out.pixels.assign(size_t(height) * width * c, 0.0f);
  const size_t row = size_t(width) * c;
  for (int y = 0; y < height; ++y) {
    float* dst = out.pixels.data() + y * row;
    for (const Tap& t : wy[y]) {
      const float* src = tmp.data() + t.index * row;
      for (size_t i = 0; i < row; ++i) dst[i] += t.weight * src[i];
    }
  }
  for (float& v : out.pixels) v = std::min(1.0f, std::max(0.0f, v));
  return out;
}

}  // namespace

absl::StatusOr<Image> ImageFromRawPixels(absl::string_view data, RawPixelType type, int height,
                                         int width, int channels, const ImageLimits& limits) {
  if (height < 1 || width < 1 || height > kMaxSide || width > kMaxSide ||
      (channels != 1 && channels != 3)) {
    return absl::InvalidArgumentError("raw pixels: invalid shape " + std::to_string(height) + "x" +
                                      std::to_string(width) + "x" + std::to_string(channels) +
                                      " (height, width >= 1; channels 1 or 3)");
  }
  if (int64_t{height} * width > limits.max_pixels) {
    return absl::InvalidArgumentError("raw pixels: " + std::to_string(height) + "x" +
                                      std::to_string(width) + " exceeds the pixel limit");
  }
  if (static_cast<int64_t>(data.size()) > limits.max_encoded_bytes) {
    return absl::InvalidArgumentError("raw pixels: " + std::to_string(data.size()) +
                                      " bytes exceed the limit");
  }
  const size_t n = size_t(height) * width * channels;
  const size_t sample = type == RawPixelType::kUint8 ? 1 : 4;
  if (data.size() != n * sample) {
    return absl::InvalidArgumentError("raw pixels: " + std::to_string(data.size()) +
                                      " bytes given, " + std::to_string(n * sample) +
                                      " expected for the shape");
  }
  try {
    Image image;
    image.height = height;
    image.width = width;
    image.channels = channels;
    image.pixels.resize(n);
    if (type == RawPixelType::kUint8) {
      for (size_t i = 0; i < n; ++i) {
        image.pixels[i] = static_cast<unsigned char>(data[i]) / 255.0f;
      }
    } else {
      std::memcpy(image.pixels.data(), data.data(), n * 4);  // Little-endian host.
      for (size_t i = 0; i < n; ++i) {
        const float v = image.pixels[i];
        if (!(v >= 0.0f && v <= 1.0f)) {  // Also rejects NaN.
          return absl::InvalidArgumentError("raw pixels: value " + std::to_string(v) +
                                            " at index " + std::to_string(i) + " is not in [0, 1]");
        }
      }
    }
    return image;
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError("raw pixels: out of memory");
  }
}

absl::StatusOr<Image> ConvertImage(const Image& image, const ImageGeometry& target) {
  if (absl::Status s = CheckImage(image); !s.ok()) return s;
  if (target.height < 1 || target.width < 1 || target.height > kMaxSide ||
      target.width > kMaxSide || (target.channels != 1 && target.channels != 3)) {
    return absl::InvalidArgumentError("invalid target geometry " + std::to_string(target.height) +
                                      "x" + std::to_string(target.width) + "x" +
                                      std::to_string(target.channels));
  }
  try {
    // Convert to grey before resizing (fewer samples), to RGB after.
    if (target.channels < image.channels) {
      return Resize(ToChannels(image, target.channels), target.height, target.width);
    }
    return ToChannels(Resize(image, target.height, target.width), target.channels);
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError("image conversion: out of memory");
  }
}

absl::StatusOr<std::vector<float>> EncodedImageToInput(absl::string_view bytes,
                                                       const ImageGeometry& target,
                                                       const ImageLimits& limits) {
  absl::StatusOr<Image> decoded = DecodeImageAtLeast(bytes, target.height, target.width, limits);
  if (!decoded.ok()) return decoded.status();
  absl::StatusOr<Image> converted = ConvertImage(*decoded, target);
  if (!converted.ok()) return converted.status();
  return std::move(converted->pixels);
}

absl::StatusOr<std::vector<float>> RawPixelsToInput(absl::string_view data, RawPixelType type,
                                                    int height, int width, int channels,
                                                    const ImageGeometry& target,
                                                    const ImageLimits& limits) {
  absl::StatusOr<Image> raw = ImageFromRawPixels(data, type, height, width, channels, limits);
  if (!raw.ok()) return raw.status();
  absl::StatusOr<Image> converted = ConvertImage(*raw, target);
  if (!converted.ok()) return converted.status();
  return std::move(converted->pixels);
}

}  // namespace bn
