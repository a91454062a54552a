// A fixed pool of threads at a lower scheduling priority, for work that must not take CPU from
// queries: ingest (encoding upserted items, writing them, indexing them). Callers block in Run()
// until their task is done, so the pool adds isolation, not asynchrony; the number of waiting
// callers is bounded by admission control (--max-write-streams).
//
// Thread safety: Run may be called from any thread, concurrently.
#ifndef BOTTLENECK_SERVER_WORKER_POOL_H_
#define BOTTLENECK_SERVER_WORKER_POOL_H_

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

namespace bn {

class WorkerPool {
 public:
  // `threads` >= 1 workers, each lowering its own priority by `nice` (0-19; 0: unchanged) when it
  // starts; OpenMP teams they start inherit it.
  WorkerPool(int threads, int nice);
  ~WorkerPool();  // Finishes queued tasks, joins the workers.
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // Runs `task` on a worker and returns its result once done. `task` must not throw.
  template <typename F>
  auto Run(F task) -> decltype(task()) {
    using R = decltype(task());
    std::optional<R> result;
    RunVoid([&] { result.emplace(task()); });
    return std::move(*result);
  }

 private:
  void RunVoid(const std::function<void()>& task);
  void Loop();

  const int nice_;
  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<std::function<void()>> queue_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace bn

#endif  // BOTTLENECK_SERVER_WORKER_POOL_H_
