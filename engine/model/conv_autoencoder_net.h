// ConvAutoencoderNet: the layer stack of a convolutional auto-encoder (conv_autoencoder.h), its
// training step (a Trainable) and payload format; wrapped by the Model of conv_autoencoder.h and
// trained by engine/train. Not part of the service's API. Not thread-safe.
//
// Activations are NCHW inside; Encode/Decode/Reconstruct take and return HWC rows.
#ifndef BOTTLENECK_ENGINE_MODEL_CONV_AUTOENCODER_NET_H_
#define BOTTLENECK_ENGINE_MODEL_CONV_AUTOENCODER_NET_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/model/conv_autoencoder.h"
#include "engine/model/trainable.h"
#include "engine/nn/context.h"
#include "engine/nn/conv.h"
#include "engine/nn/dense.h"
#include "engine/nn/optimizer.h"
#include "engine/nn/pool.h"
#include "engine/nn/unpool.h"
#include "engine/util/bytes.h"

namespace bn {

class ConvAutoencoderNet : public Trainable {
 public:
  // A net with zero weights; binary_codes forces logistic code units. InvalidArgument for a bad
  // spec.
  static absl::StatusOr<std::unique_ptr<ConvAutoencoderNet>> Create(
      const ConvAutoencoderSpec& spec);
  ~ConvAutoencoderNet();

  const ConvAutoencoderSpec& spec() const { return spec_; }
  int64_t input_size() const { return spec_.height * spec_.width * spec_.channels; }
  int64_t parameter_count() const override;

  // He (ReLU) or Glorot initialisation, biases 0.
  void InitWeights(uint64_t seed);

  static constexpr int64_t kChunk = 256;
  // Inference on HWC rows, in chunks of up to kChunk rows.
  [[nodiscard]] absl::Status Encode(const float* x, int64_t n, float* codes);
  [[nodiscard]] absl::Status Decode(const float* codes, int64_t n, float* x);     // no switches
  [[nodiscard]] absl::Status Reconstruct(const float* x, int64_t n, float* out);  // switches

  // Gradients of the mean loss on a batch (x_in, target: HWC rows; code_noise [n,K] nullable)
  // into the gradient buffers, then one optimiser step. Writes the mean loss.
  [[nodiscard]] absl::Status TrainStep(const float* x_in, const float* target, int64_t n,
                                       const float* code_noise, Optimizer* optimizer, double* loss);
  // The same without the update (for gradient checks); gradients in parameter order.
  [[nodiscard]] absl::Status ComputeGradients(const float* x_in, const float* target, int64_t n,
                                              const float* code_noise, double* loss);
  std::vector<float> FlatGradients() const;

  // Trainable. TrainStep passes batch.input, target and code_noise to the TrainStep above;
  // Evaluate is the summed squared error per row of Encode then Decode (no switches).
  void RegisterParameters(Optimizer* optimizer) override;
  [[nodiscard]] absl::Status TrainStep(const TrainBatch& batch, Optimizer* optimizer,
                                       double* loss) override;
  [[nodiscard]] absl::StatusOr<double> Evaluate(const FloatMatrix& x,
                                                const std::vector<int>* labels) override;
  // All parameters in payload order.
  std::vector<float> FlatParameters() const override;
  void SetFlatParameters(const std::vector<float>& flat) override;
  // The architecture part of the payload (no parameters), prefixed with a tag.
  std::string SpecBytes() const override;

  void SavePayload(std::string* out) const;
  static absl::StatusOr<std::unique_ptr<ConvAutoencoderNet>> LoadPayload(ByteReader* r);

 private:
  explicit ConvAutoencoderNet(const ConvAutoencoderSpec& spec) : spec_(spec) {}
  absl::Status Build();
  void WriteSpec(ByteWriter* w) const;
  // Every parameter buffer with its gradient buffer, in payload order.
  struct Param {
    std::vector<float>* value;
    std::vector<float>* grad;
    bool decay;
    int block = -1;
  };
  // Runs the encoder on NCHW x[n] (training: record switches), writing code pre-noise/post-act.
  absl::Status EncodeNchw(const float* x, int64_t n, bool training, const float* code_noise);
  // Runs the decoder from code_ into logits (dec_[0]); switches: use the pools' switches.
  absl::Status DecodeToLogits(int64_t n, bool training, bool switches);
  void EnsureBuffers(int64_t n);

  ConvAutoencoderSpec spec_;
  std::shared_ptr<NnContext> ctx_;
  int num_ = 0;  // conv layers
  std::vector<std::unique_ptr<Conv2DLayer>> conv_;
  std::vector<std::unique_ptr<MaxPoolLayer>> pool_;  // null when pool == 1
  std::vector<std::unique_ptr<UnpoolLayer>> unpool_;
  std::vector<std::unique_ptr<Deconv2DLayer>> deconv_;
  // Encoder dense layers: feature map -> dense_sizes... -> code (the last one); decoder dense
  // layers: code -> dense_sizes reversed... -> feature map (the last one).
  std::vector<std::unique_ptr<DenseLayer>> enc_fc_, dec_fc_;
  int64_t feature_size_ = 0;  // per example, the last encoder feature map
  // Activations [n, ...] NCHW: x_ input, conv_out_[l], pool_out_[l] (empty if no pool),
  // enc_fc_out_[i] (the last is the code), dec_fc_out_[i] (the last is the decoder's feature
  // map), unpool_out_[l] (empty if no pool), dec_[l] = deconv l's output.
  std::vector<float> x_, target_;
  std::vector<std::vector<float>> conv_out_, pool_out_, unpool_out_, dec_, enc_fc_out_, dec_fc_out_;
  // Their gradients.
  std::vector<std::vector<float>> d_conv_, d_pool_, d_unpool_, d_dec_, d_enc_fc_, d_dec_fc_;
  std::vector<float>& code_out() { return enc_fc_out_.back(); }
  std::vector<float>& fc_out() { return dec_fc_out_.back(); }
  int64_t rows_ = 0;
  std::vector<std::vector<float>> grads_;  // one per parameter, payload order
  std::vector<Param> params_;
};

}  // namespace bn

#endif  // BOTTLENECK_ENGINE_MODEL_CONV_AUTOENCODER_NET_H_
