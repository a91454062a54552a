// Max pooling over non-overlapping p x p windows (kernel = stride = p, no padding) on oneDNN:
//
//   MaxPoolLayer  src[n,c,h,w] -> dst[n,c,h/p,w/p]   (floor; trailing rows/columns < p ignored)
//     dst[n,c,y,x] = max_{dy,dx < p} src[n,c,y*p+dy, x*p+dx]
//
// Forward in training mode runs pooling_forward(forward_training) and keeps its workspace (the
// argmax "switches") for the last training batch; Backward runs pooling_backward with the
// forward hint and that workspace (diff_dst goes to the argmax, zeros elsewhere). The same
// scatter is exposed as Scatter() for unpooling with switches (engine/nn/unpool.h), and
// Switches() reads the recorded argmax positions back (by scattering probe values through
// pooling_backward, so it agrees with oneDNN's own choice on ties).
//
// Primitives are cached per batch size (at most kMaxCachedBatchSizes). Thread safety: not
// thread-safe. Errors: Status; no oneDNN exception escapes.
#ifndef BOTTLENECK_ENGINE_NN_POOL_H_
#define BOTTLENECK_ENGINE_NN_POOL_H_

#include <cstdint>
#include <map>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/nn/context.h"

namespace bn {

class MaxPoolLayer {
 public:
  static constexpr size_t kMaxCachedBatchSizes = 16;

  // InvalidArgument unless c, h, w, pool are positive and pool <= min(h, w).
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<MaxPoolLayer>> Create(
      std::shared_ptr<NnContext> ctx, int64_t c, int64_t h, int64_t w, int64_t pool);
  ~MaxPoolLayer();
  MaxPoolLayer(const MaxPoolLayer&) = delete;
  MaxPoolLayer& operator=(const MaxPoolLayer&) = delete;

  int64_t channels() const { return c_; }
  int64_t in_h() const { return h_; }
  int64_t in_w() const { return w_; }
  int64_t out_h() const { return h_ / p_; }
  int64_t out_w() const { return w_ / p_; }
  int64_t pool() const { return p_; }
  int64_t in_size() const { return c_ * h_ * w_; }             // per example
  int64_t out_size() const { return c_ * out_h() * out_w(); }  // per example

  // dst[n, out_size()] from src[n, in_size()]. training records the switches for batch size n.
  [[nodiscard]] absl::Status Forward(const float* src, int64_t n, float* dst, bool training);
  // True if a training Forward with batch size n has run (switches available).
  bool has_switches(int64_t n) const;
  // diff_src[n, in_size()] (written) from diff_dst[n, out_size()] through the switches of the
  // last training Forward with batch size n. FailedPrecondition if there is none.
  [[nodiscard]] absl::Status Backward(int64_t n, const float* diff_dst, float* diff_src);
  // Unpooling with switches: identical to Backward (each value to its argmax, zeros elsewhere).
  [[nodiscard]] absl::Status Scatter(int64_t n, const float* pooled, float* full) {
    return Backward(n, pooled, full);
  }
  // idx[n * out_size()]: for every pooled value, the flat index within its example's
  // [c,h,w] input of the recorded argmax. FailedPrecondition without switches for n.
  [[nodiscard]] absl::Status Switches(int64_t n, std::vector<int32_t>* idx);

 private:
  MaxPoolLayer(std::shared_ptr<NnContext> ctx, int64_t c, int64_t h, int64_t w, int64_t p);
  struct Cache;
  absl::Status GetCache(int64_t n, Cache** cache);

  std::shared_ptr<NnContext> ctx_;
  int64_t c_, h_, w_, p_;
  std::map<int64_t, std::unique_ptr<Cache>> cache_;
};

}  // namespace bn

#endif  // BOTTLENECK_ENGINE_NN_POOL_H_
