// Trainable: what the mini-batch training loop (engine/train/loop.h) needs from a network, so
// that one loop trains the dense and convolutional auto-encoders and the classifier.
//
// The loop owns the optimiser, the data order, batch preparation, checkpoints and early stopping;
// the network only steps, evaluates and exposes its parameters. Implementations are not
// thread-safe (the loop calls them from one thread). Errors are Statuses; oneDNN exceptions may
// escape and are caught by the trainer entry points (engine/train/*_trainer.h).
#ifndef BOTTLENECK_ENGINE_MODEL_TRAINABLE_H_
#define BOTTLENECK_ENGINE_MODEL_TRAINABLE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/nn/optimizer.h"
#include "engine/util/matrix.h"

namespace bn {

// One mini-batch of `size` rows, prepared by the loop. Pointers are valid during TrainStep only.
struct TrainBatch {
  int64_t size = 0;
  const float* input = nullptr;       // [size, width]: the network's input (corrupted if denoising)
  const float* target = nullptr;      // [size, width]: the clean rows
  const int* labels = nullptr;        // [size] class labels; null without labels
  const float* code_noise = nullptr;  // [size, code width] added to the code pre-activations; null
  // A function of (options.seed, epoch, step) only: the seed of the step's dropout masks, so a
  // resumed run draws the same masks.
  uint64_t step_seed = 0;
};

class Trainable {
 public:
  virtual ~Trainable() = default;

  virtual int64_t parameter_count() const = 0;
  // Registers every parameter block with `optimizer`; called once, before the first TrainStep.
  virtual void RegisterParameters(Optimizer* optimizer) = 0;
  // Forward, backward and one optimiser step on `batch`; writes the batch's mean loss.
  [[nodiscard]] virtual absl::Status TrainStep(const TrainBatch& batch, Optimizer* optimizer,
                                               double* loss) = 0;
  // The validation error on the rows of `x` (lower is better); `labels` (one per row) for
  // classifiers, else null.
  [[nodiscard]] virtual absl::StatusOr<double> Evaluate(const FloatMatrix& x,
                                                        const std::vector<int>* labels) = 0;
  // The validation error of the rows of `x` against `targets` (x's shape) when the training
  // targets are not the inputs (auto-encoders with neighbour targets). Unimplemented by default.
  [[nodiscard]] virtual absl::StatusOr<double> EvaluateAgainst(const FloatMatrix& x,
                                                               const FloatMatrix& targets) {
    (void)x;
    (void)targets;
    return absl::UnimplementedError("this model trains towards its inputs only");
  }
  // Every parameter, in a fixed order (checkpoints, best-epoch restore).
  virtual std::vector<float> FlatParameters() const = 0;
  // `flat` has parameter_count() values in FlatParameters' order.
  virtual void SetFlatParameters(const std::vector<float>& flat) = 0;
  // The architecture as bytes: a checkpoint resumes only a network with the same ones.
  virtual std::string SpecBytes() const = 0;
};

}  // namespace bn

#endif  // BOTTLENECK_ENGINE_MODEL_TRAINABLE_H_
