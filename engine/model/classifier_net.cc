#include "engine/model/classifier_net.h"

#include <algorithm>
#include <cmath>
#include <new>
#include <random>

#include "engine/nn/context.h"
#include "engine/nn/dropout.h"
#include "engine/nn/loss.h"

namespace bn {
namespace {

constexpr uint32_t kPayloadVersion = 1;
constexpr uint64_t kMaxLayers = 32;  // Hidden layers, as ValidateClassifierSpec.

// Layer sizes input -> hidden... -> classes.
std::vector<int64_t> LayerSizes(const ClassifierSpec& spec) {
  std::vector<int64_t> sizes = {spec.input_size};
  sizes.insert(sizes.end(), spec.hidden_sizes.begin(), spec.hidden_sizes.end());
  sizes.push_back(spec.num_classes);
  return sizes;
}

bool AllFinite(const std::vector<float>& v) {
  return std::all_of(v.begin(), v.end(), [](float x) { return std::isfinite(x); });
}

}  // namespace

absl::StatusOr<std::unique_ptr<ClassifierNet>> ClassifierNet::Create(const ClassifierSpec& spec) {
  if (absl::Status s = ValidateClassifierSpec(spec); !s.ok()) return s;
  auto ctx = NewNnContext();
  if (!ctx.ok()) return ctx.status();
  std::unique_ptr<ClassifierNet> net(new ClassifierNet(spec));
  const std::vector<int64_t> sizes = LayerSizes(spec);
  try {
    for (size_t l = 0; l + 1 < sizes.size(); ++l) {
      const bool last = l + 2 == sizes.size();
      net->layers_.push_back(std::make_unique<DenseLayer>(
          *ctx, sizes[l], sizes[l + 1], last ? Activation::kLinear : HiddenActivation(spec, l)));
    }
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError("out of memory allocating the classifier");
  }
  return net;
}

void ClassifierNet::InitWeights(uint64_t seed) {
  std::mt19937_64 init(seed);
  for (auto& l : layers_) {
    const double sd = l->activation() == Activation::kRelu
                          ? std::sqrt(2.0 / l->in_size())
                          : std::sqrt(2.0 / (l->in_size() + l->out_size()));
    std::normal_distribution<double> g(0.0, sd);
    for (float& w : l->weights()) w = static_cast<float>(g(init));
  }
}

absl::Status ClassifierNet::SetLayers(const std::vector<DenseLayerWeights>& layers) {
  if (layers.size() >= layers_.size()) {
    return absl::InvalidArgumentError(
        "initial layers: " + std::to_string(layers.size()) + " given, but the classifier has " +
        std::to_string(layers_.size() - 1) + " hidden layers (the output layer is its own)");
  }
  for (size_t l = 0; l < layers.size(); ++l) {
    const DenseLayerWeights& w = layers[l];
    const DenseLayer& target = *layers_[l];
    const std::string at = "initial layer " + std::to_string(l) + ": ";
    if (w.in_size != target.in_size() || w.out_size != target.out_size()) {
      return absl::InvalidArgumentError(
          at + std::to_string(w.in_size) + "->" + std::to_string(w.out_size) + " does not fit " +
          std::to_string(target.in_size()) + "->" + std::to_string(target.out_size()));
    }
    if (w.activation != target.activation()) {
      return absl::InvalidArgumentError(at + "activation differs from the classifier's");
    }
    if (w.weights.size() != target.weights().size() || w.bias.size() != target.bias().size()) {
      return absl::InvalidArgumentError(at + "weight or bias count does not match its sizes");
    }
    if (!AllFinite(w.weights) || !AllFinite(w.bias)) {
      return absl::InvalidArgumentError(at + "non-finite value");
    }
  }
  for (size_t l = 0; l < layers.size(); ++l) {
    layers_[l]->weights() = layers[l].weights;
    layers_[l]->bias() = layers[l].bias;
  }
  return absl::OkStatus();
}

void ClassifierNet::set_frozen_layers(int n) {
  frozen_ = std::clamp(n, 0, static_cast<int>(layers_.size()) - 1);
}

absl::Status ClassifierNet::Predict(const float* x, int64_t n, float* probs) {
  constexpr int64_t kChunk = 256;
  const int64_t c = spec_.num_classes;
  for (int64_t s = 0; s < n; s += kChunk) {
    const int64_t m = std::min(kChunk, n - s);
    const float* src = x + s * spec_.input_size;
    for (size_t l = 0; l < layers_.size(); ++l) {
      float* dst = probs + s * c;
      if (l + 1 < layers_.size()) {  // Hidden layers alternate between two scratch buffers.
        scratch_[l % 2].resize(static_cast<size_t>(m * layers_[l]->out_size()));
        dst = scratch_[l % 2].data();
      }
      if (absl::Status st = layers_[l]->Forward(src, m, dst, false); !st.ok()) return st;
      src = dst;
    }
    ApplyOutputTransform(LossKind::kSoftmaxCrossEntropy, probs + s * c, m, c);
  }
  return absl::OkStatus();
}

int64_t ClassifierNet::parameter_count() const {
  int64_t count = 0;
  for (const auto& l : layers_)
    count += static_cast<int64_t>(l->weights().size() + l->bias().size());
  return count;
}

void ClassifierNet::RegisterParameters(Optimizer* optimizer) {
  weight_block_.assign(layers_.size(), -1);
  bias_block_.assign(layers_.size(), -1);
  for (size_t l = static_cast<size_t>(frozen_); l < layers_.size(); ++l) {
    DenseLayer& layer = *layers_[l];
    weight_block_[l] = optimizer->AddBlock(layer.weights().data(),
                                           static_cast<int64_t>(layer.weights().size()), true);
    bias_block_[l] =
        optimizer->AddBlock(layer.bias().data(), static_cast<int64_t>(layer.bias().size()), false);
  }
}

void ClassifierNet::EnsureTrainBuffers(int64_t n) {
  const size_t num = layers_.size();
  if (acts_.size() != num + 1) {
    acts_.assign(num + 1, {});
    diffs_.assign(num + 1, {});
    grad_w_.assign(num, {});
    grad_b_.assign(num, {});
    for (size_t l = static_cast<size_t>(frozen_); l < num; ++l) {
      grad_w_[l].resize(layers_[l]->weights().size());
      grad_b_[l].resize(layers_[l]->bias().size());
    }
  }
  if (n > buffer_rows_) {
    for (size_t l = 0; l < num; ++l) {
      acts_[l + 1].resize(static_cast<size_t>(n * layers_[l]->out_size()));
      if (l >= static_cast<size_t>(frozen_)) diffs_[l + 1].resize(acts_[l + 1].size());
    }
    target_.resize(static_cast<size_t>(n * spec_.num_classes));
    buffer_rows_ = n;
  }
  if (dropout_ > 0) {
    masks_.resize(num);
    dropped_.resize(num);
    for (size_t l = 1; l < num; ++l) {  // the hidden outputs acts_[1 .. num - 1]
      masks_[l].resize(static_cast<size_t>(buffer_rows_ * layers_[l - 1]->out_size()));
      dropped_[l].resize(masks_[l].size());
    }
  }
}

absl::Status ClassifierNet::TrainStep(const TrainBatch& batch, Optimizer* optimizer, double* loss) {
  if (batch.labels == nullptr) return absl::InvalidArgumentError("classifier batch without labels");
  const int64_t m = batch.size, c = spec_.num_classes;
  const size_t num = layers_.size();
  const size_t first = static_cast<size_t>(frozen_);  // The first layer that trains.
  EnsureTrainBuffers(m);
  // One-hot targets; the input rows are batch.input (no copy).
  std::fill(target_.begin(), target_.end(), 0.0f);
  for (int64_t r = 0; r < m; ++r) target_[r * c + batch.labels[r]] = 1.0f;
  // Layer l's input: the batch, or layer l-1's output (masked with dropout).
  const bool drop = dropout_ > 0;
  const auto input_of = [&](size_t l) -> const float* {
    if (l == 0) return batch.input;
    return drop ? dropped_[l].data() : acts_[l].data();
  };
  for (size_t l = 0; l < num; ++l) {
    if (absl::Status s = layers_[l]->Forward(input_of(l), m, acts_[l + 1].data(), l >= first);
        !s.ok()) {
      return s;
    }
    if (drop && l + 1 < num) {  // a hidden output: dropped[l+1] = acts[l+1] * mask[l+1]
      const int64_t count = m * layers_[l]->out_size();
      DropoutForward(dropout_, batch.step_seed, static_cast<int64_t>(l), acts_[l + 1].data(), count,
                     masks_[l + 1].data(), dropped_[l + 1].data());
    }
  }
  *loss = LossAndGradient(LossKind::kSoftmaxCrossEntropy, acts_[num].data(), target_.data(), m, c,
                          diffs_[num].data());
  // Backward down to the first trained layer: frozen layers need no gradient.
  for (size_t l = num; l-- > first;) {
    float* diff = diffs_[l + 1].data();
    if (drop && l + 1 < num) {  // dL/d(dropped output) -> dL/d(output)
      ApplyDropoutMask(masks_[l + 1].data(), diff, m * layers_[l]->out_size(), diff);
    }
    if (absl::Status s = layers_[l]->ActivationBackward(m, acts_[l + 1].data(), diff, diff);
        !s.ok()) {
      return s;
    }
    if (absl::Status s =
            layers_[l]->Backward(m, input_of(l), diff, l == first ? nullptr : diffs_[l].data(),
                                 grad_w_[l].data(), grad_b_[l].data());
        !s.ok()) {
      return s;
    }
  }
  optimizer->BeginStep();
  for (size_t l = first; l < num; ++l) {
    optimizer->Update(weight_block_[l], grad_w_[l].data());
    optimizer->Update(bias_block_[l], grad_b_[l].data());
  }
  return absl::OkStatus();
}

absl::StatusOr<double> ClassifierNet::Evaluate(const FloatMatrix& x,
                                               const std::vector<int>* labels) {
  if (labels == nullptr || static_cast<int64_t>(labels->size()) != x.rows) {
    return absl::InvalidArgumentError("classifier validation needs one label per row");
  }
  if (x.rows == 0) return 0.0;
  std::vector<float> probs(static_cast<size_t>(x.rows * spec_.num_classes));
  if (absl::Status s = Predict(x.data.data(), x.rows, probs.data()); !s.ok()) return s;
  return MisclassifiedFraction(probs.data(), labels->data(), x.rows, spec_.num_classes);
}

std::vector<float> ClassifierNet::FlatParameters() const {
  std::vector<float> flat;
  flat.reserve(static_cast<size_t>(parameter_count()));
  for (const auto& l : layers_) {
    flat.insert(flat.end(), l->weights().begin(), l->weights().end());
    flat.insert(flat.end(), l->bias().begin(), l->bias().end());
  }
  return flat;
}

void ClassifierNet::SetFlatParameters(const std::vector<float>& flat) {
  size_t pos = 0;
  for (auto& l : layers_) {
    std::copy_n(flat.begin() + pos, l->weights().size(), l->weights().begin());
    pos += l->weights().size();
    std::copy_n(flat.begin() + pos, l->bias().size(), l->bias().begin());
    pos += l->bias().size();
  }
}

std::string ClassifierNet::SpecBytes() const {
  std::string out = "dense-classifier:";
  ByteWriter w(&out);
  w.I64(spec_.input_size);
  w.U64(spec_.hidden_sizes.size());
  for (size_t l = 0; l < spec_.hidden_sizes.size(); ++l) {
    w.I64(spec_.hidden_sizes[l]);
    w.U32(static_cast<uint32_t>(HiddenActivation(spec_, l)));
  }
  w.I64(spec_.num_classes);
  w.U32(static_cast<uint32_t>(frozen_));
  return out;
}

void ClassifierNet::SavePayload(std::string* out) const {
  ByteWriter w(out);
  w.U32(kPayloadVersion);
  w.I64(spec_.input_size);
  w.U64(spec_.hidden_sizes.size());
  for (size_t l = 0; l < spec_.hidden_sizes.size(); ++l) {
    w.I64(spec_.hidden_sizes[l]);
    w.U32(static_cast<uint32_t>(HiddenActivation(spec_, l)));
  }
  w.I64(spec_.num_classes);
  for (const auto& l : layers_) {
    w.Floats(l->weights());
    w.Floats(l->bias());
  }
}

absl::StatusOr<std::unique_ptr<ClassifierNet>> ClassifierNet::LoadPayload(ByteReader* r) {
  auto corrupt = [](const std::string& what) {
    return absl::InvalidArgumentError("classifier payload: " + what);
  };
  uint32_t version = 0;
  if (!r->U32(&version)) return corrupt("truncated");
  if (version != kPayloadVersion) return corrupt("unknown payload version");
  ClassifierSpec spec;
  uint64_t hidden = 0;
  if (!r->I64(&spec.input_size) || !r->U64(&hidden)) return corrupt("truncated");
  if (hidden > kMaxLayers) return corrupt("bad layer count");
  spec.hidden_sizes.assign(hidden, 0);
  spec.hidden_activations.assign(hidden, Activation::kLinear);
  for (uint64_t l = 0; l < hidden; ++l) {
    uint32_t activation = 0;
    if (!r->I64(&spec.hidden_sizes[l]) || !r->U32(&activation)) return corrupt("truncated");
    if (activation > static_cast<uint32_t>(Activation::kTanh)) return corrupt("bad activation");
    spec.hidden_activations[l] = static_cast<Activation>(activation);
  }
  int64_t classes = 0;
  if (!r->I64(&classes)) return corrupt("truncated");
  if (classes < 2 || classes > (int64_t{1} << 20)) return corrupt("bad class count");
  spec.num_classes = static_cast<int>(classes);
  if (absl::Status s = ValidateClassifierSpec(spec); !s.ok()) {
    return corrupt(std::string(s.message()));
  }
  // Every weight and bias must be in the remaining bytes before anything is allocated.
  const std::vector<int64_t> sizes = LayerSizes(spec);
  uint64_t stored = 0;
  for (size_t l = 0; l + 1 < sizes.size(); ++l) {
    stored += static_cast<uint64_t>(sizes[l] + 1) * static_cast<uint64_t>(sizes[l + 1]);
  }
  if (stored > r->remaining() / sizeof(float)) return corrupt("truncated");
  auto net = Create(spec);
  if (!net.ok()) return net.status();
  for (auto& l : (*net)->layers_) {
    std::vector<float> tmp;
    if (!r->Floats(&tmp, l->weights().size()) || tmp.size() != l->weights().size() ||
        !AllFinite(tmp)) {
      return corrupt("bad weight block");
    }
    l->weights() = std::move(tmp);
    if (!r->Floats(&tmp, l->bias().size()) || tmp.size() != l->bias().size() || !AllFinite(tmp)) {
      return corrupt("bad bias block");
    }
    l->bias() = std::move(tmp);
  }
  return std::move(*net);
}

}  // namespace bn
