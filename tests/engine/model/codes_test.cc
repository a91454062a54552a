#include "engine/model/codes.h"

#include <random>
#include <vector>

#include "gtest/gtest.h"

namespace bn {
namespace {

TEST(Codes, PackUnpackRoundTripsForAllSizes) {
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  for (int64_t bits : {1, 7, 8, 28, 32, 64, 100, 256, 4096}) {
    const int64_t n = 5;
    std::vector<float> codes(static_cast<size_t>(n * bits));
    for (float& c : codes) c = u(rng);
    auto packed = PackBits(codes.data(), n, bits);
    ASSERT_TRUE(packed.ok());
    ASSERT_EQ(static_cast<int64_t>(packed->size()), n * ((bits + 7) / 8));
    std::vector<float> back(codes.size());
    ASSERT_TRUE(UnpackBits(packed->data(), n, bits, back.data()).ok());
    for (size_t i = 0; i < codes.size(); ++i) {
      ASSERT_EQ(back[i], codes[i] > 0.5f ? 1.0f : 0.0f) << bits << " " << i;
    }
    // Hamming distance equals the count of differing thresholded units.
    const int64_t bytes = (bits + 7) / 8;
    int64_t expected = 0;
    for (int64_t i = 0; i < bits; ++i) expected += back[i] != back[bits + i];
    EXPECT_EQ(HammingDistance(packed->data(), packed->data() + bytes, bytes), expected);
  }
}

TEST(Codes, DocumentedBitOrderAndThreshold) {
  const float codes[10] = {1, 0, 0, 0, 0, 0, 0, 0.51f, 0.5f, 1};
  auto packed = PackBits(codes, 1, 10);
  ASSERT_TRUE(packed.ok());
  ASSERT_EQ(packed->size(), 2u);
  EXPECT_EQ((*packed)[0], 0x81);  // units 0 and 7; 0.5 is not above the threshold
  EXPECT_EQ((*packed)[1], 0x02);  // unit 9
}

TEST(Codes, RejectsBadSizes) {
  float c[1] = {1};
  EXPECT_FALSE(PackBits(c, 1, 0).ok());
  EXPECT_FALSE(PackBits(c, 1, 4097).ok());
  EXPECT_FALSE(PackBits(c, -1, 8).ok());
  uint8_t p[1] = {0};
  EXPECT_FALSE(UnpackBits(p, 1, 5000, c).ok());
}

}  // namespace
}  // namespace bn
