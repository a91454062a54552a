#include "engine/train/batching.h"

#include <algorithm>
#include <random>
#include <vector>

#include "gtest/gtest.h"

namespace bn {
namespace {

FloatMatrix Rows(int64_t n, int64_t d) {
  FloatMatrix x(n, d);
  for (int64_t i = 0; i < n * d; ++i) x.data[i] = 0.01f * static_cast<float>(i % 97);
  return x;
}

TEST(Batching, ShuffleIsASeededPermutation) {
  std::vector<int64_t> a(50), b(50);
  for (int64_t i = 0; i < 50; ++i) a[i] = b[i] = i;
  std::mt19937_64 ra(3), rb(3);
  Shuffle(&a, &ra);
  Shuffle(&b, &rb);
  EXPECT_EQ(a, b);
  std::vector<int64_t> sorted = a;
  std::sort(sorted.begin(), sorted.end());
  for (int64_t i = 0; i < 50; ++i) EXPECT_EQ(sorted[i], i);
  EXPECT_NE(a, sorted);
}

TEST(Batching, PlainBatchesCopyRowsAndLabelsAndDrawNothing) {
  const FloatMatrix x = Rows(10, 4);
  const std::vector<int> labels = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
  const int64_t rows[3] = {7, 2, 9};
  BatchNoise noise;
  BatchBuffers buffers(3, 4, noise, true);
  std::mt19937_64 rng(1);
  const std::mt19937_64 before = rng;
  const TrainBatch b = PrepareBatch(x, &labels, rows, 3, noise, &rng, &buffers);
  EXPECT_EQ(b.size, 3);
  EXPECT_EQ(b.input, b.target);
  EXPECT_EQ(b.code_noise, nullptr);
  for (int r = 0; r < 3; ++r) {
    EXPECT_EQ(b.labels[r], labels[rows[r]]);
    for (int c = 0; c < 4; ++c) EXPECT_EQ(b.target[r * 4 + c], x.at(rows[r], c));
  }
  EXPECT_TRUE(rng == before);
}

TEST(Batching, BinaryCodeNoiseIsFixedPerExample) {
  const FloatMatrix x = Rows(10, 4);
  const int64_t rows[2] = {4, 6};
  BatchNoise noise;
  noise.binary_codes = true;
  noise.code_noise_stddev = 4.0f;
  noise.code_size = 3;
  noise.seed = 11;
  noise.fresh_code_noise_stddev = 1.0f;  // ignored with binary codes
  BatchBuffers buffers(2, 4, noise, false);
  std::mt19937_64 rng(5);
  const std::mt19937_64 before = rng;
  const TrainBatch b = PrepareBatch(x, nullptr, rows, 2, noise, &rng, &buffers);
  ASSERT_NE(b.code_noise, nullptr);
  EXPECT_EQ(b.labels, nullptr);
  std::vector<float> expected(3);
  for (int r = 0; r < 2; ++r) {
    ExampleNoise(11, rows[r], 4.0f, 3, expected.data());
    for (int k = 0; k < 3; ++k) EXPECT_EQ(b.code_noise[r * 3 + k], expected[k]);
  }
  EXPECT_TRUE(rng == before);  // a function of seed and row, not of the random state
}

// With a targets matrix: the input is x's rows (corrupted when denoising), the target the
// targets' rows, untouched.
TEST(Batching, ATargetsMatrixGivesTheTargetsAndXTheInput) {
  const FloatMatrix x = Rows(10, 4);
  FloatMatrix targets = Rows(10, 4);
  for (float& v : targets.data) v = -v - 1;
  const int64_t rows[3] = {7, 0, 3};
  BatchNoise noise;
  noise.corruption = Corruption::kMasking;
  noise.corruption_level = 0.5f;
  BatchBuffers buffers(3, 4, noise, false);
  std::mt19937_64 rng(9);
  const TrainBatch b = PrepareBatch(x, nullptr, rows, 3, noise, &rng, &buffers, nullptr, &targets);
  int masked = 0;
  for (int r = 0; r < 3; ++r) {
    for (int c = 0; c < 4; ++c) {
      EXPECT_EQ(b.target[r * 4 + c], targets.at(rows[r], c));
      const float in = b.input[r * 4 + c];
      EXPECT_TRUE(in == x.at(rows[r], c) || in == 0.0f);
      masked += in == 0.0f && x.at(rows[r], c) != 0.0f;
    }
  }
  EXPECT_GT(masked, 0);
}

// The order of draws is part of the determinism contract: corruption first, then the fresh code
// noise, from one random state; the target stays clean.
TEST(Batching, CorruptionThenFreshCodeNoiseFromTheSameRandomState) {
  const FloatMatrix x = Rows(10, 4);
  const int64_t rows[3] = {1, 8, 5};
  BatchNoise noise;
  noise.code_size = 2;
  noise.corruption = Corruption::kSaltAndPepper;
  noise.corruption_level = 0.5f;
  noise.fresh_code_noise_stddev = 0.3f;
  BatchBuffers buffers(3, 4, noise, false);
  std::mt19937_64 rng(9), replay(9);
  const TrainBatch b = PrepareBatch(x, nullptr, rows, 3, noise, &rng, &buffers);
  ASSERT_NE(b.input, b.target);
  std::vector<float> clean(12), corrupted(12);
  for (int r = 0; r < 3; ++r) std::copy_n(x.row(rows[r]), 4, clean.data() + r * 4);
  corrupted = clean;
  Corrupt(Corruption::kSaltAndPepper, 0.5f, &replay, corrupted.data(), 12);
  std::normal_distribution<float> gauss(0.0f, 0.3f);
  for (int i = 0; i < 12; ++i) {
    EXPECT_EQ(b.target[i], clean[i]);
    EXPECT_EQ(b.input[i], corrupted[i]);
  }
  EXPECT_NE(clean, corrupted);
  ASSERT_NE(b.code_noise, nullptr);
  for (int i = 0; i < 6; ++i) EXPECT_EQ(b.code_noise[i], gauss(replay));
  EXPECT_TRUE(rng == replay);
}

}  // namespace
}  // namespace bn
