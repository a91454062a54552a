#include "engine/nn/optimizer.h"

#include <cmath>
#include <string>
#include <vector>

#include "engine/nn/context.h"
#include "gtest/gtest.h"

namespace bn {
namespace {

TEST(Optimizer, SgdMomentumAndDecayFollowTheUpdateRule) {
  OptimizerOptions o;
  o.kind = OptimizerKind::kSgd;
  o.learning_rate = 0.1f;
  o.momentum = 0.5f;
  o.weight_decay = 0.01f;
  Optimizer opt(o);
  std::vector<float> w = {1.0f, -2.0f}, b = {0.5f};
  const int iw = opt.AddBlock(w.data(), 2, true);
  const int ib = opt.AddBlock(b.data(), 1, false);
  double rw0 = 1.0, v0 = 0.0, rb = 0.5, vb = 0.0;
  for (int step = 0; step < 3; ++step) {
    const float gw[2] = {0.3f, -0.1f}, gb[1] = {0.2f};
    opt.BeginStep();
    opt.Update(iw, gw);
    opt.Update(ib, gb);
    v0 = 0.5 * v0 - 0.1 * (0.3 + 0.01 * rw0);
    rw0 += v0;
    vb = 0.5 * vb - 0.1 * 0.2;  // No decay on the bias.
    rb += vb;
  }
  EXPECT_NEAR(w[0], rw0, 1e-6);
  EXPECT_NEAR(b[0], rb, 1e-6);
}

TEST(Optimizer, AdamMatchesReferenceAndStateRoundTrips) {
  OptimizerOptions o;
  o.kind = OptimizerKind::kAdam;
  o.learning_rate = 0.01f;
  Optimizer opt(o);
  std::vector<float> w = {0.7f};
  const int iw = opt.AddBlock(w.data(), 1, true);
  double rw = 0.7, m = 0, v = 0;
  for (int t = 1; t <= 5; ++t) {
    const float g = static_cast<float>(2 * w[0] - 1);  // Gradient of (w - 0.5)^2.
    const double rg = 2 * rw - 1;
    opt.BeginStep();
    opt.Update(iw, &g);
    m = 0.9 * m + 0.1 * rg;
    v = 0.999 * v + 0.001 * rg * rg;
    rw -= 0.01 * (m / (1 - std::pow(0.9, t))) / (std::sqrt(v / (1 - std::pow(0.999, t))) + 1e-8);
  }
  EXPECT_NEAR(w[0], rw, 1e-5);
  std::string state;
  ByteWriter wr(&state);
  opt.SaveState(&wr);
  std::vector<float> w2 = {w[0]};
  Optimizer restored(o);
  restored.AddBlock(w2.data(), 1, true);
  ByteReader rd(state);
  ASSERT_TRUE(restored.LoadState(&rd));
  EXPECT_EQ(restored.step(), 5);
  const float g = 0.25f;
  opt.BeginStep();
  opt.Update(iw, &g);
  restored.BeginStep();
  restored.Update(0, &g);
  EXPECT_EQ(w[0], w2[0]);
  // Truncated state is rejected.
  Optimizer other(o);
  other.AddBlock(w2.data(), 1, true);
  ByteReader bad(absl::string_view(state).substr(0, state.size() - 3));
  EXPECT_FALSE(other.LoadState(&bad));
}

}  // namespace
}  // namespace bn

namespace bn {
namespace {

// Large blocks take the vectorised and multi-threaded paths; every element must still follow
// the scalar rule.
TEST(Optimizer, VectorisedAdamAndSgdMatchTheScalarRuleOnLargeBlocks) {
  SetNnThreads(1);  // one thread: robust on a shared CI machine
  for (OptimizerKind kind : {OptimizerKind::kAdam, OptimizerKind::kSgd}) {
    for (int64_t count : {int64_t{1037}, int64_t{70001}}) {
      OptimizerOptions o;
      o.kind = kind;
      o.learning_rate = 0.01f;
      o.momentum = 0.8f;
      o.weight_decay = 0.001f;
      Optimizer opt(o);
      std::vector<float> w(static_cast<size_t>(count)), g(w.size());
      for (int64_t i = 0; i < count; ++i) {
        w[i] = std::sin(0.1f * i);
        g[i] = std::cos(0.37f * i);
      }
      std::vector<double> rw(w.begin(), w.end()), m(w.size()), v(w.size());
      const int b = opt.AddBlock(w.data(), count, true);
      for (int t = 1; t <= 3; ++t) {
        opt.BeginStep();
        opt.Update(b, g.data());
        for (int64_t i = 0; i < count; ++i) {
          const double gi = g[i] + 0.001 * rw[i];
          if (kind == OptimizerKind::kSgd) {
            m[i] = 0.8 * m[i] - 0.01 * gi;
            rw[i] += m[i];
          } else {
            m[i] = 0.9 * m[i] + 0.1 * gi;
            v[i] = 0.999 * v[i] + 0.001 * gi * gi;
            rw[i] -= 0.01 * (m[i] / (1 - std::pow(0.9, t))) /
                     (std::sqrt(v[i] / (1 - std::pow(0.999, t))) + 1e-8);
          }
        }
      }
      for (int64_t i = 0; i < count; ++i) ASSERT_NEAR(w[i], rw[i], 1e-5) << i;
    }
  }
}

}  // namespace
}  // namespace bn
