#include "engine/nn/dense.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <unordered_map>
#include <utility>

#include "engine/util/background.h"

namespace bn {

using dnnl::memory;
using tag = dnnl::memory::format_tag;
using dt = dnnl::memory::data_type;

dnnl::algorithm ForwardAlgorithm(Activation act) {
  switch (act) {
    case Activation::kLogistic:
      return dnnl::algorithm::eltwise_logistic;
    case Activation::kRelu:
      return dnnl::algorithm::eltwise_relu;
    case Activation::kTanh:
      return dnnl::algorithm::eltwise_tanh;
    case Activation::kLinear:
      break;
  }
  return dnnl::algorithm::eltwise_linear;
}

namespace {

// Backward from the forward output (dst), so the pre-activation need not be kept.
dnnl::algorithm BackwardAlgorithm(Activation act) {
  switch (act) {
    case Activation::kLogistic:
      return dnnl::algorithm::eltwise_logistic_use_dst_for_bwd;
    case Activation::kRelu:
      return dnnl::algorithm::eltwise_relu_use_dst_for_bwd;
    case Activation::kTanh:
      return dnnl::algorithm::eltwise_tanh_use_dst_for_bwd;
    case Activation::kLinear:
      break;
  }
  return dnnl::algorithm::eltwise_linear;
}

void* Handle(const float* p) { return const_cast<float*>(p); }

}  // namespace

struct DenseLayer::Cache {
  // Forward: src[n,in], W[out,in] (or its io view), b[out] -> dst[n,out].
  memory src, dst, w, b;
  dnnl::inner_product_forward fwd_train, fwd_infer;  // activation fused as a post-op
  dnnl::inner_product_forward fwd_linear;            // no post-op (noise path)
  dnnl::eltwise_forward elt_fwd;                     // in place on dst (noise path)
  // Backward: diff_dst[n,out] -> diff_pre[n,out] -> diff_src[n,in], diff_w, diff_b.
  dnnl::eltwise_backward elt_bwd;
  memory elt_dst, diff_dst, diff_pre;
  dnnl::inner_product_backward_data bwd_data;
  dnnl::inner_product_backward_weights bwd_weights;
  memory diff_src, diff_w, diff_b;
};

DenseLayer::DenseLayer(std::shared_ptr<NnContext> ctx, int64_t in, int64_t out, Activation act)
    : ctx_(std::move(ctx)),
      in_(in),
      out_(out),
      act_(act),
      weights_(static_cast<size_t>(in * out), 0.0f),
      bias_(static_cast<size_t>(out), 0.0f) {}

DenseLayer::DenseLayer(std::shared_ptr<NnContext> ctx, const DenseLayer* source, Activation act)
    : ctx_(std::move(ctx)),
      in_(source->out_size()),
      out_(source->in_size()),
      act_(act),
      source_(source),
      bias_(static_cast<size_t>(out_), 0.0f) {}

DenseLayer::~DenseLayer() = default;

const float* DenseLayer::weight_data() const {
  return source_ != nullptr ? source_->weights_.data() : weights_.data();
}

absl::Status DenseLayer::GetCache(int64_t n, Cache** out) {
  if (n <= 0) return absl::InvalidArgumentError("batch size must be positive");
  auto it = cache_.find(n);
  if (it != cache_.end()) {
    *out = it->second.get();
    return absl::OkStatus();
  }
  if (cache_.size() >= kMaxCachedBatchSizes) cache_.clear();
  try {
    const dnnl::engine& eng = ctx_->engine;
    auto c = std::make_unique<Cache>();
    memory::desc src_md({n, in_}, dt::f32, tag::nc);
    memory::desc dst_md({n, out_}, dt::f32, tag::nc);
    // A tied layer reads the source's [in][out] buffer as our W[out][in] transposed ("io").
    memory::desc w_md({out_, in_}, dt::f32, tied() ? tag::io : tag::oi);
    memory::desc b_md({out_}, dt::f32, tag::x);
    c->src = memory(src_md, eng, DNNL_MEMORY_NONE);
    c->dst = memory(dst_md, eng, DNNL_MEMORY_NONE);
    c->w = memory(w_md, eng, DNNL_MEMORY_NONE);
    c->b = memory(b_md, eng, DNNL_MEMORY_NONE);

    dnnl::primitive_attr attr;
    if (act_ != Activation::kLinear) {
      dnnl::post_ops ops;
      ops.append_eltwise(1.0f, ForwardAlgorithm(act_), 0.0f, 0.0f);
      attr.set_post_ops(ops);
    }
    using ipf = dnnl::inner_product_forward;
    ipf::primitive_desc train_pd(
        ipf::desc(dnnl::prop_kind::forward_training, src_md, w_md, b_md, dst_md), attr, eng);
    ipf::primitive_desc infer_pd(
        ipf::desc(dnnl::prop_kind::forward_inference, src_md, w_md, b_md, dst_md), attr, eng);
    ipf::primitive_desc linear_pd(
        ipf::desc(dnnl::prop_kind::forward_training, src_md, w_md, b_md, dst_md), eng);
    c->fwd_train = ipf(train_pd);
    c->fwd_infer = ipf(infer_pd);
    c->fwd_linear = ipf(linear_pd);

    c->elt_dst = memory(dst_md, eng, DNNL_MEMORY_NONE);
    c->diff_dst = memory(dst_md, eng, DNNL_MEMORY_NONE);
    c->diff_pre = memory(dst_md, eng, DNNL_MEMORY_NONE);
    if (act_ != Activation::kLinear) {
      using ef = dnnl::eltwise_forward;
      ef::primitive_desc elt_fwd_pd(
          ef::desc(dnnl::prop_kind::forward_training, ForwardAlgorithm(act_), dst_md, 0.0f, 0.0f),
          eng);
      c->elt_fwd = ef(elt_fwd_pd);
      // The backward primitive's hint: the same op in its use-dst-for-backward form.
      ef::primitive_desc hint_pd(
          ef::desc(dnnl::prop_kind::forward_training, BackwardAlgorithm(act_), dst_md, 0.0f, 0.0f),
          eng);
      using eb = dnnl::eltwise_backward;
      eb::primitive_desc bwd_pd(eb::desc(BackwardAlgorithm(act_), dst_md, dst_md, 0.0f, 0.0f), eng,
                                hint_pd);
      c->elt_bwd = eb(bwd_pd);
    }

    using ipbd = dnnl::inner_product_backward_data;
    ipbd::primitive_desc bwd_data_pd(ipbd::desc(src_md, w_md, dst_md), eng, train_pd);
    c->bwd_data = ipbd(bwd_data_pd);
    using ipbw = dnnl::inner_product_backward_weights;
    ipbw::primitive_desc bwd_w_pd(ipbw::desc(src_md, w_md, b_md, dst_md), eng, train_pd);
    c->bwd_weights = ipbw(bwd_w_pd);
    c->diff_src = memory(src_md, eng, DNNL_MEMORY_NONE);
    c->diff_w = memory(w_md, eng, DNNL_MEMORY_NONE);
    c->diff_b = memory(b_md, eng, DNNL_MEMORY_NONE);
    *out = c.get();
    cache_[n] = std::move(c);
    return absl::OkStatus();
  } catch (const dnnl::error& e) {
    return DnnlError("building dense layer primitives", e);
  }
}

absl::Status DenseLayer::Forward(const float* src, int64_t n, float* dst, bool training,
                                 const float* noise) {
  if (n == 0) return absl::OkStatus();
  Cache* c = nullptr;
  if (absl::Status s = GetCache(n, &c); !s.ok()) return s;
  try {
    c->src.set_data_handle(Handle(src));
    c->w.set_data_handle(Handle(weight_data()));
    c->b.set_data_handle(Handle(bias_.data()));
    c->dst.set_data_handle(dst);
    std::unordered_map<int, memory> args = {{DNNL_ARG_SRC, c->src},
                                            {DNNL_ARG_WEIGHTS, c->w},
                                            {DNNL_ARG_BIAS, c->b},
                                            {DNNL_ARG_DST, c->dst}};
    if (noise == nullptr) {
      (training ? c->fwd_train : c->fwd_infer).execute(ctx_->stream, args);
      ctx_->stream.wait();
      BackgroundYield();
      return absl::OkStatus();
    }
    c->fwd_linear.execute(ctx_->stream, args);
    ctx_->stream.wait();
    BackgroundYield();
    const int64_t count = n * out_;
    for (int64_t i = 0; i < count; ++i) dst[i] += noise[i];
    if (act_ != Activation::kLinear) {
      c->elt_fwd.execute(ctx_->stream, {{DNNL_ARG_SRC, c->dst}, {DNNL_ARG_DST, c->dst}});
      ctx_->stream.wait();
      BackgroundYield();
    }
    return absl::OkStatus();
  } catch (const dnnl::error& e) {
    return DnnlError("dense forward", e);
  }
}

absl::Status DenseLayer::ActivationBackward(int64_t n, const float* dst, const float* diff_dst,
                                            float* diff_pre) {
  if (n == 0) return absl::OkStatus();
  if (act_ == Activation::kLinear) {
    if (diff_pre != diff_dst) {
      std::memcpy(diff_pre, diff_dst, sizeof(float) * static_cast<size_t>(n * out_));
    }
    return absl::OkStatus();
  }
  Cache* c = nullptr;
  if (absl::Status s = GetCache(n, &c); !s.ok()) return s;
  try {
    c->elt_dst.set_data_handle(Handle(dst));
    c->diff_dst.set_data_handle(Handle(diff_dst));
    c->diff_pre.set_data_handle(diff_pre);
    c->elt_bwd.execute(ctx_->stream, {{DNNL_ARG_DST, c->elt_dst},
                                      {DNNL_ARG_DIFF_DST, c->diff_dst},
                                      {DNNL_ARG_DIFF_SRC, c->diff_pre}});
    ctx_->stream.wait();
    BackgroundYield();
    return absl::OkStatus();
  } catch (const dnnl::error& e) {
    return DnnlError("activation backward", e);
  }
}

absl::Status DenseLayer::Backward(int64_t n, const float* src, const float* diff_pre,
                                  float* diff_src, float* diff_weights, float* diff_bias) {
  if (n == 0) {
    std::fill(diff_weights, diff_weights + in_ * out_, 0.0f);
    std::fill(diff_bias, diff_bias + out_, 0.0f);
    return absl::OkStatus();
  }
  Cache* c = nullptr;
  if (absl::Status s = GetCache(n, &c); !s.ok()) return s;
  try {
    c->src.set_data_handle(Handle(src));
    c->diff_pre.set_data_handle(Handle(diff_pre));
    c->diff_w.set_data_handle(diff_weights);
    c->diff_b.set_data_handle(diff_bias);
    c->bwd_weights.execute(ctx_->stream, {{DNNL_ARG_SRC, c->src},
                                          {DNNL_ARG_DIFF_DST, c->diff_pre},
                                          {DNNL_ARG_DIFF_WEIGHTS, c->diff_w},
                                          {DNNL_ARG_DIFF_BIAS, c->diff_b}});
    BackgroundYield();
    if (diff_src != nullptr) {
      c->w.set_data_handle(Handle(weight_data()));
      c->diff_src.set_data_handle(diff_src);
      c->bwd_data.execute(ctx_->stream, {{DNNL_ARG_DIFF_DST, c->diff_pre},
                                         {DNNL_ARG_WEIGHTS, c->w},
                                         {DNNL_ARG_DIFF_SRC, c->diff_src}});
    }
    ctx_->stream.wait();
    BackgroundYield();
    return absl::OkStatus();
  } catch (const dnnl::error& e) {
    return DnnlError("dense backward", e);
  }
}

}  // namespace bn
