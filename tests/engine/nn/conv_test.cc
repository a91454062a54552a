#include "engine/nn/conv.h"

#include <cmath>
#include <random>
#include <tuple>
#include <vector>

#include "engine/nn/context.h"
#include "gtest/gtest.h"

namespace bn {
namespace {

std::vector<float> RandomVector(size_t n, std::mt19937* rng) {
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = dist(*rng);
  return v;
}

struct Reference {
  std::vector<double> dst, diff_src, diff_w, diff_b;
};

// One naive loop over every (example, input channel, output channel, kernel tap) connection of
// a convolution (transposed = false: small = output) or deconvolution (transposed: small =
// input). The connection joins big position (ys*s - p + ky, xs*s - p + kx) with small position
// (ys, xs). Accumulates the forward output and, for upstream gradient g, every gradient.
Reference Naive(const ConvShape& s, bool transposed, int64_t n, const std::vector<float>& src,
                const std::vector<float>& w, const std::vector<float>& b,
                const std::vector<float>& g) {
  Reference r;
  r.dst.assign(static_cast<size_t>(n * s.out_size()), 0.0);
  r.diff_src.assign(static_cast<size_t>(n * s.in_size()), 0.0);
  r.diff_w.assign(w.size(), 0.0);
  r.diff_b.assign(b.size(), 0.0);
  const int64_t sh = transposed ? s.in_h : s.out_h, sw = transposed ? s.in_w : s.out_w;
  const int64_t bh = transposed ? s.out_h : s.in_h, bw = transposed ? s.out_w : s.in_w;
  for (int64_t e = 0; e < n; ++e) {
    for (int64_t o = 0; o < s.out_c; ++o) {
      for (int64_t i = 0; i < s.in_c; ++i) {
        for (int64_t ys = 0; ys < sh; ++ys) {
          for (int64_t xs = 0; xs < sw; ++xs) {
            for (int64_t ky = 0; ky < s.kernel; ++ky) {
              for (int64_t kx = 0; kx < s.kernel; ++kx) {
                const int64_t yb = ys * s.stride - s.pad_l + ky, xb = xs * s.stride - s.pad_l + kx;
                if (yb < 0 || yb >= bh || xb < 0 || xb >= bw) continue;
                const int64_t wi = ((o * s.in_c + i) * s.kernel + ky) * s.kernel + kx;
                // Flat indices of the input and output values joined by this connection.
                const int64_t in_idx = transposed ? ((e * s.in_c + i) * sh + ys) * sw + xs
                                                  : ((e * s.in_c + i) * bh + yb) * bw + xb;
                const int64_t out_idx = transposed ? ((e * s.out_c + o) * bh + yb) * bw + xb
                                                   : ((e * s.out_c + o) * sh + ys) * sw + xs;
                r.dst[out_idx] += static_cast<double>(w[wi]) * src[in_idx];
                r.diff_src[in_idx] += static_cast<double>(w[wi]) * g[out_idx];
                r.diff_w[wi] += static_cast<double>(src[in_idx]) * g[out_idx];
              }
            }
          }
        }
      }
      const int64_t plane = s.out_h * s.out_w;
      for (int64_t q = 0; q < plane; ++q) {
        const int64_t idx = (e * s.out_c + o) * plane + q;
        r.dst[idx] += b[o];
        r.diff_b[o] += g[idx];
      }
    }
  }
  return r;
}

double Dot(const std::vector<float>& a, const std::vector<float>& b) {
  double t = 0;
  for (size_t i = 0; i < a.size(); ++i) t += static_cast<double>(a[i]) * b[i];
  return t;
}

// (transposed, kernel, stride)
class ConvTest : public ::testing::TestWithParam<std::tuple<bool, int, int>> {};

TEST_P(ConvTest, ForwardBackwardMatchReferenceAndFiniteDifferences) {
  SetNnThreads(1);
  const bool transposed = std::get<0>(GetParam());
  const int64_t k = std::get<1>(GetParam()), stride = std::get<2>(GetParam());
  auto ctx = NewNnContext();
  ASSERT_TRUE(ctx.ok()) << ctx.status();
  const int64_t n = 2, ic = 3, h = 7, w = 6, oc = 4;
  auto conv_shape = Conv2DLayer::MakeShape(ic, h, w, oc, k, stride);
  ASSERT_TRUE(conv_shape.ok()) << conv_shape.status();
  std::unique_ptr<ConvLayerBase> layer;
  if (transposed) {
    // The adjoint shape: from the convolution's output back to its input size.
    auto d =
        Deconv2DLayer::Create(*ctx, oc, conv_shape->out_h, conv_shape->out_w, ic, h, w, k, stride);
    ASSERT_TRUE(d.ok()) << d.status();
    layer = std::move(*d);
  } else {
    auto c = Conv2DLayer::Create(*ctx, ic, h, w, oc, k, stride);
    ASSERT_TRUE(c.ok()) << c.status();
    layer = std::move(*c);
  }
  const ConvShape& s = layer->shape();
  if (stride == 1) {
    EXPECT_EQ(s.out_h * s.out_w, s.in_h * s.in_w);  // "same" padding keeps the size
  }
  std::mt19937 rng(7 + static_cast<int>(k * 10 + stride + transposed * 100));
  layer->weights() = RandomVector(layer->weights().size(), &rng);
  layer->bias() = RandomVector(layer->bias().size(), &rng);
  std::vector<float> src = RandomVector(static_cast<size_t>(n * s.in_size()), &rng);
  std::vector<float> g = RandomVector(static_cast<size_t>(n * s.out_size()), &rng);
  const Reference ref = Naive(s, transposed, n, src, layer->weights(), layer->bias(), g);

  std::vector<float> dst(static_cast<size_t>(n * s.out_size()));
  ASSERT_TRUE(layer->Forward(src.data(), n, dst.data(), true).ok());
  for (size_t i = 0; i < dst.size(); ++i) ASSERT_NEAR(dst[i], ref.dst[i], 1e-4) << i;
  std::vector<float> infer(dst.size());
  ASSERT_TRUE(layer->Forward(src.data(), n, infer.data(), false).ok());
  for (size_t i = 0; i < dst.size(); ++i) ASSERT_NEAR(infer[i], ref.dst[i], 1e-4) << i;

  std::vector<float> diff_src(src.size()), diff_w(layer->weights().size()),
      diff_b(layer->bias().size());
  ASSERT_TRUE(
      layer->Backward(n, src.data(), g.data(), diff_src.data(), diff_w.data(), diff_b.data()).ok());
  for (size_t i = 0; i < diff_src.size(); ++i) ASSERT_NEAR(diff_src[i], ref.diff_src[i], 1e-4);
  for (size_t i = 0; i < diff_w.size(); ++i) ASSERT_NEAR(diff_w[i], ref.diff_w[i], 1e-3);
  for (size_t i = 0; i < diff_b.size(); ++i) ASSERT_NEAR(diff_b[i], ref.diff_b[i], 1e-3);

  // Central finite differences of L = <dst, g> through the oneDNN forward.
  auto loss = [&](const std::vector<float>& x) {
    std::vector<float> y(dst.size());
    EXPECT_TRUE(layer->Forward(x.data(), n, y.data(), true).ok());
    return Dot(y, g);
  };
  const float eps = 0.05f;
  for (size_t i = 0; i < src.size(); i += 7) {
    std::vector<float> xp = src, xm = src;
    xp[i] += eps;
    xm[i] -= eps;
    EXPECT_NEAR((loss(xp) - loss(xm)) / (2 * eps), diff_src[i], 2e-3) << "src " << i;
  }
  for (size_t i = 0; i < diff_w.size(); i += 5) {
    const float keep = layer->weights()[i];
    layer->weights()[i] = keep + eps;
    const double lp = loss(src);
    layer->weights()[i] = keep - eps;
    const double lm = loss(src);
    layer->weights()[i] = keep;
    EXPECT_NEAR((lp - lm) / (2 * eps), diff_w[i], 5e-3) << "w " << i;
  }
  for (size_t o = 0; o < diff_b.size(); ++o) {
    const float keep = layer->bias()[o];
    layer->bias()[o] = keep + eps;
    const double lp = loss(src);
    layer->bias()[o] = keep - eps;
    const double lm = loss(src);
    layer->bias()[o] = keep;
    EXPECT_NEAR((lp - lm) / (2 * eps), diff_b[o], 5e-3) << "b " << o;
  }
}

// (A 1x1 kernel with stride 2 would need negative padding and is rejected, see below.)
INSTANTIATE_TEST_SUITE_P(
    Shapes, ConvTest,
    ::testing::Values(std::make_tuple(false, 1, 1), std::make_tuple(false, 3, 1),
                      std::make_tuple(false, 3, 2), std::make_tuple(false, 5, 1),
                      std::make_tuple(false, 5, 2), std::make_tuple(true, 1, 1),
                      std::make_tuple(true, 3, 1), std::make_tuple(true, 3, 2),
                      std::make_tuple(true, 5, 1), std::make_tuple(true, 5, 2)));

TEST(ConvShapeTest, RejectsBadShapes) {
  EXPECT_FALSE(Conv2DLayer::MakeShape(1, 8, 8, 4, 2, 1).ok());  // even kernel
  EXPECT_FALSE(Conv2DLayer::MakeShape(0, 8, 8, 4, 3, 1).ok());
  EXPECT_FALSE(Conv2DLayer::MakeShape(1, 8, 8, 4, 3, 0).ok());
  EXPECT_FALSE(Conv2DLayer::MakeShape(1, 8, 8, 4, 1, 2).ok());  // would need negative padding
  EXPECT_FALSE(Deconv2DLayer::MakeShape(4, 4, 4, 1, 20, 20, 3, 2).ok());  // unreachable size
  auto s = Conv2DLayer::MakeShape(1, 28, 28, 8, 3, 2);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->out_h, 14);
  EXPECT_TRUE(Deconv2DLayer::MakeShape(8, 14, 14, 1, 28, 28, 3, 2).ok());
}

}  // namespace
}  // namespace bn
