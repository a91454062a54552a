// Micro-batching of concurrent single-item encodes (search by image or document). Callers queue
// their row. A caller that finds no model call running leads: on its own thread it takes
// everything queued (up to max_batch, oldest first) and encodes it in one model call, then wakes
// the others; a caller whose row is still queued then leads the next call. No timer and no
// hand-over to another thread: a lone caller is encoded at once on its own thread (at one client
// an encoder thread's two wake-ups cost more than the encode), and batches grow with
// concurrency. One model call runs at a time.
//
// max_batch == 1 turns batching off: callers encode on their own threads, concurrently.
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
  // `model` must outlive the batcher. At most `max_batch` rows are encoded per call.
  explicit EncodeBatcher(const Model* model, int max_batch = 64);
  ~EncodeBatcher();  // Callers must have returned from Encode.
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

  const Model* model_;
  const int max_batch_;
  mutable std::mutex mutex_;
  std::condition_variable done_;  // Callers wait for their row, or for the leader to finish.
  std::deque<Request*> queue_;
  bool leading_ = false;  // A caller is running a model call.
  uint64_t calls_ = 0;
  uint64_t rows_ = 0;
  std::vector<float> xs_, codes_;  // The leader's batch buffers (used by one leader at a time).
};

}  // namespace bn

#endif  // BOTTLENECK_SERVER_CORE_ENCODE_BATCHER_H_
