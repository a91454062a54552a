#include "engine/nn/conv.h"

#include <omp.h>

#include <algorithm>
#include <unordered_map>
#include <utility>

#include "engine/util/background.h"

namespace bn {

using dnnl::memory;
using tag = dnnl::memory::format_tag;
using dt = dnnl::memory::data_type;

namespace {

constexpr int64_t kMaxDim = int64_t{1} << 16;

void* Handle(const float* p) { return const_cast<float*>(p); }

bool BadDim(int64_t v) { return v < 1 || v > kMaxDim; }

}  // namespace

struct ConvLayerBase::Cache {
  // OpenMP threads when built: oneDNN sizes per-thread scratch memory by it, so executing from a
  // thread allowed more threads (e.g. a server thread) needs a rebuild.
  int threads = 0;
  memory src, dst, w, b, diff_src, diff_dst, diff_w, diff_b;
  memory wc;  // deconvolution: the transposed weights [in_c][out_c][k][k]
  memory sp_fwd_train, sp_fwd_infer, sp_bwd_data, sp_bwd_weights;  // scratchpads
  dnnl::primitive fwd_train, fwd_infer, bwd_data, bwd_weights;
};

namespace {

// [a][b][k*k] -> [b][a][k*k].
void TransposeWeights(const float* in, int64_t a, int64_t b, int64_t kk, float* out) {
  for (int64_t i = 0; i < a; ++i) {
    for (int64_t j = 0; j < b; ++j) {
      std::copy_n(in + (i * b + j) * kk, kk, out + (j * a + i) * kk);
    }
  }
}

}  // namespace

ConvLayerBase::ConvLayerBase(std::shared_ptr<NnContext> ctx, const ConvShape& shape,
                             bool transposed)
    : ctx_(std::move(ctx)),
      shape_(shape),
      transposed_(transposed),
      weights_(static_cast<size_t>(shape.weight_count()), 0.0f),
      bias_(static_cast<size_t>(shape.out_c), 0.0f) {}

ConvLayerBase::~ConvLayerBase() = default;

absl::Status ConvLayerBase::GetCache(int64_t n, Cache** out) {
  if (n <= 0) return absl::InvalidArgumentError("batch size must be positive");
  auto it = cache_.find(n);
  if (it != cache_.end() && it->second->threads >= omp_get_max_threads()) {
    *out = it->second.get();
    return absl::OkStatus();
  }
  if (it != cache_.end()) cache_.erase(it);
  if (cache_.size() >= kMaxCachedBatchSizes) cache_.clear();
  try {
    const dnnl::engine& eng = ctx_->engine;
    const ConvShape& s = shape_;
    auto c = std::make_unique<Cache>();
    memory::desc src_md({n, s.in_c, s.in_h, s.in_w}, dt::f32, tag::nchw);
    memory::desc dst_md({n, s.out_c, s.out_h, s.out_w}, dt::f32, tag::nchw);
    memory::desc w_md({s.out_c, s.in_c, s.kernel, s.kernel}, dt::f32, tag::oihw);
    memory::desc b_md({s.out_c}, dt::f32, tag::x);
    const memory::dims strides = {s.stride, s.stride};
    const memory::dims pad_l = {s.pad_l, s.pad_l};
    const memory::dims pad_r = {s.pad_r_h, s.pad_r_w};
    for (memory* m : {&c->src, &c->diff_src}) *m = memory(src_md, eng, DNNL_MEMORY_NONE);
    for (memory* m : {&c->dst, &c->diff_dst}) *m = memory(dst_md, eng, DNNL_MEMORY_NONE);
    for (memory* m : {&c->w, &c->diff_w}) *m = memory(w_md, eng, DNNL_MEMORY_NONE);
    for (memory* m : {&c->b, &c->diff_b}) *m = memory(b_md, eng, DNNL_MEMORY_NONE);
    const auto train = dnnl::prop_kind::forward_training;
    const auto infer = dnnl::prop_kind::forward_inference;
    // User-managed scratchpads: each cache owns its scratch memory, so a primitive may run
    // from any thread (calls are serialised by the owner).
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    auto scratch = [&](const auto& pd) { return memory(pd.scratchpad_desc(), eng); };
    using F = dnnl::convolution_forward;
    using BD = dnnl::convolution_backward_data;
    using BW = dnnl::convolution_backward_weights;
    const auto algo = dnnl::algorithm::convolution_direct;
    if (!transposed_) {
      F::primitive_desc train_pd(
          F::desc(train, algo, src_md, w_md, b_md, dst_md, strides, pad_l, pad_r), attr, eng);
      F::primitive_desc infer_pd(
          F::desc(infer, algo, src_md, w_md, b_md, dst_md, strides, pad_l, pad_r), attr, eng);
      BD::primitive_desc bd_pd(BD::desc(algo, src_md, w_md, dst_md, strides, pad_l, pad_r), attr,
                               eng, train_pd);
      BW::primitive_desc bw_pd(BW::desc(algo, src_md, w_md, b_md, dst_md, strides, pad_l, pad_r),
                               attr, eng, train_pd);
      c->fwd_train = F(train_pd);
      c->fwd_infer = F(infer_pd);
      c->bwd_data = BD(bd_pd);
      c->bwd_weights = BW(bw_pd);
      c->sp_fwd_train = scratch(train_pd);
      c->sp_fwd_infer = scratch(infer_pd);
      c->sp_bwd_data = scratch(bd_pd);
      c->sp_bwd_weights = scratch(bw_pd);
    } else {
      // The deconvolution is the adjoint of the convolution from its dst space (big) to its
      // src space (small) with weights Wc[i][o] = W[o][i]: deconvolution forward = that
      // convolution's backward_data, backward data = its forward, and the weight gradient is its
      // backward_weights with big = diff_dst and small = src. (oneDNN 2.6's own deconvolution
      // primitives fall back to a slow reference kernel on plain layouts for most channel
      // counts; the convolution ones use gemm.)
      memory::desc wc_md({s.in_c, s.out_c, s.kernel, s.kernel}, dt::f32, tag::oihw);
      // Conv src = deconv dst (big), conv dst = deconv src (small).
      F::primitive_desc hint_pd(F::desc(train, algo, dst_md, wc_md, src_md, strides, pad_l, pad_r),
                                attr, eng);
      BD::primitive_desc bd_pd(BD::desc(algo, dst_md, wc_md, src_md, strides, pad_l, pad_r), attr,
                               eng, hint_pd);
      BW::primitive_desc bw_pd(BW::desc(algo, dst_md, wc_md, src_md, strides, pad_l, pad_r), attr,
                               eng, hint_pd);
      c->fwd_train = BD(bd_pd);
      c->fwd_infer = c->fwd_train;
      c->bwd_data = F(hint_pd);
      c->bwd_weights = BW(bw_pd);
      c->sp_fwd_train = scratch(bd_pd);
      c->sp_fwd_infer = c->sp_fwd_train;
      c->sp_bwd_data = scratch(hint_pd);
      c->sp_bwd_weights = scratch(bw_pd);
      c->wc = memory(wc_md, eng, DNNL_MEMORY_NONE);
    }
    c->threads = omp_get_max_threads();
    *out = c.get();
    cache_[n] = std::move(c);
    return absl::OkStatus();
  } catch (const dnnl::error& e) {
    return DnnlError(
        transposed_ ? "building deconvolution primitives" : "building convolution primitives", e);
  }
}

absl::Status ConvLayerBase::Forward(const float* src, int64_t n, float* dst, bool training) {
  if (n == 0) return absl::OkStatus();
  Cache* c = nullptr;
  if (absl::Status s = GetCache(n, &c); !s.ok()) return s;
  try {
    c->src.set_data_handle(Handle(src));
    c->dst.set_data_handle(dst);
    if (!transposed_) {
      c->w.set_data_handle(Handle(weights_.data()));
      c->b.set_data_handle(Handle(bias_.data()));
      (training ? c->fwd_train : c->fwd_infer)
          .execute(ctx_->stream,
                   {{DNNL_ARG_SCRATCHPAD, training ? c->sp_fwd_train : c->sp_fwd_infer},
                    {DNNL_ARG_SRC, c->src},
                    {DNNL_ARG_WEIGHTS, c->w},
                    {DNNL_ARG_BIAS, c->b},
                    {DNNL_ARG_DST, c->dst}});
      ctx_->stream.wait();
      BackgroundYield();
      return absl::OkStatus();
    }
    const ConvShape& s = shape_;
    wt_.resize(weights_.size());
    TransposeWeights(weights_.data(), s.out_c, s.in_c, s.kernel * s.kernel, wt_.data());
    c->wc.set_data_handle(wt_.data());
    c->fwd_train.execute(ctx_->stream,
                         {{DNNL_ARG_DIFF_DST, c->src},
                          {DNNL_ARG_WEIGHTS, c->wc},
                          {DNNL_ARG_DIFF_SRC, c->dst},
                          {DNNL_ARG_SCRATCHPAD, training ? c->sp_fwd_train : c->sp_fwd_infer}});
    ctx_->stream.wait();
    BackgroundYield();
    // dst[n, out_c, plane] += b[out_c].
    const int64_t plane = s.out_h * s.out_w;
    for (int64_t r = 0; r < n * s.out_c; ++r) {
      const float bv = bias_[static_cast<size_t>(r % s.out_c)];
      float* d = dst + r * plane;
      for (int64_t q = 0; q < plane; ++q) d[q] += bv;
    }
    return absl::OkStatus();
  } catch (const dnnl::error& e) {
    return DnnlError(transposed_ ? "deconvolution forward" : "convolution forward", e);
  }
}

absl::Status ConvLayerBase::Backward(int64_t n, const float* src, const float* diff_dst,
                                     float* diff_src, float* diff_weights, float* diff_bias) {
  if (n == 0) {
    std::fill(diff_weights, diff_weights + weights_.size(), 0.0f);
    std::fill(diff_bias, diff_bias + bias_.size(), 0.0f);
    return absl::OkStatus();
  }
  Cache* c = nullptr;
  if (absl::Status s = GetCache(n, &c); !s.ok()) return s;
  try {
    c->src.set_data_handle(Handle(src));
    c->diff_dst.set_data_handle(Handle(diff_dst));
    if (!transposed_) {
      c->diff_w.set_data_handle(diff_weights);
      c->diff_b.set_data_handle(diff_bias);
      c->bwd_weights.execute(ctx_->stream, {{DNNL_ARG_SCRATCHPAD, c->sp_bwd_weights},
                                            {DNNL_ARG_SRC, c->src},
                                            {DNNL_ARG_DIFF_DST, c->diff_dst},
                                            {DNNL_ARG_DIFF_WEIGHTS, c->diff_w},
                                            {DNNL_ARG_DIFF_BIAS, c->diff_b}});
      if (diff_src != nullptr) {
        c->w.set_data_handle(Handle(weights_.data()));
        c->diff_src.set_data_handle(diff_src);
        c->bwd_data.execute(ctx_->stream, {{DNNL_ARG_SCRATCHPAD, c->sp_bwd_data},
                                           {DNNL_ARG_DIFF_DST, c->diff_dst},
                                           {DNNL_ARG_WEIGHTS, c->w},
                                           {DNNL_ARG_DIFF_SRC, c->diff_src}});
      }
      ctx_->stream.wait();
      BackgroundYield();
      return absl::OkStatus();
    }
    const ConvShape& s = shape_;
    const int64_t kk = s.kernel * s.kernel;
    // Weight gradient in the transposed layout, then back to [out_c][in_c].
    wt_grad_.resize(weights_.size());
    c->wc.set_data_handle(wt_grad_.data());
    c->bwd_weights.execute(ctx_->stream, {{DNNL_ARG_SRC, c->diff_dst},
                                          {DNNL_ARG_DIFF_DST, c->src},
                                          {DNNL_ARG_DIFF_WEIGHTS, c->wc},
                                          {DNNL_ARG_SCRATCHPAD, c->sp_bwd_weights}});
    ctx_->stream.wait();
    BackgroundYield();
    TransposeWeights(wt_grad_.data(), s.in_c, s.out_c, kk, diff_weights);
    const int64_t plane = s.out_h * s.out_w;
    std::fill(diff_bias, diff_bias + s.out_c, 0.0f);
    for (int64_t r = 0; r < n * s.out_c; ++r) {
      const float* d = diff_dst + r * plane;
      double sum = 0;
      for (int64_t q = 0; q < plane; ++q) sum += d[q];
      diff_bias[r % s.out_c] += static_cast<float>(sum);
    }
    if (diff_src != nullptr) {
      wt_.resize(weights_.size());
      TransposeWeights(weights_.data(), s.out_c, s.in_c, kk, wt_.data());
      c->wc.set_data_handle(wt_.data());
      c->diff_src.set_data_handle(diff_src);
      c->bwd_data.execute(ctx_->stream, {{DNNL_ARG_SRC, c->diff_dst},
                                         {DNNL_ARG_WEIGHTS, c->wc},
                                         {DNNL_ARG_DST, c->diff_src},
                                         {DNNL_ARG_SCRATCHPAD, c->sp_bwd_data}});
      ctx_->stream.wait();
      BackgroundYield();
    }
    return absl::OkStatus();
  } catch (const dnnl::error& e) {
    return DnnlError(transposed_ ? "deconvolution backward" : "convolution backward", e);
  }
}

absl::StatusOr<ConvShape> Conv2DLayer::MakeShape(int64_t in_c, int64_t in_h, int64_t in_w,
                                                 int64_t out_c, int64_t kernel, int64_t stride) {
  if (BadDim(in_c) || BadDim(in_h) || BadDim(in_w) || BadDim(out_c) || BadDim(kernel) ||
      BadDim(stride) || kernel % 2 == 0) {
    return absl::InvalidArgumentError("convolution: bad sizes (kernel must be odd)");
  }
  ConvShape s;
  s.in_c = in_c;
  s.in_h = in_h;
  s.in_w = in_w;
  s.out_c = out_c;
  s.kernel = kernel;
  s.stride = stride;
  s.pad_l = (kernel - 1) / 2;
  s.out_h = (in_h + 2 * s.pad_l - kernel) / stride + 1;
  s.out_w = (in_w + 2 * s.pad_l - kernel) / stride + 1;
  if (s.out_h < 1 || s.out_w < 1) return absl::InvalidArgumentError("convolution: empty output");
  // Exact bottom/right padding so that oneDNN's size relation holds without rounding.
  s.pad_r_h = (s.out_h - 1) * stride + kernel - in_h - s.pad_l;
  s.pad_r_w = (s.out_w - 1) * stride + kernel - in_w - s.pad_l;
  if (s.pad_r_h < 0 || s.pad_r_w < 0) {
    return absl::InvalidArgumentError("convolution: stride too large for the kernel");
  }
  return s;
}

absl::StatusOr<std::unique_ptr<Conv2DLayer>> Conv2DLayer::Create(std::shared_ptr<NnContext> ctx,
                                                                 int64_t in_c, int64_t in_h,
                                                                 int64_t in_w, int64_t out_c,
                                                                 int64_t kernel, int64_t stride) {
  auto s = MakeShape(in_c, in_h, in_w, out_c, kernel, stride);
  if (!s.ok()) return s.status();
  try {
    return std::unique_ptr<Conv2DLayer>(new Conv2DLayer(std::move(ctx), *s, false));
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError("convolution: out of memory");
  }
}

absl::StatusOr<ConvShape> Deconv2DLayer::MakeShape(int64_t in_c, int64_t in_h, int64_t in_w,
                                                   int64_t out_c, int64_t out_h, int64_t out_w,
                                                   int64_t kernel, int64_t stride) {
  if (BadDim(in_c) || BadDim(in_h) || BadDim(in_w) || BadDim(out_c) || BadDim(out_h) ||
      BadDim(out_w) || BadDim(kernel) || BadDim(stride) || kernel % 2 == 0) {
    return absl::InvalidArgumentError("deconvolution: bad sizes (kernel must be odd)");
  }
  ConvShape s;
  s.in_c = in_c;
  s.in_h = in_h;
  s.in_w = in_w;
  s.out_c = out_c;
  s.out_h = out_h;
  s.out_w = out_w;
  s.kernel = kernel;
  s.stride = stride;
  s.pad_l = (kernel - 1) / 2;
  s.pad_r_h = (in_h - 1) * stride + kernel - s.pad_l - out_h;
  s.pad_r_w = (in_w - 1) * stride + kernel - s.pad_l - out_w;
  if (s.pad_r_h < 0 || s.pad_r_h > kernel - 1 || s.pad_r_w < 0 || s.pad_r_w > kernel - 1) {
    return absl::InvalidArgumentError("deconvolution: output size unreachable with this stride");
  }
  return s;
}

absl::StatusOr<std::unique_ptr<Deconv2DLayer>> Deconv2DLayer::Create(
    std::shared_ptr<NnContext> ctx, int64_t in_c, int64_t in_h, int64_t in_w, int64_t out_c,
    int64_t out_h, int64_t out_w, int64_t kernel, int64_t stride) {
  auto s = MakeShape(in_c, in_h, in_w, out_c, out_h, out_w, kernel, stride);
  if (!s.ok()) return s.status();
  try {
    return std::unique_ptr<Deconv2DLayer>(new Deconv2DLayer(std::move(ctx), *s, true));
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError("deconvolution: out of memory");
  }
}

}  // namespace bn
