#include "server/core/encode_batcher.h"

#include <algorithm>
#include <cstring>

namespace bn {

EncodeBatcher::EncodeBatcher(const Model* model, int max_batch)
    : model_(model), max_batch_(std::max(1, max_batch)) {}

EncodeBatcher::~EncodeBatcher() = default;

absl::Status EncodeBatcher::Encode(const float* x, float* code) {
  if (max_batch_ == 1) {
    absl::Status status = model_->Encode(x, 1, code);
    std::lock_guard<std::mutex> lock(mutex_);
    ++calls_;
    ++rows_;
    return status;
  }
  Request request{x, code, absl::OkStatus()};
  std::unique_lock<std::mutex> lock(mutex_);
  queue_.push_back(&request);
  while (!request.done) {
    if (leading_) {
      done_.wait(lock);
      continue;
    }
    // Lead one model call over the oldest queued rows (this one among them, or behind them).
    leading_ = true;
    const size_t n = std::min<size_t>(queue_.size(), static_cast<size_t>(max_batch_));
    std::vector<Request*> batch(queue_.begin(), queue_.begin() + n);
    queue_.erase(queue_.begin(), queue_.begin() + n);
    lock.unlock();

    const int64_t in = model_->input_size();
    const int64_t out = model_->code_size();
    absl::Status status;
    if (n == 1) {
      status = model_->Encode(batch[0]->x, 1, batch[0]->code);
    } else {
      xs_.resize(n * in);
      codes_.resize(n * out);
      for (size_t i = 0; i < n; ++i) std::memcpy(&xs_[i * in], batch[i]->x, in * sizeof(float));
      status = model_->Encode(xs_.data(), static_cast<int64_t>(n), codes_.data());
      if (status.ok()) {
        for (size_t i = 0; i < n; ++i) {
          std::memcpy(batch[i]->code, &codes_[i * out], out * sizeof(float));
        }
      }
    }

    lock.lock();
    for (Request* r : batch) {
      r->status = status;
      r->done = true;
    }
    ++calls_;
    rows_ += n;
    leading_ = false;
    done_.notify_all();  // Finished callers return; one still queued leads next.
  }
  return request.status;
}

uint64_t EncodeBatcher::calls() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return calls_;
}

uint64_t EncodeBatcher::rows() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return rows_;
}

}  // namespace bn
