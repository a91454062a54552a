// Micro-batching of concurrent single-item encodes (search by image or document): callers that
// arrive while a batch is being encoded queue up, and the next caller to find the model idle
// encodes everything queued in one call. No timer: a lone caller is encoded at once (no added
// latency at one client), and batches grow with concurrency.
//
// Thread safety: Encode may be called from any number of threads.
#ifndef BOTTLENECK_SERVER_CORE_ENCODE_BATCHER_H_
#define BOTTLENECK_SERVER_CORE_ENCODE_BATCHER_H_

#include <condition_variable>
#include <deque>
#include <mutex>
#include <vector>

#include "absl/status/status.h"
#include "engine/model/model.h"

namespace bn {

class EncodeBatcher {
 public:
  // `model` must outlive the batcher. At most `max_batch` rows are encoded per call;
  // max_batch == 1 turns batching off: every caller encodes alone, concurrently.
  explicit EncodeBatcher(const Model* model, int max_batch = 64)
      : model_(model), max_batch_(max_batch) {}

  // Encodes one row: x has model->input_size() floats, code receives model->code_size().
  [[nodiscard]] absl::Status Encode(const float* x, float* code);

  // Number of model calls and rows encoded so far (for tests and metrics).
  uint64_t calls() const;
  uint64_t rows() const;

 private:
  struct Request {
    const float* x;
    float* code;
    absl::Status status;
    bool done = false;
  };

  const Model* model_;
  const int max_batch_;
  mutable std::mutex mutex_;
  std::condition_variable done_;
  std::deque<Request*> queue_;
  bool busy_ = false;
  uint64_t calls_ = 0;
  uint64_t rows_ = 0;
};

}  // namespace bn

#endif  // BOTTLENECK_SERVER_CORE_ENCODE_BATCHER_H_
