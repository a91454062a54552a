// 2-D convolution and deconvolution (transposed convolution) layers on oneDNN primitives, plain
// NCHW activations and OIHW weights, no activation function (callers apply it):
//
//   Conv2DLayer    src[n,ic,ih,iw] -> dst[n,oc,oh,ow]
//     dst[n,o,y,x] = b[o] + sum_{i,ky,kx} w[o,i,ky,kx] * src[n,i,y*s-p+ky, x*s-p+kx]
//     with "same" padding p = (k-1)/2 (k odd) and oh = (ih + 2p - k)/s + 1 (= ih for s = 1).
//   Deconv2DLayer  src[n,ic,ih,iw] -> dst[n,oc,oh,ow] (the adjoint of a convolution)
//     dst[n,o,y*s-p+ky, x*s-p+kx] += w[o,i,ky,kx] * src[n,i,y,x]  (+ b[o] everywhere)
//     with p = (k-1)/2 and any requested output size with (ih-1)*s + k - p - oh in [0, k-1]
//     (the right/bottom padding), e.g. the input size of the convolution it mirrors.
//
// Conv2DLayer: Forward uses convolution_forward, Backward convolution backward_data (into
// diff_src) and backward_weights with bias. Deconv2DLayer runs on the same convolution
// primitives as the adjoint (forward = convolution backward_data, backward data = convolution
// forward, weight gradient = convolution backward_weights, on a transposed weight copy; bias by
// a loop), because oneDNN 2.6's deconvolution primitives fall back to a slow reference kernel on
// plain layouts for most channel counts. Primitives and memory objects are built once per
// batch size and cached (at most kMaxCachedBatchSizes sizes; the cache is cleared beyond that).
//
// Thread safety: not thread-safe (cached primitives, one stream); callers serialise.
// Errors: every method returns a Status; no oneDNN exception escapes.
#ifndef BOTTLENECK_ENGINE_NN_CONV_H_
#define BOTTLENECK_ENGINE_NN_CONV_H_

#include <cstdint>
#include <map>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/nn/context.h"

namespace bn {

// Geometry shared by both layers (per spatial axis: same kernel, stride and padding).
struct ConvShape {
  int64_t in_c = 0, in_h = 0, in_w = 0;
  int64_t out_c = 0, out_h = 0, out_w = 0;
  int64_t kernel = 0, stride = 1;
  int64_t pad_l = 0, pad_r_h = 0, pad_r_w = 0;  // top/left padding; bottom and right padding

  int64_t in_size() const { return in_c * in_h * in_w; }      // per example
  int64_t out_size() const { return out_c * out_h * out_w; }  // per example
  int64_t weight_count() const { return out_c * in_c * kernel * kernel; }
};

class ConvLayerBase {
 public:
  static constexpr size_t kMaxCachedBatchSizes = 16;
  virtual ~ConvLayerBase();
  ConvLayerBase(const ConvLayerBase&) = delete;
  ConvLayerBase& operator=(const ConvLayerBase&) = delete;

  const ConvShape& shape() const { return shape_; }
  // Weights [out_c][in_c][k][k] (OIHW) and bias [out_c]; zero-initialised.
  std::vector<float>& weights() { return weights_; }
  const std::vector<float>& weights() const { return weights_; }
  std::vector<float>& bias() { return bias_; }
  const std::vector<float>& bias() const { return bias_; }

  // dst[n, out_size()] from src[n, in_size()]. training selects forward_training.
  [[nodiscard]] absl::Status Forward(const float* src, int64_t n, float* dst, bool training);
  // From diff_dst[n, out_size()]: diff_weights (weight_count() floats) and diff_bias (out_c),
  // written; diff_src[n, in_size()] written unless nullptr.
  [[nodiscard]] absl::Status Backward(int64_t n, const float* src, const float* diff_dst,
                                      float* diff_src, float* diff_weights, float* diff_bias);

 protected:
  ConvLayerBase(std::shared_ptr<NnContext> ctx, const ConvShape& shape, bool transposed);

 private:
  struct Cache;
  absl::Status GetCache(int64_t n, Cache** cache);

  std::shared_ptr<NnContext> ctx_;
  ConvShape shape_;
  bool transposed_;
  std::vector<float> weights_, bias_;
  std::vector<float> wt_, wt_grad_;  // deconvolution: transposed weights / weight gradient
  std::map<int64_t, std::unique_ptr<Cache>> cache_;
};

class Conv2DLayer : public ConvLayerBase {
 public:
  // InvalidArgument unless all sizes are positive, kernel is odd and the output is non-empty.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<Conv2DLayer>> Create(
      std::shared_ptr<NnContext> ctx, int64_t in_c, int64_t in_h, int64_t in_w, int64_t out_c,
      int64_t kernel, int64_t stride);
  // The shape Create would use (InvalidArgument as above).
  [[nodiscard]] static absl::StatusOr<ConvShape> MakeShape(int64_t in_c, int64_t in_h, int64_t in_w,
                                                           int64_t out_c, int64_t kernel,
                                                           int64_t stride);

 private:
  using ConvLayerBase::ConvLayerBase;
};

class Deconv2DLayer : public ConvLayerBase {
 public:
  // InvalidArgument unless all sizes are positive, kernel is odd and the bottom/right padding
  // (in-1)*stride + kernel - (kernel-1)/2 - out lies in [0, kernel-1] on both axes.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<Deconv2DLayer>> Create(
      std::shared_ptr<NnContext> ctx, int64_t in_c, int64_t in_h, int64_t in_w, int64_t out_c,
      int64_t out_h, int64_t out_w, int64_t kernel, int64_t stride);
  [[nodiscard]] static absl::StatusOr<ConvShape> MakeShape(int64_t in_c, int64_t in_h, int64_t in_w,
                                                           int64_t out_c, int64_t out_h,
                                                           int64_t out_w, int64_t kernel,
                                                           int64_t stride);

 private:
  using ConvLayerBase::ConvLayerBase;
};

}  // namespace bn

#endif  // BOTTLENECK_ENGINE_NN_CONV_H_
