#include "engine/model/autoencoder_net.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "engine/nn/contractive.h"
#include "engine/nn/dropout.h"

// The dense auto-encoder's architecture:
//
//   input[n,D] -> encoder hidden layers -> code layer [n,K] -> decoder layers -> output [n,D]
//
// The decoder mirrors the encoder unless decoder_sizes is given; tied weights reuse the
// encoder's weights transposed (mirror only). The output layer's pre-activation goes to the
// loss: logistic + cross-entropy (pixels in [0,1]), softmax + cross-entropy (word
// distributions), or linear + squared error. Variants: denoising (the trainer corrupts the
// input, the loss scores against the clean one), contractive (penalty on the first encoder
// layer, logistic units only), binary codes (logistic code units with fixed per-example Gaussian
// noise added to their inputs during training; codes thresholded at 0.5 by
// engine/model/codes.h), and greedy RBM pre-training (engine/train/rbm_pretraining.h) before
// fine-tuning.

namespace bn {
namespace {

constexpr int64_t kMaxLayerSize = int64_t{1} << 20;
constexpr size_t kMaxLayers = 32;
constexpr int64_t kMaxParameters = int64_t{1} << 31;
constexpr uint32_t kPayloadVersion = 1;

bool ValidActivation(uint32_t a) { return a <= static_cast<uint32_t>(Activation::kTanh); }

}  // namespace

LossKind LossFor(OutputKind output) {
  switch (output) {
    case OutputKind::kLogisticCrossEntropy:
      return LossKind::kLogisticCrossEntropy;
    case OutputKind::kSoftmaxCrossEntropy:
      return LossKind::kSoftmaxCrossEntropy;
    case OutputKind::kLinearSquaredError:
      break;
  }
  return LossKind::kSquaredError;
}

absl::Status ValidateSpec(const DenseAutoencoderSpec& spec) {
  auto bad_size = [](int64_t s) { return s < 1 || s > kMaxLayerSize; };
  if (bad_size(spec.input_size)) return absl::InvalidArgumentError("input_size out of range");
  if (bad_size(spec.code_size)) return absl::InvalidArgumentError("code_size out of range");
  if (spec.encoder_sizes.size() > kMaxLayers || spec.decoder_sizes.size() > kMaxLayers) {
    return absl::InvalidArgumentError("too many layers");
  }
  for (int64_t s : spec.encoder_sizes) {
    if (bad_size(s)) return absl::InvalidArgumentError("encoder layer size out of range");
  }
  for (int64_t s : spec.decoder_sizes) {
    if (bad_size(s)) return absl::InvalidArgumentError("decoder layer size out of range");
  }
  if (!ValidActivation(static_cast<uint32_t>(spec.hidden_activation)) ||
      !ValidActivation(static_cast<uint32_t>(spec.code_activation))) {
    return absl::InvalidArgumentError("unknown activation");
  }
  if (static_cast<uint32_t>(spec.output) > 2) return absl::InvalidArgumentError("unknown output");
  if (spec.gaussian_visible && spec.output != OutputKind::kLinearSquaredError) {
    return absl::InvalidArgumentError("Gaussian visible units need a linear output");
  }
  if (static_cast<uint32_t>(spec.corruption) > 3) {
    return absl::InvalidArgumentError("unknown corruption");
  }
  if (spec.tied_weights && !spec.decoder_sizes.empty()) {
    std::vector<int64_t> mirror(spec.encoder_sizes.rbegin(), spec.encoder_sizes.rend());
    if (spec.decoder_sizes != mirror) {
      return absl::InvalidArgumentError("tied weights need a mirrored decoder");
    }
  }
  if (spec.contractive_lambda < 0 || !std::isfinite(spec.contractive_lambda)) {
    return absl::InvalidArgumentError("contractive_lambda must be >= 0");
  }
  if (spec.contractive_lambda > 0 &&
      (spec.encoder_sizes.empty() || spec.hidden_activation != Activation::kLogistic)) {
    return absl::InvalidArgumentError(
        "the contractive penalty needs a logistic first encoder layer");
  }
  if (!(spec.corruption_level >= 0) || spec.corruption_level > 1e3f ||
      !(spec.code_noise_stddev >= 0) || spec.code_noise_stddev > 1e3f) {
    return absl::InvalidArgumentError("corruption_level / code_noise_stddev out of range");
  }
  int64_t params = 0, prev = spec.input_size;
  std::vector<int64_t> sizes(spec.encoder_sizes);
  sizes.push_back(spec.code_size);
  if (spec.decoder_sizes.empty()) {
    sizes.insert(sizes.end(), spec.encoder_sizes.rbegin(), spec.encoder_sizes.rend());
  } else {
    sizes.insert(sizes.end(), spec.decoder_sizes.begin(), spec.decoder_sizes.end());
  }
  sizes.push_back(spec.input_size);
  for (int64_t s : sizes) {
    params += prev * s + s;
    prev = s;
    if (params > kMaxParameters) return absl::InvalidArgumentError("too many parameters");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<AutoencoderNet>> AutoencoderNet::Create(
    const DenseAutoencoderSpec& spec) {
  if (absl::Status s = ValidateSpec(spec); !s.ok()) return s;
  std::unique_ptr<AutoencoderNet> net(new AutoencoderNet(spec));
  if (net->spec_.decoder_sizes.empty()) {
    net->spec_.decoder_sizes.assign(spec.encoder_sizes.rbegin(), spec.encoder_sizes.rend());
  }
  if (absl::Status s = net->Build(); !s.ok()) return s;
  return net;
}

absl::Status AutoencoderNet::Build() {
  auto ctx = NewNnContext();
  if (!ctx.ok()) return ctx.status();
  ctx_ = *ctx;
  sizes_.clear();
  sizes_.push_back(spec_.input_size);
  sizes_.insert(sizes_.end(), spec_.encoder_sizes.begin(), spec_.encoder_sizes.end());
  sizes_.push_back(spec_.code_size);
  sizes_.insert(sizes_.end(), spec_.decoder_sizes.begin(), spec_.decoder_sizes.end());
  sizes_.push_back(spec_.input_size);
  const int num = static_cast<int>(sizes_.size()) - 1;
  const int code = code_layer();
  try {
    for (int l = 0; l < num; ++l) {
      Activation act = spec_.hidden_activation;
      if (l == code) act = spec_.code_activation;
      if (l == num - 1) act = Activation::kLinear;
      if (spec_.tied_weights && l > code) {
        layers_.push_back(std::make_unique<DenseLayer>(ctx_, layers_[num - 1 - l].get(), act));
      } else {
        layers_.push_back(std::make_unique<DenseLayer>(ctx_, sizes_[l], sizes_[l + 1], act));
      }
    }
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError("out of memory allocating the auto-encoder");
  }
  return absl::OkStatus();
}

int64_t AutoencoderNet::parameter_count() const {
  int64_t total = 0;
  for (const auto& l : layers_) {
    total += static_cast<int64_t>(l->weights().size() + l->bias().size());
  }
  return total;
}

void AutoencoderNet::InitWeights(uint64_t seed) {
  std::mt19937_64 rng(seed);
  for (auto& l : layers_) {
    std::fill(l->bias().begin(), l->bias().end(), 0.0f);
    if (l->tied()) continue;
    const double fan_in = static_cast<double>(l->in_size());
    const double fan_out = static_cast<double>(l->out_size());
    double stddev = std::sqrt(2.0 / (fan_in + fan_out));                         // Glorot normal
    if (l->activation() == Activation::kRelu) stddev = std::sqrt(2.0 / fan_in);  // He
    std::normal_distribution<double> dist(0.0, stddev);
    for (float& w : l->weights()) w = static_cast<float>(dist(rng));
  }
}

absl::Status AutoencoderNet::Encode(const float* x, int64_t n, float* codes) {
  const int code = code_layer();
  for (int64_t start = 0; start < n; start += kChunk) {
    const int64_t m = std::min(kChunk, n - start);
    const float* src = x + start * spec_.input_size;
    for (int l = 0; l <= code; ++l) {
      std::vector<float>& buf = (l % 2 == 0) ? scratch_a_ : scratch_b_;
      float* dst = codes + start * spec_.code_size;
      if (l != code) {
        buf.resize(static_cast<size_t>(m * sizes_[l + 1]));
        dst = buf.data();
      }
      if (absl::Status s = layers_[l]->Forward(src, m, dst, false); !s.ok()) return s;
      src = dst;
    }
  }
  return absl::OkStatus();
}

absl::Status AutoencoderNet::Decode(const float* codes, int64_t n, float* x) {
  const int code = code_layer();
  const int num = num_layers();
  for (int64_t start = 0; start < n; start += kChunk) {
    const int64_t m = std::min(kChunk, n - start);
    const float* src = codes + start * spec_.code_size;
    float* out = x + start * spec_.input_size;
    for (int l = code + 1; l < num; ++l) {
      std::vector<float>& buf = (l % 2 == 0) ? scratch_a_ : scratch_b_;
      float* dst = out;
      if (l != num - 1) {
        buf.resize(static_cast<size_t>(m * sizes_[l + 1]));
        dst = buf.data();
      }
      if (absl::Status s = layers_[l]->Forward(src, m, dst, false); !s.ok()) return s;
      src = dst;
    }
    ApplyOutputTransform(LossFor(spec_.output), out, m, spec_.input_size);
  }
  return absl::OkStatus();
}

void AutoencoderNet::RegisterParameters(Optimizer* optimizer) {
  weight_block_.assign(layers_.size(), -1);
  bias_block_.assign(layers_.size(), -1);
  for (size_t l = 0; l < layers_.size(); ++l) {
    DenseLayer& layer = *layers_[l];
    if (!layer.tied()) {
      weight_block_[l] = optimizer->AddBlock(layer.weights().data(),
                                             static_cast<int64_t>(layer.weights().size()), true);
    }
    bias_block_[l] =
        optimizer->AddBlock(layer.bias().data(), static_cast<int64_t>(layer.bias().size()), false);
  }
}

absl::Status AutoencoderNet::EnsureTrainBuffers(int64_t n) {
  const size_t num = layers_.size();
  if (acts_.size() != num + 1) {
    acts_.assign(num + 1, {});
    diffs_.assign(num + 1, {});
    grad_w_.assign(num, {});
    grad_b_.assign(num, {});
    for (size_t l = 0; l < num; ++l) {
      grad_w_[l].resize(static_cast<size_t>(layers_[l]->in_size() * layers_[l]->out_size()));
      grad_b_[l].resize(static_cast<size_t>(layers_[l]->out_size()));
    }
  }
  if (n > buffer_rows_) {
    for (size_t l = 1; l <= num; ++l) {
      acts_[l].resize(static_cast<size_t>(n * sizes_[l]));
      diffs_[l].resize(static_cast<size_t>(n * sizes_[l]));
    }
    buffer_rows_ = n;
  }
  if (dropout_ > 0) {
    masks_.resize(num + 1);
    dropped_.resize(num + 1);
    for (size_t l = 1; l <= num; ++l) {
      if (!Dropped(static_cast<int>(l) - 1)) continue;
      masks_[l].resize(static_cast<size_t>(buffer_rows_ * sizes_[l]));
      dropped_[l].resize(masks_[l].size());
    }
  }
  return absl::OkStatus();
}

absl::Status AutoencoderNet::TrainStep(const float* x_in, const float* target, int64_t n,
                                       const float* code_noise, Optimizer* optimizer, double* loss,
                                       uint64_t dropout_seed) {
  if (absl::Status s = ComputeGradients(x_in, target, n, code_noise, loss, dropout_seed); !s.ok()) {
    return s;
  }
  optimizer->BeginStep();
  for (int l = 0; l < num_layers(); ++l) {
    if (weight_block_[l] >= 0) optimizer->Update(weight_block_[l], grad_w_[l].data());
    optimizer->Update(bias_block_[l], grad_b_[l].data());
  }
  return absl::OkStatus();
}

absl::Status AutoencoderNet::ComputeGradients(const float* x_in, const float* target, int64_t n,
                                              const float* code_noise, double* loss,
                                              uint64_t dropout_seed) {
  if (absl::Status s = EnsureTrainBuffers(n); !s.ok()) return s;
  const int num = num_layers();
  const int code = code_layer();
  // Layer l's input: x_in, or layer l-1's output (masked when dropped).
  const auto input_of = [&](int l) -> const float* {
    if (l == 0) return x_in;
    return Dropped(l - 1) ? dropped_[l].data() : acts_[l].data();
  };
  // Forward: acts[l+1][n, sizes[l+1]] = layer l (input_of(l)); acts[0] is the input. A dropped
  // output gets dropped[l+1] = acts[l+1] * mask[l+1], each layer's mask from its own seed.
  for (int l = 0; l < num; ++l) {
    if (absl::Status s = layers_[l]->Forward(input_of(l), n, acts_[l + 1].data(), true,
                                             l == code ? code_noise : nullptr);
        !s.ok()) {
      return s;
    }
    if (Dropped(l)) {
      const int64_t count = n * sizes_[l + 1];
      DropoutForward(dropout_, dropout_seed, l, acts_[l + 1].data(), count, masks_[l + 1].data(),
                     dropped_[l + 1].data());
    }
  }
  const int64_t d = spec_.input_size;
  // Loss on the output logits: diffs[num][n, D] = dL/dlogits.
  double total =
      LossAndGradient(LossFor(spec_.output), acts_[num].data(), target, n, d, diffs_[num].data());
  // Backward.
  for (int l = num - 1; l >= 0; --l) {
    DenseLayer& layer = *layers_[l];
    float* diff = diffs_[l + 1].data();  // [n, out]: dL/d(layer output), then dL/d(pre-act)
    if (Dropped(l)) {                    // dL/d(dropped output) -> dL/d(output)
      ApplyDropoutMask(masks_[l + 1].data(), diff, n * sizes_[l + 1], diff);
    }
    if (absl::Status s = layer.ActivationBackward(n, acts_[l + 1].data(), diff, diff); !s.ok()) {
      return s;
    }
    const bool contract = l == 0 && spec_.contractive_lambda > 0;
    if (contract) {
      total += ContractivePenalty(acts_[1].data(), n, layer.out_size(), layer.weights().data(),
                                  layer.in_size(), spec_.contractive_lambda, diff, nullptr);
    }
    if (absl::Status s = layer.Backward(n, input_of(l), diff, l == 0 ? nullptr : diffs_[l].data(),
                                        grad_w_[l].data(), grad_b_[l].data());
        !s.ok()) {
      return s;
    }
    if (contract) {
      ContractivePenalty(acts_[1].data(), n, layer.out_size(), layer.weights().data(),
                         layer.in_size(), spec_.contractive_lambda, nullptr, grad_w_[l].data());
    }
  }
  // Tied decoder layers' weight gradients (already in the source's layout) add to the source's.
  if (spec_.tied_weights) {
    for (int l = code + 1; l < num; ++l) {
      std::vector<float>& dst = grad_w_[num - 1 - l];
      const std::vector<float>& src = grad_w_[l];
      for (size_t i = 0; i < dst.size(); ++i) dst[i] += src[i];
    }
  }
  *loss = total;
  return absl::OkStatus();
}

absl::Status AutoencoderNet::TrainStep(const TrainBatch& batch, Optimizer* optimizer,
                                       double* loss) {
  return TrainStep(batch.input, batch.target, batch.size, batch.code_noise, optimizer, loss,
                   batch.step_seed);
}

absl::StatusOr<double> AutoencoderNet::Evaluate(const FloatMatrix& x,
                                                const std::vector<int>* /*labels*/) {
  return EvaluateAgainst(x, x);
}

absl::StatusOr<double> AutoencoderNet::EvaluateAgainst(const FloatMatrix& x,
                                                       const FloatMatrix& targets) {
  if (targets.rows != x.rows || targets.cols != x.cols) {
    return absl::InvalidArgumentError("targets do not match the rows");
  }
  if (x.rows == 0) return 0.0;
  FloatMatrix codes(x.rows, spec_.code_size);
  FloatMatrix recon(x.rows, x.cols);
  if (absl::Status s = Encode(x.data.data(), x.rows, codes.data.data()); !s.ok()) return s;
  if (absl::Status s = Decode(codes.data.data(), x.rows, recon.data.data()); !s.ok()) return s;
  return SumSquaredError(recon.data.data(), targets.data.data(), x.rows * x.cols) /
         static_cast<double>(x.rows);
}

std::vector<float> AutoencoderNet::FlatParameters() const {
  std::vector<float> flat;
  flat.reserve(static_cast<size_t>(parameter_count()));
  for (const auto& l : layers_) {
    flat.insert(flat.end(), l->weights().begin(), l->weights().end());
    flat.insert(flat.end(), l->bias().begin(), l->bias().end());
  }
  return flat;
}

void AutoencoderNet::SetFlatParameters(const std::vector<float>& flat) {
  size_t pos = 0;
  for (auto& l : layers_) {
    std::copy_n(flat.begin() + pos, l->weights().size(), l->weights().begin());
    pos += l->weights().size();
    std::copy_n(flat.begin() + pos, l->bias().size(), l->bias().begin());
    pos += l->bias().size();
  }
}

void AutoencoderNet::SavePayload(std::string* out) const {
  SaveSpec(out);
  ByteWriter w(out);
  for (const auto& l : layers_) {
    if (!l->tied()) w.Floats(l->weights());
    w.Floats(l->bias());
  }
}

std::string AutoencoderNet::SpecBytes() const {
  std::string out;
  SaveSpec(&out);
  return out;
}

void AutoencoderNet::SaveSpec(std::string* out) const {
  ByteWriter w(out);
  w.U32(kPayloadVersion);
  w.I64(spec_.input_size);
  w.I64(spec_.code_size);
  w.U64(spec_.encoder_sizes.size());
  for (int64_t s : spec_.encoder_sizes) w.I64(s);
  w.U64(spec_.decoder_sizes.size());
  for (int64_t s : spec_.decoder_sizes) w.I64(s);
  w.U32(static_cast<uint32_t>(spec_.hidden_activation));
  w.U32(static_cast<uint32_t>(spec_.code_activation));
  w.U8(spec_.tied_weights ? 1 : 0);
  w.U32(static_cast<uint32_t>(spec_.output));
  w.U8(spec_.binary_codes ? 1 : 0);
  w.F32(spec_.code_noise_stddev);
}

absl::StatusOr<std::unique_ptr<AutoencoderNet>> AutoencoderNet::LoadPayload(ByteReader* r) {
  auto corrupt = [](const char* what) {
    return absl::InvalidArgumentError(std::string("dense auto-encoder payload: ") + what);
  };
  uint32_t version = 0;
  if (!r->U32(&version)) return corrupt("truncated");
  if (version != kPayloadVersion) return corrupt("unknown payload version");
  DenseAutoencoderSpec spec;
  uint64_t count = 0;
  if (!r->I64(&spec.input_size) || !r->I64(&spec.code_size)) return corrupt("truncated");
  for (std::vector<int64_t>* sizes : {&spec.encoder_sizes, &spec.decoder_sizes}) {
    if (!r->U64(&count) || count > kMaxLayers) return corrupt("bad layer count");
    sizes->assign(count, 0);
    for (int64_t& s : *sizes) {
      if (!r->I64(&s)) return corrupt("truncated");
    }
  }
  uint32_t hidden = 0, code = 0, output = 0;
  uint8_t tied = 0, binary = 0;
  if (!r->U32(&hidden) || !r->U32(&code) || !r->U8(&tied) || !r->U32(&output) || !r->U8(&binary) ||
      !r->F32(&spec.code_noise_stddev)) {
    return corrupt("truncated");
  }
  if (!ValidActivation(hidden) || !ValidActivation(code) || tied > 1 || binary > 1 || output > 2) {
    return corrupt("bad enum value");
  }
  spec.hidden_activation = static_cast<Activation>(hidden);
  spec.code_activation = static_cast<Activation>(code);
  spec.tied_weights = tied == 1;
  spec.output = static_cast<OutputKind>(output);
  spec.binary_codes = binary == 1;
  if (spec.tied_weights) {
    std::vector<int64_t> mirror(spec.encoder_sizes.rbegin(), spec.encoder_sizes.rend());
    if (spec.decoder_sizes != mirror) return corrupt("tied weights without a mirrored decoder");
  }
  if (spec.binary_codes && spec.code_activation != Activation::kLogistic) {
    return corrupt("binary codes without logistic code units");
  }
  if (absl::Status s = ValidateSpec(spec); !s.ok())
    return corrupt(std::string(s.message()).c_str());
  // Check the remaining bytes can hold every stored float before allocating anything: layer
  // i maps sizes[i] -> sizes[i + 1] with a bias, and weights unless tied (decoder layers then
  // reuse the encoder's transposes).
  std::vector<int64_t> sizes = {spec.input_size};
  sizes.insert(sizes.end(), spec.encoder_sizes.begin(), spec.encoder_sizes.end());
  sizes.push_back(spec.code_size);
  sizes.insert(sizes.end(), spec.decoder_sizes.begin(), spec.decoder_sizes.end());
  sizes.push_back(spec.input_size);
  const size_t encoder_layers = spec.encoder_sizes.size() + 1;
  uint64_t stored = 0;
  for (size_t i = 0; i + 1 < sizes.size(); ++i) {
    stored += static_cast<uint64_t>(sizes[i + 1]);
    if (!(spec.tied_weights && i >= encoder_layers)) {
      stored += static_cast<uint64_t>(sizes[i]) * static_cast<uint64_t>(sizes[i + 1]);
    }
  }
  if (stored > r->remaining() / sizeof(float)) return corrupt("truncated");
  auto net = Create(spec);
  if (!net.ok()) return net.status();
  const int64_t params = (*net)->parameter_count();
  if (static_cast<uint64_t>(params) > r->remaining() / sizeof(float)) return corrupt("truncated");
  for (auto& l : (*net)->layers_) {
    std::vector<float> tmp;
    if (!l->tied()) {
      if (!r->Floats(&tmp, l->weights().size()) || tmp.size() != l->weights().size()) {
        return corrupt("bad weight block");
      }
      l->weights() = std::move(tmp);
    }
    if (!r->Floats(&tmp, l->bias().size()) || tmp.size() != l->bias().size()) {
      return corrupt("bad bias block");
    }
    l->bias() = std::move(tmp);
    for (float v : l->weights()) {
      if (!std::isfinite(v)) return corrupt("non-finite weight");
    }
    for (float v : l->bias()) {
      if (!std::isfinite(v)) return corrupt("non-finite bias");
    }
  }
  return std::move(*net);
}

}  // namespace bn
