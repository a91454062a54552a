// TrainOptions: how a trainer (engine/train/*_trainer.h) runs the mini-batch loop
// (engine/train/loop.h) and the optional RBM pre-training; TrainResult: what it returns.
//
// Plain values. Pointers and callbacks in TrainOptions are not owned and must outlive the call.
// The same data, spec, options and thread count give bit-identical weights.
#ifndef BOTTLENECK_ENGINE_TRAIN_OPTIONS_H_
#define BOTTLENECK_ENGINE_TRAIN_OPTIONS_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "engine/model/model.h"
#include "engine/nn/optimizer.h"

namespace bn {

// How the learning rate changes over the epochs of fine-tuning.
enum class LrSchedule : uint32_t {
  kConstant = 0,
  kStep = 1,    // times lr_step_gamma every lr_step_epochs epochs
  kCosine = 2,  // from learning_rate down to learning_rate * lr_min_factor at the last epoch
};

struct TrainOptions {
  OptimizerKind optimizer = OptimizerKind::kAdam;
  float learning_rate = 1e-3f;
  float momentum = 0.9f;  // SGD
  float weight_decay = 0.0f;
  int batch_size = 128;
  int epochs = 10;
  uint64_t seed = 1;
  double validation_fraction = 0.0;  // held out of `train` (seeded) when no validation is given
  int early_stopping_patience = 0;   // epochs without improvement; 0 = off
  // With validation: end with the weights of the epoch of lowest validation error.
  bool restore_best = true;
  LrSchedule lr_schedule = LrSchedule::kConstant;
  int lr_step_epochs = 10;
  float lr_step_gamma = 0.1f;
  float lr_min_factor = 0.0f;
  // Applied to each batch's clean rows before corruption (e.g. ImageAugmenter::Apply), with a
  // random state that depends only on (seed, epoch, step): fresh every epoch, and a resumed run
  // sees the same draws. Empty: none. Must not throw.
  std::function<void(float* rows, int64_t m, std::mt19937_64* rng)> augment;
  int threads = 0;  // oneDNN's OpenMP threads (calling thread); 0 = unchanged
  // RBM pre-training (the spec's `pretraining`); defaults from the paper.
  int pretrain_epochs = 10;
  int pretrain_batch_size = 100;
  float pretrain_learning_rate = 0.1f;
  float pretrain_linear_learning_rate = 0.001f;  // the linear code layer's RBM
  float pretrain_softmax_learning_rate = 0.03f;  // a replicated-softmax first RBM
  int pretrain_cd_steps = 1;                     // CD-k, >= 1
  // Replicated-softmax first RBM: one finite positive document length per training row; null =
  // pretrain_document_length for every row.
  const std::vector<float>* document_lengths = nullptr;
  float pretrain_document_length = 100.0f;
  // The replicated softmax's effective step grows with the square of the document length (its
  // input is N times the word distribution), so pretrain_softmax_learning_rate only suits
  // documents of a few dozen counted words: at a mean of 1,000 the first RBM collapses (Reuters
  // with every length x17: test P@10 0.18 instead of 0.82). When document_lengths' mean exceeds
  // this, every length is scaled by max / mean (relative lengths kept); 0 = never. Reuters'
  // ModApte documents (mean 58.5) are below it, so their pre-training is unchanged.
  // pretrain_document_length (no per-row lengths) is used as given.
  float pretrain_max_mean_document_length = 64.0f;
  // Dense auto-encoder without binary codes: std-dev of fresh Gaussian noise added to the code
  // units' inputs each batch (a regulariser); 0 = off.
  float code_noise_stddev = 0.0f;
  // Dense auto-encoders and classifiers: the fraction of every hidden layer's units dropped in
  // each training step (engine/nn/dropout.h); the code layer, the output and the input are never
  // dropped (input noise is the spec's corruption). In [0, kMaxDropoutRate]; 0 = off.
  float dropout = 0.0f;
  // Dense document auto-encoders (softmax output): each training row's reconstruction target
  // mixes it with its neighbour_count nearest training rows (engine/train/neighbour_targets.h),
  // the neighbours' mean weighted neighbour_weight. 0 = off; at most kMaxNeighbourCount.
  int neighbour_count = 0;
  float neighbour_weight = 0.7f;
  double max_seconds = 0.0;  // stop fine-tuning after this long (checked per batch); <= 0: never
  // After each epoch, if want_checkpoint (empty: always) says so, on_checkpoint gets the whole
  // training state as bytes (engine/train/checkpoint.h). Must not throw.
  std::function<void(const std::string&)> on_checkpoint;
  std::function<bool()> want_checkpoint;
  // Resume from such bytes (skips pre-training); ends bit-identical to an uninterrupted run.
  const std::string* resume_from = nullptr;
};

struct TrainResult {
  std::unique_ptr<Model> model;
  double validation_error = -1;  // the model's validation error (Trainable::Evaluate); -1: none
  double train_loss = 0;         // mean loss of the last epoch
  int epochs_run = 0;
  int best_epoch = 0;  // the epoch of lowest validation error (the weights kept); 0: none
};

// InvalidArgument unless batch_size >= 1, epochs >= 0, learning_rate > 0, validation_fraction
// in [0, 1), dropout in [0, kMaxDropoutRate] and the schedule's values are in range (step: epochs
// >= 1, gamma in (0, 1]; cosine: min factor in [0, 1]).
[[nodiscard]] absl::Status ValidateTrainOptions(const TrainOptions& options);

// The learning rate of (1-based) `epoch` under the options' schedule.
float LearningRateAt(const TrainOptions& options, int epoch);

}  // namespace bn

#endif  // BOTTLENECK_ENGINE_TRAIN_OPTIONS_H_
