#include "engine/index/distance.h"

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace bn {
namespace {

// Restores the CPU's own choice after a test that forces a kernel family.
class DistanceTest : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    best_ = FastDistanceIsa();
    if (!SetFastDistanceIsaForTesting(GetParam())) {
      GTEST_SKIP() << "this CPU cannot run " << GetParam() << " (best: " << best_ << ")";
    }
  }
  void TearDown() override { ASSERT_TRUE(SetFastDistanceIsaForTesting(best_.c_str())); }
  std::string best_;
};

double NaiveL2(const float* a, const float* b, size_t dim) {
  double s = 0;
  for (size_t i = 0; i < dim; ++i) s += (double{a[i]} - b[i]) * (double{a[i]} - b[i]);
  return s;
}

double NaiveDot(const float* a, const float* b, size_t dim) {
  double s = 0;
  for (size_t i = 0; i < dim; ++i) s += double{a[i]} * b[i];
  return s;
}

// Every dimension from 1 to 100 (all tail lengths of both vector widths, one and several full
// steps) and a few large ones, at offsets that leave the vectors unaligned, against double sums.
TEST_P(DistanceTest, MatchesNaiveSumsForEveryDimensionAndAlignment) {
  const DistanceFn l2 = FastL2Squared();
  const DistanceFn ip = FastInnerProductDistance();
  if (std::string(GetParam()) == "none") {
    EXPECT_EQ(l2, nullptr);
    EXPECT_EQ(ip, nullptr);
    return;
  }
  ASSERT_NE(l2, nullptr);
  ASSERT_NE(ip, nullptr);
  EXPECT_EQ(std::string(FastDistanceIsa()), GetParam());
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0, 1);
  std::vector<size_t> dims;
  for (size_t d = 1; d <= 100; ++d) dims.push_back(d);
  for (size_t d : {127, 128, 256, 2000}) dims.push_back(d);
  for (size_t dim : dims) {
    for (size_t offset : {0, 1, 3}) {
      // Vectors end exactly at the end of their buffers, so a read past `dim` would be seen by
      // sanitizers.
      std::vector<float> a(dim + offset), b(dim + offset);
      for (float& v : a) v = normal(rng);
      for (float& v : b) v = normal(rng);
      const float* x = a.data() + offset;
      const float* y = b.data() + offset;
      const double want_l2 = NaiveL2(x, y, dim);
      const double want_ip = 1.0 - NaiveDot(x, y, dim);
      const double scale = NaiveDot(x, x, dim) + NaiveDot(y, y, dim) + 1;
      EXPECT_NEAR(l2(x, y, &dim), want_l2, 1e-6 * scale) << "dim " << dim << " offset " << offset;
      EXPECT_NEAR(ip(x, y, &dim), want_ip, 1e-6 * scale) << "dim " << dim << " offset " << offset;
      EXPECT_EQ(l2(x, x, &dim), 0.0f) << "dim " << dim;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Isas, DistanceTest, ::testing::Values("avx512f", "avx2", "none"));

TEST(DistanceIsaTest, UnknownNamesAreRefusedAndChangeNothing) {
  const std::string before = FastDistanceIsa();
  EXPECT_FALSE(SetFastDistanceIsaForTesting("sse9"));
  EXPECT_EQ(std::string(FastDistanceIsa()), before);
}

}  // namespace
}  // namespace bn
