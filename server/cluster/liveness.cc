#include "server/cluster/liveness.h"

#include <algorithm>
#include <utility>

namespace bn::cluster {

Liveness::Liveness(std::string self, Clock::duration lease, Clock::duration heartbeat)
    : self_(std::move(self)), lease_(lease), fresh_for_(2 * heartbeat) {}

Liveness::Clock::time_point Liveness::Reference(Clock::time_point now) const {
  return own_moved_ ? std::min(now, own_seen_ + fresh_for_) : now;
}

void Liveness::Moved(const std::string& node, Clock::time_point now) {
  if (node == self_) {
    // The view was stale from own_seen_ + fresh_for_ until now: ages measured from before that
    // point resume where they stopped (heartbeats that came during the stale time are real).
    const Clock::time_point frozen = own_seen_ + fresh_for_;
    if (own_moved_ && now > frozen) {
      const Clock::duration paused = now - frozen;
      for (auto& [id, at] : seen_) {
        if (at < frozen) at += paused;
      }
    }
    own_moved_ = true;
    own_seen_ = std::max(own_seen_, now);
  }
  seen_[node] = now;
}

void Liveness::FirstSeen(const std::string& node, Clock::time_point written,
                         Clock::time_point now) {
  seen_[node] = std::min(written, now);
}

void Liveness::Forget(const std::string& node) { seen_.erase(node); }

bool Liveness::Live(const std::string& node, Clock::time_point now, Clock::duration* age) const {
  *age = Clock::duration::zero();
  auto it = seen_.find(node);
  if (it == seen_.end()) return false;
  const Clock::duration elapsed = Reference(now) - it->second;
  *age = std::max(elapsed, Clock::duration::zero());
  return elapsed < lease_;
}

}  // namespace bn::cluster
