// First-order optimisers over registered parameter blocks:
//   kSgd:  v = momentum * v - lr * (g + wd * w);  w += v
//   kAdam: m = b1 m + (1-b1) g';  v = b2 v + (1-b2) g'^2;  w -= lr * mhat / (sqrt(vhat) + eps)
//          with g' = g + wd * w (L2 weight decay) and bias-corrected mhat, vhat.
// Weight decay applies only to blocks registered with decay = true (weights, not biases).
// Updates are element-wise (OpenMP static schedule), so results do not depend on thread count.
//
// Ownership: parameter buffers are not owned; they must outlive the optimiser and keep their
// address. Thread safety: not thread-safe.
#ifndef BOTTLENECK_ENGINE_NN_OPTIMIZER_H_
#define BOTTLENECK_ENGINE_NN_OPTIMIZER_H_

#include <cstdint>
#include <vector>

#include "engine/util/bytes.h"

namespace bn {

enum class OptimizerKind : uint32_t { kSgd = 0, kAdam = 1 };

struct OptimizerOptions {
  OptimizerKind kind = OptimizerKind::kAdam;
  float learning_rate = 1e-3f;
  float momentum = 0.9f;  // SGD only.
  float weight_decay = 0.0f;
  float beta1 = 0.9f, beta2 = 0.999f, epsilon = 1e-8f;  // Adam only.
};

class Optimizer {
 public:
  explicit Optimizer(const OptimizerOptions& options) : options_(options) {}

  // Registers `count` parameters at `param`; returns the block index for Update.
  int AddBlock(float* param, int64_t count, bool decay);
  // Applies one update of block `index` with gradient `grad` (count floats). Call BeginStep
  // once before updating the blocks of one step (Adam's bias correction counts steps).
  void BeginStep() { ++step_; }
  void Update(int index, const float* grad);

  OptimizerOptions& options() { return options_; }
  int64_t step() const { return step_; }

  // Optimiser state (step and per-block moments) for checkpoints. LoadState returns false if
  // the bytes do not match the registered blocks.
  void SaveState(ByteWriter* w) const;
  [[nodiscard]] bool LoadState(ByteReader* r);

 private:
  struct Block {
    float* param;
    int64_t count;
    bool decay;
    std::vector<float> m, v;  // SGD uses m as the velocity.
  };
  OptimizerOptions options_;
  std::vector<Block> blocks_;
  int64_t step_ = 0;
};

}  // namespace bn

#endif  // BOTTLENECK_ENGINE_NN_OPTIMIZER_H_
