// A fully connected layer with an element-wise activation, on oneDNN primitives:
//   forward   dst[n,out] = act(src[n,in] . W^T + b)   inner_product forward (+ fused eltwise)
//   backward  diff_pre   = diff_dst * act'(dst)        eltwise backward (from dst)
//             diff_W, diff_b from src and diff_pre     inner_product backward weights
//             diff_src   = diff_pre . W                inner_product backward data
// Primitives and memory objects are built once per batch size n and cached (at most
// kMaxCachedBatchSizes sizes; the cache is cleared beyond that).
//
// Weights are stored row-major [out][in] (oneDNN "oi"). A tied layer uses another layer's
// weights transposed (oneDNN "io" view of the same buffer) and owns only its bias.
//
// Thread safety: not thread-safe (cached primitives, one stream); callers serialise.
// Errors: every method returns a Status; no oneDNN exception escapes.
#ifndef BOTTLENECK_ENGINE_NN_DENSE_H_
#define BOTTLENECK_ENGINE_NN_DENSE_H_

#include <cstdint>
#include <map>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "engine/nn/context.h"

namespace bn {

enum class Activation : uint32_t { kLinear = 0, kLogistic = 1, kRelu = 2, kTanh = 3 };

// The oneDNN eltwise algorithm of `act` (eltwise_linear with alpha 1, beta 0 for kLinear).
dnnl::algorithm ForwardAlgorithm(Activation act);

// A layer's parameters as plain values (a copy), to move trained layers between networks: e.g.
// an auto-encoder's encoder into a classifier (engine/model/classifier_net.h).
struct DenseLayerWeights {
  int64_t in_size = 0, out_size = 0;
  Activation activation = Activation::kLinear;
  std::vector<float> weights;  // [out_size][in_size] row-major (DenseLayer's layout)
  std::vector<float> bias;     // [out_size]
};

class DenseLayer {
 public:
  static constexpr size_t kMaxCachedBatchSizes = 16;

  // A layer that owns W (out x in, zero-initialised) and b (out, zero).
  DenseLayer(std::shared_ptr<NnContext> ctx, int64_t in, int64_t out, Activation act);
  // A tied layer: W = source->weights()^T (so in = source->out_size(), out = source->in_size()).
  // `source` is not owned and must outlive this layer; its weight buffer must not be resized.
  DenseLayer(std::shared_ptr<NnContext> ctx, const DenseLayer* source, Activation act);
  ~DenseLayer();
  DenseLayer(const DenseLayer&) = delete;
  DenseLayer& operator=(const DenseLayer&) = delete;

  int64_t in_size() const { return in_; }
  int64_t out_size() const { return out_; }
  Activation activation() const { return act_; }
  bool tied() const { return source_ != nullptr; }
  const DenseLayer* tied_source() const { return source_; }

  // Owned weights, [out][in] row-major (empty for a tied layer).
  std::vector<float>& weights() { return weights_; }
  const std::vector<float>& weights() const { return weights_; }
  std::vector<float>& bias() { return bias_; }
  const std::vector<float>& bias() const { return bias_; }
  // The weight buffer actually used: own weights, or the source's ([in][out] from this view).
  const float* weight_data() const;

  // dst[n,out] = act(src[n,in] . W^T + b + noise[n,out]). `noise` (nullable) is added to the
  // pre-activation (binary-code units). training selects forward_training.
  [[nodiscard]] absl::Status Forward(const float* src, int64_t n, float* dst, bool training,
                                     const float* noise = nullptr);
  // diff_pre[n,out] = diff_dst[n,out] * act'(.) computed from dst (the forward output).
  // May be in place (diff_pre == diff_dst).
  [[nodiscard]] absl::Status ActivationBackward(int64_t n, const float* dst, const float* diff_dst,
                                                float* diff_pre);
  // From the pre-activation gradient: diff_weights (written, same layout and size as
  // weight_data(): out*in floats), diff_bias (written, out floats), and diff_src[n,in]
  // (written; nullptr skips it, e.g. for the first layer).
  [[nodiscard]] absl::Status Backward(int64_t n, const float* src, const float* diff_pre,
                                      float* diff_src, float* diff_weights, float* diff_bias);

 private:
  struct Cache;
  absl::Status GetCache(int64_t n, Cache** cache);

  std::shared_ptr<NnContext> ctx_;
  int64_t in_, out_;
  Activation act_;
  const DenseLayer* source_ = nullptr;
  std::vector<float> weights_;
  std::vector<float> bias_;
  std::map<int64_t, std::unique_ptr<Cache>> cache_;
};

}  // namespace bn

#endif  // BOTTLENECK_ENGINE_NN_DENSE_H_
