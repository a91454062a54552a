#include "engine/nn/pool.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <vector>

#include "engine/nn/context.h"
#include "engine/nn/unpool.h"
#include "gtest/gtest.h"

namespace bn {
namespace {

// Distinct values (a shuffled ramp) so every window has a unique maximum.
std::vector<float> DistinctValues(size_t n, std::mt19937* rng) {
  std::vector<float> v(n);
  std::iota(v.begin(), v.end(), 0.0f);
  std::shuffle(v.begin(), v.end(), *rng);
  for (float& x : v) x = x * 0.1f - 3.0f;
  return v;
}

std::vector<float> Gaussian(size_t n, std::mt19937* rng) {
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = dist(*rng);
  return v;
}

double Dot(const std::vector<float>& a, const std::vector<float>& b) {
  double t = 0;
  for (size_t i = 0; i < a.size(); ++i) t += static_cast<double>(a[i]) * b[i];
  return t;
}

// Reference argmax (flat index within the example) of every pooled value; -1 never returned.
std::vector<int64_t> NaiveArgmax(const std::vector<float>& src, int64_t n, int64_t c, int64_t h,
                                 int64_t w, int64_t p) {
  const int64_t oh = h / p, ow = w / p;
  std::vector<int64_t> arg;
  for (int64_t e = 0; e < n; ++e) {
    for (int64_t ch = 0; ch < c; ++ch) {
      for (int64_t y = 0; y < oh; ++y) {
        for (int64_t x = 0; x < ow; ++x) {
          int64_t best = -1;
          for (int64_t dy = 0; dy < p; ++dy) {
            for (int64_t dx = 0; dx < p; ++dx) {
              const int64_t i = (ch * h + y * p + dy) * w + x * p + dx;
              if (best < 0 || src[e * c * h * w + i] > src[e * c * h * w + best]) best = i;
            }
          }
          arg.push_back(best);
        }
      }
    }
  }
  return arg;
}

struct PoolCase {
  int64_t n, c, h, w, p;
};

class PoolTest : public ::testing::TestWithParam<PoolCase> {};

TEST_P(PoolTest, MaxPoolForwardBackwardMatchReferenceAndFiniteDifferences) {
  SetNnThreads(1);
  const PoolCase pc = GetParam();
  auto ctx = NewNnContext();
  ASSERT_TRUE(ctx.ok());
  auto pool = MaxPoolLayer::Create(*ctx, pc.c, pc.h, pc.w, pc.p);
  ASSERT_TRUE(pool.ok()) << pool.status();
  MaxPoolLayer& layer = **pool;
  EXPECT_EQ(layer.out_h(), pc.h / pc.p);
  std::mt19937 rng(3);
  const int64_t ins = layer.in_size(), outs = layer.out_size();
  std::vector<float> src = DistinctValues(static_cast<size_t>(pc.n * ins), &rng);
  std::vector<float> dst(static_cast<size_t>(pc.n * outs));
  EXPECT_FALSE(layer.has_switches(pc.n));
  std::vector<float> diff_src(src.size());
  EXPECT_FALSE(layer.Backward(pc.n, dst.data(), diff_src.data()).ok());  // no switches yet
  ASSERT_TRUE(layer.Forward(src.data(), pc.n, dst.data(), true).ok());
  EXPECT_TRUE(layer.has_switches(pc.n));
  const std::vector<int64_t> arg = NaiveArgmax(src, pc.n, pc.c, pc.h, pc.w, pc.p);
  for (int64_t e = 0; e < pc.n; ++e) {
    for (int64_t j = 0; j < outs; ++j) {
      ASSERT_EQ(dst[e * outs + j], src[e * ins + arg[e * outs + j]]);
    }
  }
  std::vector<float> infer(dst.size());
  ASSERT_TRUE(layer.Forward(src.data(), pc.n, infer.data(), false).ok());
  EXPECT_EQ(infer, dst);

  // Backward: the gradient goes to each window's argmax, zero elsewhere.
  const std::vector<float> g = Gaussian(dst.size(), &rng);
  std::fill(diff_src.begin(), diff_src.end(), 7.0f);  // Backward must overwrite everything
  ASSERT_TRUE(layer.Backward(pc.n, g.data(), diff_src.data()).ok());
  std::vector<float> expect(src.size(), 0.0f);
  for (int64_t e = 0; e < pc.n; ++e) {
    for (int64_t j = 0; j < outs; ++j) expect[e * ins + arg[e * outs + j]] = g[e * outs + j];
  }
  EXPECT_EQ(diff_src, expect);
  std::vector<int32_t> sw;
  ASSERT_TRUE(layer.Switches(pc.n, &sw).ok());
  for (size_t j = 0; j < sw.size(); ++j) ASSERT_EQ(sw[j], arg[j]);

  // Finite differences of <pool(x), g> (values are 0.1 apart, so eps = 0.01 keeps every max).
  auto loss = [&](const std::vector<float>& x) {
    std::vector<float> y(dst.size());
    EXPECT_TRUE(layer.Forward(x.data(), pc.n, y.data(), false).ok());
    return Dot(y, g);
  };
  const float eps = 0.01f;
  for (size_t i = 0; i < src.size(); i += 3) {
    std::vector<float> xp = src, xm = src;
    xp[i] += eps;
    xm[i] -= eps;
    EXPECT_NEAR((loss(xp) - loss(xm)) / (2 * eps), diff_src[i], 1e-3) << i;
  }
}

// Unpooling with switches after max pooling puts each maximum back in its place, zeros elsewhere.
TEST_P(PoolTest, UnpoolWithSwitchesRestoresMaximaInPlace) {
  SetNnThreads(1);
  const PoolCase pc = GetParam();
  auto ctx = NewNnContext();
  ASSERT_TRUE(ctx.ok());
  auto pool = MaxPoolLayer::Create(*ctx, pc.c, pc.h, pc.w, pc.p);
  ASSERT_TRUE(pool.ok());
  auto unpool = UnpoolLayer::Create(UnpoolMode::kSwitches, pool->get());
  ASSERT_TRUE(unpool.ok());
  std::mt19937 rng(5);
  const int64_t ins = (*pool)->in_size(), outs = (*pool)->out_size();
  std::vector<float> src = DistinctValues(static_cast<size_t>(pc.n * ins), &rng);
  std::vector<float> pooled(static_cast<size_t>(pc.n * outs)), back(src.size(), 7.0f);
  EXPECT_FALSE((*unpool)->Forward(pooled.data(), pc.n, back.data(), true).ok());  // no switches
  ASSERT_TRUE((*pool)->Forward(src.data(), pc.n, pooled.data(), true).ok());
  ASSERT_TRUE((*unpool)->Forward(pooled.data(), pc.n, back.data(), true).ok());
  const std::vector<int64_t> arg = NaiveArgmax(src, pc.n, pc.c, pc.h, pc.w, pc.p);
  std::vector<bool> is_max(src.size(), false);
  for (int64_t e = 0; e < pc.n; ++e) {
    for (int64_t j = 0; j < outs; ++j) is_max[e * ins + arg[e * outs + j]] = true;
  }
  for (size_t i = 0; i < src.size(); ++i) {
    ASSERT_EQ(back[i], is_max[i] ? src[i] : 0.0f) << i;
  }
  // Backward gathers at the switches: the adjoint of the scatter.
  const std::vector<float> g = Gaussian(src.size(), &rng);
  std::vector<float> diff(pooled.size());
  ASSERT_TRUE((*unpool)->Backward(pc.n, g.data(), diff.data(), true).ok());
  for (int64_t e = 0; e < pc.n; ++e) {
    for (int64_t j = 0; j < outs; ++j) {
      ASSERT_EQ(diff[e * outs + j], g[e * ins + arg[e * outs + j]]);
    }
  }
}

// With ties (all-zero windows, common after ReLU), scatter and gather must still be adjoint:
// <unpool(a), b> == <a, unpool_backward(b)>.
TEST_P(PoolTest, UnpoolWithSwitchesIsAdjointUnderTies) {
  SetNnThreads(1);
  const PoolCase pc = GetParam();
  auto ctx = NewNnContext();
  ASSERT_TRUE(ctx.ok());
  auto pool = MaxPoolLayer::Create(*ctx, pc.c, pc.h, pc.w, pc.p);
  ASSERT_TRUE(pool.ok());
  auto unpool = UnpoolLayer::Create(UnpoolMode::kSwitches, pool->get());
  ASSERT_TRUE(unpool.ok());
  std::mt19937 rng(9);
  const int64_t ins = (*pool)->in_size(), outs = (*pool)->out_size();
  std::vector<float> src(static_cast<size_t>(pc.n * ins), 0.0f);
  for (size_t i = 0; i < src.size(); i += 5) src[i] = 1.0f;  // many tied windows
  std::vector<float> pooled(static_cast<size_t>(pc.n * outs));
  ASSERT_TRUE((*pool)->Forward(src.data(), pc.n, pooled.data(), true).ok());
  const std::vector<float> a = Gaussian(pooled.size(), &rng), b = Gaussian(src.size(), &rng);
  std::vector<float> ua(src.size()), ub(pooled.size());
  ASSERT_TRUE((*unpool)->Forward(a.data(), pc.n, ua.data(), true).ok());
  ASSERT_TRUE((*unpool)->Backward(pc.n, b.data(), ub.data(), true).ok());
  EXPECT_NEAR(Dot(ua, b), Dot(a, ub), 1e-4);
  // Each pooled value lands exactly once.
  int64_t nonzero = 0;
  for (float v : ua) nonzero += v != 0.0f;
  EXPECT_EQ(nonzero, static_cast<int64_t>(a.size()));
}

// Repeat unpooling and the switch-less (top-left) fallback against reference loops, the
// adjoint identity and finite differences.
TEST_P(PoolTest, RepeatAndTopLeftUnpoolingMatchReference) {
  SetNnThreads(1);
  const PoolCase pc = GetParam();
  auto ctx = NewNnContext();
  ASSERT_TRUE(ctx.ok());
  auto pool = MaxPoolLayer::Create(*ctx, pc.c, pc.h, pc.w, pc.p);
  ASSERT_TRUE(pool.ok());
  const int64_t oh = pc.h / pc.p, ow = pc.w / pc.p;
  for (UnpoolMode mode : {UnpoolMode::kRepeat, UnpoolMode::kSwitches}) {
    auto unpool = UnpoolLayer::Create(mode, pool->get());
    ASSERT_TRUE(unpool.ok());
    std::mt19937 rng(11);
    const std::vector<float> a = Gaussian(static_cast<size_t>(pc.n * (*unpool)->in_size()), &rng);
    const std::vector<float> b = Gaussian(static_cast<size_t>(pc.n * (*unpool)->out_size()), &rng);
    std::vector<float> ua(b.size()), ub(a.size());
    // use_switches = false: kSwitches falls back to the top-left position.
    ASSERT_TRUE((*unpool)->Forward(a.data(), pc.n, ua.data(), false).ok());
    ASSERT_TRUE((*unpool)->Backward(pc.n, b.data(), ub.data(), false).ok());
    std::vector<float> expect_fwd(b.size(), 0.0f);
    std::vector<double> expect_bwd(a.size(), 0.0);
    for (int64_t plane = 0; plane < pc.n * pc.c; ++plane) {
      for (int64_t y = 0; y < pc.h; ++y) {
        for (int64_t x = 0; x < pc.w; ++x) {
          const int64_t py = y / pc.p, px = x / pc.p;
          if (py >= oh || px >= ow) continue;  // rows/columns not covered by a window
          if (mode == UnpoolMode::kSwitches && (y % pc.p != 0 || x % pc.p != 0)) continue;
          const int64_t o = (plane * pc.h + y) * pc.w + x, i = (plane * oh + py) * ow + px;
          expect_fwd[o] = a[i];
          expect_bwd[i] += b[o];
        }
      }
    }
    EXPECT_EQ(ua, expect_fwd);
    for (size_t i = 0; i < ub.size(); ++i) ASSERT_NEAR(ub[i], expect_bwd[i], 1e-5);
    EXPECT_NEAR(Dot(ua, b), Dot(a, ub), 1e-3);
    // Finite differences of <unpool(a), b> with respect to a.
    const float eps = 0.01f;
    for (size_t i = 0; i < a.size(); i += 4) {
      std::vector<float> ap = a, am = a, yp(b.size()), ym(b.size());
      ap[i] += eps;
      am[i] -= eps;
      ASSERT_TRUE((*unpool)->Forward(ap.data(), pc.n, yp.data(), false).ok());
      ASSERT_TRUE((*unpool)->Forward(am.data(), pc.n, ym.data(), false).ok());
      EXPECT_NEAR((Dot(yp, b) - Dot(ym, b)) / (2 * eps), ub[i], 2e-3);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Shapes, PoolTest,
                         ::testing::Values(PoolCase{2, 3, 8, 6, 2}, PoolCase{3, 2, 7, 9, 2},
                                           PoolCase{1, 4, 9, 9, 3}));

TEST(PoolShapeTest, RejectsBadShapes) {
  auto ctx = NewNnContext();
  ASSERT_TRUE(ctx.ok());
  EXPECT_FALSE(MaxPoolLayer::Create(*ctx, 1, 4, 4, 5).ok());
  EXPECT_FALSE(MaxPoolLayer::Create(*ctx, 0, 4, 4, 2).ok());
  EXPECT_FALSE(UnpoolLayer::Create(UnpoolMode::kRepeat, nullptr).ok());
}

}  // namespace
}  // namespace bn
