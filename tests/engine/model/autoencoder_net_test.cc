// Whole-network gradient checks of the auto-encoder's training step (internal API): the
// analytic gradients of every weight and bias against central finite differences of the loss,
// for each output kind, tied weights, binary-code noise, the contractive penalty and dropout
// (with a fixed mask seed the loss is a function of the weights like any other).
#include "engine/model/autoencoder_net.h"

#include <cmath>
#include <random>
#include <vector>

#include "engine/nn/context.h"
#include "engine/nn/contractive.h"
#include "gtest/gtest.h"

namespace bn {
namespace {

struct Case {
  const char* name;
  OutputKind output;
  Activation hidden;
  Activation code;
  bool tied;
  bool noise;
  float contractive;
  float dropout = 0.0f;
};

class AutoencoderGradientTest : public ::testing::TestWithParam<Case> {};

TEST_P(AutoencoderGradientTest, MatchesFiniteDifferences) {
  SetNnThreads(1);  // one thread: robust on a shared CI machine
  const Case c = GetParam();
  DenseAutoencoderSpec spec;
  spec.input_size = 6;
  spec.encoder_sizes = {5};
  spec.code_size = 3;
  spec.hidden_activation = c.hidden;
  spec.code_activation = c.code;
  spec.tied_weights = c.tied;
  spec.output = c.output;
  spec.contractive_lambda = c.contractive;
  auto net_or = AutoencoderNet::Create(spec);
  ASSERT_TRUE(net_or.ok()) << net_or.status();
  AutoencoderNet& net = **net_or;
  net.InitWeights(5);
  net.set_dropout(c.dropout);
  const uint64_t dropout_seed = 99;
  std::mt19937 rng(17);
  std::uniform_real_distribution<float> u(0.05f, 0.95f);
  std::normal_distribution<float> g(0.0f, 0.3f);
  for (int l = 0; l < net.num_layers(); ++l) {
    for (float& b : net.layer(l).bias()) b = g(rng);
  }
  const int64_t n = 4, d = spec.input_size;
  std::vector<float> x(static_cast<size_t>(n * d)), t(x.size());
  for (float& v : x) v = u(rng);
  for (float& v : t) v = u(rng);
  if (c.output == OutputKind::kSoftmaxCrossEntropy) {
    for (int64_t r = 0; r < n; ++r) {
      float s = 0;
      for (int64_t i = 0; i < d; ++i) s += t[r * d + i];
      for (int64_t i = 0; i < d; ++i) t[r * d + i] /= s;
    }
  }
  std::vector<float> noise(static_cast<size_t>(n * spec.code_size));
  for (float& v : noise) v = g(rng) * 4.0f;
  const float* np = c.noise ? noise.data() : nullptr;
  double loss = 0;
  if (c.dropout > 0) {  // the masks change the loss (so the check below covers them)
    net.set_dropout(0);
    ASSERT_TRUE(net.ComputeGradients(x.data(), t.data(), n, np, &loss).ok());
    const double undropped = loss;
    net.set_dropout(c.dropout);
    ASSERT_TRUE(net.ComputeGradients(x.data(), t.data(), n, np, &loss, dropout_seed).ok());
    EXPECT_GT(std::abs(loss - undropped), 1e-4);
  }
  ASSERT_TRUE(net.ComputeGradients(x.data(), t.data(), n, np, &loss, dropout_seed).ok());
  std::vector<std::vector<float>> gw, gb;
  for (int l = 0; l < net.num_layers(); ++l) {
    gw.push_back(net.grad_weights(l));
    gb.push_back(net.grad_bias(l));
  }
  auto eval = [&]() {
    double l = 0;
    EXPECT_TRUE(net.ComputeGradients(x.data(), t.data(), n, np, &l, dropout_seed).ok());
    return l;
  };
  const float eps = 5e-3f;
  auto fd = [&](float* p) {
    const float saved = *p;
    *p = saved + eps;
    const double lp = eval();
    *p = saved - eps;
    const double lm = eval();
    *p = saved;
    return (lp - lm) / (2.0 * eps);
  };
  int checked = 0;
  for (int l = 0; l < net.num_layers(); ++l) {
    DenseLayer& layer = net.layer(l);
    for (size_t i = 0; i < layer.weights().size(); ++i) {
      EXPECT_NEAR(fd(&layer.weights()[i]), gw[l][i], 2e-3) << "layer " << l << " w " << i;
      ++checked;
    }
    for (size_t i = 0; i < layer.bias().size(); ++i) {
      EXPECT_NEAR(fd(&layer.bias()[i]), gb[l][i], 2e-3) << "layer " << l << " b " << i;
      ++checked;
    }
  }
  EXPECT_EQ(checked, net.parameter_count());
}

INSTANTIATE_TEST_SUITE_P(
    Variants, AutoencoderGradientTest,
    ::testing::Values(Case{"logistic", OutputKind::kLogisticCrossEntropy, Activation::kLogistic,
                           Activation::kLinear, false, false, 0.0f},
                      Case{"tied", OutputKind::kLogisticCrossEntropy, Activation::kLogistic,
                           Activation::kLinear, true, false, 0.0f},
                      Case{"softmax", OutputKind::kSoftmaxCrossEntropy, Activation::kLogistic,
                           Activation::kLinear, false, false, 0.0f},
                      Case{"squared_tanh", OutputKind::kLinearSquaredError, Activation::kTanh,
                           Activation::kLinear, false, false, 0.0f},
                      Case{"binary_noise", OutputKind::kLogisticCrossEntropy, Activation::kLogistic,
                           Activation::kLogistic, false, true, 0.0f},
                      Case{"contractive", OutputKind::kLogisticCrossEntropy, Activation::kLogistic,
                           Activation::kLinear, false, false, 0.5f},
                      Case{"contractive_tied", OutputKind::kLogisticCrossEntropy,
                           Activation::kLogistic, Activation::kLinear, true, false, 0.5f},
                      Case{"dropout", OutputKind::kLogisticCrossEntropy, Activation::kLogistic,
                           Activation::kLinear, false, false, 0.0f, 0.4f},
                      Case{"dropout_softmax_tied", OutputKind::kSoftmaxCrossEntropy,
                           Activation::kLogistic, Activation::kLinear, true, false, 0.0f, 0.4f},
                      Case{"dropout_relu_squared", OutputKind::kLinearSquaredError,
                           Activation::kRelu, Activation::kLinear, false, false, 0.0f, 0.4f}),
    [](const ::testing::TestParamInfo<Case>& info) { return std::string(info.param.name); });

// The penalty's value against its definition via the explicit Jacobian dh/dx = diag(d) W.
TEST(ContractivePenalty, EqualsFrobeniusNormOfTheJacobian) {
  std::mt19937 rng(2);
  std::normal_distribution<float> g(0.0f, 1.0f);
  const int64_t n = 3, in = 4, out = 5;
  std::vector<float> w(static_cast<size_t>(in * out)), h(static_cast<size_t>(n * out));
  for (float& v : w) v = g(rng);
  for (float& v : h) v = 1.0f / (1.0f + std::exp(-g(rng)));
  double expected = 0;
  for (int64_t r = 0; r < n; ++r) {
    for (int64_t j = 0; j < out; ++j) {
      const double d = h[r * out + j] * (1 - h[r * out + j]);
      for (int64_t i = 0; i < in; ++i) {
        const double jac = d * w[j * in + i];
        expected += jac * jac;
      }
    }
  }
  EXPECT_NEAR(ContractivePenalty(h.data(), n, out, w.data(), in, 0.7f, nullptr, nullptr),
              0.7 * expected / n, 1e-9 + 1e-6 * expected);
}

}  // namespace
}  // namespace bn
