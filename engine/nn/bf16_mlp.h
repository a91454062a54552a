// An inference-only stack of fully connected layers in bfloat16, for the latency of a batch-1
// encode. At batch 1 a dense encoder reads every weight once per call, so its time is the time to
// stream the weights from cache: bf16 weights halve that traffic.
//
//   layer l: dst_l[n,out_l] = act_l(src_l[n,in_l] . W_l^T + b_l)
//
// W_l and the activations between layers are bf16 (8 significant bits); products accumulate in
// f32, biases are f32, and the last layer writes f32. The input is converted from f32 on entry.
// Weights are reordered once, at Create, into the layout oneDNN's AVX-512 BF16 inner-product
// kernels prefer (format_tag::any); primitives and buffers are built once per batch size.
//
// Precision: bf16 rounds each weight and activation to a relative error of at most 2^-9;
// bench/encode_speed.cc reports what that does to codes and retrieval.
//
// Thread safety: not thread-safe (cached primitives, one stream); callers serialise.
// Errors: every method returns a Status; no oneDNN exception escapes.
#ifndef BOTTLENECK_ENGINE_NN_BF16_MLP_H_
#define BOTTLENECK_ENGINE_NN_BF16_MLP_H_

#include <cstdint>
#include <map>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/nn/context.h"
#include "engine/nn/dense.h"

namespace bn {

class Bf16Mlp {
 public:
  struct LayerWeights {
    int64_t in = 0, out = 0;
    const float* weights = nullptr;  // [out][in] row-major (DenseLayer's "oi"); copied.
    const float* bias = nullptr;     // [out]; copied.
    Activation activation = Activation::kLinear;
  };

  // True when this CPU has the AVX-512 BF16 instructions the kernels need.
  static bool Supported();

  // FailedPrecondition when !Supported(); InvalidArgument for an empty stack, non-positive sizes,
  // null pointers or layers whose sizes do not chain; Internal if oneDNN fails.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<Bf16Mlp>> Create(
      const std::vector<LayerWeights>& layers);
  ~Bf16Mlp();
  Bf16Mlp(const Bf16Mlp&) = delete;
  Bf16Mlp& operator=(const Bf16Mlp&) = delete;

  int64_t in_size() const { return sizes_.front(); }
  int64_t out_size() const { return sizes_.back(); }

  // dst[n, out_size()] = the stack applied to src[n, in_size()]. InvalidArgument for n < 0.
  [[nodiscard]] absl::Status Run(const float* src, int64_t n, float* dst);

 private:
  struct Layer;
  struct Cache;
  Bf16Mlp() = default;
  absl::Status GetCache(int64_t n, Cache** cache);

  std::shared_ptr<NnContext> ctx_;
  std::vector<int64_t> sizes_;  // [in_0, out_0, out_1, ...]
  std::vector<std::unique_ptr<Layer>> layers_;
  std::map<int64_t, std::unique_ptr<Cache>> cache_;  // By batch size (at most kMaxCached).
};

}  // namespace bn

#endif  // BOTTLENECK_ENGINE_NN_BF16_MLP_H_
