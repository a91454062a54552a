#include "engine/input/image.h"

#include <zlib.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <map>
#include <random>
#include <sstream>

#include "engine/util/atomic_file.h"
#include "gtest/gtest.h"

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wall"
#pragma GCC diagnostic ignored "-Wextra"
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#define STB_IMAGE_STATIC
#define STB_IMAGE_IMPLEMENTATION
#include "stb/stb_image.h"
#pragma GCC diagnostic pop

namespace bn {
namespace {

const std::string kDir = std::string(BN_SOURCE_DIR) + "/tests/data/images/";

std::string ReadFixture(const std::string& name) {
  absl::StatusOr<std::string> bytes = ReadFileToString(kDir + name);
  EXPECT_TRUE(bytes.ok()) << bytes.status();
  return bytes.ok() ? *bytes : std::string();
}

struct Reference {
  int height = 0, width = 0, channels = 0;
  std::vector<float> values;
};

// tests/data/images/reference.txt, written by make_fixtures.py (Pillow + numpy).
const std::map<std::string, Reference>& References() {
  static const auto* refs = [] {
    auto* out = new std::map<std::string, Reference>();
    std::ifstream f(kDir + "reference.txt");
    std::string line;
    while (std::getline(f, line)) {
      std::istringstream in(line);
      std::string name;
      Reference r;
      double scale = 0;
      in >> name >> r.height >> r.width >> r.channels >> scale;
      double v;
      while (in >> v) r.values.push_back(static_cast<float>(v / scale));
      (*out)[name] = r;
    }
    return out;
  }();
  return *refs;
}

void ExpectMatches(const Image& image, const std::string& ref_name, float tolerance) {
  auto it = References().find(ref_name);
  ASSERT_NE(it, References().end()) << ref_name;
  const Reference& r = it->second;
  ASSERT_EQ(image.height, r.height) << ref_name;
  ASSERT_EQ(image.width, r.width) << ref_name;
  ASSERT_EQ(image.channels, r.channels) << ref_name;
  ASSERT_EQ(image.pixels.size(), r.values.size()) << ref_name;
  float worst = 0;
  for (size_t i = 0; i < r.values.size(); ++i) {
    worst = std::max(worst, std::abs(image.pixels[i] - r.values[i]));
  }
  EXPECT_LE(worst, tolerance) << ref_name;
}

TEST(ImageTest, DecodesPillowFixtures) {
  for (const char* name : {"grey_8x6.png", "rgb_5x7.png", "rgba_4x4.png", "palette_6x4.png",
                           "bilevel_9x5.png", "grey16_4x3.png"}) {
    absl::StatusOr<Image> image = DecodeImage(ReadFixture(name));
    ASSERT_TRUE(image.ok()) << name << ": " << image.status();
    ExpectMatches(*image, name, 1e-6f);
  }
  // Pillow decodes with libjpeg-turbo too, with the same default IDCT and upsampling: allow one
  // 8-bit step for implementation differences.
  for (const char* name : {"rgb_24x16.jpg", "rgb_progressive_24x16.jpg", "grey_24x16.jpg"}) {
    absl::StatusOr<Image> image = DecodeImage(ReadFixture(name));
    ASSERT_TRUE(image.ok()) << name << ": " << image.status();
    ExpectMatches(*image, name, 1.0f / 255 + 1e-6f);
  }
  EXPECT_EQ(DetectImageFormat(ReadFixture("grey_24x16.jpg")), ImageFormat::kJpeg);
  EXPECT_EQ(DetectImageFormat(ReadFixture("grey_8x6.png")), ImageFormat::kPng);
  EXPECT_EQ(DetectImageFormat("GIF89a"), ImageFormat::kUnknown);
}

TEST(ImageTest, ConversionsMatchReferences) {
  absl::StatusOr<Image> grey = DecodeImage(ReadFixture("grey_8x6.png"));
  absl::StatusOr<Image> rgb = DecodeImage(ReadFixture("rgb_5x7.png"));
  ASSERT_TRUE(grey.ok() && rgb.ok());
  // Integer-ratio shrink: area == Pillow's BOX up to Pillow's rounding to 8 bits after each of
  // its two passes (which can add one step); the exact check is the numpy reference below.
  absl::StatusOr<Image> box = ConvertImage(*grey, {3, 4, 1});
  ASSERT_TRUE(box.ok()) << box.status();
  ExpectMatches(*box, "grey_8x6.png@box_4x3", 1.0f / 255 + 1e-5f);
  // Non-integer shrink against exact interval overlaps computed by numpy.
  absl::StatusOr<Image> area = ConvertImage(*grey, {4, 3, 1});
  ASSERT_TRUE(area.ok());
  ExpectMatches(*area, "grey_8x6.png@area_3x4", 1e-5f);
  // Enlarging: bilinear == Pillow's BILINEAR (8-bit fixed point inside Pillow).
  absl::StatusOr<Image> up = ConvertImage(*grey, {11, 13, 1});
  ASSERT_TRUE(up.ok());
  ExpectMatches(*up, "grey_8x6.png@bilinear_13x11", 1.5f / 255);
  // RGB -> grey: ITU-R 601 luma, as Pillow's convert("L").
  absl::StatusOr<Image> luma = ConvertImage(*rgb, {7, 5, 1});
  ASSERT_TRUE(luma.ok());
  ExpectMatches(*luma, "rgb_5x7.png@luma", 1.0f / 255);
  // Grey -> RGB replicates; an identity conversion changes nothing.
  absl::StatusOr<Image> color = ConvertImage(*grey, {6, 8, 3});
  ASSERT_TRUE(color.ok());
  for (size_t i = 0; i < grey->pixels.size(); ++i) {
    for (int c = 0; c < 3; ++c) ASSERT_EQ(color->pixels[3 * i + c], grey->pixels[i]);
  }
  absl::StatusOr<Image> same = ConvertImage(*rgb, {7, 5, 3});
  ASSERT_TRUE(same.ok());
  EXPECT_EQ(same->pixels, rgb->pixels);
  // Shrinking preserves the mean (area filter), enlarging a constant image keeps it constant.
  Image flat{5, 5, 1, std::vector<float>(25, 0.25f)};
  absl::StatusOr<Image> big = ConvertImage(flat, {17, 9, 3});
  ASSERT_TRUE(big.ok());
  for (float v : big->pixels) ASSERT_NEAR(v, 0.25f, 1e-6f);
  double mean_in = 0, mean_out = 0;
  for (float v : grey->pixels) mean_in += v;
  for (float v : area->pixels) mean_out += v;
  EXPECT_NEAR(mean_in / grey->pixels.size(), mean_out / area->pixels.size(), 1e-5);
  EXPECT_FALSE(ConvertImage(*grey, {0, 4, 1}).ok());
  EXPECT_FALSE(ConvertImage(*grey, {4, 4, 2}).ok());
  Image broken = *grey;
  broken.pixels.pop_back();
  EXPECT_FALSE(ConvertImage(broken, {4, 4, 1}).ok());
}

TEST(ImageTest, EveryTruncationIsAnError) {
  for (const char* name : {"rgb_5x7.png", "palette_6x4.png", "rgb_24x16.jpg",
                           "rgb_progressive_24x16.jpg", "grey_24x16.jpg"}) {
    const std::string bytes = ReadFixture(name);
    for (size_t len = 0; len < bytes.size(); ++len) {
      absl::StatusOr<Image> image = DecodeImage(bytes.substr(0, len));
      ASSERT_FALSE(image.ok()) << name << " cut at " << len;
      EXPECT_EQ(image.status().code(), absl::StatusCode::kInvalidArgument);
    }
  }
}

TEST(ImageTest, CorruptedBytesNeverCrash) {
  std::mt19937 rng(42);
  int errors = 0, decoded = 0;
  for (const char* name : {"rgb_5x7.png", "grey_8x6.png", "rgb_24x16.jpg", "grey_24x16.jpg"}) {
    const std::string bytes = ReadFixture(name);
    for (int trial = 0; trial < 300; ++trial) {
      std::string mutated = bytes;
      const int flips = 1 + static_cast<int>(rng() % 4);
      for (int f = 0; f < flips; ++f) mutated[rng() % mutated.size()] ^= 1 << (rng() % 8);
      absl::StatusOr<Image> image = DecodeImage(mutated);
      if (image.ok()) {
        ++decoded;
        EXPECT_EQ(image->pixels.size(), size_t(image->height) * image->width * image->channels);
      } else {
        ++errors;
      }
    }
  }
  // PNG chunks carry CRCs and JPEG corruption warnings are errors: most mutations are caught.
  EXPECT_GT(errors, decoded);
}

uint32_t Be(uint32_t v) { return __builtin_bswap32(v); }

std::string PngChunk(const char* type, const std::string& data) {
  std::string out;
  const uint32_t len = Be(static_cast<uint32_t>(data.size()));
  out.append(reinterpret_cast<const char*>(&len), 4);
  std::string body = std::string(type, 4) + data;
  out += body;
  const uint32_t crc = Be(static_cast<uint32_t>(
      crc32(0, reinterpret_cast<const Bytef*>(body.data()), static_cast<uInt>(body.size()))));
  out.append(reinterpret_cast<const char*>(&crc), 4);
  return out;
}

TEST(ImageTest, RefusesBombsBeforeAllocating) {
  // A valid PNG header claiming 60000 x 60000 grey pixels followed by ~100 KB of data.
  std::string ihdr(13, '\0');
  const uint32_t side = Be(60000);
  std::memcpy(&ihdr[0], &side, 4);
  std::memcpy(&ihdr[4], &side, 4);
  ihdr[8] = 8;  // Bit depth; colour type 0 (grey).
  std::string png = "\x89PNG\r\n\x1a\n";
  png += PngChunk("IHDR", ihdr) + PngChunk("IDAT", std::string(100000, '\0'));
  absl::StatusOr<Image> image = DecodeImage(png);
  ASSERT_FALSE(image.ok());
  EXPECT_EQ(image.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(image.status().message()).find("60000x60000"), std::string::npos)
      << image.status();
  // The same for a JPEG whose SOF claims 60000 x 60000.
  std::string jpeg = ReadFixture("rgb_24x16.jpg");
  size_t sof = std::string::npos;
  for (size_t i = 0; i + 1 < jpeg.size(); ++i) {
    const auto m = static_cast<unsigned char>(jpeg[i + 1]);
    if (static_cast<unsigned char>(jpeg[i]) == 0xFF && (m == 0xC0 || m == 0xC2)) {
      sof = i;
      break;
    }
  }
  ASSERT_NE(sof, std::string::npos);
  jpeg[sof + 5] = jpeg[sof + 7] = static_cast<char>(60000 >> 8);
  jpeg[sof + 6] = jpeg[sof + 8] = static_cast<char>(60000 & 0xFF);
  image = DecodeImage(jpeg);
  ASSERT_FALSE(image.ok());
  EXPECT_NE(std::string(image.status().message()).find("60000x60000"), std::string::npos)
      << image.status();
  // Configurable limits.
  ImageLimits small;
  small.max_pixels = 100;
  EXPECT_FALSE(DecodeImage(ReadFixture("rgb_24x16.jpg"), small).ok());
  EXPECT_TRUE(DecodeImage(ReadFixture("grey_8x6.png"), small).ok());
  // The progressive fixture has several scans: a limit of 2 refuses it.
  ImageLimits few_scans;
  few_scans.max_jpeg_scans = 2;
  absl::StatusOr<Image> progressive =
      DecodeImage(ReadFixture("rgb_progressive_24x16.jpg"), few_scans);
  ASSERT_FALSE(progressive.ok());
  EXPECT_NE(std::string(progressive.status().message()).find("scans"), std::string::npos);
  EXPECT_TRUE(DecodeImage(ReadFixture("rgb_24x16.jpg"), few_scans).ok());  // Baseline: 1 scan.
  small.max_encoded_bytes = 50;
  EXPECT_FALSE(DecodeImage(ReadFixture("grey_8x6.png"), small).ok());
  EXPECT_FALSE(DecodeImage("").ok());
  EXPECT_FALSE(DecodeImage("not an image at all").ok());
}

TEST(ImageTest, RawPixelTensors) {
  std::string u8 = {0, 51, '\x66', '\xff', 0, 0};
  absl::StatusOr<Image> a = ImageFromRawPixels(u8, RawPixelType::kUint8, 2, 3, 1);
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_FLOAT_EQ(a->pixels[1], 0.2f);
  EXPECT_FLOAT_EQ(a->pixels[3], 1.0f);
  EXPECT_FALSE(ImageFromRawPixels(u8, RawPixelType::kUint8, 3, 3, 1).ok());
  EXPECT_FALSE(ImageFromRawPixels(u8, RawPixelType::kUint8, 1, 3, 2).ok());
  EXPECT_FALSE(ImageFromRawPixels(u8, RawPixelType::kUint8, 0, 3, 1).ok());
  std::vector<float> f = {0.0f, 0.5f, 1.0f};
  std::string fbytes(reinterpret_cast<const char*>(f.data()), 12);
  absl::StatusOr<Image> b = ImageFromRawPixels(fbytes, RawPixelType::kFloat32, 1, 1, 3);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->pixels, f);
  for (float bad : {-0.1f, 1.5f, std::nanf(""), INFINITY}) {
    f[1] = bad;
    std::string bb(reinterpret_cast<const char*>(f.data()), 12);
    EXPECT_FALSE(ImageFromRawPixels(bb, RawPixelType::kFloat32, 1, 1, 3).ok()) << bad;
  }
  absl::StatusOr<std::vector<float>> input =
      RawPixelsToInput(u8, RawPixelType::kUint8, 2, 3, 1, {4, 6, 3});
  ASSERT_TRUE(input.ok());
  EXPECT_EQ(input->size(), 72u);
}

TEST(ImageTest, EncodePngDecodesWithAnotherDecoder) {
  Image img{3, 4, 3, {}};
  for (int i = 0; i < 36; ++i) img.pixels.push_back(static_cast<float>(i) / 35.0f);
  img.pixels[0] = -0.5f;  // Clamped to 0.
  img.pixels[1] = 2.0f;   // Clamped to 1.
  absl::StatusOr<std::string> png = EncodePng(img);
  ASSERT_TRUE(png.ok()) << png.status();
  int w = 0, h = 0, c = 0;
  unsigned char* px = stbi_load_from_memory(reinterpret_cast<const stbi_uc*>(png->data()),
                                            static_cast<int>(png->size()), &w, &h, &c, 0);
  ASSERT_NE(px, nullptr);
  EXPECT_EQ(w, 4);
  EXPECT_EQ(h, 3);
  EXPECT_EQ(c, 3);
  for (int i = 0; i < 36; ++i) {
    const float clamped = std::min(1.0f, std::max(0.0f, img.pixels[i]));
    EXPECT_EQ(px[i], static_cast<int>(std::lround(clamped * 255))) << i;
  }
  stbi_image_free(px);
  absl::StatusOr<Image> back = DecodePng(*png);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->channels, 3);
  EXPECT_NEAR(back->pixels[35], 1.0f, 1e-6f);
  // Grey.
  std::vector<float> g = {0.0f, 0.2f, 0.4f, 1.0f};
  absl::StatusOr<std::string> gpng = EncodePng(g.data(), 2, 2, 1);
  ASSERT_TRUE(gpng.ok());
  absl::StatusOr<Image> gback = DecodeImage(*gpng);
  ASSERT_TRUE(gback.ok());
  EXPECT_EQ(gback->channels, 1);
  EXPECT_EQ(gback->pixels, g);
  EXPECT_FALSE(EncodePng(g.data(), 2, 2, 2).ok());
  g[0] = std::nanf("");
  EXPECT_FALSE(EncodePng(g.data(), 2, 2, 1).ok());
}

TEST(ImageTest, ScaledJpegDecodingApproximatesTheAreaFilter) {
  const std::string jpg = ReadFixture("rgb_24x16.jpg");
  absl::StatusOr<Image> full = DecodeImage(jpg);
  ASSERT_TRUE(full.ok());
  // 1/8: 24x16 -> 3x2, each output pixel from one 8x8 block's DC coefficient (its mean).
  absl::StatusOr<Image> eighth = DecodeImageAtLeast(jpg, 2, 3);
  ASSERT_TRUE(eighth.ok()) << eighth.status();
  EXPECT_EQ(eighth->height, 2);
  EXPECT_EQ(eighth->width, 3);
  absl::StatusOr<Image> area = ConvertImage(*full, {2, 3, 3});
  ASSERT_TRUE(area.ok());
  for (size_t i = 0; i < area->pixels.size(); ++i) {
    EXPECT_NEAR(eighth->pixels[i], area->pixels[i], 4.0f / 255) << i;
  }
  // The largest reduction that keeps both sides >= the minimum: 5x5 needs 1/2 (12x8).
  absl::StatusOr<Image> half = DecodeImageAtLeast(jpg, 5, 5);
  ASSERT_TRUE(half.ok());
  EXPECT_EQ(half->height, 8);
  EXPECT_EQ(half->width, 12);
  absl::StatusOr<Image> same = DecodeImageAtLeast(jpg, 16, 24);
  ASSERT_TRUE(same.ok());
  EXPECT_EQ(same->pixels, full->pixels);
  // PNGs are not scaled.
  absl::StatusOr<Image> png = DecodeImageAtLeast(ReadFixture("grey_8x6.png"), 1, 1);
  ASSERT_TRUE(png.ok());
  EXPECT_EQ(png->width, 8);
  // Truncated input is still an error.
  EXPECT_FALSE(DecodeImageAtLeast(jpg.substr(0, jpg.size() - 10), 2, 3).ok());
}

TEST(ImageTest, EncodedImageToModelInput) {
  absl::StatusOr<std::vector<float>> input =
      EncodedImageToInput(ReadFixture("rgb_24x16.jpg"), {28, 28, 1});
  ASSERT_TRUE(input.ok()) << input.status();
  EXPECT_EQ(input->size(), 784u);
  for (float v : *input) {
    ASSERT_GE(v, 0.0f);
    ASSERT_LE(v, 1.0f);
  }
  EXPECT_FALSE(EncodedImageToInput("junk", {28, 28, 1}).ok());
}

}  // namespace
}  // namespace bn
