// Losses on the output layer's pre-activation z ("logits") against targets t, both [n, d].
// Each returns the mean over the n examples of the per-example loss and, if grad != nullptr,
// writes grad[n,d] = d(mean loss)/dz. All are numerically stable for any finite z.
//   kSquaredError:         per example 0.5 * sum_i (z_i - t_i)^2;     output y = z
//   kLogisticCrossEntropy: -sum_i t_i log s(z_i) + (1-t_i) log(1-s(z_i)); output y = s(z)
//   kSoftmaxCrossEntropy:  -sum_i t_i log softmax(z)_i;                output y = softmax(z)
// Thread safety: pure functions.
#ifndef BOTTLENECK_ENGINE_NN_LOSS_H_
#define BOTTLENECK_ENGINE_NN_LOSS_H_

#include <cstdint>

namespace bn {

enum class LossKind : uint32_t {
  kSquaredError = 0,
  kLogisticCrossEntropy = 1,
  kSoftmaxCrossEntropy = 2,
};

double LossAndGradient(LossKind kind, const float* z, const float* t, int64_t n, int64_t d,
                       float* grad);

// In place: z -> the loss's output y (identity, logistic or row softmax).
void ApplyOutputTransform(LossKind kind, float* z, int64_t n, int64_t d);

// Summed squared error sum_i (y_i - t_i)^2 over all n*d values (y already transformed).
double SumSquaredError(const float* y, const float* t, int64_t count);

}  // namespace bn

#endif  // BOTTLENECK_ENGINE_NN_LOSS_H_
