#include "engine/input/augment.h"

#include <cmath>
#include <numeric>

#include "gtest/gtest.h"

namespace bn {
namespace {

// A 9x9 grey image with one bright pixel at (y, x) on a dark background.
std::vector<float> Dot(int y, int x) {
  std::vector<float> img(81, 0.0f);
  img[y * 9 + x] = 1.0f;
  return img;
}

TEST(ImageAugmenterTest, RefusesOptionsThatDoNotFitTheGeometry) {
  AugmentOptions o;
  o.max_shift = 4.5f;  // Half of 9.
  EXPECT_EQ(ImageAugmenter::Create(o, 9, 9, 1).status().code(), absl::StatusCode::kInvalidArgument);
  o.max_shift = 4;
  EXPECT_TRUE(ImageAugmenter::Create(o, 9, 9, 1).ok());
  o.max_rotation = 181;
  EXPECT_FALSE(ImageAugmenter::Create(o, 9, 9, 1).ok());
  o = AugmentOptions();
  o.min_scale = 1.2f;
  o.max_scale = 1.1f;
  EXPECT_FALSE(ImageAugmenter::Create(o, 9, 9, 1).ok());
  o = AugmentOptions();
  o.crop = 1;
  EXPECT_FALSE(ImageAugmenter::Create(o, 9, 9, 1).ok());
  o = AugmentOptions();
  o.max_rotation = std::nanf("");
  EXPECT_FALSE(ImageAugmenter::Create(o, 9, 9, 1).ok());
  EXPECT_FALSE(ImageAugmenter::Create(AugmentOptions(), 9, 9, 2).ok());
  EXPECT_FALSE(AugmentOptions().enabled());
}

TEST(ImageAugmenterTest, IdentityOptionsLeaveImagesUnchanged) {
  auto augmenter = ImageAugmenter::Create(AugmentOptions(), 9, 9, 1);
  ASSERT_TRUE(augmenter.ok());
  std::vector<float> img = Dot(2, 7);
  std::mt19937_64 rng(1);
  augmenter->Apply(img.data(), 1, &rng);
  EXPECT_EQ(img, Dot(2, 7));
}

TEST(ImageAugmenterTest, FlipsMirrorExactly) {
  AugmentOptions o;
  o.horizontal_flip = true;
  auto augmenter = ImageAugmenter::Create(o, 9, 9, 1);
  ASSERT_TRUE(augmenter.ok());
  int flipped = 0, kept = 0;
  std::mt19937_64 rng(3);
  for (int trial = 0; trial < 200; ++trial) {
    std::vector<float> img = Dot(2, 7);
    augmenter->Apply(img.data(), 1, &rng);
    if (img == Dot(2, 1)) {
      ++flipped;
    } else {
      EXPECT_EQ(img, Dot(2, 7));
      ++kept;
    }
  }
  EXPECT_GT(flipped, 70);  // About half of 200 each way.
  EXPECT_GT(kept, 70);
}

TEST(ImageAugmenterTest, ShiftsMoveTheContentByAtMostTheMaximum) {
  AugmentOptions o;
  o.max_shift = 2;
  auto augmenter = ImageAugmenter::Create(o, 9, 9, 1);
  ASSERT_TRUE(augmenter.ok());
  std::mt19937_64 rng(5);
  bool moved = false;
  for (int trial = 0; trial < 50; ++trial) {
    std::vector<float> img = Dot(4, 4);
    augmenter->Apply(img.data(), 1, &rng);
    // The centre of mass moves with the image, by at most 2 pixels per axis.
    double sum = 0, my = 0, mx = 0;
    for (int y = 0; y < 9; ++y) {
      for (int x = 0; x < 9; ++x) {
        sum += img[y * 9 + x];
        my += y * img[y * 9 + x];
        mx += x * img[y * 9 + x];
      }
    }
    ASSERT_NEAR(sum, 1.0, 1e-5);  // Bilinear sampling keeps a dot's mass inside the image.
    EXPECT_LE(std::abs(my / sum - 4), 2.0 + 1e-6);
    EXPECT_LE(std::abs(mx / sum - 4), 2.0 + 1e-6);
    moved |= std::abs(mx / sum - 4) > 0.5;
  }
  EXPECT_TRUE(moved);
}

TEST(ImageAugmenterTest, RotationsKeepTheCentreAndTheSeedFixesTheDraws) {
  AugmentOptions o;
  o.max_rotation = 90;
  o.min_scale = 0.9f;
  o.max_scale = 1.1f;
  o.crop = 0.2f;
  auto augmenter = ImageAugmenter::Create(o, 9, 9, 3);
  ASSERT_TRUE(augmenter.ok());
  std::vector<float> a(2 * 243), b;
  std::iota(a.begin(), a.end(), 0.0f);
  for (float& v : a) v /= 486;
  b = a;
  std::mt19937_64 r1(11), r2(11);
  augmenter->Apply(a.data(), 2, &r1);
  augmenter->Apply(b.data(), 2, &r2);
  EXPECT_EQ(a, b);
  for (float v : a) ASSERT_TRUE(v >= 0 && v <= 1);  // Interpolation stays within the inputs.
}

}  // namespace
}  // namespace bn
