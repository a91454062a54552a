#include "engine/nn/softmax.h"

#include <unordered_map>
#include <utility>

#include "engine/util/background.h"

namespace bn {

using dnnl::memory;

struct SoftmaxLayer::Cache {
  memory src, dst, diff_dst, diff_src;  // all [n, classes] nc
  dnnl::softmax_forward fwd_train, fwd_infer;
  dnnl::softmax_backward bwd;
};

SoftmaxLayer::SoftmaxLayer(std::shared_ptr<NnContext> ctx, int64_t classes)
    : ctx_(std::move(ctx)), classes_(classes) {}
SoftmaxLayer::~SoftmaxLayer() = default;

absl::Status SoftmaxLayer::GetCache(int64_t n, Cache** out) {
  if (n <= 0) return absl::InvalidArgumentError("batch size must be positive");
  auto it = cache_.find(n);
  if (it != cache_.end()) {
    *out = it->second.get();
    return absl::OkStatus();
  }
  if (cache_.size() >= 16) cache_.clear();
  try {
    const dnnl::engine& eng = ctx_->engine;
    auto c = std::make_unique<Cache>();
    memory::desc md({n, classes_}, memory::data_type::f32, memory::format_tag::nc);
    for (memory* m : {&c->src, &c->dst, &c->diff_dst, &c->diff_src}) {
      *m = memory(md, eng, DNNL_MEMORY_NONE);
    }
    using sf = dnnl::softmax_forward;
    sf::primitive_desc train_pd(sf::desc(dnnl::prop_kind::forward_training, md, 1), eng);
    sf::primitive_desc infer_pd(sf::desc(dnnl::prop_kind::forward_inference, md, 1), eng);
    c->fwd_train = sf(train_pd);
    c->fwd_infer = sf(infer_pd);
    using sb = dnnl::softmax_backward;
    c->bwd = sb(sb::primitive_desc(sb::desc(md, md, 1), eng, train_pd));
    *out = c.get();
    cache_[n] = std::move(c);
    return absl::OkStatus();
  } catch (const dnnl::error& e) {
    return DnnlError("building softmax primitives", e);
  }
}

absl::Status SoftmaxLayer::Forward(const float* src, int64_t n, float* dst, bool training) {
  if (n == 0) return absl::OkStatus();
  Cache* c = nullptr;
  if (absl::Status s = GetCache(n, &c); !s.ok()) return s;
  try {
    c->src.set_data_handle(const_cast<float*>(src));
    c->dst.set_data_handle(dst);
    (training ? c->fwd_train : c->fwd_infer)
        .execute(ctx_->stream, {{DNNL_ARG_SRC, c->src}, {DNNL_ARG_DST, c->dst}});
    ctx_->stream.wait();
    BackgroundYield();
    return absl::OkStatus();
  } catch (const dnnl::error& e) {
    return DnnlError("softmax forward", e);
  }
}

absl::Status SoftmaxLayer::Backward(int64_t n, const float* dst, const float* diff_dst,
                                    float* diff_src) {
  if (n == 0) return absl::OkStatus();
  Cache* c = nullptr;
  if (absl::Status s = GetCache(n, &c); !s.ok()) return s;
  try {
    c->dst.set_data_handle(const_cast<float*>(dst));
    c->diff_dst.set_data_handle(const_cast<float*>(diff_dst));
    c->diff_src.set_data_handle(diff_src);
    c->bwd.execute(ctx_->stream, {{DNNL_ARG_DST, c->dst},
                                  {DNNL_ARG_DIFF_DST, c->diff_dst},
                                  {DNNL_ARG_DIFF_SRC, c->diff_src}});
    ctx_->stream.wait();
    BackgroundYield();
    return absl::OkStatus();
  } catch (const dnnl::error& e) {
    return DnnlError("softmax backward", e);
  }
}

}  // namespace bn
