#include "engine/nn/bf16_mlp.h"

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/engine/nn/nn_reference.h"

namespace bn {
namespace {

using testing::ActRef;
using testing::RandomVector;

// Round to the nearest bfloat16 (ties to even), as the hardware conversion does.
float RoundBf16(float x) {
  uint32_t bits;
  std::memcpy(&bits, &x, sizeof(bits));
  bits += 0x7fff + ((bits >> 16) & 1);
  bits &= 0xffff0000u;
  std::memcpy(&x, &bits, sizeof(x));
  return x;
}

struct RefLayer {
  int64_t in, out;
  std::vector<float> w, b;
  Activation act;
};

// Naive loops. bf16: weights, the input and the activations between layers rounded to bfloat16
// (what the kernels compute, up to the order of f32 accumulation); otherwise plain f32.
std::vector<double> Reference(const std::vector<RefLayer>& layers, const std::vector<float>& x,
                              int64_t n, bool bf16) {
  auto round = [&](double v) { return bf16 ? double{RoundBf16(static_cast<float>(v))} : v; };
  std::vector<double> cur(x.begin(), x.end());
  for (double& v : cur) v = round(v);
  for (size_t l = 0; l < layers.size(); ++l) {
    const RefLayer& L = layers[l];
    std::vector<double> next(static_cast<size_t>(n * L.out));
    for (int64_t r = 0; r < n; ++r) {
      for (int64_t o = 0; o < L.out; ++o) {
        double acc = L.b[o];
        for (int64_t i = 0; i < L.in; ++i) acc += round(L.w[o * L.in + i]) * cur[r * L.in + i];
        const double y = ActRef(L.act, acc);
        next[r * L.out + o] = l + 1 == layers.size() ? y : round(y);
      }
    }
    cur = std::move(next);
  }
  return cur;
}

std::vector<RefLayer> RandomStack(std::mt19937* rng) {
  const std::vector<std::pair<int64_t, Activation>> shape = {{96, Activation::kRelu},
                                                             {48, Activation::kLogistic},
                                                             {40, Activation::kTanh},
                                                             {10, Activation::kLinear}};
  std::vector<RefLayer> layers;
  int64_t in = 70;
  for (auto [out, act] : shape) {
    layers.push_back({in, out, RandomVector(in * out, rng, 1.0f / std::sqrt(float(in))),
                      RandomVector(out, rng, 0.1f), act});
    in = out;
  }
  return layers;
}

TEST(Bf16MlpTest, MatchesBf16ReferenceLoopsAndStaysNearF32) {
  if (!Bf16Mlp::Supported()) GTEST_SKIP() << "this CPU has no AVX-512 BF16";
  std::mt19937 rng(3);
  const std::vector<RefLayer> layers = RandomStack(&rng);
  std::vector<Bf16Mlp::LayerWeights> weights;
  for (const RefLayer& L : layers) weights.push_back({L.in, L.out, L.w.data(), L.b.data(), L.act});
  auto mlp = Bf16Mlp::Create(weights);
  ASSERT_TRUE(mlp.ok()) << mlp.status();
  EXPECT_EQ((*mlp)->in_size(), 70);
  EXPECT_EQ((*mlp)->out_size(), 10);
  for (int64_t n : {1, 7, 300, 1}) {  // New batch sizes, then a cached one again.
    const std::vector<float> x = RandomVector(static_cast<size_t>(n * 70), &rng, 1.0f);
    std::vector<float> out(static_cast<size_t>(n * 10), -777.0f);
    ASSERT_TRUE((*mlp)->Run(x.data(), n, out.data()).ok());
    const std::vector<double> bf16 = Reference(layers, x, n, true);
    const std::vector<double> f32 = Reference(layers, x, n, false);
    double max_bf16 = 0, max_f32 = 0;
    for (size_t i = 0; i < out.size(); ++i) {
      max_bf16 = std::max(max_bf16, std::abs(out[i] - bf16[i]) / (1 + std::abs(bf16[i])));
      max_f32 = std::max(max_f32, std::abs(out[i] - f32[i]) / (1 + std::abs(f32[i])));
    }
    // Against the same roundings: only the f32 accumulation order (and a rare intermediate that
    // rounds to the neighbouring bf16 value) differ. Against f32: bf16's 8 significant bits
    // (measured here: 0 to 9e-4 vs the bf16 loops, 2e-3 to 4e-3 vs f32).
    RecordProperty("max_rel_diff_vs_bf16_n" + std::to_string(n), std::to_string(max_bf16));
    RecordProperty("max_rel_diff_vs_f32_n" + std::to_string(n), std::to_string(max_f32));
    EXPECT_LT(max_bf16, 4e-3) << "n=" << n;
    EXPECT_LT(max_f32, 1e-2) << "n=" << n;
  }
  std::vector<float> none;
  EXPECT_TRUE((*mlp)->Run(none.data(), 0, none.data()).ok());
  EXPECT_EQ((*mlp)->Run(none.data(), -1, none.data()).code(), absl::StatusCode::kInvalidArgument);
}

TEST(Bf16MlpTest, RejectsStacksThatDoNotChain) {
  if (!Bf16Mlp::Supported()) {
    EXPECT_EQ(Bf16Mlp::Create({}).status().code(), absl::StatusCode::kFailedPrecondition);
    GTEST_SKIP() << "this CPU has no AVX-512 BF16";
  }
  std::vector<float> w(12, 0.5f), b(4, 0.0f);
  EXPECT_EQ(Bf16Mlp::Create({}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Bf16Mlp::Create({{3, 4, w.data(), b.data(), Activation::kRelu},
                             {3, 4, w.data(), b.data(), Activation::kRelu}})
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Bf16Mlp::Create({{3, 4, nullptr, b.data(), Activation::kRelu}}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Bf16Mlp::Create({{0, 4, w.data(), b.data(), Activation::kRelu}}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(Bf16Mlp::Create({{3, 4, w.data(), b.data(), Activation::kRelu}}).ok());
}

}  // namespace
}  // namespace bn
