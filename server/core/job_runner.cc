#include "server/core/job_runner.h"

#include "engine/util/log.h"
#include "server/core/thread_priority.h"

namespace bn {

JobRunner::JobRunner(int max_concurrent, int max_queued, int nice)
    : max_queued_(max_queued), nice_(nice) {
  for (int i = 0; i < std::max(1, max_concurrent); ++i) {
    workers_.emplace_back([this] { WorkerLoop(); });
  }
}

JobRunner::~JobRunner() { Shutdown(); }

absl::Status JobRunner::Submit(const std::string& job_id, JobFn fn) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (shutting_down_) return absl::FailedPreconditionError("the server is shutting down");
  if (active_.count(job_id) > 0) return absl::AlreadyExistsError("job " + job_id + " is active");
  if (static_cast<int>(queue_.size()) >= max_queued_) {
    return absl::ResourceExhaustedError("the training queue is full (" +
                                        std::to_string(max_queued_) +
                                        " jobs waiting); try again later");
  }
  auto cancel = std::make_shared<CancellationFlag>();
  active_[job_id] = cancel;
  queue_.push_back(Entry{job_id, std::move(fn), std::move(cancel)});
  cv_.notify_one();
  return absl::OkStatus();
}

bool JobRunner::Cancel(const std::string& job_id) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = active_.find(job_id);
  if (it == active_.end()) return false;
  it->second->Cancel();
  return true;
}

int JobRunner::active() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return static_cast<int>(active_.size());
}

void JobRunner::WorkerLoop() {
  // Per thread on Linux; threads this one starts (its OpenMP team) inherit it.
  LowerThisThreadPriority(nice_);
  while (true) {
    Entry entry;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      cv_.wait(lock, [this] { return shutting_down_ || !queue_.empty(); });
      if (queue_.empty()) return;  // Shutting down and drained.
      entry = std::move(queue_.front());
      queue_.pop_front();
    }
    entry.fn(*entry.cancel);
    std::lock_guard<std::mutex> lock(mutex_);
    active_.erase(entry.id);
  }
}

void JobRunner::Shutdown() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (shutting_down_ && workers_.empty()) return;
    shutting_down_ = true;
    for (auto& [id, cancel] : active_) cancel->Cancel();
    cv_.notify_all();
  }
  for (auto& worker : workers_) {
    if (worker.joinable()) worker.join();
  }
  workers_.clear();
}

}  // namespace bn
