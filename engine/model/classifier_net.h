// ClassifierNet: the layer stack of a dense softmax classifier (classifier.h), its training step
// (a Trainable) and its payload format; wrapped by NewDenseClassifier / NewClassifierModel and
// trained by engine/train.
//
// Layers map input_size -> hidden_sizes... -> num_classes; hidden layer l has the spec's
// HiddenActivation(l); the last is linear (the softmax cross-entropy loss applies the softmax).
// The first layers may be given (SetLayers, e.g. an auto-encoder's encoder) and frozen
// (set_frozen_layers: the optimiser never sees them and no gradient flows below the first
// trained layer). Not thread-safe.
#ifndef BOTTLENECK_ENGINE_MODEL_CLASSIFIER_NET_H_
#define BOTTLENECK_ENGINE_MODEL_CLASSIFIER_NET_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/model/classifier.h"
#include "engine/model/trainable.h"
#include "engine/nn/dense.h"
#include "engine/util/bytes.h"

namespace bn {

class ClassifierNet : public Trainable {
 public:
  // A net with zero weights. InvalidArgument for a bad spec; Internal if oneDNN fails.
  static absl::StatusOr<std::unique_ptr<ClassifierNet>> Create(const ClassifierSpec& spec);

  const ClassifierSpec& spec() const { return spec_; }
  int num_layers() const { return static_cast<int>(layers_.size()); }
  DenseLayer& layer(int l) { return *layers_[static_cast<size_t>(l)]; }
  const DenseLayer& layer(int l) const { return *layers_[static_cast<size_t>(l)]; }

  // Weights N(0, 2 / (in + out)) (He for ReLU) from `seed`, biases 0.
  void InitWeights(uint64_t seed);
  // Copies layers[l] into layer l for l < layers.size() (the others keep their weights).
  // InvalidArgument, changing nothing, unless there are fewer layers than the net has, each
  // matches its layer's sizes and activation, and every value is finite.
  [[nodiscard]] absl::Status SetLayers(const std::vector<DenseLayerWeights>& layers);
  // Layers [0, n) keep their weights during training. Call before RegisterParameters; n is
  // clamped to [0, num_layers() - 1] (the output layer always trains).
  void set_frozen_layers(int n);
  int frozen_layers() const { return frozen_; }
  // Dropout in training steps (engine/nn/dropout.h) on every hidden layer's output, with masks
  // seeded by TrainBatch::step_seed; inference is unchanged. rate in [0, kMaxDropoutRate] (the
  // trainer validates it); 0 (the default) = off.
  void set_dropout(float rate) { dropout_ = rate; }

  // probs [n, num_classes]: class probabilities, in chunks of 256 rows.
  [[nodiscard]] absl::Status Predict(const float* x, int64_t n, float* probs);

  // Trainable. TrainStep needs batch.labels; Evaluate is the misclassified fraction of `x`.
  int64_t parameter_count() const override;
  void RegisterParameters(Optimizer* optimizer) override;
  [[nodiscard]] absl::Status TrainStep(const TrainBatch& batch, Optimizer* optimizer,
                                       double* loss) override;
  [[nodiscard]] absl::StatusOr<double> Evaluate(const FloatMatrix& x,
                                                const std::vector<int>* labels) override;
  std::vector<float> FlatParameters() const override;
  void SetFlatParameters(const std::vector<float>& flat) override;
  // The architecture and the number of frozen layers (a checkpoint resumes only the same).
  std::string SpecBytes() const override;

  // The architecture (sizes, per-layer activations), then every weight and bias in layer order.
  void SavePayload(std::string* out) const;
  // Reads SavePayload's bytes, checking every size against the remaining bytes before
  // allocating and every value for finiteness. InvalidArgument for anything malformed.
  static absl::StatusOr<std::unique_ptr<ClassifierNet>> LoadPayload(ByteReader* r);

 private:
  explicit ClassifierNet(const ClassifierSpec& spec) : spec_(spec) {}
  void EnsureTrainBuffers(int64_t n);

  ClassifierSpec spec_;
  std::vector<std::unique_ptr<DenseLayer>> layers_;
  int frozen_ = 0;
  std::vector<float> scratch_[2];  // Predict
  // Training: acts_[l + 1] / diffs_[l + 1] = layer l's output and its gradient.
  int64_t buffer_rows_ = 0;
  std::vector<std::vector<float>> acts_, diffs_, grad_w_, grad_b_;
  std::vector<float> target_;
  // With dropout: masks_[l] and dropped_[l] = acts_[l] * masks_[l] for every hidden output.
  float dropout_ = 0;
  std::vector<std::vector<float>> masks_, dropped_;
  std::vector<int> weight_block_, bias_block_;  // -1 for frozen layers
};

}  // namespace bn

#endif  // BOTTLENECK_ENGINE_MODEL_CLASSIFIER_NET_H_
