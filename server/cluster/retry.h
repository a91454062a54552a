// Retrying NATS calls through brief unavailability: a new replicated stream electing its leader,
// a NATS server failing over (the client reconnects to another).
#ifndef BOTTLENECK_SERVER_CLUSTER_RETRY_H_
#define BOTTLENECK_SERVER_CLUSTER_RETRY_H_

#include <chrono>
#include <thread>

#include "absl/status/statusor.h"

namespace bn::cluster {

inline const absl::Status& StatusOf(const absl::Status& s) { return s; }
template <typename T>
const absl::Status& StatusOf(const absl::StatusOr<T>& s) {
  return s.status();
}

inline bool Transient(const absl::Status& s) {
  return s.code() == absl::StatusCode::kUnavailable ||
         s.code() == absl::StatusCode::kDeadlineExceeded;
}

// Calls `call` (returning Status or StatusOr) until it succeeds, fails with a non-transient
// error, or `budget` has passed; returns the last result.
template <typename Call>
auto Retrying(Call call, std::chrono::milliseconds budget = std::chrono::seconds(20))
    -> decltype(call()) {
  const auto deadline = std::chrono::steady_clock::now() + budget;
  while (true) {
    auto result = call();
    if (!Transient(StatusOf(result)) || std::chrono::steady_clock::now() > deadline) {
      return result;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

}  // namespace bn::cluster

#endif  // BOTTLENECK_SERVER_CLUSTER_RETRY_H_
