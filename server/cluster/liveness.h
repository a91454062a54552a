// Which cluster nodes are live, judged from their heartbeats as this node's watch of the nodes
// bucket delivers them (Metadata keeps one, under its mutex).
//
// A node is live while its heartbeat moved within the lease. The lease counts only time during
// which this node's own view was fresh: this node's own heartbeat is expected back through the
// same watch every heartbeat interval, and once it is more than two intervals late (its NATS
// server lost quorum or fails over, or the watch is slow) every other node's age stops growing.
// When the own heartbeat comes back, the ages resume where they stopped. So an outage of NATS
// or of the watch never makes a peer look dead, neither while it lasts nor in the moment after
// it, when this node's heartbeat has come back and the peers' next ones are still on their way;
// a peer that died during the outage is judged dead a lease (less the age it already had) after
// the view is fresh again.
//
// Thread safety: none (the caller locks). Times are steady_clock.
#ifndef BOTTLENECK_SERVER_CLUSTER_LIVENESS_H_
#define BOTTLENECK_SERVER_CLUSTER_LIVENESS_H_

#include <chrono>
#include <map>
#include <string>

namespace bn::cluster {

class Liveness {
 public:
  using Clock = std::chrono::steady_clock;

  // `self` is this node's id; `lease` how long a heartbeat keeps a node live; `heartbeat` the
  // interval at which every node puts its heartbeat.
  Liveness(std::string self, Clock::duration lease, Clock::duration heartbeat);

  // Node `node`'s heartbeat moved (a new counter or a restart) at `now`. For `self`, this is the
  // own heartbeat coming back: the other nodes' paused ages resume, and from the first such call
  // on, the view counts as stale while the own heartbeat is late.
  void Moved(const std::string& node, Clock::time_point now);
  // First sight of `node`'s entry (e.g. the values loaded at start), written at `written` as far
  // as the bucket says. Not a sign that the own heartbeat came back, even for `self`.
  void FirstSeen(const std::string& node, Clock::time_point written, Clock::time_point now);
  // The node's heartbeat entry was deleted.
  void Forget(const std::string& node);

  // Whether `node` is live at `now`; `age` is set to the time since its heartbeat last moved,
  // less the time the view was stale (0 for an unknown node, which is not live).
  bool Live(const std::string& node, Clock::time_point now, Clock::duration* age) const;

 private:
  // Up to when the view is known fresh: now, or two intervals after the own heartbeat came back
  // (now, until the own heartbeat has been seen moving once).
  Clock::time_point Reference(Clock::time_point now) const;

  const std::string self_;
  const Clock::duration lease_;
  const Clock::duration fresh_for_;                // Two heartbeat intervals.
  bool own_moved_ = false;                         // The own heartbeat has been seen moving.
  Clock::time_point own_seen_;                     // When it last came back.
  std::map<std::string, Clock::time_point> seen_;  // When each node's heartbeat last moved.
};

}  // namespace bn::cluster

#endif  // BOTTLENECK_SERVER_CLUSTER_LIVENESS_H_
