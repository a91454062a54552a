// Admission control: bounds on the work bottleneckd accepts at once, so that overload turns into
// prompt RESOURCE_EXHAUSTED answers (which clients retry with backoff) instead of unbounded
// queues, memory growth and latency for everyone.
//
// Each kind of work has its own limit, so that a flood of one kind (e.g. bulk ingest streams)
// cannot take the slots of another (searches). A Ticket holds one slot until it is destroyed.
//
// Thread safety: Admit may be called from any thread; a Ticket may be destroyed on any thread.
#ifndef BOTTLENECK_SERVER_ADMISSION_H_
#define BOTTLENECK_SERVER_ADMISSION_H_

#include <array>
#include <atomic>
#include <cstdint>

#include "absl/status/statusor.h"

namespace bn {

class Admission {
 public:
  enum class Kind : int {
    kQuery = 0,   // Search, Encode, Decode, Classify.
    kWrite = 1,   // Upsert, StreamUpsert (once per stream), DeleteItems.
    kUpload = 2,  // UploadDataset streams.
  };
  static constexpr int kKinds = 3;

  struct Limits {
    int queries = 256;
    int write_streams = 8;
    int dataset_uploads = 2;
  };

  // Holds one slot of a kind; movable, releases on destruction.
  class Ticket {
   public:
    Ticket() = default;
    Ticket(Ticket&& other) noexcept : slot_(other.slot_) { other.slot_ = nullptr; }
    Ticket& operator=(Ticket&& other) noexcept;
    Ticket(const Ticket&) = delete;
    Ticket& operator=(const Ticket&) = delete;
    ~Ticket();

   private:
    friend class Admission;
    explicit Ticket(std::atomic<int>* slot) : slot_(slot) {}
    std::atomic<int>* slot_ = nullptr;
  };

  explicit Admission(const Limits& limits);

  // A slot of `kind`, or ResourceExhausted naming the limit and its flag when all are taken.
  // Never blocks.
  [[nodiscard]] absl::StatusOr<Ticket> Admit(Kind kind);

  int in_flight(Kind kind) const;     // Slots taken now.
  uint64_t refused(Kind kind) const;  // Requests refused so far.

 private:
  std::array<int, kKinds> limits_;
  std::array<std::atomic<int>, kKinds> in_flight_{};
  std::array<std::atomic<uint64_t>, kKinds> refused_{};
};

}  // namespace bn

#endif  // BOTTLENECK_SERVER_ADMISSION_H_
