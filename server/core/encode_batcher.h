// Micro-batching of concurrent single-item encodes (search by image or document). Callers queue
// their row; one encoder thread, owned by the batcher, takes everything queued (up to max_batch)
// and encodes it in one model call, then wakes the callers. No timer: a lone caller is encoded
// at once (no added wait at one client), and batches grow with concurrency. One thread making
// every model call also keeps one OpenMP team warm instead of one per gRPC thread.
//
// max_batch == 1 turns batching off: callers encode on their own threads, concurrently.
//
// Thread safety: Encode may be called from any number of threads.
#ifndef BOTTLENECK_SERVER_CORE_ENCODE_BATCHER_H_
#define BOTTLENECK_SERVER_CORE_ENCODE_BATCHER_H_

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "engine/model/model.h"

namespace bn {

class EncodeBatcher {
 public:
  // `model` must outlive the batcher. At most `max_batch` rows are encoded per call.
  explicit EncodeBatcher(const Model* model, int max_batch = 64);
  ~EncodeBatcher();  // Encodes what is queued, then stops the encoder thread.
  EncodeBatcher(const EncodeBatcher&) = delete;
  EncodeBatcher& operator=(const EncodeBatcher&) = delete;

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
  void Loop();

  const Model* model_;
  const int max_batch_;
  mutable std::mutex mutex_;
  std::condition_variable queued_;  // The encoder waits for work.
  std::condition_variable done_;    // Callers wait for their row.
  std::deque<Request*> queue_;
  bool stopping_ = false;
  uint64_t calls_ = 0;
  uint64_t rows_ = 0;
  std::thread encoder_;  // Only when max_batch > 1.
};

}  // namespace bn

#endif  // BOTTLENECK_SERVER_CORE_ENCODE_BATCHER_H_
