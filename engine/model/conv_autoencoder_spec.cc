// The conv auto-encoder's spec checks and its payload (the spec, then every parameter block in
// RegisterParameters' order), apart from the net's forward and backward passes.
#include <algorithm>
#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "engine/model/conv_autoencoder_net.h"

namespace bn {
namespace {

constexpr uint32_t kPayloadVersion = 2;  // 1: no dense_sizes
constexpr size_t kMaxDenseLayers = 8;
constexpr size_t kMaxConvLayers = 8;
constexpr int64_t kMaxDim = 4096;
constexpr int64_t kMaxParameters = int64_t{1} << 28;

bool ValidActivation(uint32_t a) { return a <= static_cast<uint32_t>(Activation::kTanh); }

}  // namespace

namespace {

// ValidateConvSpec's checks; on success *parameter_count is the net's exact parameter count.
absl::Status CheckConvSpec(const ConvAutoencoderSpec& spec, int64_t* parameter_count) {
  auto bad = [](int64_t v) { return v < 1 || v > kMaxDim; };
  if (bad(spec.height) || bad(spec.width) || bad(spec.channels) || bad(spec.code_size)) {
    return absl::InvalidArgumentError("conv auto-encoder: image or code size out of range");
  }
  if (spec.layers.empty() || spec.layers.size() > kMaxConvLayers) {
    return absl::InvalidArgumentError("conv auto-encoder: 1 to 8 conv layers");
  }
  if (!ValidActivation(static_cast<uint32_t>(spec.hidden_activation)) ||
      !ValidActivation(static_cast<uint32_t>(spec.code_activation))) {
    return absl::InvalidArgumentError("conv auto-encoder: unknown activation");
  }
  if (static_cast<uint32_t>(spec.unpool) > 1) {
    return absl::InvalidArgumentError("conv auto-encoder: unknown unpooling mode");
  }
  if (static_cast<uint32_t>(spec.corruption) > 3 || !(spec.corruption_level >= 0) ||
      spec.corruption_level > 1e3f || !(spec.code_noise_stddev >= 0) ||
      spec.code_noise_stddev > 1e3f) {
    return absl::InvalidArgumentError("conv auto-encoder: bad corruption or code noise");
  }
  int64_t c = spec.channels, h = spec.height, w = spec.width, params = 0;
  for (const ConvLayerSpec& l : spec.layers) {
    if (bad(l.filters) || bad(l.pool)) {
      return absl::InvalidArgumentError("conv auto-encoder: bad filters or pool size");
    }
    auto conv = Conv2DLayer::MakeShape(c, h, w, l.filters, l.kernel, l.stride);
    if (!conv.ok()) return conv.status();
    // The mirrored deconvolution must reach the layer's input size again.
    auto deconv =
        Deconv2DLayer::MakeShape(l.filters, conv->out_h, conv->out_w, c, h, w, l.kernel, l.stride);
    if (!deconv.ok()) return deconv.status();
    params += 2 * conv->weight_count() + conv->out_c + c;
    c = l.filters;
    h = conv->out_h;
    w = conv->out_w;
    if (l.pool > std::min(h, w))
      return absl::InvalidArgumentError("conv auto-encoder: pool too big");
    h /= l.pool;
    w /= l.pool;
    if (params > kMaxParameters) return absl::InvalidArgumentError("too many parameters");
  }
  const int64_t feature = c * h * w;
  if (feature > (int64_t{1} << 24)) return absl::InvalidArgumentError("too many parameters");
  if (spec.dense_sizes.size() > kMaxDenseLayers) {
    return absl::InvalidArgumentError("conv auto-encoder: at most 8 dense hidden layers");
  }
  int64_t prev = feature;
  for (size_t i = 0; i <= spec.dense_sizes.size(); ++i) {
    const int64_t next = i < spec.dense_sizes.size() ? spec.dense_sizes[i] : spec.code_size;
    if (next < 1 || next > (int64_t{1} << 20)) {
      return absl::InvalidArgumentError("conv auto-encoder: bad dense layer size");
    }
    // Encoder and mirrored decoder layer.
    params += 2 * prev * next + prev + next;
    if (params > kMaxParameters) {
      return absl::InvalidArgumentError("conv auto-encoder: too many parameters");
    }
    prev = next;
  }
  *parameter_count = params;
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateConvSpec(const ConvAutoencoderSpec& spec) {
  int64_t params = 0;
  return CheckConvSpec(spec, &params);
}

void ConvAutoencoderNet::SavePayload(std::string* out) const {
  ByteWriter w(out);
  WriteSpec(&w);
  for (const Param& p : params_) w.Floats(*p.value);
}

std::string ConvAutoencoderNet::SpecBytes() const {
  std::string out = "conv-autoencoder:";
  ByteWriter w(&out);
  WriteSpec(&w);
  return out;
}

void ConvAutoencoderNet::WriteSpec(ByteWriter* wp) const {
  ByteWriter& w = *wp;
  w.U32(kPayloadVersion);
  w.I64(spec_.height);
  w.I64(spec_.width);
  w.I64(spec_.channels);
  w.U64(spec_.layers.size());
  for (const ConvLayerSpec& l : spec_.layers) {
    w.I64(l.filters);
    w.I64(l.kernel);
    w.I64(l.stride);
    w.I64(l.pool);
  }
  w.I64(spec_.code_size);
  w.U32(static_cast<uint32_t>(spec_.hidden_activation));
  w.U32(static_cast<uint32_t>(spec_.code_activation));
  w.U32(static_cast<uint32_t>(spec_.unpool));
  w.U8(spec_.binary_codes ? 1 : 0);
  w.F32(spec_.code_noise_stddev);
  w.U64(spec_.dense_sizes.size());
  for (int64_t s : spec_.dense_sizes) w.I64(s);
}

absl::StatusOr<std::unique_ptr<ConvAutoencoderNet>> ConvAutoencoderNet::LoadPayload(ByteReader* r) {
  auto corrupt = [](const std::string& what) {
    return absl::InvalidArgumentError("conv auto-encoder payload: " + what);
  };
  uint32_t version = 0;
  if (!r->U32(&version)) return corrupt("truncated");
  if (version != 1 && version != kPayloadVersion) return corrupt("unknown payload version");
  ConvAutoencoderSpec spec;
  uint64_t count = 0;
  if (!r->I64(&spec.height) || !r->I64(&spec.width) || !r->I64(&spec.channels) || !r->U64(&count)) {
    return corrupt("truncated");
  }
  if (count < 1 || count > kMaxConvLayers) return corrupt("bad layer count");
  spec.layers.assign(count, {});
  for (ConvLayerSpec& l : spec.layers) {
    if (!r->I64(&l.filters) || !r->I64(&l.kernel) || !r->I64(&l.stride) || !r->I64(&l.pool)) {
      return corrupt("truncated");
    }
  }
  uint32_t hidden = 0, code = 0, unpool = 0;
  uint8_t binary = 0;
  if (!r->I64(&spec.code_size) || !r->U32(&hidden) || !r->U32(&code) || !r->U32(&unpool) ||
      !r->U8(&binary) || !r->F32(&spec.code_noise_stddev)) {
    return corrupt("truncated");
  }
  if (version >= 2) {
    uint64_t dense = 0;
    if (!r->U64(&dense)) return corrupt("truncated");
    if (dense > kMaxDenseLayers) return corrupt("bad dense layer count");
    spec.dense_sizes.assign(dense, 0);
    for (int64_t& s : spec.dense_sizes) {
      if (!r->I64(&s)) return corrupt("truncated");
    }
  }
  if (!ValidActivation(hidden) || !ValidActivation(code) || unpool > 1 || binary > 1) {
    return corrupt("bad enum value");
  }
  spec.hidden_activation = static_cast<Activation>(hidden);
  spec.code_activation = static_cast<Activation>(code);
  spec.unpool = static_cast<UnpoolMode>(unpool);
  spec.binary_codes = binary == 1;
  if (spec.binary_codes && spec.code_activation != Activation::kLogistic) {
    return corrupt("binary codes without logistic code units");
  }
  int64_t params = 0;
  if (absl::Status s = CheckConvSpec(spec, &params); !s.ok()) {
    return corrupt(std::string(s.message()));
  }
  // The remaining bytes must hold every parameter before anything is allocated.
  if (static_cast<uint64_t>(params) > r->remaining() / sizeof(float)) return corrupt("truncated");
  auto net = Create(spec);
  if (!net.ok()) return net.status();
  if (static_cast<uint64_t>((*net)->parameter_count()) > r->remaining() / sizeof(float)) {
    return corrupt("truncated");
  }
  for (const Param& p : (*net)->params_) {
    std::vector<float> tmp;
    if (!r->Floats(&tmp, p.value->size()) || tmp.size() != p.value->size()) {
      return corrupt("bad parameter block");
    }
    for (float v : tmp) {
      if (!std::isfinite(v)) return corrupt("non-finite parameter");
    }
    *p.value = std::move(tmp);
  }
  return std::move(*net);
}

}  // namespace bn
