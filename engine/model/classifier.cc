#include "engine/model/classifier.h"

#include <algorithm>
#include <mutex>
#include <string>
#include <utility>

#include "engine/model/classifier_net.h"
#include "engine/model/model_file.h"

namespace bn {
namespace {

constexpr int64_t kMaxLayerSize = int64_t{1} << 20;
constexpr size_t kMaxHiddenLayers = 32;
constexpr int64_t kMaxParameters = int64_t{1} << 31;

class ClassifierModel : public DenseClassifier {
 public:
  explicit ClassifierModel(std::unique_ptr<ClassifierNet> net) : net_(std::move(net)) {}

  int num_classes() const override { return net_->spec().num_classes; }
  int64_t input_size() const override { return net_->spec().input_size; }
  absl::Status Predict(const float* x, int64_t n, float* probs) const override {
    if (n < 0) return absl::InvalidArgumentError("negative row count");
    std::lock_guard<std::mutex> lock(mutex_);
    return net_->Predict(x, n, probs);
  }

 private:
  mutable std::mutex mutex_;  // Guards net_'s cached primitives and scratch buffers.
  std::unique_ptr<ClassifierNet> net_;
};

// The classifier as a stored, served Model: "codes" are class probabilities.
class StoredClassifier : public Model {
 public:
  explicit StoredClassifier(std::unique_ptr<ClassifierNet> net) : net_(std::move(net)) {}

  ModelKind kind() const override { return ModelKind::kClassifier; }
  int64_t input_size() const override { return net_->spec().input_size; }
  int64_t code_size() const override { return net_->spec().num_classes; }
  CodeType code_type() const override { return CodeType::kFloat; }
  int64_t parameter_count() const override { return net_->parameter_count(); }

  absl::Status Encode(const float* x, int64_t n, float* codes) const override {
    if (n < 0) return absl::InvalidArgumentError("negative row count");
    std::lock_guard<std::mutex> lock(mutex_);
    return net_->Predict(x, n, codes);
  }
  absl::Status Decode(const float*, int64_t, float*) const override {
    return absl::UnimplementedError("a classifier has no decoder");
  }
  absl::Status SavePayload(std::string* out) const override {
    std::lock_guard<std::mutex> lock(mutex_);
    net_->SavePayload(out);
    return absl::OkStatus();
  }

  static absl::StatusOr<std::unique_ptr<Model>> Load(absl::string_view payload) {
    ByteReader r(payload);
    auto net = ClassifierNet::LoadPayload(&r);
    if (!net.ok()) return net.status();
    if (!r.at_end()) return absl::InvalidArgumentError("classifier payload: extra bytes");
    return std::unique_ptr<Model>(new StoredClassifier(std::move(*net)));
  }

 private:
  mutable std::mutex mutex_;  // Guards net_'s cached primitives and scratch buffers.
  std::unique_ptr<ClassifierNet> net_;
};

BN_REGISTER_MODEL_LOADER(kClassifier, &StoredClassifier::Load);

}  // namespace

Activation HiddenActivation(const ClassifierSpec& spec, size_t l) {
  return spec.hidden_activations.empty() ? spec.hidden_activation : spec.hidden_activations[l];
}

absl::Status ValidateClassifierSpec(const ClassifierSpec& spec) {
  if (spec.input_size < 1 || spec.input_size > kMaxLayerSize) {
    return absl::InvalidArgumentError("classifier input_size out of range");
  }
  if (spec.num_classes < 2 || spec.num_classes > kMaxLayerSize) {
    return absl::InvalidArgumentError("a classifier needs 2..2^20 classes");
  }
  if (spec.hidden_sizes.size() > kMaxHiddenLayers) {
    return absl::InvalidArgumentError("too many hidden layers");
  }
  if (!spec.hidden_activations.empty() &&
      spec.hidden_activations.size() != spec.hidden_sizes.size()) {
    return absl::InvalidArgumentError("one activation per hidden layer expected");
  }
  int64_t params = 0, prev = spec.input_size;
  for (size_t l = 0; l < spec.hidden_sizes.size(); ++l) {
    const int64_t s = spec.hidden_sizes[l];
    if (s < 1 || s > kMaxLayerSize) return absl::InvalidArgumentError("bad hidden size");
    const Activation a = HiddenActivation(spec, l);
    if (static_cast<uint32_t>(a) > static_cast<uint32_t>(Activation::kTanh)) {
      return absl::InvalidArgumentError("unknown activation");
    }
    if (spec.pretraining && a != Activation::kLogistic) {
      return absl::InvalidArgumentError("RBM pre-training needs logistic hidden units");
    }
    params += (prev + 1) * s;
    prev = s;
    if (params > kMaxParameters) return absl::InvalidArgumentError("too many parameters");
  }
  if (params + (prev + 1) * spec.num_classes > kMaxParameters) {
    return absl::InvalidArgumentError("too many parameters");
  }
  return absl::OkStatus();
}

absl::StatusOr<double> DenseClassifier::ErrorRate(const FloatMatrix& x,
                                                  const std::vector<int>& labels) const {
  if (x.cols != input_size() || static_cast<int64_t>(labels.size()) != x.rows) {
    return absl::InvalidArgumentError("data does not match the classifier");
  }
  if (x.rows == 0) return 0.0;
  std::vector<float> probs(static_cast<size_t>(x.rows * num_classes()));
  if (absl::Status s = Predict(x.data.data(), x.rows, probs.data()); !s.ok()) return s;
  return MisclassifiedFraction(probs.data(), labels.data(), x.rows, num_classes());
}

std::unique_ptr<DenseClassifier> NewDenseClassifier(std::unique_ptr<ClassifierNet> net) {
  return std::make_unique<ClassifierModel>(std::move(net));
}

std::unique_ptr<Model> NewClassifierModel(std::unique_ptr<ClassifierNet> net) {
  return std::make_unique<StoredClassifier>(std::move(net));
}

double MisclassifiedFraction(const float* probs, const int* labels, int64_t n, int classes) {
  if (n <= 0) return 0.0;
  int64_t wrong = 0;
  for (int64_t r = 0; r < n; ++r) {
    const float* p = probs + r * classes;
    wrong += (std::max_element(p, p + classes) - p) != labels[r];
  }
  return static_cast<double>(wrong) / static_cast<double>(n);
}

}  // namespace bn
