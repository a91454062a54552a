// The dense softmax classifier (e.g. 784-500-500-2000-10): its spec, the DenseClassifier that
// TrainDenseClassifier (engine/train/classifier_trainer.h) returns, and the Model it is stored and
// served as (ModelKind::kClassifier, e.g. fine-tuned from an auto-encoder's encoder).
//
// Thread safety: a DenseClassifier and a classifier Model serialise their calls internally (safe
// from many threads); a classifier Model is immutable after construction or Load.
#ifndef BOTTLENECK_ENGINE_MODEL_CLASSIFIER_H_
#define BOTTLENECK_ENGINE_MODEL_CLASSIFIER_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/model/model.h"
#include "engine/nn/dense.h"
#include "engine/util/matrix.h"

namespace bn {

struct ClassifierSpec {
  int64_t input_size = 784;
  std::vector<int64_t> hidden_sizes = {500, 500, 2000};
  int num_classes = 10;
  Activation hidden_activation = Activation::kLogistic;
  // One activation per hidden layer (e.g. an auto-encoder's ReLU hidden layers and its linear
  // code layer); empty: hidden_activation for every hidden layer.
  std::vector<Activation> hidden_activations;
  bool pretraining = false;  // CD-1 RBM per hidden layer (logistic hidden units only)
};

// The activation of hidden layer `l` (< hidden_sizes.size()) under `spec`.
Activation HiddenActivation(const ClassifierSpec& spec, size_t l);

// Checks sizes (at most 32 hidden layers of 1..2^20 units, 2..2^20 classes), the activations
// (one per hidden layer when given, known values) and that pre-training has logistic hidden
// units. InvalidArgument otherwise.
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

// The same net as a storable Model (ModelKind::kClassifier): Encode writes each row's class
// probabilities (code_size() = num_classes, CodeType::kFloat); Decode is Unimplemented (a
// classifier has no decoder). SavePayload / the registered loader keep the architecture (sizes,
// per-layer activations) and every weight, so a loaded model gives bit-identical probabilities.
std::unique_ptr<Model> NewClassifierModel(std::unique_ptr<ClassifierNet> net);

// Fraction of the n rows of probs [n, classes] whose most probable class is not labels[r].
double MisclassifiedFraction(const float* probs, const int* labels, int64_t n, int classes);

}  // namespace bn

#endif  // BOTTLENECK_ENGINE_MODEL_CLASSIFIER_H_
