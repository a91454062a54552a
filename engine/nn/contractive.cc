#include "engine/nn/contractive.h"

#include <cstddef>
#include <vector>

namespace bn {

double ContractivePenalty(const float* h, int64_t n, int64_t out, const float* w, int64_t in,
                          float lambda, float* diff_pre_accum, float* diff_w_accum) {
  if (n <= 0) return 0.0;
  std::vector<double> s(static_cast<size_t>(out), 0.0), dsum(static_cast<size_t>(out), 0.0);
  for (int64_t j = 0; j < out; ++j) {
    double acc = 0;
    for (int64_t i = 0; i < in; ++i) acc += static_cast<double>(w[j * in + i]) * w[j * in + i];
    s[j] = acc;
  }
  const double scale = static_cast<double>(lambda) / static_cast<double>(n);
  double total = 0;
  for (int64_t r = 0; r < n; ++r) {
    for (int64_t j = 0; j < out; ++j) {
      const double hv = h[r * out + j];
      const double d = hv * (1 - hv);
      total += d * d * s[j];
      dsum[j] += d * d;
      if (diff_pre_accum != nullptr) {
        diff_pre_accum[r * out + j] += static_cast<float>(2 * scale * s[j] * d * d * (1 - 2 * hv));
      }
    }
  }
  if (diff_w_accum != nullptr) {
    for (int64_t j = 0; j < out; ++j) {
      const float f = static_cast<float>(2 * scale * dsum[j]);
      for (int64_t i = 0; i < in; ++i) diff_w_accum[j * in + i] += f * w[j * in + i];
    }
  }
  return total * scale;
}

}  // namespace bn
