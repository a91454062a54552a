// What every training routine reports and obeys: progress callbacks and cooperative
// cancellation. Shared by PCA, the auto-encoders and the service's job runner.
#ifndef BOTTLENECK_ENGINE_TRAIN_PROGRESS_H_
#define BOTTLENECK_ENGINE_TRAIN_PROGRESS_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>

namespace bn {

struct TrainingProgress {
  std::string phase;          // e.g. "PCA", "RBM layer 2/4", "fine-tune", "evaluate".
  int phase_index = 0;        // 1-based.
  int phase_count = 0;
  int epoch = 0;              // 1-based within the phase.
  int epochs = 0;
  int64_t step = 0;           // Mini-batch within the epoch.
  int64_t steps_per_epoch = 0;
  double loss = 0;            // Mean training loss of the epoch so far.
  double validation_error = -1;  // Summed squared error per item; < 0 when not measured yet.
  double samples_per_second = 0;
  double eta_seconds = -1;    // Whole training; < 0 when unknown.
  double elapsed_seconds = 0;
};

// Called from the training thread, at most every few hundred milliseconds and at each epoch's
// end. Must be cheap and must not throw.
using ProgressCallback = std::function<void(const TrainingProgress&)>;

// Cooperative cancellation: training loops check it at least once per mini-batch and return
// absl::CancelledError when it is set. Thread-safe.
class CancellationFlag {
 public:
  void Cancel() { cancelled_.store(true, std::memory_order_relaxed); }
  bool cancelled() const { return cancelled_.load(std::memory_order_relaxed); }

 private:
  std::atomic<bool> cancelled_{false};
};

}  // namespace bn

#endif  // BOTTLENECK_ENGINE_TRAIN_PROGRESS_H_
