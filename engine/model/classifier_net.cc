#include "engine/model/classifier_net.h"

#include <algorithm>
#include <cmath>
#include <random>

#include "engine/nn/context.h"
#include "engine/nn/loss.h"
#include "engine/util/bytes.h"

namespace bn {

absl::StatusOr<std::unique_ptr<ClassifierNet>> ClassifierNet::Create(const ClassifierSpec& spec) {
  if (absl::Status s = ValidateClassifierSpec(spec); !s.ok()) return s;
  auto ctx = NewNnContext();
  if (!ctx.ok()) return ctx.status();
  std::unique_ptr<ClassifierNet> net(new ClassifierNet(spec));
  std::vector<int64_t> sizes = {spec.input_size};
  sizes.insert(sizes.end(), spec.hidden_sizes.begin(), spec.hidden_sizes.end());
  sizes.push_back(spec.num_classes);
  for (size_t l = 0; l + 1 < sizes.size(); ++l) {
    const bool last = l + 2 == sizes.size();
    net->layers_.push_back(std::make_unique<DenseLayer>(
        *ctx, sizes[l], sizes[l + 1], last ? Activation::kLinear : spec.hidden_activation));
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
  weight_block_.clear();
  bias_block_.clear();
  for (auto& l : layers_) {
    weight_block_.push_back(
        optimizer->AddBlock(l->weights().data(), static_cast<int64_t>(l->weights().size()), true));
    bias_block_.push_back(
        optimizer->AddBlock(l->bias().data(), static_cast<int64_t>(l->bias().size()), false));
  }
}

void ClassifierNet::EnsureTrainBuffers(int64_t n) {
  const size_t num = layers_.size();
  if (acts_.size() != num + 1) {
    acts_.assign(num + 1, {});
    diffs_.assign(num + 1, {});
    grad_w_.assign(num, {});
    grad_b_.assign(num, {});
    for (size_t l = 0; l < num; ++l) {
      grad_w_[l].resize(layers_[l]->weights().size());
      grad_b_[l].resize(layers_[l]->bias().size());
    }
  }
  if (n > buffer_rows_) {
    for (size_t l = 0; l < num; ++l) {
      acts_[l + 1].resize(static_cast<size_t>(n * layers_[l]->out_size()));
      diffs_[l + 1].resize(acts_[l + 1].size());
    }
    target_.resize(static_cast<size_t>(n * spec_.num_classes));
    buffer_rows_ = n;
  }
}

absl::Status ClassifierNet::TrainStep(const TrainBatch& batch, Optimizer* optimizer, double* loss) {
  if (batch.labels == nullptr) return absl::InvalidArgumentError("classifier batch without labels");
  const int64_t m = batch.size, c = spec_.num_classes;
  const size_t num = layers_.size();
  EnsureTrainBuffers(m);
  // One-hot targets; the input rows are batch.input (no copy).
  std::fill(target_.begin(), target_.end(), 0.0f);
  for (int64_t r = 0; r < m; ++r) target_[r * c + batch.labels[r]] = 1.0f;
  for (size_t l = 0; l < num; ++l) {
    const float* src = l == 0 ? batch.input : acts_[l].data();
    if (absl::Status s = layers_[l]->Forward(src, m, acts_[l + 1].data(), true); !s.ok()) return s;
  }
  *loss = LossAndGradient(LossKind::kSoftmaxCrossEntropy, acts_[num].data(), target_.data(), m, c,
                          diffs_[num].data());
  for (size_t l = num; l-- > 0;) {
    float* diff = diffs_[l + 1].data();
    if (absl::Status s = layers_[l]->ActivationBackward(m, acts_[l + 1].data(), diff, diff);
        !s.ok()) {
      return s;
    }
    const float* src = l == 0 ? batch.input : acts_[l].data();
    if (absl::Status s = layers_[l]->Backward(m, src, diff, l == 0 ? nullptr : diffs_[l].data(),
                                              grad_w_[l].data(), grad_b_[l].data());
        !s.ok()) {
      return s;
    }
  }
  optimizer->BeginStep();
  for (size_t l = 0; l < num; ++l) {
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
  for (int64_t s : spec_.hidden_sizes) w.I64(s);
  w.I64(spec_.num_classes);
  w.U32(static_cast<uint32_t>(spec_.hidden_activation));
  return out;
}

}  // namespace bn
