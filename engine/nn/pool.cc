#include "engine/nn/pool.h"

#include <omp.h>

#include <algorithm>
#include <utility>

#include "engine/util/background.h"

namespace bn {

using dnnl::memory;
using tag = dnnl::memory::format_tag;
using dt = dnnl::memory::data_type;

namespace {
void* Handle(const float* p) { return const_cast<float*>(p); }
// Probe values (pooled index + 1) must be exact in float.
constexpr int64_t kMaxProbe = int64_t{1} << 24;
}  // namespace

struct MaxPoolLayer::Cache {
  // OpenMP threads when built: oneDNN sizes per-thread scratch memory by it, so executing from a
  // thread allowed more threads (e.g. a server thread) needs a rebuild.
  int threads = 0;
  memory src, dst, diff_src, diff_dst, workspace;
  memory sp_train, sp_infer, sp_bwd;  // scratchpads
  dnnl::pooling_forward fwd_train, fwd_infer;
  dnnl::pooling_backward bwd;
  bool has_switches = false;
  std::vector<float> probe, probe_out;  // Switches() scratch
};

MaxPoolLayer::MaxPoolLayer(std::shared_ptr<NnContext> ctx, int64_t c, int64_t h, int64_t w,
                           int64_t p)
    : ctx_(std::move(ctx)), c_(c), h_(h), w_(w), p_(p) {}

MaxPoolLayer::~MaxPoolLayer() = default;

absl::StatusOr<std::unique_ptr<MaxPoolLayer>> MaxPoolLayer::Create(std::shared_ptr<NnContext> ctx,
                                                                   int64_t c, int64_t h, int64_t w,
                                                                   int64_t pool) {
  constexpr int64_t kMaxDim = int64_t{1} << 16;
  if (c < 1 || h < 1 || w < 1 || pool < 1 || c > kMaxDim || h > kMaxDim || w > kMaxDim ||
      pool > std::min(h, w)) {
    return absl::InvalidArgumentError("max pooling: bad sizes");
  }
  return std::unique_ptr<MaxPoolLayer>(new MaxPoolLayer(std::move(ctx), c, h, w, pool));
}

absl::Status MaxPoolLayer::GetCache(int64_t n, Cache** out) {
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
    auto c = std::make_unique<Cache>();
    memory::desc src_md({n, c_, h_, w_}, dt::f32, tag::nchw);
    memory::desc dst_md({n, c_, out_h(), out_w()}, dt::f32, tag::nchw);
    const memory::dims strides = {p_, p_}, kernel = {p_, p_};
    // No padding: oneDNN's output size (h - p)/p + 1 rounds down like out_h().
    const memory::dims pad_l = {0, 0}, pad_r = {0, 0};
    using F = dnnl::pooling_forward;
    using B = dnnl::pooling_backward;
    const auto algo = dnnl::algorithm::pooling_max;
    // User-managed scratchpads: the cache owns its scratch memory (any calling thread).
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    F::primitive_desc train_pd(F::desc(dnnl::prop_kind::forward_training, algo, src_md, dst_md,
                                       strides, kernel, pad_l, pad_r),
                               attr, eng);
    F::primitive_desc infer_pd(F::desc(dnnl::prop_kind::forward_inference, algo, src_md, dst_md,
                                       strides, kernel, pad_l, pad_r),
                               attr, eng);
    B::primitive_desc bwd_pd(B::desc(algo, src_md, dst_md, strides, kernel, pad_l, pad_r), attr,
                             eng, train_pd);
    c->fwd_train = F(train_pd);
    c->fwd_infer = F(infer_pd);
    c->bwd = B(bwd_pd);
    c->sp_train = memory(train_pd.scratchpad_desc(), eng);
    c->sp_infer = memory(infer_pd.scratchpad_desc(), eng);
    c->sp_bwd = memory(bwd_pd.scratchpad_desc(), eng);
    c->src = memory(src_md, eng, DNNL_MEMORY_NONE);
    c->diff_src = memory(src_md, eng, DNNL_MEMORY_NONE);
    c->dst = memory(dst_md, eng, DNNL_MEMORY_NONE);
    c->diff_dst = memory(dst_md, eng, DNNL_MEMORY_NONE);
    c->workspace = memory(train_pd.workspace_desc(), eng);
    c->threads = omp_get_max_threads();
    *out = c.get();
    cache_[n] = std::move(c);
    return absl::OkStatus();
  } catch (const dnnl::error& e) {
    return DnnlError("building max pooling primitives", e);
  }
}

absl::Status MaxPoolLayer::Forward(const float* src, int64_t n, float* dst, bool training) {
  if (n == 0) return absl::OkStatus();
  Cache* c = nullptr;
  if (absl::Status s = GetCache(n, &c); !s.ok()) return s;
  try {
    c->src.set_data_handle(Handle(src));
    c->dst.set_data_handle(dst);
    if (training) {
      c->fwd_train.execute(ctx_->stream, {{DNNL_ARG_SCRATCHPAD, c->sp_train},
                                          {DNNL_ARG_SRC, c->src},
                                          {DNNL_ARG_DST, c->dst},
                                          {DNNL_ARG_WORKSPACE, c->workspace}});
      c->has_switches = true;
    } else {
      c->fwd_infer.execute(
          ctx_->stream,
          {{DNNL_ARG_SCRATCHPAD, c->sp_infer}, {DNNL_ARG_SRC, c->src}, {DNNL_ARG_DST, c->dst}});
    }
    ctx_->stream.wait();
    BackgroundYield();
    return absl::OkStatus();
  } catch (const dnnl::error& e) {
    return DnnlError("max pooling forward", e);
  }
}

bool MaxPoolLayer::has_switches(int64_t n) const {
  auto it = cache_.find(n);
  return it != cache_.end() && it->second->has_switches;
}

absl::Status MaxPoolLayer::Backward(int64_t n, const float* diff_dst, float* diff_src) {
  if (n == 0) return absl::OkStatus();
  if (!has_switches(n)) {
    return absl::FailedPreconditionError("max pooling: no training forward for this batch size");
  }
  Cache* c = cache_[n].get();
  try {
    c->diff_dst.set_data_handle(Handle(diff_dst));
    c->diff_src.set_data_handle(diff_src);
    c->bwd.execute(ctx_->stream, {{DNNL_ARG_SCRATCHPAD, c->sp_bwd},
                                  {DNNL_ARG_DIFF_DST, c->diff_dst},
                                  {DNNL_ARG_WORKSPACE, c->workspace},
                                  {DNNL_ARG_DIFF_SRC, c->diff_src}});
    ctx_->stream.wait();
    BackgroundYield();
    return absl::OkStatus();
  } catch (const dnnl::error& e) {
    return DnnlError("max pooling backward", e);
  }
}

absl::Status MaxPoolLayer::Switches(int64_t n, std::vector<int32_t>* idx) {
  if (n == 0) {
    idx->clear();
    return absl::OkStatus();
  }
  if (!has_switches(n)) {
    return absl::FailedPreconditionError("max pooling: no training forward for this batch size");
  }
  const int64_t outs = out_size(), ins = in_size();
  if (outs >= kMaxProbe) return absl::InvalidArgumentError("max pooling: map too large");
  Cache* c = cache_[n].get();
  // Scatter value j+1 from pooled position j: windows do not overlap, so each input position
  // receives at most one probe and zero elsewhere.
  c->probe.resize(static_cast<size_t>(n * outs));
  c->probe_out.resize(static_cast<size_t>(n * ins));
  for (int64_t r = 0; r < n; ++r) {
    for (int64_t j = 0; j < outs; ++j) c->probe[r * outs + j] = static_cast<float>(j + 1);
  }
  if (absl::Status s = Backward(n, c->probe.data(), c->probe_out.data()); !s.ok()) return s;
  idx->assign(static_cast<size_t>(n * outs), -1);
  for (int64_t r = 0; r < n; ++r) {
    for (int64_t i = 0; i < ins; ++i) {
      const float v = c->probe_out[r * ins + i];
      if (v > 0) (*idx)[r * outs + static_cast<int64_t>(v) - 1] = static_cast<int32_t>(i);
    }
  }
  for (int32_t v : *idx) {
    if (v < 0) return absl::InternalError("max pooling: a switch was not recorded");
  }
  return absl::OkStatus();
}

}  // namespace bn
