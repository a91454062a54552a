#include "engine/nn/loss.h"

#include <algorithm>
#include <cmath>

namespace bn {

double LossAndGradient(LossKind kind, const float* z, const float* t, int64_t n, int64_t d,
                       float* grad) {
  if (n <= 0) return 0.0;
  const double inv_n = 1.0 / static_cast<double>(n);
  const float g_scale = static_cast<float>(inv_n);
  double total = 0.0;
  switch (kind) {
    case LossKind::kSquaredError: {
#pragma omp parallel for reduction(+ : total) schedule(static)
      for (int64_t i = 0; i < n * d; ++i) {
        const float diff = z[i] - t[i];
        total += 0.5 * static_cast<double>(diff) * diff;
        if (grad != nullptr) grad[i] = diff * g_scale;
      }
      break;
    }
    case LossKind::kLogisticCrossEntropy: {
      // One exp per value: e = exp(-|z|); -t log s(z) - (1-t) log(1-s(z)) =
      // max(z,0) - z t + log1p(e); s(z) = 1/(1+e) for z >= 0, e/(1+e) otherwise.
#pragma omp parallel for reduction(+ : total) schedule(static)
      for (int64_t i = 0; i < n * d; ++i) {
        const float x = z[i];
        const float e = std::exp(-std::fabs(x));
        total += static_cast<double>(std::max(x, 0.0f) - x * t[i] + std::log1p(e));
        if (grad != nullptr) {
          const float inv = 1.0f / (1.0f + e);
          const float s = x >= 0 ? inv : e * inv;
          grad[i] = (s - t[i]) * g_scale;
        }
      }
      break;
    }
    case LossKind::kSoftmaxCrossEntropy: {
#pragma omp parallel for reduction(+ : total) schedule(static)
      for (int64_t r = 0; r < n; ++r) {
        const float* zr = z + r * d;
        const float* tr = t + r * d;
        double mx = -INFINITY;
        for (int64_t i = 0; i < d; ++i) mx = std::max(mx, static_cast<double>(zr[i]));
        double sum = 0.0, tsum = 0.0;
        for (int64_t i = 0; i < d; ++i) sum += std::exp(zr[i] - mx);
        const double lse = mx + std::log(sum);
        for (int64_t i = 0; i < d; ++i) {
          total += tr[i] * (lse - zr[i]);
          tsum += tr[i];
        }
        if (grad != nullptr) {
          float* gr = grad + r * d;
          for (int64_t i = 0; i < d; ++i) {
            const double p = std::exp(zr[i] - lse);
            gr[i] = static_cast<float>((p * tsum - tr[i]) * inv_n);
          }
        }
      }
      break;
    }
  }
  return total * inv_n;
}

void ApplyOutputTransform(LossKind kind, float* z, int64_t n, int64_t d) {
  switch (kind) {
    case LossKind::kSquaredError:
      return;
    case LossKind::kLogisticCrossEntropy:
      for (int64_t i = 0; i < n * d; ++i) z[i] = 1.0f / (1.0f + std::exp(-z[i]));
      return;
    case LossKind::kSoftmaxCrossEntropy:
      for (int64_t r = 0; r < n; ++r) {
        float* zr = z + r * d;
        float mx = -INFINITY;
        for (int64_t i = 0; i < d; ++i) mx = std::max(mx, zr[i]);
        double sum = 0.0;
        for (int64_t i = 0; i < d; ++i) {
          zr[i] = std::exp(zr[i] - mx);
          sum += zr[i];
        }
        const float inv = static_cast<float>(1.0 / sum);
        for (int64_t i = 0; i < d; ++i) zr[i] *= inv;
      }
      return;
  }
}

double SumSquaredError(const float* y, const float* t, int64_t count) {
  double total = 0.0;
  for (int64_t i = 0; i < count; ++i) {
    const double diff = static_cast<double>(y[i]) - t[i];
    total += diff * diff;
  }
  return total;
}

}  // namespace bn
