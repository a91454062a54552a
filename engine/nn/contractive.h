// The contractive auto-encoder penalty (Rifai et al. 2011) for a logistic layer
// h = s(x W^T + b) over a batch of n rows, averaged over the batch:
//   P = lambda / n * sum_r sum_j (h_rj (1 - h_rj))^2 * sum_i W_ji^2
// (the squared Frobenius norm of dh/dx). Gradients, accumulated (+=) when non-null:
//   dP/dz_rj = 2 lambda / n * s_j * d_rj^2 * (1 - 2 h_rj)   with d = h(1-h), s_j = sum_i W_ji^2
//   dP/dW_ji = 2 lambda / n * W_ji * sum_r d_rj^2
// Thread safety: pure function.
#ifndef BOTTLENECK_ENGINE_NN_CONTRACTIVE_H_
#define BOTTLENECK_ENGINE_NN_CONTRACTIVE_H_

#include <cstdint>

namespace bn {

// h: [n,out] logistic outputs; w: [out][in] weights. Returns P.
double ContractivePenalty(const float* h, int64_t n, int64_t out, const float* w, int64_t in,
                          float lambda, float* diff_pre_accum, float* diff_w_accum);

}  // namespace bn

#endif  // BOTTLENECK_ENGINE_NN_CONTRACTIVE_H_
