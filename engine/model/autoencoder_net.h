// AutoencoderNet: the layer stack of a dense auto-encoder, its training step (a Trainable) and
// its payload format; wrapped by the Model of autoencoder.h, trained and RBM-unrolled by
// engine/train. Not part of the service's API.
//
// Layer l maps sizes[l] -> sizes[l+1] with sizes = [D, encoder..., K, decoder..., D]; the code
// layer is layer code_layer() = encoder_sizes.size(); the last layer is linear (the loss applies
// the output transform). Not thread-safe.
#ifndef BOTTLENECK_ENGINE_MODEL_AUTOENCODER_NET_H_
#define BOTTLENECK_ENGINE_MODEL_AUTOENCODER_NET_H_

#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "engine/model/autoencoder.h"
#include "engine/model/trainable.h"
#include "engine/nn/context.h"
#include "engine/nn/dense.h"
#include "engine/nn/loss.h"
#include "engine/nn/optimizer.h"
#include "engine/util/bytes.h"

namespace bn {

LossKind LossFor(OutputKind output);

class AutoencoderNet : public Trainable {
 public:
  // A net with zero weights. InvalidArgument for a bad spec.
  static absl::StatusOr<std::unique_ptr<AutoencoderNet>> Create(const DenseAutoencoderSpec& spec);

  const DenseAutoencoderSpec& spec() const { return spec_; }
  int num_layers() const { return static_cast<int>(layers_.size()); }
  int code_layer() const { return static_cast<int>(spec_.encoder_sizes.size()); }
  DenseLayer& layer(int l) { return *layers_[static_cast<size_t>(l)]; }
  const DenseLayer& layer(int l) const { return *layers_[static_cast<size_t>(l)]; }
  int64_t parameter_count() const override;

  // Random initialisation (Glorot for logistic/tanh/linear, He for ReLU), biases 0.
  void InitWeights(uint64_t seed);

  // Inference in chunks of up to kChunk rows.
  static constexpr int64_t kChunk = 256;
  [[nodiscard]] absl::Status Encode(const float* x, int64_t n, float* codes);
  [[nodiscard]] absl::Status Decode(const float* codes, int64_t n, float* x);

  // Dropout in training steps (engine/nn/dropout.h): every hidden layer's output except the
  // code's is masked, with masks seeded by the step's `dropout_seed`. Inference is unchanged.
  // rate in [0, kMaxDropoutRate] (the trainer validates it); 0 (the default) = off.
  void set_dropout(float rate) { dropout_ = rate; }

  // One optimiser step on a batch: input x_in[n,D] (possibly corrupted), target[n,D], optional
  // code_noise[n,K] added to the code pre-activation. Writes the mean loss (with penalty).
  [[nodiscard]] absl::Status TrainStep(const float* x_in, const float* target, int64_t n,
                                       const float* code_noise, Optimizer* optimizer, double* loss,
                                       uint64_t dropout_seed = 0);
  // The loss and its gradients (grad_weights(l) / grad_bias(l)) without updating anything.
  // For a tied decoder layer the weight gradient is folded into its source layer's.
  [[nodiscard]] absl::Status ComputeGradients(const float* x_in, const float* target, int64_t n,
                                              const float* code_noise, double* loss,
                                              uint64_t dropout_seed = 0);
  const std::vector<float>& grad_weights(int l) const { return grad_w_[static_cast<size_t>(l)]; }
  const std::vector<float>& grad_bias(int l) const { return grad_b_[static_cast<size_t>(l)]; }

  // Trainable. TrainStep passes batch.input, target and code_noise to the TrainStep above;
  // Evaluate is the summed squared reconstruction error per row (Encode then Decode).
  void RegisterParameters(Optimizer* optimizer) override;
  [[nodiscard]] absl::Status TrainStep(const TrainBatch& batch, Optimizer* optimizer,
                                       double* loss) override;
  [[nodiscard]] absl::StatusOr<double> Evaluate(const FloatMatrix& x,
                                                const std::vector<int>* labels) override;
  // The summed squared error per row of x's reconstruction against `targets`.
  [[nodiscard]] absl::StatusOr<double> EvaluateAgainst(const FloatMatrix& x,
                                                       const FloatMatrix& targets) override;
  // All weights and biases, in layer order.
  std::vector<float> FlatParameters() const override;
  void SetFlatParameters(const std::vector<float>& flat) override;
  std::string SpecBytes() const override;  // SaveSpec's bytes

  void SavePayload(std::string* out) const;  // SaveSpec + every weight and bias
  void SaveSpec(std::string* out) const;     // the architecture part of the payload
  static absl::StatusOr<std::unique_ptr<AutoencoderNet>> LoadPayload(ByteReader* r);

 private:
  explicit AutoencoderNet(const DenseAutoencoderSpec& spec) : spec_(spec) {}
  absl::Status Build();
  absl::Status EnsureTrainBuffers(int64_t n);
  // Whether layer l's output (acts_[l + 1]) is dropped in training: hidden layers but the code.
  bool Dropped(int l) const { return dropout_ > 0 && l != code_layer() && l + 1 < num_layers(); }

  DenseAutoencoderSpec spec_;
  std::vector<int64_t> sizes_;
  std::shared_ptr<NnContext> ctx_;
  std::vector<std::unique_ptr<DenseLayer>> layers_;
  // Training buffers: acts_[l] = output of layer l-1 ([n, sizes[l]]), diffs_ alike.
  int64_t buffer_rows_ = 0;
  std::vector<std::vector<float>> acts_, diffs_, grad_w_, grad_b_;
  // With dropout: masks_[l] and dropped_[l] = acts_[l] * masks_[l] for the dropped outputs.
  float dropout_ = 0;
  std::vector<std::vector<float>> masks_, dropped_;
  std::vector<int> weight_block_, bias_block_;
  std::vector<float> scratch_a_, scratch_b_;
};

}  // namespace bn

#endif  // BOTTLENECK_ENGINE_MODEL_AUTOENCODER_NET_H_
