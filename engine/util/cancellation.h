// CancellationFlag: cooperative cancellation of long computations (training, PCA, LSA).
//
// One thread (or many) calls Cancel(); the worker polls cancelled() at least once per unit of
// work (a mini-batch, a block of rows) and then returns absl::CancelledError. Thread-safe; the
// flag never resets.
#ifndef BOTTLENECK_ENGINE_UTIL_CANCELLATION_H_
#define BOTTLENECK_ENGINE_UTIL_CANCELLATION_H_

#include <atomic>

namespace bn {

class CancellationFlag {
 public:
  void Cancel() { cancelled_.store(true, std::memory_order_relaxed); }
  bool cancelled() const { return cancelled_.load(std::memory_order_relaxed); }

 private:
  std::atomic<bool> cancelled_{false};
};

}  // namespace bn

#endif  // BOTTLENECK_ENGINE_UTIL_CANCELLATION_H_
