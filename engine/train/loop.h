// RunTrainingLoop: the one mini-batch training loop behind every trainer (dense and
// convolutional auto-encoders, classifier). It drives a Trainable (engine/model/trainable.h).
//
// The loop owns the seeded validation split, the per-epoch shuffle, batch preparation (corruption,
// code noise), the divergence check, max_seconds, progress with ETA, checkpoints (save and
// resume), early stopping with best-epoch restore, and cancellation. The same data, options,
// settings and thread count give bit-identical parameters. Runs on the calling thread.
#ifndef BOTTLENECK_ENGINE_TRAIN_LOOP_H_
#define BOTTLENECK_ENGINE_TRAIN_LOOP_H_

#include <functional>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/model/trainable.h"
#include "engine/train/batching.h"
#include "engine/train/options.h"
#include "engine/util/cancellation.h"
#include "engine/util/matrix.h"
#include "engine/util/progress.h"

namespace bn {

// Rows to train or validate on, with what travels with each row. Not owned.
struct Examples {
  const FloatMatrix* x = nullptr;
  const std::vector<int>* labels = nullptr;     // one class per row (classifiers), or null
  const std::vector<float>* lengths = nullptr;  // one document length per row, or null
};

// What differs between trainers.
struct LoopSettings {
  BatchNoise noise;
  int phase_count = 1;  // progress: fine-tuning is phase phase_count of phase_count
  // Called once with the training rows (after the validation split) before fine-tuning, unless
  // resuming from a checkpoint: e.g. RBM pre-training. May be empty.
  std::function<absl::Status(const Examples& train)> pretrain;
  // Reconstruction targets when they are not the rows themselves (x's shape), e.g. neighbour
  // targets. Called after the validation split, also when resuming: with (training rows, null)
  // for the training targets, and with (validation rows, training rows) for the validation
  // targets, which the validation error then compares with (Trainable::EvaluateAgainst). May be
  // empty.
  std::function<absl::StatusOr<FloatMatrix>(const FloatMatrix& rows, const FloatMatrix* corpus)>
      targets;
};

// Trains `model` on `train` for options.epochs epochs, validating each epoch on `validation`
// (nullable; else options.validation_fraction of `train` is held out). Returns the statistics
// (TrainResult::model stays null). InvalidArgument for bad options or shapes; DataLoss or
// InvalidArgument for bad resume bytes; Cancelled when `cancel` is set (checked every batch);
// Internal when the loss stops being finite; the model's own errors.
[[nodiscard]] absl::StatusOr<TrainResult> RunTrainingLoop(
    const Examples& train, const Examples* validation, const TrainOptions& options,
    const LoopSettings& settings, const ProgressCallback& progress, const CancellationFlag* cancel,
    Trainable* model);

}  // namespace bn

#endif  // BOTTLENECK_ENGINE_TRAIN_LOOP_H_
