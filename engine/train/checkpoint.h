// Training checkpoints: the whole state of the mini-batch loop (engine/train/loop.h) as
// self-checked bytes, for TrainOptions::on_checkpoint / resume_from. The format ("BNCKPT01",
// described in checkpoint.cc) is stable: the service keeps checkpoints of interrupted jobs.
//
// Free functions on caller-owned values.
#ifndef BOTTLENECK_ENGINE_TRAIN_CHECKPOINT_H_
#define BOTTLENECK_ENGINE_TRAIN_CHECKPOINT_H_

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "engine/nn/optimizer.h"

namespace bn {

struct TrainingCheckpoint {
  int64_t epoch = 0;  // completed epochs
  std::vector<float> params;
  std::mt19937_64 rng;
  double best = 0;  // best validation error so far (INFINITY if none)
  int64_t since_best = 0;
  std::vector<float> best_params;  // empty unless early stopping kept a best epoch
  double validation_error = -1;
  double train_loss = 0;
};

// The bytes for `state` of a model identified by `spec`, with `optimizer`'s state.
[[nodiscard]] std::string EncodeTrainingCheckpoint(absl::string_view spec,
                                                   const TrainingCheckpoint& state,
                                                   const Optimizer& optimizer);

// Parses `bytes` into `state` and loads the optimiser state into `optimizer` (whose blocks must
// already be registered). DataLoss for bytes that are not an intact checkpoint;
// InvalidArgument if they belong to another spec, another parameter count or another optimiser
// layout. On error, `optimizer` is unchanged unless its state was already committed (it commits
// only when its whole state parses) and `state` is unspecified.
[[nodiscard]] absl::Status DecodeTrainingCheckpoint(absl::string_view bytes, absl::string_view spec,
                                                    int64_t parameter_count, Optimizer* optimizer,
                                                    TrainingCheckpoint* state);

}  // namespace bn

#endif  // BOTTLENECK_ENGINE_TRAIN_CHECKPOINT_H_
