// Reference pieces shared by the nn layer tests: random inputs and the activations written out
// directly (independently of oneDNN), for naive reference loops.
#ifndef BOTTLENECK_TESTS_ENGINE_NN_NN_REFERENCE_H_
#define BOTTLENECK_TESTS_ENGINE_NN_NN_REFERENCE_H_

#include <cmath>
#include <random>
#include <vector>

#include "engine/nn/dense.h"

namespace bn::testing {

inline std::vector<float> RandomVector(size_t n, std::mt19937* rng, float scale = 1.0f) {
  std::normal_distribution<float> dist(0.0f, scale);
  std::vector<float> v(n);
  for (float& x : v) x = dist(*rng);
  return v;
}

inline double ActRef(Activation act, double z) {
  switch (act) {
    case Activation::kLogistic:
      return 1.0 / (1.0 + std::exp(-z));
    case Activation::kRelu:
      return z > 0 ? z : 0;
    case Activation::kTanh:
      return std::tanh(z);
    case Activation::kLinear:
      break;
  }
  return z;
}

}  // namespace bn::testing

#endif  // BOTTLENECK_TESTS_ENGINE_NN_NN_REFERENCE_H_
