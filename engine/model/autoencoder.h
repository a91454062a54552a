// The dense deep auto-encoder (Hinton & Salakhutdinov 2006 and modern variants): training and
// the Model it produces.
//
//   input[n,D] -> encoder hidden layers -> code layer [n,K] -> decoder layers -> output [n,D]
//
// The decoder mirrors the encoder unless decoder_sizes is given; tied weights reuse the
// encoder's weights transposed (mirror only). The output layer's pre-activation goes to the
// loss: logistic + cross-entropy (pixels in [0,1]), softmax + cross-entropy (word
// distributions), or linear + squared error. Variants: denoising (corrupt the input, score
// against the clean one), contractive (penalty on the first encoder layer, logistic units
// only), binary codes (logistic code units with fixed per-example Gaussian noise added to their
// inputs during training; codes thresholded at 0.5 by engine/model/codes.h), and greedy RBM
// pre-training (engine/model/rbm.h) before fine-tuning.
//
// Training is deterministic: the same data, spec, options (seed) and thread count give the same
// weights bit for bit.
#ifndef BOTTLENECK_ENGINE_MODEL_AUTOENCODER_H_
#define BOTTLENECK_ENGINE_MODEL_AUTOENCODER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "engine/model/model.h"
#include "engine/nn/dense.h"
#include "engine/nn/optimizer.h"
#include "engine/util/cancellation.h"
#include "engine/util/matrix.h"
#include "engine/util/progress.h"

namespace bn {

enum class OutputKind : uint32_t {
  kLogisticCrossEntropy = 0,  // pixels in [0, 1]
  kSoftmaxCrossEntropy = 1,   // rows are distributions (word counts / document length)
  kLinearSquaredError = 2,
};

enum class Corruption : uint32_t { kNone = 0, kMasking = 1, kGaussian = 2, kSaltAndPepper = 3 };

struct DenseAutoencoderSpec {
  int64_t input_size = 784;
  std::vector<int64_t> encoder_sizes = {1000, 500, 250};  // hidden layers before the code
  int64_t code_size = 30;
  std::vector<int64_t> decoder_sizes;  // hidden layers after the code; empty = mirror
  Activation hidden_activation = Activation::kLogistic;
  Activation code_activation = Activation::kLinear;  // binary_codes forces kLogistic
  bool tied_weights = false;                         // requires a mirrored decoder
  OutputKind output = OutputKind::kLogisticCrossEntropy;
  bool binary_codes = false;
  float code_noise_stddev = 4.0f;  // binary codes: std-dev of the fixed per-example noise
  // Denoising: the fraction (masking, salt-and-pepper) or std-dev (Gaussian) of corruption.
  Corruption corruption = Corruption::kNone;
  float corruption_level = 0.0f;
  float contractive_lambda = 0.0f;  // > 0: contractive penalty on the first encoder layer
  // Greedy CD-k RBM pre-training (TrainOptions::pretrain_*), then unroll (logistic hidden units,
  // mirrored decoder). With kSoftmaxCrossEntropy the first RBM is a replicated softmax whose rows
  // have the document lengths TrainOptions::document_lengths (or
  // TrainOptions::pretrain_document_length).
  bool pretraining = false;
};

struct TrainOptions {
  OptimizerKind optimizer = OptimizerKind::kAdam;
  float learning_rate = 1e-3f;
  float momentum = 0.9f;  // SGD
  float weight_decay = 0.0f;
  int batch_size = 128;
  int epochs = 10;
  uint64_t seed = 1;
  // When no validation matrix is given, this fraction of `train` (seeded choice) is held out.
  double validation_fraction = 0.0;
  int early_stopping_patience = 0;  // epochs without improvement; 0 = off
  // OpenMP threads for oneDNN (set on the calling thread); 0 = leave as is. On a small machine
  // shared with other work, 1 is much faster than 2 (see bench/RESULTS-engine.md).
  int threads = 0;
  // RBM pre-training (spec.pretraining): the paper's defaults.
  int pretrain_epochs = 10;
  int pretrain_batch_size = 100;
  float pretrain_learning_rate = 0.1f;
  float pretrain_linear_learning_rate = 0.001f;
  // The first RBM when it is a replicated softmax (softmax output): its statistics grow with the
  // document length N, so it wants a smaller rate than the binary RBMs (bench/RESULTS-inputs.md).
  float pretrain_softmax_learning_rate = 0.03f;
  int pretrain_cd_steps = 1;  // CD-k (>= 1; InvalidArgument otherwise)
  // Replicated-softmax first RBM (softmax output): each training row's document length N (its
  // number of counted words; the row itself is counts / N). Nullable; when set, one finite
  // positive value per row of `train` (InvalidArgument otherwise); must outlive the call. When
  // null every row has pretrain_document_length. The unrolled encoder's first layer is scaled
  // by the mean N, so encoding needs no length.
  const std::vector<float>* document_lengths = nullptr;
  float pretrain_document_length = 100.0f;
  // Fine-tuning without binary codes: fresh Gaussian noise of this std-dev (drawn per batch from
  // the seeded training random state) added to the code units' inputs, a regulariser; 0 = off.
  float code_noise_stddev = 0.0f;
  // Stop after this many seconds of fine-tuning (checked per batch); <= 0: no limit.
  double max_seconds = 0.0;
  // Checkpoints: after every fine-tuning epoch, `on_checkpoint` (may be empty) receives the
  // whole training state (weights, optimiser moments, epoch, random state, early-stopping state)
  // as self-checked bytes. Must not throw.
  std::function<void(const std::string&)> on_checkpoint;
  // Asked at each epoch end, before the state is serialised for on_checkpoint (empty: always
  // yes), so that a caller keeping checkpoints only every so often skips that work.
  std::function<bool()> want_checkpoint;
  // Resume from such bytes (nullptr: start fresh; pre-training is skipped when resuming). With
  // the same data, spec, options and thread count, a resumed run ends bit-identical to an
  // uninterrupted one.
  // DataLoss for corrupt bytes; InvalidArgument if they belong to another spec or optimiser.
  const std::string* resume_from = nullptr;
};

struct TrainResult {
  std::unique_ptr<Model> model;
  double validation_error = -1;  // summed squared error per item on the validation set
  double train_loss = 0;         // mean loss of the last epoch
  int epochs_run = 0;
};

// Checks a spec (sizes positive and bounded, compatible options). InvalidArgument otherwise.
[[nodiscard]] absl::Status ValidateSpec(const DenseAutoencoderSpec& spec);

// Trains an auto-encoder on the rows of `train` (train.cols == spec.input_size). `validation`
// (nullable; same width) measures the error each epoch and drives early stopping (with
// early_stopping_patience > 0 the best epoch's weights are returned). `progress` (may be empty) is
// called from this thread. `cancel` (nullable) is checked every mini-batch: CancelledError when
// set. InvalidArgument for bad inputs; Internal for backend failures.
[[nodiscard]] absl::StatusOr<TrainResult> TrainDenseAutoencoder(
    const FloatMatrix& train, const FloatMatrix* validation, const DenseAutoencoderSpec& spec,
    const TrainOptions& options, const ProgressCallback& progress, const CancellationFlag* cancel);

// The same dense auto-encoder with Encode in bfloat16 (engine/nn/bf16_mlp.h: bf16 weights and
// activations, f32 accumulation, f32 codes), about 2x faster at batch 1 here; Decode, the
// payload and everything else are unchanged (f32). `model` must have been made by this file
// (trained or loaded). InvalidArgument for another kind of model; FailedPrecondition when the
// CPU lacks AVX-512 BF16 (Bf16Mlp::Supported()). On error `model` is lost: check first.
[[nodiscard]] absl::StatusOr<std::unique_ptr<Model>> WithBf16Encode(std::unique_ptr<Model> model);

// Reconstruction of `x` by `model` (Encode then Decode) and the summed squared error per row.
[[nodiscard]] absl::StatusOr<double> ReconstructionErrorPerItem(const Model& model,
                                                                const FloatMatrix& x);

}  // namespace bn

#endif  // BOTTLENECK_ENGINE_MODEL_AUTOENCODER_H_
