#include "server/core/encode_batcher.h"

#include <algorithm>
#include <cstring>

namespace bn {

EncodeBatcher::EncodeBatcher(const Model* model, int max_batch)
    : model_(model), max_batch_(std::max(1, max_batch)) {
  if (max_batch_ > 1) encoder_ = std::thread([this] { Loop(); });
}

EncodeBatcher::~EncodeBatcher() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  queued_.notify_all();
  if (encoder_.joinable()) encoder_.join();
}

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
  if (stopping_) return absl::UnavailableError("the model is being unloaded");
  queue_.push_back(&request);
  queued_.notify_one();
  done_.wait(lock, [&] { return request.done; });
  return request.status;
}

void EncodeBatcher::Loop() {
  const int64_t in = model_->input_size();
  const int64_t out = model_->code_size();
  std::vector<float> xs, codes;
  std::unique_lock<std::mutex> lock(mutex_);
  while (true) {
    queued_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) return;  // Stopping and drained.
    const size_t n = std::min<size_t>(queue_.size(), static_cast<size_t>(max_batch_));
    std::vector<Request*> batch(queue_.begin(), queue_.begin() + n);
    queue_.erase(queue_.begin(), queue_.begin() + n);
    lock.unlock();

    absl::Status status;
    if (n == 1) {
      status = model_->Encode(batch[0]->x, 1, batch[0]->code);
    } else {
      xs.resize(n * in);
      codes.resize(n * out);
      for (size_t i = 0; i < n; ++i) std::memcpy(&xs[i * in], batch[i]->x, in * sizeof(float));
      status = model_->Encode(xs.data(), static_cast<int64_t>(n), codes.data());
      if (status.ok()) {
        for (size_t i = 0; i < n; ++i) {
          std::memcpy(batch[i]->code, &codes[i * out], out * sizeof(float));
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
    done_.notify_all();
  }
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
