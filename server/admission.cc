#include "server/admission.h"

#include <string>

namespace bn {
namespace {

const char* const kWhat[Admission::kKinds] = {"queries", "write calls", "dataset uploads"};
const char* const kFlag[Admission::kKinds] = {"--max-inflight-queries", "--max-write-streams",
                                              "--max-dataset-uploads"};

}  // namespace

Admission::Ticket& Admission::Ticket::operator=(Ticket&& other) noexcept {
  if (this != &other) {
    if (slot_ != nullptr) slot_->fetch_sub(1, std::memory_order_release);
    slot_ = other.slot_;
    other.slot_ = nullptr;
  }
  return *this;
}

Admission::Ticket::~Ticket() {
  if (slot_ != nullptr) slot_->fetch_sub(1, std::memory_order_release);
}

Admission::Admission(const Limits& limits)
    : limits_{limits.queries, limits.write_streams, limits.dataset_uploads} {}

absl::StatusOr<Admission::Ticket> Admission::Admit(Kind kind) {
  const int k = static_cast<int>(kind);
  std::atomic<int>& slot = in_flight_[k];
  int taken = slot.load(std::memory_order_relaxed);
  do {
    if (taken >= limits_[k]) {
      refused_[k].fetch_add(1, std::memory_order_relaxed);
      return absl::ResourceExhaustedError(
          std::string("server busy: ") + std::to_string(limits_[k]) + " " + kWhat[k] +
          " already in progress (" + kFlag[k] + "); retry with backoff");
    }
  } while (!slot.compare_exchange_weak(taken, taken + 1, std::memory_order_acquire,
                                       std::memory_order_relaxed));
  return Ticket(&slot);
}

int Admission::in_flight(Kind kind) const {
  return in_flight_[static_cast<int>(kind)].load(std::memory_order_relaxed);
}

uint64_t Admission::refused(Kind kind) const {
  return refused_[static_cast<int>(kind)].load(std::memory_order_relaxed);
}

}  // namespace bn
