// Row-wise softmax over [n, classes] on oneDNN softmax primitives (axis 1), forward and
// backward (from dst). Primitives are cached per batch size.
//
// Thread safety: not thread-safe; callers serialise. No oneDNN exception escapes.
#ifndef BOTTLENECK_ENGINE_NN_SOFTMAX_H_
#define BOTTLENECK_ENGINE_NN_SOFTMAX_H_

#include <cstdint>
#include <map>
#include <memory>

#include "absl/status/status.h"
#include "engine/nn/context.h"

namespace bn {

class SoftmaxLayer {
 public:
  SoftmaxLayer(std::shared_ptr<NnContext> ctx, int64_t classes);
  ~SoftmaxLayer();
  SoftmaxLayer(const SoftmaxLayer&) = delete;
  SoftmaxLayer& operator=(const SoftmaxLayer&) = delete;

  int64_t classes() const { return classes_; }
  // dst[n,c] = exp(src) / sum_c exp(src). May be in place.
  [[nodiscard]] absl::Status Forward(const float* src, int64_t n, float* dst, bool training);
  // diff_src[n,c] = dst * (diff_dst - sum_c(diff_dst * dst)).
  [[nodiscard]] absl::Status Backward(int64_t n, const float* dst, const float* diff_dst,
                                      float* diff_src);

 private:
  struct Cache;
  absl::Status GetCache(int64_t n, Cache** cache);
  std::shared_ptr<NnContext> ctx_;
  int64_t classes_;
  std::map<int64_t, std::unique_ptr<Cache>> cache_;
};

}  // namespace bn

#endif  // BOTTLENECK_ENGINE_NN_SOFTMAX_H_
