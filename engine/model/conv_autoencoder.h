// The convolutional auto-encoder: its spec and the Model it serves (ModelKind::kConvAutoencoder).
// TrainConvAutoencoder (engine/train/autoencoder_trainer.h) trains one; conv_autoencoder_net.cc
// describes the architecture. With kSwitches unpooling, Decode (a code alone, no switches) differs
// from the training-time reconstruction, which ReconstructWithSwitches gives.
//
// A Model made here is immutable and thread-safe (Model's contract). Errors are Statuses; no
// oneDNN exception escapes.
#ifndef BOTTLENECK_ENGINE_MODEL_CONV_AUTOENCODER_H_
#define BOTTLENECK_ENGINE_MODEL_CONV_AUTOENCODER_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/model/autoencoder.h"
#include "engine/model/model.h"
#include "engine/nn/dense.h"
#include "engine/nn/unpool.h"

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

class ConvAutoencoderNet;

// The Model serving a trained net (not null).
std::unique_ptr<Model> NewConvAutoencoderModel(std::unique_ptr<ConvAutoencoderNet> net);

// out[n, input_size] = the reconstruction of x in one pass, switch unpooling using the
// switches of this very input (what training optimises). InvalidArgument if `model` is not a
// convolutional auto-encoder. Thread-safe like Model::Encode.
[[nodiscard]] absl::Status ReconstructWithSwitches(const Model& model, const float* x, int64_t n,
                                                   float* out);

}  // namespace bn

#endif  // BOTTLENECK_ENGINE_MODEL_CONV_AUTOENCODER_H_
