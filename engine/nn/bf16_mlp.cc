#include "engine/nn/bf16_mlp.h"

#include <string>
#include <utility>

#include "engine/util/background.h"

namespace bn {

using dnnl::memory;
using tag = dnnl::memory::format_tag;
using dt = dnnl::memory::data_type;
using ipf = dnnl::inner_product_forward;

namespace {
constexpr size_t kMaxCached = 16;  // Batch sizes with cached primitives (cleared beyond).
}  // namespace

struct Bf16Mlp::Layer {
  Activation activation;
  memory::desc weights_md;  // The layout the weights are stored in (oneDNN's choice at n = 1).
  memory weights;           // bf16
  memory bias;              // f32 [out]
};

struct Bf16Mlp::Cache {
  dnnl::reorder to_bf16;  // src f32 [n,in_0] -> input (bf16)
  memory src_f32;         // handle set per call
  memory input;           // bf16 [n,in_0]
  std::vector<ipf> prims;
  std::vector<memory> weights;  // Per layer: the layer's weights, or a reordered copy.
  std::vector<memory> dst;      // bf16 [n,out_l] between layers; f32 user buffer for the last.
};

bool Bf16Mlp::Supported() {
  try {
    return dnnl::get_effective_cpu_isa() >= dnnl::cpu_isa::avx512_core_bf16;
  } catch (const dnnl::error&) {
    return false;
  }
}

absl::StatusOr<std::unique_ptr<Bf16Mlp>> Bf16Mlp::Create(const std::vector<LayerWeights>& layers) {
  if (!Supported()) {
    return absl::FailedPreconditionError("this CPU has no AVX-512 BF16 instructions");
  }
  if (layers.empty()) return absl::InvalidArgumentError("a bf16 stack needs at least one layer");
  std::unique_ptr<Bf16Mlp> mlp(new Bf16Mlp());
  mlp->sizes_.push_back(layers[0].in);
  for (size_t l = 0; l < layers.size(); ++l) {
    const LayerWeights& w = layers[l];
    if (w.in <= 0 || w.out <= 0 || w.weights == nullptr || w.bias == nullptr) {
      return absl::InvalidArgumentError("bf16 layer " + std::to_string(l) +
                                        ": sizes must be positive and weights and bias given");
    }
    if (w.in != mlp->sizes_.back()) {
      return absl::InvalidArgumentError("bf16 layer " + std::to_string(l) +
                                        ": input size does not match the previous layer");
    }
    mlp->sizes_.push_back(w.out);
  }
  auto ctx = NewNnContext();
  if (!ctx.ok()) return ctx.status();
  mlp->ctx_ = std::move(*ctx);
  try {
    const dnnl::engine& eng = mlp->ctx_->engine;
    for (const LayerWeights& w : layers) {
      auto layer = std::make_unique<Layer>();
      layer->activation = w.activation;
      // The weights' layout: what the kernel prefers at batch 1 (the latency case).
      const bool last = mlp->layers_.size() + 1 == layers.size();
      const ipf::primitive_desc pd(
          ipf::desc(dnnl::prop_kind::forward_inference, memory::desc({1, w.in}, dt::bf16, tag::nc),
                    memory::desc({w.out, w.in}, dt::bf16, tag::any),
                    memory::desc({w.out}, dt::f32, tag::a),
                    memory::desc({1, w.out}, last ? dt::f32 : dt::bf16, tag::nc)),
          eng);
      layer->weights_md = pd.weights_desc();
      layer->weights = memory(layer->weights_md, eng);
      memory user({{w.out, w.in}, dt::f32, tag::oi}, eng, const_cast<float*>(w.weights));
      dnnl::reorder(user, layer->weights).execute(mlp->ctx_->stream, user, layer->weights);
      layer->bias = memory({{w.out}, dt::f32, tag::a}, eng);
      std::copy(w.bias, w.bias + w.out, static_cast<float*>(layer->bias.get_data_handle()));
      mlp->layers_.push_back(std::move(layer));
    }
    mlp->ctx_->stream.wait();
    BackgroundYield();
  } catch (const dnnl::error& e) {
    return DnnlError("building the bf16 layers", e);
  }
  return mlp;
}

Bf16Mlp::~Bf16Mlp() = default;

absl::Status Bf16Mlp::GetCache(int64_t n, Cache** out) {
  auto it = cache_.find(n);
  if (it != cache_.end()) {
    *out = it->second.get();
    return absl::OkStatus();
  }
  if (cache_.size() >= kMaxCached) cache_.clear();
  auto c = std::make_unique<Cache>();
  try {
    const dnnl::engine& eng = ctx_->engine;
    c->src_f32 = memory({{n, sizes_[0]}, dt::f32, tag::nc}, eng, DNNL_MEMORY_NONE);
    c->input = memory({{n, sizes_[0]}, dt::bf16, tag::nc}, eng);
    c->to_bf16 = dnnl::reorder(c->src_f32, c->input);
    for (size_t l = 0; l < layers_.size(); ++l) {
      Layer& layer = *layers_[l];
      const bool last = l + 1 == layers_.size();
      const int64_t in = sizes_[l], out_size = sizes_[l + 1];
      dnnl::primitive_attr attr;
      if (layer.activation != Activation::kLinear) {  // As DenseLayer: the activation fused.
        dnnl::post_ops ops;
        ops.append_eltwise(1.0f, ForwardAlgorithm(layer.activation), 0.0f, 0.0f);
        attr.set_post_ops(ops);
      }
      const ipf::primitive_desc pd(
          ipf::desc(dnnl::prop_kind::forward_inference, memory::desc({n, in}, dt::bf16, tag::nc),
                    memory::desc({out_size, in}, dt::bf16, tag::any),
                    memory::desc({out_size}, dt::f32, tag::a),
                    memory::desc({n, out_size}, last ? dt::f32 : dt::bf16, tag::nc)),
          attr, eng);
      memory weights = layer.weights;
      if (pd.weights_desc() != layer.weights_md) {  // Reorder only when the layouts differ.
        weights = memory(pd.weights_desc(), eng);
        dnnl::reorder(layer.weights, weights).execute(ctx_->stream, layer.weights, weights);
      }
      c->prims.emplace_back(pd);
      c->weights.push_back(weights);
      c->dst.push_back(last ? memory(pd.dst_desc(), eng, DNNL_MEMORY_NONE)
                            : memory(pd.dst_desc(), eng));
    }
    ctx_->stream.wait();
    BackgroundYield();
  } catch (const dnnl::error& e) {
    return DnnlError("building bf16 primitives", e);
  }
  *out = c.get();
  cache_[n] = std::move(c);
  return absl::OkStatus();
}

absl::Status Bf16Mlp::Run(const float* src, int64_t n, float* dst) {
  if (n < 0) return absl::InvalidArgumentError("negative row count");
  if (n == 0) return absl::OkStatus();
  Cache* c = nullptr;
  if (absl::Status s = GetCache(n, &c); !s.ok()) return s;
  try {
    dnnl::stream& stream = ctx_->stream;
    c->src_f32.set_data_handle(const_cast<float*>(src));
    c->dst.back().set_data_handle(dst);
    c->to_bf16.execute(stream, c->src_f32, c->input);
    const memory* in = &c->input;
    for (size_t l = 0; l < layers_.size(); ++l) {
      c->prims[l].execute(stream, {{DNNL_ARG_SRC, *in},
                                   {DNNL_ARG_WEIGHTS, c->weights[l]},
                                   {DNNL_ARG_BIAS, layers_[l]->bias},
                                   {DNNL_ARG_DST, c->dst[l]}});
      in = &c->dst[l];
    }
    stream.wait();
    BackgroundYield();
  } catch (const dnnl::error& e) {
    return DnnlError("running the bf16 layers", e);
  }
  return absl::OkStatus();
}

}  // namespace bn
