// The shard replicas a node runs: those placed on it (names.h's Placement over the members),
// plus, during a hand-off, those it served before a membership change until every node the shard
// is now placed on reports it ready ("leaving"). Reconciles on every change of the metadata view
// (and every second): starts replicas, hands their collection's record to them, stops and drops
// replicas of deleted collections and local collections nobody needs, and asks the shard's
// designated replica (the live ready one with the smallest node id) for a snapshot every
// snapshot interval. The designated replica of shard 0 also trims the collection's log then
// (log_trimmer.h); a replica the trim left behind (ShardReplica::lost) is replaced by a new one.
//
// Thread safety: every public method may be called from any thread.
#ifndef BOTTLENECK_SERVER_CLUSTER_REPLICA_MANAGER_H_
#define BOTTLENECK_SERVER_CLUSTER_REPLICA_MANAGER_H_

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "bottleneck/cluster/internal.pb.h"
#include "server/cluster/context.h"

namespace bn::cluster {

class LocalState;
class LogTrimmer;
class ShardReplica;

class ReplicaManager {
 public:
  // `local` (the node's local state) must outlive the manager.
  ReplicaManager(const ClusterContext& context, LocalState* local);
  ~ReplicaManager();  // Stop().

  // Starts the node's replicas and the reconciling thread.
  [[nodiscard]] absl::Status Start();
  // Stops every replica (their local data stays). Idempotent.
  void Stop();

  // The replica of that shard on this node, or null.
  std::shared_ptr<ShardReplica> Find(const std::string& collection, uint64_t incarnation,
                                     uint32_t shard) const;
  std::vector<bottleneck::cluster::ReplicaReport> Reports() const;

 private:
  void Run();
  void Reconcile();

  const ClusterContext context_;
  LocalState* const local_;
  mutable std::mutex mutex_;  // Guards replicas_, snapshot_due_, stopped_.
  std::map<std::string, std::shared_ptr<ShardReplica>> replicas_;  // By local name.
  std::map<std::string, std::chrono::steady_clock::time_point> snapshot_due_;
  // Trims the logs of the collections whose shard 0 this node snapshots (null: --log-trim false).
  std::unique_ptr<LogTrimmer> trimmer_;
  bool stopped_ = false;
  std::thread thread_;
};

}  // namespace bn::cluster

#endif  // BOTTLENECK_SERVER_CLUSTER_REPLICA_MANAGER_H_
