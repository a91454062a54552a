// Training the dense softmax classifier (engine/model/classifier.h) on labels through the
// mini-batch loop (engine/train/loop.h): from random initialisation, after greedy RBM
// pre-training of its hidden layers (Hinton & Salakhutdinov 2006's classification experiment),
// or with its first layers given (an auto-encoder's encoder, the lecture's use of one), frozen or
// fine-tuned.
//
// Runs on the calling thread. Deterministic for the same data, spec, initial layers, options and
// thread count. InvalidArgument for bad inputs, Cancelled when `cancel` (nullable) is set
// (checked every mini-batch), Internal when training diverges or the backend fails,
// ResourceExhausted when out of memory; no exception escapes.
#ifndef BOTTLENECK_ENGINE_TRAIN_CLASSIFIER_TRAINER_H_
#define BOTTLENECK_ENGINE_TRAIN_CLASSIFIER_TRAINER_H_

#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/model/classifier.h"
#include "engine/nn/dense.h"
#include "engine/train/options.h"
#include "engine/util/cancellation.h"
#include "engine/util/matrix.h"
#include "engine/util/progress.h"

namespace bn {

// The first layers of a classifier as given weights (e.g. DenseEncoderLayers of an
// auto-encoder): layers[l] initialises layer l and must match its sizes and activation (the
// spec's HiddenActivation(l)); fewer layers than the spec's hidden layers. Not with RBM
// pre-training.
struct ClassifierInit {
  std::vector<DenseLayerWeights> layers;
  bool freeze = false;  // Those layers keep their weights; only the layers after them train.
};

// Trains on (x, labels), labels in [0, num_classes), with the loop's options (a held-out
// validation_fraction is scored by error rate).
[[nodiscard]] absl::StatusOr<std::unique_ptr<DenseClassifier>> TrainDenseClassifier(
    const FloatMatrix& x, const std::vector<int>& labels, const ClassifierSpec& spec,
    const TrainOptions& options, const ProgressCallback& progress, const CancellationFlag* cancel);

// Trains a storable classifier Model (ModelKind::kClassifier, NewClassifierModel) on
// (x, labels) from `init`'s layers (the others randomly initialised from options.seed).
// `validation_x` and `validation_labels` (both null, or both given with one label per row)
// drive early stopping and best-epoch restore; without them options.validation_fraction of the
// rows is held out. TrainResult::validation_error is the misclassified fraction of the
// validation rows (-1 without any). options.resume_from resumes a checkpoint of the same spec,
// init and freeze.
[[nodiscard]] absl::StatusOr<TrainResult> TrainClassifier(
    const FloatMatrix& x, const std::vector<int>& labels, const FloatMatrix* validation_x,
    const std::vector<int>* validation_labels, const ClassifierSpec& spec,
    const ClassifierInit& init, const TrainOptions& options, const ProgressCallback& progress,
    const CancellationFlag* cancel);

}  // namespace bn

#endif  // BOTTLENECK_ENGINE_TRAIN_CLASSIFIER_TRAINER_H_
