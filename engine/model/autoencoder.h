// The dense deep auto-encoder (Hinton & Salakhutdinov 2006 and modern variants): its spec and the
// Model it serves (ModelKind::kDenseAutoencoder). TrainDenseAutoencoder
// (engine/train/autoencoder_trainer.h) trains one; the architecture is described in
// autoencoder_net.cc.
//
// A Model made here is immutable and thread-safe (Model's contract). Errors are Statuses.
#ifndef BOTTLENECK_ENGINE_MODEL_AUTOENCODER_H_
#define BOTTLENECK_ENGINE_MODEL_AUTOENCODER_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/model/model.h"
#include "engine/nn/dense.h"
#include "engine/util/matrix.h"

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
  // Greedy RBM pre-training before fine-tuning (engine/train/rbm_pretraining.h): logistic hidden
  // units and a mirrored decoder.
  bool pretraining = false;
  // Real-valued inputs as the paper models faces: each input is standardised with the training
  // rows' mean and standard deviation (floored at kMinInputScale), the output is linear with
  // squared error, and a pre-training's first RBM has Gaussian (linear, unit-variance) visible
  // units. Needs output kLinearSquaredError. The Model standardises and restores by itself.
  bool gaussian_visible = false;
};

inline constexpr float kMinInputScale = 0.05f;

// Per-input affine preprocessing of a dense auto-encoder: the net sees (x - mean) / scale and its
// output is restored as y * scale + mean. Both empty: none.
struct InputStandardization {
  std::vector<float> mean, scale;
  bool empty() const { return mean.empty(); }
  // The mean and the floored standard deviation of every column of x (x.rows >= 1).
  static InputStandardization Of(const FloatMatrix& x);
  // A standardised copy of x.
  FloatMatrix Apply(const FloatMatrix& x) const;
};

// Checks a spec (sizes positive and bounded, compatible options). InvalidArgument otherwise.
[[nodiscard]] absl::Status ValidateSpec(const DenseAutoencoderSpec& spec);

class AutoencoderNet;

// The Model serving a trained net (not null), with the net's input standardisation if any.
std::unique_ptr<Model> NewDenseAutoencoderModel(std::unique_ptr<AutoencoderNet> net,
                                                InputStandardization standardization = {});

// The same dense auto-encoder with Encode in bfloat16 (engine/nn/bf16_mlp.h: bf16 weights and
// activations, f32 accumulation, f32 codes), about 2x faster at batch 1 here; Decode, the
// payload and everything else are unchanged (f32). `model` must have been made by this file
// (trained or loaded). InvalidArgument for another kind of model; FailedPrecondition when the
// CPU lacks AVX-512 BF16 (Bf16Mlp::Supported()). On error `model` is lost: check first.
[[nodiscard]] absl::StatusOr<std::unique_ptr<Model>> WithBf16Encode(std::unique_ptr<Model> model);

// Copies of the encoder's layers of a dense auto-encoder made by this file (trained or loaded):
// layer 0 (input -> first hidden layer) up to the code layer, each with its activation (the
// hidden activation, then the code activation). InvalidArgument for another kind of model.
[[nodiscard]] absl::StatusOr<std::vector<DenseLayerWeights>> DenseEncoderLayers(const Model& model);

// Reconstruction of `x` by `model` (Encode then Decode) and the summed squared error per row.
[[nodiscard]] absl::StatusOr<double> ReconstructionErrorPerItem(const Model& model,
                                                                const FloatMatrix& x);

}  // namespace bn

#endif  // BOTTLENECK_ENGINE_MODEL_AUTOENCODER_H_
