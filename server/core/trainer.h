// Runs one training job's computation: a PCA baseline of the same code size, the requested
// model, and the evaluation report on the validation split. Knows nothing of jobs or storage.
#ifndef BOTTLENECK_SERVER_CORE_TRAINER_H_
#define BOTTLENECK_SERVER_CORE_TRAINER_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "bottleneck/v1/collection.pb.h"
#include "bottleneck/v1/model.pb.h"
#include "engine/model/model.h"
#include "engine/train/progress.h"
#include "engine/util/matrix.h"

namespace bn {

struct LabelledMatrix {
  FloatMatrix x;
  std::vector<int> labels;  // Per row; -1 for unlabelled. Empty when no row has a label.
  std::vector<std::string> label_names;  // The label of each label number (all rows' labels).
  // Document collections: per row, the document's length N (its counted in-vocabulary words;
  // with normalised counts the row is counts / N). Empty for images.
  std::vector<float> lengths;
};

// The validation data of a job: random examples of the training labels (`validation`) and, with
// a BY_LABEL split, every example of the held-out labels (`heldout`, else empty).
struct ValidationData {
  LabelledMatrix validation;
  LabelledMatrix heldout;
  std::vector<std::string> heldout_labels;
};

struct TrainedModel {
  std::unique_ptr<Model> model;
  bottleneck::v1::EvaluationReport report;
};

// Splits rows (with their labels and lengths) into training and validation sets with a seeded
// shuffle (validation_fraction of the rows, at least 1 and at most n-1). InvalidArgument with
// fewer than 2 rows.
[[nodiscard]] absl::Status SplitForValidation(const LabelledMatrix& all, double fraction,
                                              uint64_t seed, LabelledMatrix* train,
                                              LabelledMatrix* validation);

// Splits per `options.validation()`: RANDOM as SplitForValidation; BY_LABEL first holds out
// validation_fraction of the distinct labels (seeded; at least one, never all) with every one of
// their rows, then splits the rest at random. FailedPrecondition for BY_LABEL when a row has no
// label or there are fewer than two labels.
[[nodiscard]] absl::Status SplitForTraining(const LabelledMatrix& all,
                                            const bottleneck::v1::TrainingOptions& options,
                                            LabelledMatrix* train, ValidationData* validation);

struct TrainingHooks {
  int threads = 0;  // oneDNN/OpenMP threads; 0 = leave as configured.
  ProgressCallback progress;
  // Called with checkpoint bytes (weights, optimiser state, epoch) at epoch ends; store them.
  std::function<void(const std::string&)> on_checkpoint;
  // Asked before each checkpoint is made (empty: always): false skips it.
  std::function<bool()> want_checkpoint;
  // Resume from these checkpoint bytes (a job interrupted by a restart); null = from scratch.
  const std::string* resume_from = nullptr;
};

// Trains `spec` (normalized) on `train` and evaluates it and a PCA baseline on the validation
// data; early stopping watches the held-out labels when there are any. A dense auto-encoder with
// a softmax output (documents, normalised counts) gets train.lengths as its document lengths
// (the replicated-softmax RBM's N). Cancelled when `cancel`
// is set; Unimplemented for architectures this build cannot train.
[[nodiscard]] absl::StatusOr<TrainedModel> TrainAndEvaluate(
    const bottleneck::v1::CollectionSpec& collection, const bottleneck::v1::ModelSpec& spec,
    const LabelledMatrix& train, const ValidationData& validation, const TrainingHooks& hooks,
    const CancellationFlag& cancel);

// Trains the classifier of `spec` (normalized and resolved: spec.classifier().encoder_layers is
// the number of layers to reuse) on train's labels (train.label_names are the classes), its first
// layers initialised from `encoder` (the dense auto-encoder of encoder_model_version; null when
// that is 0), early stopping on validation.validation, and reports the classification error
// there (trainer_classifier.cc). The model is a ModelKind::kClassifier whose output i is
// train.label_names[i]. FailedPrecondition when a row is unlabelled or there are fewer than two
// labels, or `encoder` is not a dense auto-encoder with that many layers; Cancelled when
// `cancel` is set; the engine's errors otherwise.
[[nodiscard]] absl::StatusOr<TrainedModel> TrainClassifierAndEvaluate(
    const bottleneck::v1::CollectionSpec& collection, const bottleneck::v1::ModelSpec& spec,
    const Model* encoder, const LabelledMatrix& train, const ValidationData& validation,
    const TrainingHooks& hooks, const CancellationFlag& cancel);

}  // namespace bn

#endif  // BOTTLENECK_SERVER_CORE_TRAINER_H_
