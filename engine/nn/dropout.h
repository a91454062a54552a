// Inverted dropout (Srivastava et al. 2014) for the training step of a layer stack: each hidden
// unit of each example is dropped (set to 0) with probability `rate` and the kept units are
// scaled by 1 / (1 - rate), so inference uses the weights as they are (no mask, no scaling).
//
//   forward:  y[i] = x[i] * mask[i]            mask[i] in {0, 1 / (1 - rate)}
//   backward: diff_x[i] = diff_y[i] * mask[i]
//
// The mask is a function of (rate, seed, count) only: the same seed gives the same mask on every
// machine (a portable generator, no std:: distributions). Thread safety: pure functions.
#ifndef BOTTLENECK_ENGINE_NN_DROPOUT_H_
#define BOTTLENECK_ENGINE_NN_DROPOUT_H_

#include <cstdint>

namespace bn {

// The largest dropout rate accepted by the trainers (ValidateTrainOptions).
inline constexpr float kMaxDropoutRate = 0.9f;

// Writes `count` mask values for `rate` in [0, 1): 0 with probability `rate` (to 1/65536), else
// 1 / (1 - rate). rate 0 gives all ones.
void DropoutMask(float rate, uint64_t seed, int64_t count, float* mask);

// y[i] = x[i] * mask[i] for i < count; y may be x.
void ApplyDropoutMask(const float* mask, const float* x, int64_t count, float* y);

// The forward pass of layer `layer`'s output in a training step seeded by `step_seed`: draws its
// mask (a seed per step and layer) and writes y = x * mask. Keep `mask` for the backward pass
// (ApplyDropoutMask on the gradient).
void DropoutForward(float rate, uint64_t step_seed, int64_t layer, const float* x, int64_t count,
                    float* mask, float* y);

}  // namespace bn

#endif  // BOTTLENECK_ENGINE_NN_DROPOUT_H_
