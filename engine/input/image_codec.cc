// PNG (libpng) and JPEG (libjpeg-turbo) decoding and PNG encoding. The libraries report errors
// by longjmp; every setjmp lives in a small function that owns no C++ object, and all buffers are
// allocated by the callers outside those functions.
#include <png.h>
#include <setjmp.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <new>

// jpeglib.h needs size_t and FILE declared before it.
#include <jpeglib.h>

#include "engine/input/image.h"

namespace bn {
namespace {

constexpr int kMaxSide = 65535;

absl::Status CheckEncodedSize(absl::string_view bytes, const ImageLimits& limits,
                              const char* what) {
  if (bytes.empty()) return absl::InvalidArgumentError(std::string("empty ") + what + " data");
  if (static_cast<int64_t>(bytes.size()) > limits.max_encoded_bytes) {
    return absl::InvalidArgumentError(std::string(what) + " of " + std::to_string(bytes.size()) +
                                      " bytes exceeds the limit of " +
                                      std::to_string(limits.max_encoded_bytes));
  }
  return absl::OkStatus();
}

absl::Status CheckDimensions(int64_t height, int64_t width, const ImageLimits& limits,
                             const char* what) {
  if (height < 1 || width < 1 || height > kMaxSide || width > kMaxSide) {
    return absl::InvalidArgumentError(std::string(what) + " has invalid dimensions " +
                                      std::to_string(width) + "x" + std::to_string(height));
  }
  if (height * width > limits.max_pixels) {
    return absl::InvalidArgumentError(std::string(what) + " claims " + std::to_string(width) + "x" +
                                      std::to_string(height) + " pixels, more than the limit of " +
                                      std::to_string(limits.max_pixels));
  }
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------------------------
// PNG.

// The error pointer is a char[kPngMessageSize] buffer.
constexpr size_t kPngMessageSize = 256;

void PngErrorFn(png_structp png, png_const_charp msg) {
  auto* message = static_cast<char*>(png_get_error_ptr(png));
  std::snprintf(message, kPngMessageSize, "%s", msg != nullptr ? msg : "error");
  png_longjmp(png, 1);
}

void PngWarningFn(png_structp, png_const_charp) {}

struct PngContext {
  const unsigned char* data = nullptr;
  size_t size = 0;
  size_t pos = 0;
  char message[kPngMessageSize] = "";
};

void PngReadFn(png_structp png, png_bytep out, size_t n) {
  auto* ctx = static_cast<PngContext*>(png_get_io_ptr(png));
  if (n > ctx->size - ctx->pos) png_error(png, "unexpected end of data (truncated PNG)");
  std::memcpy(out, ctx->data + ctx->pos, n);
  ctx->pos += n;
}

struct PngHeader {
  png_uint_32 width = 0, height = 0;
  int channels = 0;   // After transforms: 1 or 3.
  int bit_depth = 0;  // After transforms: 8 or 16.
  size_t row_bytes = 0;
};

// Reads the header and sets the transforms. False on error (message in the context).
bool PngReadHeader(png_structp png, png_infop info, PngHeader* h) {
  if (setjmp(png_jmpbuf(png))) return false;
  png_set_user_limits(png, kMaxSide, kMaxSide);
  png_set_chunk_malloc_max(png, 8 << 20);  // Ancillary chunks (zTXt, iCCP) stay small.
  png_read_info(png, info);
  h->width = png_get_image_width(png, info);
  h->height = png_get_image_height(png, info);
  const int color_type = png_get_color_type(png, info);
  const int depth = png_get_bit_depth(png, info);
  if (color_type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
  if (color_type == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
  if (color_type & PNG_COLOR_MASK_ALPHA) png_set_strip_alpha(png);
  png_set_interlace_handling(png);
  png_read_update_info(png, info);
  h->channels = png_get_channels(png, info);
  h->bit_depth = png_get_bit_depth(png, info);
  h->row_bytes = png_get_rowbytes(png, info);
  return true;
}

bool PngReadRows(png_structp png, png_bytepp rows) {
  if (setjmp(png_jmpbuf(png))) return false;
  png_read_image(png, rows);
  png_read_end(png, nullptr);  // Validates the rest of the file up to IEND.
  return true;
}

class PngReader {
 public:
  explicit PngReader(PngContext* ctx) {
    png_ = png_create_read_struct(PNG_LIBPNG_VER_STRING, ctx->message, PngErrorFn, PngWarningFn);
    if (png_ != nullptr) info_ = png_create_info_struct(png_);
    if (info_ != nullptr) png_set_read_fn(png_, ctx, PngReadFn);
  }
  ~PngReader() { png_destroy_read_struct(&png_, info_ != nullptr ? &info_ : nullptr, nullptr); }
  png_structp png() const { return png_; }
  png_infop info() const { return info_; }

 private:
  png_structp png_ = nullptr;
  png_infop info_ = nullptr;
};

// ---------------------------------------------------------------------------------------------
// JPEG.

struct JpegError {
  jpeg_error_mgr mgr;
  jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
  char warning[JMSG_LENGTH_MAX];
  int warnings;
  int max_scans;
};

// Progress monitor: refuses progressive JPEGs with too many scans (each scan re-walks the whole
// coefficient buffer, so thousands of tiny scans make a CPU bomb).
void JpegProgress(j_common_ptr cinfo) {
  if (!cinfo->is_decompressor) return;
  auto* d = reinterpret_cast<j_decompress_ptr>(cinfo);
  auto* e = reinterpret_cast<JpegError*>(cinfo->err);
  if (d->input_scan_number > e->max_scans) {
    std::snprintf(e->message, sizeof(e->message), "more than %d progressive scans", e->max_scans);
    longjmp(e->jump, 1);
  }
}

void JpegErrorExit(j_common_ptr cinfo) {
  auto* e = reinterpret_cast<JpegError*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, e->message);
  longjmp(e->jump, 1);
}

void JpegEmitMessage(j_common_ptr cinfo, int level) {
  auto* e = reinterpret_cast<JpegError*>(cinfo->err);
  if (level < 0) {  // A warning: corrupt data, premature end of data.
    if (e->warnings++ == 0) (*cinfo->err->format_message)(cinfo, e->warning);
  }
}

bool JpegReadHeader(jpeg_decompress_struct* cinfo, JpegError* err, const unsigned char* data,
                    unsigned long size) {
  if (setjmp(err->jump)) return false;
  jpeg_create_decompress(cinfo);
  jpeg_mem_src(cinfo, data, size);
  jpeg_read_header(cinfo, TRUE);
  return true;
}

bool JpegCalcOutput(jpeg_decompress_struct* cinfo, JpegError* err) {
  if (setjmp(err->jump)) return false;
  jpeg_calc_output_dimensions(cinfo);
  return true;
}

bool JpegReadRows(jpeg_decompress_struct* cinfo, JpegError* err, unsigned char* out,
                  size_t row_bytes) {
  if (setjmp(err->jump)) return false;
  jpeg_start_decompress(cinfo);
  while (cinfo->output_scanline < cinfo->output_height) {
    JSAMPROW row = out + cinfo->output_scanline * row_bytes;
    jpeg_read_scanlines(cinfo, &row, 1);
  }
  jpeg_finish_decompress(cinfo);
  return true;
}

class JpegReader {
 public:
  JpegReader() {
    std::memset(&cinfo_, 0, sizeof(cinfo_));
    std::memset(&err_, 0, sizeof(err_));
    cinfo_.err = jpeg_std_error(&err_.mgr);
    err_.mgr.error_exit = JpegErrorExit;
    err_.mgr.emit_message = JpegEmitMessage;
  }
  ~JpegReader() { jpeg_destroy_decompress(&cinfo_); }
  jpeg_decompress_struct* cinfo() { return &cinfo_; }
  JpegError* err() { return &err_; }
  // Call after jpeg_create_decompress (which clears the progress pointer).
  void LimitScans(int max_scans) {
    err_.max_scans = max_scans;
    progress_.progress_monitor = JpegProgress;
    cinfo_.progress = &progress_;
  }

 private:
  jpeg_decompress_struct cinfo_;
  JpegError err_;
  jpeg_progress_mgr progress_{};
};

// ---------------------------------------------------------------------------------------------
// PNG encoding.

struct PngWriteContext {
  std::string* out = nullptr;
  char message[kPngMessageSize] = "";
};

void PngWriteFn(png_structp png, png_bytep data, size_t n) {
  auto* ctx = static_cast<PngWriteContext*>(png_get_io_ptr(png));
  bool failed = false;
  try {
    ctx->out->append(reinterpret_cast<const char*>(data), n);
  } catch (...) {
    failed = true;
  }
  if (failed) png_error(png, "out of memory");
}

void PngFlushFn(png_structp) {}

bool PngWrite(png_structp png, png_infop info, png_uint_32 width, png_uint_32 height, int channels,
              png_bytepp rows) {
  if (setjmp(png_jmpbuf(png))) return false;
  png_set_IHDR(png, info, width, height, 8,
               channels == 1 ? PNG_COLOR_TYPE_GRAY : PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  png_write_image(png, rows);
  png_write_end(png, nullptr);
  return true;
}

}  // namespace

ImageFormat DetectImageFormat(absl::string_view bytes) {
  static const unsigned char kPng[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  if (bytes.size() >= 8 && std::memcmp(bytes.data(), kPng, 8) == 0) return ImageFormat::kPng;
  if (bytes.size() >= 3 && static_cast<unsigned char>(bytes[0]) == 0xFF &&
      static_cast<unsigned char>(bytes[1]) == 0xD8 &&
      static_cast<unsigned char>(bytes[2]) == 0xFF) {
    return ImageFormat::kJpeg;
  }
  return ImageFormat::kUnknown;
}

absl::StatusOr<Image> DecodePng(absl::string_view bytes, const ImageLimits& limits) {
  if (absl::Status s = CheckEncodedSize(bytes, limits, "PNG"); !s.ok()) return s;
  if (DetectImageFormat(bytes) != ImageFormat::kPng) {
    return absl::InvalidArgumentError("not a PNG file (bad signature)");
  }
  PngContext ctx;
  ctx.data = reinterpret_cast<const unsigned char*>(bytes.data());
  ctx.size = bytes.size();
  try {
    PngReader reader(&ctx);
    if (reader.info() == nullptr) return absl::ResourceExhaustedError("cannot create PNG reader");
    PngHeader h;
    if (!PngReadHeader(reader.png(), reader.info(), &h)) {
      return absl::InvalidArgumentError(std::string("corrupt PNG header: ") + ctx.message);
    }
    if (absl::Status s = CheckDimensions(h.height, h.width, limits, "PNG"); !s.ok()) return s;
    if ((h.channels != 1 && h.channels != 3) || (h.bit_depth != 8 && h.bit_depth != 16) ||
        h.row_bytes != size_t{h.width} * h.channels * (h.bit_depth / 8)) {
      return absl::InvalidArgumentError("unsupported PNG pixel layout");
    }
    std::vector<unsigned char> buffer(h.row_bytes * h.height);
    std::vector<png_bytep> rows(h.height);
    for (png_uint_32 y = 0; y < h.height; ++y) rows[y] = buffer.data() + y * h.row_bytes;
    if (!PngReadRows(reader.png(), rows.data())) {
      return absl::InvalidArgumentError(std::string("corrupt or truncated PNG: ") + ctx.message);
    }
    Image image;
    image.height = static_cast<int>(h.height);
    image.width = static_cast<int>(h.width);
    image.channels = h.channels;
    const size_t n = size_t{h.height} * h.width * h.channels;
    image.pixels.resize(n);
    if (h.bit_depth == 8) {
      for (size_t i = 0; i < n; ++i) image.pixels[i] = buffer[i] / 255.0f;
    } else {
      for (size_t i = 0; i < n; ++i) {
        image.pixels[i] = static_cast<float>((buffer[2 * i] << 8) | buffer[2 * i + 1]) / 65535.0f;
      }
    }
    return image;
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError("out of memory decoding PNG");
  }
}

absl::StatusOr<Image> DecodeJpeg(absl::string_view bytes, const ImageLimits& limits) {
  return DecodeJpegScaled(bytes, limits, 0, 0);
}

absl::StatusOr<Image> DecodeJpegScaled(absl::string_view bytes, const ImageLimits& limits,
                                       int min_height, int min_width) {
  if (absl::Status s = CheckEncodedSize(bytes, limits, "JPEG"); !s.ok()) return s;
  if (DetectImageFormat(bytes) != ImageFormat::kJpeg) {
    return absl::InvalidArgumentError("not a JPEG file (bad signature)");
  }
  try {
    JpegReader reader;
    jpeg_decompress_struct* cinfo = reader.cinfo();
    if (!JpegReadHeader(cinfo, reader.err(), reinterpret_cast<const unsigned char*>(bytes.data()),
                        static_cast<unsigned long>(bytes.size()))) {
      return absl::InvalidArgumentError(std::string("corrupt JPEG header: ") +
                                        reader.err()->message);
    }
    if (reader.err()->warnings > 0) {
      return absl::InvalidArgumentError(std::string("corrupt or truncated JPEG: ") +
                                        reader.err()->warning);
    }
    if (absl::Status s = CheckDimensions(cinfo->image_height, cinfo->image_width, limits, "JPEG");
        !s.ok()) {
      return s;
    }
    int channels = 0;
    if (cinfo->jpeg_color_space == JCS_GRAYSCALE) {
      cinfo->out_color_space = JCS_GRAYSCALE;
      channels = 1;
    } else if (cinfo->jpeg_color_space == JCS_YCbCr || cinfo->jpeg_color_space == JCS_RGB) {
      cinfo->out_color_space = JCS_RGB;
      channels = 3;
    } else {
      return absl::InvalidArgumentError("unsupported JPEG colour space (CMYK/YCCK)");
    }
    // Bound libjpeg's own working memory (coefficient buffers of progressive images).
    cinfo->mem->max_memory_to_use = static_cast<long>(std::min<int64_t>(
        int64_t{1} << 31,
        int64_t{cinfo->image_height} * cinfo->image_width * 24 + (int64_t{16} << 20)));
    reader.LimitScans(std::max(1, limits.max_jpeg_scans));
    // Scaled IDCT: the largest reduction that keeps both sides >= the requested minimum.
    if (min_height > 0 && min_width > 0) {
      for (unsigned denom : {8u, 4u, 2u}) {
        if ((cinfo->image_height + denom - 1) / denom >= static_cast<unsigned>(min_height) &&
            (cinfo->image_width + denom - 1) / denom >= static_cast<unsigned>(min_width)) {
          cinfo->scale_num = 1;
          cinfo->scale_denom = denom;
          break;
        }
      }
    }
    if (!JpegCalcOutput(cinfo, reader.err())) {
      return absl::InvalidArgumentError(std::string("corrupt JPEG: ") + reader.err()->message);
    }
    const JDIMENSION out_height = cinfo->output_height, out_width = cinfo->output_width;
    const size_t row_bytes = size_t{out_width} * channels;
    std::vector<unsigned char> buffer(row_bytes * out_height);
    if (!JpegReadRows(cinfo, reader.err(), buffer.data(), row_bytes)) {
      return absl::InvalidArgumentError(std::string("corrupt JPEG: ") + reader.err()->message);
    }
    if (reader.err()->warnings > 0) {
      return absl::InvalidArgumentError(std::string("corrupt or truncated JPEG: ") +
                                        reader.err()->warning);
    }
    if (cinfo->output_width != out_width || cinfo->output_height != out_height ||
        cinfo->output_components != channels) {
      return absl::InternalError("JPEG output geometry changed while decoding");
    }
    Image image;
    image.height = static_cast<int>(out_height);
    image.width = static_cast<int>(out_width);
    image.channels = channels;
    image.pixels.resize(buffer.size());
    for (size_t i = 0; i < buffer.size(); ++i) image.pixels[i] = buffer[i] / 255.0f;
    return image;
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError("out of memory decoding JPEG");
  }
}

absl::StatusOr<Image> DecodeImageAtLeast(absl::string_view bytes, int min_height, int min_width,
                                         const ImageLimits& limits) {
  if (DetectImageFormat(bytes) == ImageFormat::kJpeg) {
    return DecodeJpegScaled(bytes, limits, std::max(1, min_height), std::max(1, min_width));
  }
  return DecodeImage(bytes, limits);
}

absl::StatusOr<Image> DecodeImage(absl::string_view bytes, const ImageLimits& limits) {
  switch (DetectImageFormat(bytes)) {
    case ImageFormat::kPng:
      return DecodePng(bytes, limits);
    case ImageFormat::kJpeg:
      return DecodeJpeg(bytes, limits);
    case ImageFormat::kUnknown:
      break;
  }
  if (absl::Status s = CheckEncodedSize(bytes, limits, "image"); !s.ok()) return s;
  return absl::InvalidArgumentError("unknown image format (expected PNG or JPEG)");
}

absl::StatusOr<std::string> EncodePng(const float* pixels, int height, int width, int channels) {
  if (height < 1 || width < 1 || height > kMaxSide || width > kMaxSide ||
      (channels != 1 && channels != 3) || pixels == nullptr) {
    return absl::InvalidArgumentError("EncodePng: invalid image " + std::to_string(width) + "x" +
                                      std::to_string(height) + "x" + std::to_string(channels));
  }
  try {
    const size_t row_bytes = size_t(width) * channels;
    std::vector<unsigned char> buffer(row_bytes * height);
    for (size_t i = 0; i < buffer.size(); ++i) {
      const float v = pixels[i];
      if (!std::isfinite(v)) return absl::InvalidArgumentError("EncodePng: non-finite pixel");
      const float c = v < 0 ? 0 : (v > 1 ? 1 : v);
      buffer[i] = static_cast<unsigned char>(c * 255.0f + 0.5f);
    }
    std::vector<png_bytep> rows(height);
    for (int y = 0; y < height; ++y) rows[y] = buffer.data() + y * row_bytes;
    std::string out;
    PngWriteContext ctx;
    ctx.out = &out;
    png_structp png =
        png_create_write_struct(PNG_LIBPNG_VER_STRING, ctx.message, PngErrorFn, PngWarningFn);
    if (png == nullptr) return absl::ResourceExhaustedError("cannot create PNG writer");
    png_infop info = png_create_info_struct(png);
    if (info == nullptr) {
      png_destroy_write_struct(&png, nullptr);
      return absl::ResourceExhaustedError("cannot create PNG writer");
    }
    png_set_write_fn(png, &ctx, PngWriteFn, PngFlushFn);
    const bool ok = PngWrite(png, info, width, height, channels, rows.data());
    png_destroy_write_struct(&png, &info);
    if (!ok) return absl::InternalError(std::string("PNG encoding failed: ") + ctx.message);
    return out;
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError("out of memory encoding PNG");
  }
}

absl::StatusOr<std::string> EncodePng(const Image& image) {
  if (image.pixels.size() != size_t(image.height) * image.width * image.channels) {
    return absl::InvalidArgumentError("EncodePng: pixel count does not match the dimensions");
  }
  return EncodePng(image.pixels.data(), image.height, image.width, image.channels);
}

}  // namespace bn
