// TrainingProgress: what long computations (training, PCA, LSA) report to a ProgressCallback.
//
// Plain values; the callback is called from the computing thread, at most every few hundred
// milliseconds and at each epoch's end. It must be cheap and must not throw.
#ifndef BOTTLENECK_ENGINE_UTIL_PROGRESS_H_
#define BOTTLENECK_ENGINE_UTIL_PROGRESS_H_

#include <cstdint>
#include <functional>
#include <string>

namespace bn {

struct TrainingProgress {
  std::string phase;    // e.g. "PCA", "RBM layer 2/4", "fine-tune", "evaluate".
  int phase_index = 0;  // 1-based.
  int phase_count = 0;
  int epoch = 0;  // 1-based within the phase.
  int epochs = 0;
  int64_t step = 0;  // Mini-batch within the epoch.
  int64_t steps_per_epoch = 0;
  double loss = 0;               // Mean training loss of the epoch so far.
  double validation_error = -1;  // < 0 when not measured yet.
  double samples_per_second = 0;
  double eta_seconds = -1;  // Whole training; < 0 when unknown.
  double elapsed_seconds = 0;
};

using ProgressCallback = std::function<void(const TrainingProgress&)>;

}  // namespace bn

#endif  // BOTTLENECK_ENGINE_UTIL_PROGRESS_H_
