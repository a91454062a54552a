// Rbm: a restricted Boltzmann machine trained with contrastive divergence (CD-k), the unit of
// greedy layer-wise pre-training (engine/train/rbm_pretraining.h). Visible units are binary or
// replicated softmax (rows are word distributions, each with its document length N); hidden units
// are binary or linear with Gaussian noise (the code layer). rbm.cc describes the updates.
//
// Not thread-safe. Errors are Statuses (InvalidArgument for mismatched inputs).
#ifndef BOTTLENECK_ENGINE_MODEL_RBM_H_
#define BOTTLENECK_ENGINE_MODEL_RBM_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/nn/context.h"
#include "engine/nn/dense.h"
#include "engine/util/cancellation.h"
#include "engine/util/matrix.h"

namespace bn {

// kGaussian: linear visible units with unit variance on standardised data (reconstructions are
// the means, as in the paper's code).
enum class RbmVisible : uint32_t { kBinary = 0, kReplicatedSoftmax = 1, kGaussian = 2 };
enum class RbmHidden : uint32_t { kBinary = 0, kLinear = 1 };

struct RbmOptions {
  int epochs = 10;
  int batch_size = 100;
  float learning_rate = 0.1f;  // the paper: 0.001 for a linear hidden layer
  float initial_momentum = 0.5f;
  float final_momentum = 0.9f;
  int momentum_switch_epoch = 5;  // epochs with the initial momentum
  float weight_decay = 0.0002f;
  int cd_steps = 1;
  uint64_t seed = 1;
  float document_length = 100.0f;  // N for replicated-softmax rows when no lengths are given
};

class Rbm {
 public:
  // InvalidArgument for non-positive sizes; Internal if oneDNN fails.
  static absl::StatusOr<std::unique_ptr<Rbm>> Create(int64_t visible, int64_t hidden,
                                                     RbmVisible vtype, RbmHidden htype);
  ~Rbm();

  int64_t visible_size() const { return visible_; }
  int64_t hidden_size() const { return hidden_; }
  // W [hidden][visible], hidden bias [hidden], visible bias [visible].
  std::vector<float>& weights();
  std::vector<float>& hidden_bias();
  std::vector<float>& visible_bias();

  // Weights 0.1 * N(0, 1), biases 0.
  void Initialize(uint64_t seed);

  // Trains on the rows of `data` for options.epochs epochs; `lengths` (nullable: all
  // options.document_length) are replicated-softmax rows' document lengths N (finite, > 0).
  // `on_epoch` (may be empty) gets (epoch, mean reconstruction error per row). InvalidArgument for
  // bad sizes or options; Internal if training diverges; Cancelled once `cancel` is set.
  [[nodiscard]] absl::Status Train(const FloatMatrix& data, const std::vector<float>* lengths,
                                   const RbmOptions& options,
                                   const std::function<void(int, double)>& on_epoch,
                                   const CancellationFlag* cancel);

  // Hidden probabilities (binary) or means (linear) for every row: the next RBM's data. For
  // replicated-softmax units row r's input is scaled by (*lengths)[r], or by document_length()
  // when `lengths` is null. InvalidArgument for mismatched sizes.
  [[nodiscard]] absl::StatusOr<FloatMatrix> HiddenMeans(
      const FloatMatrix& data, const std::vector<float>* lengths = nullptr);
  // N used for replicated-softmax rows without their own length: the mean length of the last
  // training data (options.document_length before training or when no lengths were given).
  float document_length() const { return document_length_; }
  // Mean squared error per row of the mean-field reconstruction v -> h -> v.
  [[nodiscard]] absl::StatusOr<double> ReconstructionError(const FloatMatrix& data);
  // Mean free energy per row (binary visible and binary hidden units only):
  //   F(v) = -b_v . v - sum_j log(1 + exp(W_j v + c_j)).
  [[nodiscard]] absl::StatusOr<double> MeanFreeEnergy(const FloatMatrix& data);

 private:
  Rbm() = default;
  // h = p(h | v) (binary) or the mean W v + c (linear); v already scaled by N for softmax rows.
  absl::Status Up(const float* v, int64_t n, float* h);
  // v = mean-field reconstruction from h (times the row's N for softmax rows).
  absl::Status Down(const float* h, int64_t n, const float* lengths, float* v);

  int64_t visible_ = 0, hidden_ = 0;
  RbmVisible vtype_ = RbmVisible::kBinary;
  RbmHidden htype_ = RbmHidden::kBinary;
  std::shared_ptr<NnContext> ctx_;
  std::unique_ptr<DenseLayer> up_;    // visible -> hidden, owns W and the hidden bias
  std::unique_ptr<DenseLayer> down_;  // hidden -> visible, tied, owns the visible bias
  std::vector<float> scaled_;
  float document_length_ = 100.0f;  // N for softmax rows without their own length
};

}  // namespace bn

#endif  // BOTTLENECK_ENGINE_MODEL_RBM_H_
