#include "engine/nn/dense.h"

#include <cmath>
#include <random>
#include <vector>

#include "engine/nn/context.h"
#include "gtest/gtest.h"
#include "tests/engine/nn/nn_reference.h"

namespace bn {
namespace {

using testing::ActRef;
using testing::RandomVector;

// Derivative from the activation's output y.
double ActDerivFromOut(Activation act, double y) {
  switch (act) {
    case Activation::kLogistic:
      return y * (1 - y);
    case Activation::kRelu:
      return y > 0 ? 1 : 0;
    case Activation::kTanh:
      return 1 - y * y;
    case Activation::kLinear:
      break;
  }
  return 1;
}

// Naive forward; w_at(o, i) gives the effective W[o][i].
template <typename W>
std::vector<double> NaiveForward(const std::vector<float>& src, int64_t n, int64_t in, int64_t out,
                                 W w_at, const std::vector<float>& b, Activation act) {
  std::vector<double> dst(static_cast<size_t>(n * out));
  for (int64_t r = 0; r < n; ++r) {
    for (int64_t o = 0; o < out; ++o) {
      double z = b[o];
      for (int64_t i = 0; i < in; ++i) z += static_cast<double>(src[r * in + i]) * w_at(o, i);
      dst[r * out + o] = ActRef(act, z);
    }
  }
  return dst;
}

class DenseTest : public ::testing::TestWithParam<std::tuple<Activation, bool>> {};

TEST_P(DenseTest, ForwardBackwardMatchReferenceAndFiniteDifferences) {
  SetNnThreads(1);  // one thread: robust on a shared CI machine
  const Activation act = std::get<0>(GetParam());
  const bool tied = std::get<1>(GetParam());
  auto ctx = NewNnContext();
  ASSERT_TRUE(ctx.ok()) << ctx.status();
  std::mt19937 rng(42 + static_cast<int>(act) * 2 + tied);
  const int64_t n = 5, in = 7, out = 4;
  // For a tied layer, the source maps out -> in, so its weights are [in][out].
  DenseLayer source(*ctx, out, in, Activation::kLinear);
  std::unique_ptr<DenseLayer> owned;
  std::unique_ptr<DenseLayer> layer;
  if (tied) {
    source.weights() = RandomVector(static_cast<size_t>(in * out), &rng, 0.5f);
    layer = std::make_unique<DenseLayer>(*ctx, &source, act);
  } else {
    layer = std::make_unique<DenseLayer>(*ctx, in, out, act);
    layer->weights() = RandomVector(static_cast<size_t>(in * out), &rng, 0.5f);
  }
  ASSERT_EQ(layer->in_size(), in);
  ASSERT_EQ(layer->out_size(), out);
  layer->bias() = RandomVector(static_cast<size_t>(out), &rng, 0.3f);
  // Effective W[o][i] (mutable through this pointer for finite differences).
  float* wbuf = tied ? source.weights().data() : layer->weights().data();
  auto w_index = [&](int64_t o, int64_t i) { return tied ? i * out + o : o * in + i; };
  auto w_at = [&](int64_t o, int64_t i) { return static_cast<double>(wbuf[w_index(o, i)]); };

  std::vector<float> src = RandomVector(static_cast<size_t>(n * in), &rng);
  std::vector<float> dst(static_cast<size_t>(n * out));
  for (bool training : {true, false}) {
    ASSERT_TRUE(layer->Forward(src.data(), n, dst.data(), training).ok());
    std::vector<double> ref = NaiveForward(src, n, in, out, w_at, layer->bias(), act);
    for (size_t k = 0; k < dst.size(); ++k) EXPECT_NEAR(dst[k], ref[k], 1e-5) << k;
  }
  // A scalar loss L = sum(dst * R) gives diff_dst = R.
  std::vector<float> r = RandomVector(dst.size(), &rng);
  std::vector<float> diff_pre(dst.size()), diff_src(src.size());
  std::vector<float> dw(static_cast<size_t>(in * out)), db(static_cast<size_t>(out));
  ASSERT_TRUE(layer->Forward(src.data(), n, dst.data(), true).ok());
  ASSERT_TRUE(layer->ActivationBackward(n, dst.data(), r.data(), diff_pre.data()).ok());
  ASSERT_TRUE(
      layer->Backward(n, src.data(), diff_pre.data(), diff_src.data(), dw.data(), db.data()).ok());

  // Naive backward.
  std::vector<double> dpre_ref(dst.size());
  for (size_t k = 0; k < dst.size(); ++k) dpre_ref[k] = r[k] * ActDerivFromOut(act, dst[k]);
  for (size_t k = 0; k < dst.size(); ++k) EXPECT_NEAR(diff_pre[k], dpre_ref[k], 1e-5);
  for (int64_t o = 0; o < out; ++o) {
    double bsum = 0;
    for (int64_t row = 0; row < n; ++row) bsum += dpre_ref[row * out + o];
    EXPECT_NEAR(db[o], bsum, 1e-4);
    for (int64_t i = 0; i < in; ++i) {
      double s = 0;
      for (int64_t row = 0; row < n; ++row) s += dpre_ref[row * out + o] * src[row * in + i];
      EXPECT_NEAR(dw[w_index(o, i)], s, 1e-4) << o << "," << i;
    }
  }
  for (int64_t row = 0; row < n; ++row) {
    for (int64_t i = 0; i < in; ++i) {
      double s = 0;
      for (int64_t o = 0; o < out; ++o) s += dpre_ref[row * out + o] * w_at(o, i);
      EXPECT_NEAR(diff_src[row * in + i], s, 1e-4);
    }
  }

  // Central finite differences of L in float, through the oneDNN forward.
  // For ReLU, a perturbation that flips a unit across its kink makes the difference quotient
  // meaningless; such points compare the analytic gradient with itself (they are skipped).
  auto loss = [&](std::vector<bool>* active) {
    std::vector<float> y(dst.size());
    EXPECT_TRUE(layer->Forward(src.data(), n, y.data(), true).ok());
    double l = 0;
    active->resize(y.size());
    for (size_t k = 0; k < y.size(); ++k) {
      l += static_cast<double>(y[k]) * r[k];
      (*active)[k] = y[k] > 0;
    }
    return l;
  };
  const float eps = 1e-2f;
  size_t skipped = 0;
  auto fd_or = [&](float* p, double analytic) {
    const float saved = *p;
    std::vector<bool> ap, am;
    *p = saved + eps;
    const double lp = loss(&ap);
    *p = saved - eps;
    const double lm = loss(&am);
    *p = saved;
    if (act == Activation::kRelu && ap != am) {
      ++skipped;
      return analytic;
    }
    return (lp - lm) / (2.0 * eps);
  };
  const double tol = 2e-2;
  for (int64_t k = 0; k < in * out; ++k) {
    EXPECT_NEAR(fd_or(&wbuf[k], dw[k]), dw[k], tol) << "W " << k;
  }
  for (int64_t o = 0; o < out; ++o) {
    EXPECT_NEAR(fd_or(&layer->bias()[o], db[o]), db[o], tol) << "b " << o;
  }
  for (size_t k = 0; k < src.size(); ++k) {
    EXPECT_NEAR(fd_or(&src[k], diff_src[k]), diff_src[k], tol) << "x " << k;
  }
  EXPECT_LT(skipped, static_cast<size_t>(in * out + out + n * in) / 4);
}

INSTANTIATE_TEST_SUITE_P(AllActivations, DenseTest,
                         ::testing::Combine(::testing::Values(Activation::kLinear,
                                                              Activation::kLogistic,
                                                              Activation::kRelu, Activation::kTanh),
                                            ::testing::Bool()));

TEST(DenseLayer, NoisePathAddsNoiseBeforeActivation) {
  SetNnThreads(1);  // one thread: robust on a shared CI machine
  auto ctx = NewNnContext();
  ASSERT_TRUE(ctx.ok());
  std::mt19937 rng(7);
  const int64_t n = 3, in = 6, out = 5;
  DenseLayer layer(*ctx, in, out, Activation::kLogistic);
  layer.weights() = RandomVector(static_cast<size_t>(in * out), &rng);
  layer.bias() = RandomVector(static_cast<size_t>(out), &rng);
  std::vector<float> src = RandomVector(static_cast<size_t>(n * in), &rng);
  std::vector<float> noise = RandomVector(static_cast<size_t>(n * out), &rng, 4.0f);
  std::vector<float> dst(static_cast<size_t>(n * out));
  ASSERT_TRUE(layer.Forward(src.data(), n, dst.data(), true, noise.data()).ok());
  for (int64_t row = 0; row < n; ++row) {
    for (int64_t o = 0; o < out; ++o) {
      double z = layer.bias()[o] + noise[row * out + o];
      for (int64_t i = 0; i < in; ++i) z += layer.weights()[o * in + i] * src[row * in + i];
      EXPECT_NEAR(dst[row * out + o], 1.0 / (1.0 + std::exp(-z)), 1e-5);
    }
  }
}

TEST(DenseLayer, ManyBatchSizesStayCorrect) {
  SetNnThreads(1);  // one thread: robust on a shared CI machine
  auto ctx = NewNnContext();
  ASSERT_TRUE(ctx.ok());
  std::mt19937 rng(9);
  const int64_t in = 33, out = 17;
  DenseLayer layer(*ctx, in, out, Activation::kRelu);
  layer.weights() = RandomVector(static_cast<size_t>(in * out), &rng);
  for (int64_t n = 1; n <= 40; n += 3) {  // More sizes than the cache holds.
    std::vector<float> src = RandomVector(static_cast<size_t>(n * in), &rng);
    std::vector<float> dst(static_cast<size_t>(n * out));
    ASSERT_TRUE(layer.Forward(src.data(), n, dst.data(), false).ok());
    auto ref = NaiveForward(
        src, n, in, out, [&](int64_t o, int64_t i) { return layer.weights()[o * in + i]; },
        layer.bias(), Activation::kRelu);
    for (size_t k = 0; k < dst.size(); ++k) ASSERT_NEAR(dst[k], ref[k], 1e-4);
  }
}

}  // namespace
}  // namespace bn
