// Unpooling: the decoder's inverse of p x p max pooling (engine/nn/pool.h), in two modes:
//
//   UnpoolLayer  src[n,c,h/p,w/p] -> dst[n,c,h,w]   (trailing rows/columns not covered: 0)
//   kSwitches  each value goes back to the argmax position recorded by the paired max-pooling
//              layer's last training forward, zeros elsewhere. Forward = that layer's
//              pooling_backward with its workspace; Backward gathers diff_dst at the switches.
//              Without switches (a decoder-only call, e.g. Model::Decode from a code), the
//              value goes to the top-left position of its window ("fixed switches", as in
//              Dosovitskiy et al. 2015's unpooling), zeros elsewhere.
//   kRepeat    each value is repeated over its p x p window (nearest-neighbour upsampling);
//              Backward sums diff_dst over the window.
//
// The paired pooling layer is not owned and must outlive this layer. Thread safety: not
// thread-safe. Errors: Status.
#ifndef BOTTLENECK_ENGINE_NN_UNPOOL_H_
#define BOTTLENECK_ENGINE_NN_UNPOOL_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/nn/pool.h"

namespace bn {

enum class UnpoolMode : uint32_t { kSwitches = 0, kRepeat = 1 };

class UnpoolLayer {
 public:
  // Output shape = the paired layer's input shape. `paired` must be non-null (it also gives the
  // shape for kRepeat). InvalidArgument for a null pair.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<UnpoolLayer>> Create(UnpoolMode mode,
                                                                           MaxPoolLayer* paired);

  UnpoolMode mode() const { return mode_; }
  int64_t in_size() const { return pool_->out_size(); }  // per example
  int64_t out_size() const { return pool_->in_size(); }  // per example

  // dst[n, out_size()] (written) from src[n, in_size()]. use_switches (kSwitches only): take
  // the paired layer's switches for batch size n (FailedPrecondition if it has none); false
  // places each value at its window's top-left.
  [[nodiscard]] absl::Status Forward(const float* src, int64_t n, float* dst, bool use_switches);
  // diff_src[n, in_size()] (written) from diff_dst[n, out_size()], matching the Forward call
  // with the same n and use_switches.
  [[nodiscard]] absl::Status Backward(int64_t n, const float* diff_dst, float* diff_src,
                                      bool use_switches);

 private:
  UnpoolLayer(UnpoolMode mode, MaxPoolLayer* paired) : mode_(mode), pool_(paired) {}

  UnpoolMode mode_;
  MaxPoolLayer* pool_;
  std::vector<int32_t> switches_;
};

}  // namespace bn

#endif  // BOTTLENECK_ENGINE_NN_UNPOOL_H_
