#include "engine/model/classifier.h"

#include <algorithm>
#include <mutex>
#include <utility>

#include "engine/model/classifier_net.h"

namespace bn {
namespace {

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

}  // namespace

absl::Status ValidateClassifierSpec(const ClassifierSpec& spec) {
  if (spec.input_size < 1 || spec.num_classes < 2 || spec.hidden_sizes.size() > 32) {
    return absl::InvalidArgumentError("classifier spec invalid");
  }
  for (int64_t s : spec.hidden_sizes) {
    if (s < 1 || s > (1 << 20)) return absl::InvalidArgumentError("bad hidden size");
  }
  if (spec.pretraining && spec.hidden_activation != Activation::kLogistic) {
    return absl::InvalidArgumentError("RBM pre-training needs logistic hidden units");
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
