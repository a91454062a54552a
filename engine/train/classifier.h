// A dense softmax classifier (e.g. 784-500-500-2000-10) trained on labels, from random
// initialisation or after greedy RBM pre-training of its hidden layers (Hinton & Salakhutdinov
// 2006's classification experiment). Not a bn::Model (it produces labels, not codes).
//
// Thread safety: a DenseClassifier serialises its calls internally (safe from many threads).
#ifndef BOTTLENECK_ENGINE_TRAIN_CLASSIFIER_H_
#define BOTTLENECK_ENGINE_TRAIN_CLASSIFIER_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/model/autoencoder.h"
#include "engine/nn/dense.h"
#include "engine/util/cancellation.h"
#include "engine/util/matrix.h"
#include "engine/util/progress.h"

namespace bn {

struct ClassifierSpec {
  int64_t input_size = 784;
  std::vector<int64_t> hidden_sizes = {500, 500, 2000};
  int num_classes = 10;
  Activation hidden_activation = Activation::kLogistic;
  bool pretraining = false;  // CD-1 RBM per hidden layer (logistic hidden units only)
};

class DenseClassifier {
 public:
  virtual ~DenseClassifier() = default;
  virtual int num_classes() const = 0;
  virtual int64_t input_size() const = 0;
  // probs: n * num_classes() class probabilities.
  [[nodiscard]] virtual absl::Status Predict(const float* x, int64_t n, float* probs) const = 0;
  // Fraction of rows whose most probable class differs from `labels`.
  [[nodiscard]] absl::StatusOr<double> ErrorRate(const FloatMatrix& x,
                                                 const std::vector<int>& labels) const;
};

// Trains on (x, labels) with options (optimizer, epochs, batch, seed, threads, pretrain_*);
// labels in [0, num_classes). InvalidArgument for bad inputs, CancelledError on cancel.
[[nodiscard]] absl::StatusOr<std::unique_ptr<DenseClassifier>> TrainDenseClassifier(
    const FloatMatrix& x, const std::vector<int>& labels, const ClassifierSpec& spec,
    const TrainOptions& options, const ProgressCallback& progress, const CancellationFlag* cancel);

}  // namespace bn

#endif  // BOTTLENECK_ENGINE_TRAIN_CLASSIFIER_H_
