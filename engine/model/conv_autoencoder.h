// The convolutional auto-encoder: training and the Model it produces (ModelKind::kConvAutoencoder).
//
//   input [n, H*W*C] (HWC pixels in [0,1]; NCHW inside)
//   encoder, per layer l: conv(filters_l, kernel_l x kernel_l, stride_l, "same" padding) + act
//                         -> max pool(pool_l x pool_l) unless pool_l == 1
//   dense hidden layers (dense_sizes, + act; none by default) -> dense code layer (code_size,
//   code activation; logistic + fixed per-example noise with binary_codes) -> dense layers
//   back through dense_sizes in reverse to the last feature map (+ act)
//   decoder, per encoder layer in reverse: unpool (kSwitches or kRepeat, if pool_l > 1)
//                         -> deconv(back to layer l's input channels and size) + act
//   the last deconvolution is linear; logistic output + logistic cross-entropy loss (as the
//   dense auto-encoder's kLogisticCrossEntropy).
//
// Switch unpooling and decoding from a code: during training (and ReconstructWithSwitches)
// each unpooling layer uses the switches of its paired max-pooling layer from the same forward
// pass. Model::Decode starts from a code alone and has no switches: it then places each value at
// the top-left position of its window ("fixed switches", Dosovitskiy et al. 2015), zeros
// elsewhere. So for kSwitches models, Encode -> Decode differs from the training-time
// reconstruction; kRepeat models have no such gap.
//
// Reuses TrainOptions / TrainResult (engine/model/autoencoder.h), Optimizer, progress,
// cancellation and checkpoints (engine/train/checkpoint.h: on_checkpoint after every epoch,
// resume_from). Not supported: RBM pre-training, contractive penalty. Training is deterministic
// for the same data, spec, options and thread count; a resumed run ends bit-identical to an
// uninterrupted one.
#ifndef BOTTLENECK_ENGINE_MODEL_CONV_AUTOENCODER_H_
#define BOTTLENECK_ENGINE_MODEL_CONV_AUTOENCODER_H_

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/model/autoencoder.h"
#include "engine/model/model.h"
#include "engine/nn/dense.h"
#include "engine/nn/unpool.h"
#include "engine/util/cancellation.h"
#include "engine/util/matrix.h"
#include "engine/util/progress.h"

namespace bn {

struct ConvLayerSpec {
  int64_t filters = 8;
  int64_t kernel = 3;  // odd
  int64_t stride = 1;
  int64_t pool = 2;  // 1 = no pooling
};

struct ConvAutoencoderSpec {
  int64_t height = 28, width = 28, channels = 1;
  std::vector<ConvLayerSpec> layers = {{8, 3, 1, 2}, {16, 3, 1, 2}};
  // Fully connected hidden layers between the last feature map and the code (encoder order); the
  // decoder mirrors them. Empty: the code layer reads the feature map directly.
  std::vector<int64_t> dense_sizes;
  int64_t code_size = 16;
  Activation hidden_activation = Activation::kRelu;
  Activation code_activation = Activation::kLinear;  // binary_codes forces kLogistic
  UnpoolMode unpool = UnpoolMode::kSwitches;
  bool binary_codes = false;
  float code_noise_stddev = 4.0f;
  // Denoising: the input is corrupted (same kinds and levels as the dense auto-encoder), the loss
  // is against the clean input.
  Corruption corruption = Corruption::kNone;
  float corruption_level = 0.0f;
};

// Checks sizes, enums and that every layer's geometry works. InvalidArgument otherwise.
[[nodiscard]] absl::Status ValidateConvSpec(const ConvAutoencoderSpec& spec);

// Trains on the rows of `train` (cols == H*W*C, HWC order). Same contract as
// TrainDenseAutoencoder (validation / validation_fraction, early stopping, max_seconds,
// progress from this thread, CancelledError when `cancel` is set, checked every mini-batch,
// checkpoints: DataLoss for corrupt resume_from bytes, InvalidArgument for another spec or
// optimiser). validation_error is measured through the returned Model (Encode then Decode).
[[nodiscard]] absl::StatusOr<TrainResult> TrainConvAutoencoder(
    const FloatMatrix& train, const FloatMatrix* validation, const ConvAutoencoderSpec& spec,
    const TrainOptions& options, const ProgressCallback& progress, const CancellationFlag* cancel);

// out[n, input_size] = the reconstruction of x in one pass, switch unpooling using the
// switches of this very input (what training optimises). InvalidArgument if `model` is not a
// convolutional auto-encoder. Thread-safe like Model::Encode.
[[nodiscard]] absl::Status ReconstructWithSwitches(const Model& model, const float* x, int64_t n,
                                                   float* out);

}  // namespace bn

#endif  // BOTTLENECK_ENGINE_MODEL_CONV_AUTOENCODER_H_
