#include "server/worker_pool.h"

#include <algorithm>

#include "server/core/thread_priority.h"

namespace bn {

WorkerPool::WorkerPool(int threads, int nice) : nice_(nice) {
  for (int i = 0; i < std::max(1, threads); ++i) threads_.emplace_back([this] { Loop(); });
}

WorkerPool::~WorkerPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  ready_.notify_all();
  for (auto& t : threads_) t.join();
}

void WorkerPool::RunVoid(const std::function<void()>& task) {
  std::mutex done_mutex;
  std::condition_variable done_cv;
  bool done = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    queue_.push_back([&] {
      task();
      std::lock_guard<std::mutex> done_lock(done_mutex);
      done = true;
      done_cv.notify_one();
    });
  }
  ready_.notify_one();
  std::unique_lock<std::mutex> lock(done_mutex);
  done_cv.wait(lock, [&] { return done; });
}

void WorkerPool::Loop() {
  LowerThisThreadPriority(nice_);
  while (true) {
    std::function<void()> task;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      ready_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;
      task = std::move(queue_.front());
      queue_.pop_front();
    }
    task();
  }
}

}  // namespace bn
