#include <cmath>
#include <random>
#include <vector>

#include "engine/nn/context.h"
#include "engine/nn/loss.h"
#include "engine/nn/softmax.h"
#include "gtest/gtest.h"

namespace bn {
namespace {

std::vector<float> RandomVector(size_t n, std::mt19937* rng, float scale = 1.0f) {
  std::normal_distribution<float> dist(0.0f, scale);
  std::vector<float> v(n);
  for (float& x : v) x = dist(*rng);
  return v;
}

TEST(SoftmaxLayer, ForwardAndBackwardMatchReference) {
  SetNnThreads(1);  // one thread: robust on a shared CI machine
  auto ctx = NewNnContext();
  ASSERT_TRUE(ctx.ok());
  std::mt19937 rng(3);
  const int64_t n = 4, c = 9;
  SoftmaxLayer sm(*ctx, c);
  std::vector<float> src = RandomVector(static_cast<size_t>(n * c), &rng, 3.0f);
  std::vector<float> dst(src.size()), diff_src(src.size());
  ASSERT_TRUE(sm.Forward(src.data(), n, dst.data(), true).ok());
  std::vector<float> diff_dst = RandomVector(src.size(), &rng);
  ASSERT_TRUE(sm.Backward(n, dst.data(), diff_dst.data(), diff_src.data()).ok());
  for (int64_t r = 0; r < n; ++r) {
    double mx = -1e30, sum = 0;
    for (int64_t i = 0; i < c; ++i) mx = std::max(mx, static_cast<double>(src[r * c + i]));
    for (int64_t i = 0; i < c; ++i) sum += std::exp(src[r * c + i] - mx);
    double dot = 0;
    std::vector<double> p(c);
    for (int64_t i = 0; i < c; ++i) {
      p[i] = std::exp(src[r * c + i] - mx) / sum;
      EXPECT_NEAR(dst[r * c + i], p[i], 1e-6);
      dot += p[i] * diff_dst[r * c + i];
    }
    for (int64_t i = 0; i < c; ++i) {
      EXPECT_NEAR(diff_src[r * c + i], p[i] * (diff_dst[r * c + i] - dot), 1e-5);
    }
  }
  // Finite differences of L = sum(dst * diff_dst) w.r.t. src.
  const float eps = 1e-2f;
  for (size_t k = 0; k < src.size(); ++k) {
    auto l = [&]() {
      std::vector<float> y(src.size());
      EXPECT_TRUE(sm.Forward(src.data(), n, y.data(), true).ok());
      double s = 0;
      for (size_t j = 0; j < y.size(); ++j) s += static_cast<double>(y[j]) * diff_dst[j];
      return s;
    };
    const float saved = src[k];
    src[k] = saved + eps;
    const double lp = l();
    src[k] = saved - eps;
    const double lm = l();
    src[k] = saved;
    EXPECT_NEAR((lp - lm) / (2 * eps), diff_src[k], 5e-3) << k;
  }
}

// Reference losses straight from their definitions (double).
double RefLoss(LossKind kind, const std::vector<float>& z, const std::vector<float>& t, int64_t n,
               int64_t d) {
  double total = 0;
  for (int64_t r = 0; r < n; ++r) {
    double sum = 0;
    for (int64_t i = 0; i < d; ++i) sum += std::exp(static_cast<double>(z[r * d + i]));
    for (int64_t i = 0; i < d; ++i) {
      const double x = z[r * d + i], y = t[r * d + i];
      switch (kind) {
        case LossKind::kSquaredError:
          total += 0.5 * (x - y) * (x - y);
          break;
        case LossKind::kLogisticCrossEntropy: {
          const double s = 1 / (1 + std::exp(-x));
          total += -y * std::log(s) - (1 - y) * std::log(1 - s);
          break;
        }
        case LossKind::kSoftmaxCrossEntropy:
          total += -y * std::log(std::exp(x) / sum);
          break;
      }
    }
  }
  return total / n;
}

class LossTest : public ::testing::TestWithParam<LossKind> {};

TEST_P(LossTest, ValueAndGradientMatchReferenceAndFiniteDifferences) {
  const LossKind kind = GetParam();
  std::mt19937 rng(11);
  const int64_t n = 3, d = 6;
  std::vector<float> z = RandomVector(static_cast<size_t>(n * d), &rng, 2.0f);
  std::vector<float> t(z.size());
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  for (float& x : t) x = u(rng);
  if (kind == LossKind::kSoftmaxCrossEntropy) {  // Rows of a distribution.
    for (int64_t r = 0; r < n; ++r) {
      float s = 0;
      for (int64_t i = 0; i < d; ++i) s += t[r * d + i];
      for (int64_t i = 0; i < d; ++i) t[r * d + i] /= s;
    }
  }
  std::vector<float> grad(z.size());
  const double l = LossAndGradient(kind, z.data(), t.data(), n, d, grad.data());
  EXPECT_NEAR(l, RefLoss(kind, z, t, n, d), 1e-5);
  const float eps = 1e-2f;
  for (size_t k = 0; k < z.size(); ++k) {
    const float saved = z[k];
    z[k] = saved + eps;
    const double lp = LossAndGradient(kind, z.data(), t.data(), n, d, nullptr);
    z[k] = saved - eps;
    const double lm = LossAndGradient(kind, z.data(), t.data(), n, d, nullptr);
    z[k] = saved;
    EXPECT_NEAR((lp - lm) / (2 * eps), grad[k], 1e-3) << k;
  }
}

INSTANTIATE_TEST_SUITE_P(AllLosses, LossTest,
                         ::testing::Values(LossKind::kSquaredError, LossKind::kLogisticCrossEntropy,
                                           LossKind::kSoftmaxCrossEntropy));

TEST(Loss, LogisticCrossEntropyIsStableForLargeLogits) {
  const float z[4] = {100.0f, -100.0f, 100.0f, -100.0f};
  const float t[4] = {0.0f, 1.0f, 1.0f, 0.0f};
  float grad[4];
  const double l = LossAndGradient(LossKind::kLogisticCrossEntropy, z, t, 1, 4, grad);
  EXPECT_TRUE(std::isfinite(l));
  EXPECT_NEAR(l, 200.0, 1e-6);  // Two confident mistakes cost |z| each; the rest ~0.
  EXPECT_NEAR(grad[0], 1.0f, 1e-6);
  EXPECT_NEAR(grad[1], -1.0f, 1e-6);
  const float zs[3] = {1000.0f, 0.0f, -1000.0f};
  const float ts[3] = {0.0f, 1.0f, 0.0f};
  EXPECT_NEAR(LossAndGradient(LossKind::kSoftmaxCrossEntropy, zs, ts, 1, 3, grad), 1000.0, 1e-3);
}

TEST(Loss, OutputTransformMatchesDefinition) {
  float z[4] = {0.0f, 2.0f, -1.0f, 3.0f};
  float y[4];
  std::copy(z, z + 4, y);
  ApplyOutputTransform(LossKind::kSoftmaxCrossEntropy, y, 2, 2);
  EXPECT_NEAR(y[0], 1 / (1 + std::exp(2.0)), 1e-6);
  EXPECT_NEAR(y[2] + y[3], 1.0, 1e-6);
  std::copy(z, z + 4, y);
  ApplyOutputTransform(LossKind::kLogisticCrossEntropy, y, 2, 2);
  EXPECT_NEAR(y[1], 1 / (1 + std::exp(-2.0)), 1e-6);
  EXPECT_DOUBLE_EQ(SumSquaredError(z, y, 1), (0.0 - 0.5) * (0.0 - 0.5));
}

}  // namespace
}  // namespace bn
