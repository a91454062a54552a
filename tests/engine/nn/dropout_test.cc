// The dropout mask (engine/nn/dropout.h): its values, its rate, its seed.
#include "engine/nn/dropout.h"

#include <vector>

#include "gtest/gtest.h"

namespace bn {
namespace {

TEST(DropoutMask, DropsTheRateAndScalesTheKeptUnits) {
  for (float rate : {0.1f, 0.5f, 0.8f}) {
    std::vector<float> mask(100000);
    DropoutMask(rate, 7, static_cast<int64_t>(mask.size()), mask.data());
    int64_t dropped = 0;
    double sum = 0;
    for (float m : mask) {
      if (m == 0.0f) {
        ++dropped;
      } else {
        EXPECT_FLOAT_EQ(m, 1.0f / (1.0f - rate));
      }
      sum += m;
    }
    // Binomial: the standard deviation of the dropped fraction is below 0.0016 here.
    EXPECT_NEAR(static_cast<double>(dropped) / mask.size(), rate, 0.01) << rate;
    EXPECT_NEAR(sum / mask.size(), 1.0, 0.03) << rate;  // E[mask] = 1: inference needs no scale
  }
}

TEST(DropoutMask, IsAFunctionOfTheSeedAndRateZeroKeepsEverything) {
  std::vector<float> a(1000), b(1000), c(1000);
  DropoutMask(0.5f, 1, 1000, a.data());
  DropoutMask(0.5f, 1, 1000, b.data());
  DropoutMask(0.5f, 2, 1000, c.data());
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  DropoutMask(0.0f, 1, 1000, c.data());
  EXPECT_EQ(c, std::vector<float>(1000, 1.0f));
}

TEST(DropoutMask, AppliesInPlace) {
  const std::vector<float> mask = {0.0f, 2.0f, 2.0f, 0.0f};
  std::vector<float> x = {1, 2, 3, 4};
  ApplyDropoutMask(mask.data(), x.data(), 4, x.data());
  EXPECT_EQ(x, (std::vector<float>{0, 4, 6, 0}));
}

}  // namespace
}  // namespace bn
