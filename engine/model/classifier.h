// DenseClassifier: a trained dense softmax classifier (e.g. 784-500-500-2000-10), the model
// TrainDenseClassifier (engine/train/classifier_trainer.h) produces. Not a bn::Model: it gives
// labels, not codes.
//
// Thread safety: a DenseClassifier serialises its calls internally (safe from many threads).
#ifndef BOTTLENECK_ENGINE_MODEL_CLASSIFIER_H_
#define BOTTLENECK_ENGINE_MODEL_CLASSIFIER_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/nn/dense.h"
#include "engine/util/matrix.h"

namespace bn {

struct ClassifierSpec {
  int64_t input_size = 784;
  std::vector<int64_t> hidden_sizes = {500, 500, 2000};
  int num_classes = 10;
  Activation hidden_activation = Activation::kLogistic;
  bool pretraining = false;  // CD-1 RBM per hidden layer (logistic hidden units only)
};

// Checks sizes and that pre-training has logistic hidden units. InvalidArgument otherwise.
[[nodiscard]] absl::Status ValidateClassifierSpec(const ClassifierSpec& spec);

class DenseClassifier {
 public:
  virtual ~DenseClassifier() = default;
  virtual int num_classes() const = 0;
  virtual int64_t input_size() const = 0;
  // probs: n * num_classes() class probabilities. InvalidArgument for n < 0.
  [[nodiscard]] virtual absl::Status Predict(const float* x, int64_t n, float* probs) const = 0;
  // Fraction of rows whose most probable class differs from `labels`.
  [[nodiscard]] absl::StatusOr<double> ErrorRate(const FloatMatrix& x,
                                                 const std::vector<int>& labels) const;
};

class ClassifierNet;

// The classifier serving a trained net (not null).
std::unique_ptr<DenseClassifier> NewDenseClassifier(std::unique_ptr<ClassifierNet> net);

// Fraction of the n rows of probs [n, classes] whose most probable class is not labels[r].
double MisclassifiedFraction(const float* probs, const int* labels, int64_t n, int classes);

}  // namespace bn

#endif  // BOTTLENECK_ENGINE_MODEL_CLASSIFIER_H_
