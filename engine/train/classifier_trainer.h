// Training the dense softmax classifier (engine/model/classifier.h) on labels, from random
// initialisation or after greedy RBM pre-training of its hidden layers (Hinton & Salakhutdinov
// 2006's classification experiment), through the mini-batch loop (engine/train/loop.h).
//
// Runs on the calling thread. Deterministic for the same data, spec, options and thread count.
#ifndef BOTTLENECK_ENGINE_TRAIN_CLASSIFIER_TRAINER_H_
#define BOTTLENECK_ENGINE_TRAIN_CLASSIFIER_TRAINER_H_

#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/model/classifier.h"
#include "engine/train/options.h"
#include "engine/util/cancellation.h"
#include "engine/util/matrix.h"
#include "engine/util/progress.h"

namespace bn {

// Trains on (x, labels), labels in [0, num_classes), with the loop's options (a held-out
// validation_fraction is scored by error rate). InvalidArgument for bad inputs, Cancelled when
// `cancel` (nullable) is set, Internal when training diverges; no exception escapes.
[[nodiscard]] absl::StatusOr<std::unique_ptr<DenseClassifier>> TrainDenseClassifier(
    const FloatMatrix& x, const std::vector<int>& labels, const ClassifierSpec& spec,
    const TrainOptions& options, const ProgressCallback& progress, const CancellationFlag* cancel);

}  // namespace bn

#endif  // BOTTLENECK_ENGINE_TRAIN_CLASSIFIER_TRAINER_H_
