// A bounded pool that runs training jobs on their own threads, a configurable number at a time,
// so that queries stay fast while training. Jobs cooperate with cancellation through a
// CancellationFlag that they check at least once per mini-batch.
//
// Thread safety: every method may be called from any thread.
#ifndef BOTTLENECK_SERVER_CORE_JOB_RUNNER_H_
#define BOTTLENECK_SERVER_CORE_JOB_RUNNER_H_

#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "engine/train/progress.h"

namespace bn {

class JobRunner {
 public:
  // The job's body. It runs on a pool thread; `cancel` is set by Cancel() or Shutdown(). A job
  // cancelled while still queued is still called (with `cancel` already set) so that it can record
  // its final state.
  using JobFn = std::function<void(const CancellationFlag& cancel)>;

  // `nice` > 0 lowers the scheduling priority of the pool's threads (and of the OpenMP teams they
  // start) by that much, so that queries keep their latency while jobs run.
  JobRunner(int max_concurrent, int max_queued, int nice = 0);
  ~JobRunner();  // Shutdown().
  JobRunner(const JobRunner&) = delete;
  JobRunner& operator=(const JobRunner&) = delete;

  // Queues a job. ResourceExhausted when `max_queued` jobs already wait; AlreadyExists for an id
  // that is queued or running; FailedPrecondition after Shutdown().
  [[nodiscard]] absl::Status Submit(const std::string& job_id, JobFn fn);
  // Sets the job's cancellation flag. Returns false if the id is neither queued nor running.
  bool Cancel(const std::string& job_id);
  // Number of jobs queued or running.
  int active() const;
  // Cancels every job, waits for the running ones to return, joins the threads. Idempotent.
  void Shutdown();

 private:
  struct Entry {
    std::string id;
    JobFn fn;
    std::shared_ptr<CancellationFlag> cancel;
  };
  void WorkerLoop();

  const int max_queued_;
  const int nice_;
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<Entry> queue_;
  std::map<std::string, std::shared_ptr<CancellationFlag>> active_;  // queued + running
  bool shutting_down_ = false;
  std::vector<std::thread> workers_;
};

}  // namespace bn

#endif  // BOTTLENECK_SERVER_CORE_JOB_RUNNER_H_
