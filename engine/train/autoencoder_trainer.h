// Training the auto-encoders of engine/model (dense and convolutional) through the mini-batch
// loop (engine/train/loop.h).
//
// Both run on the calling thread, report `progress` (may be empty) from it and return
// CancelledError once `cancel` (nullable) is set, checked every mini-batch. InvalidArgument for
// bad inputs; DataLoss / InvalidArgument for bad options.resume_from bytes; Internal when
// training diverges or the backend fails; ResourceExhausted when out of memory. No exception
// escapes. Deterministic for the same data, spec, options and thread count.
#ifndef BOTTLENECK_ENGINE_TRAIN_AUTOENCODER_TRAINER_H_
#define BOTTLENECK_ENGINE_TRAIN_AUTOENCODER_TRAINER_H_

#include "absl/status/statusor.h"
#include "engine/model/autoencoder.h"
#include "engine/model/conv_autoencoder.h"
#include "engine/train/options.h"
#include "engine/util/cancellation.h"
#include "engine/util/matrix.h"
#include "engine/util/progress.h"

namespace bn {

// Trains a dense auto-encoder on the rows of `train` (cols == spec.input_size), after greedy RBM
// pre-training if spec.pretraining (not when resuming). `validation` (nullable; same width)
// drives early stopping; validation_error is the summed squared error per row.
[[nodiscard]] absl::StatusOr<TrainResult> TrainDenseAutoencoder(
    const FloatMatrix& train, const FloatMatrix* validation, const DenseAutoencoderSpec& spec,
    const TrainOptions& options, const ProgressCallback& progress, const CancellationFlag* cancel);

// Trains a convolutional auto-encoder on the rows of `train` (cols == H*W*C, HWC order); the
// same contract. validation_error is measured through Encode then Decode (no switches).
[[nodiscard]] absl::StatusOr<TrainResult> TrainConvAutoencoder(
    const FloatMatrix& train, const FloatMatrix* validation, const ConvAutoencoderSpec& spec,
    const TrainOptions& options, const ProgressCallback& progress, const CancellationFlag* cancel);

}  // namespace bn

#endif  // BOTTLENECK_ENGINE_TRAIN_AUTOENCODER_TRAINER_H_
