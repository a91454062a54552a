// Where a collection's shards are: their placement (names.h's rendezvous hashing over the
// members) and the replicas that nodes report in their heartbeats, from the Metadata view.
// Stateless functions; thread-safe as Metadata is.
#ifndef BOTTLENECK_SERVER_CLUSTER_TOPOLOGY_H_
#define BOTTLENECK_SERVER_CLUSTER_TOPOLOGY_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "bottleneck/cluster/internal.pb.h"
#include "bottleneck/v1/cluster.pb.h"
#include "server/cluster/metadata.h"

namespace bn::cluster {

// Replica states as reported (ReplicaReport.state).
inline constexpr char kRestoring[] = "restoring";
inline constexpr char kCatchingUp[] = "catching_up";
inline constexpr char kReady[] = "ready";
inline constexpr char kLeaving[] = "leaving";

struct ReplicaInfo {
  std::string node;
  std::string address;
  bool live = false;
  uint32_t protocol_version = 0;
  bottleneck::cluster::ReplicaReport report;
  // Ready (caught up with the log) with a complete index of `version`.
  bool ReadyAt(uint64_t version) const;
};

struct ShardTopology {
  uint32_t shard = 0;
  std::vector<std::string> placement;
  std::vector<ReplicaInfo> replicas;  // Every node that reports the shard, by node id.
};

std::vector<ShardTopology> Topology(const Metadata& metadata,
                                    const bottleneck::cluster::CollectionEntry& entry);

// Where to send a request for `shard` at model `version` (0: any): its live replicas that are
// ready at it and speak this node's protocol, `self` first, the others in random order.
std::vector<ReplicaInfo> Candidates(const ShardTopology& shard, uint64_t version,
                                    const std::string& self);
// UNAVAILABLE naming the collection, the shard and where it is placed (and FAILED_PRECONDITION
// when its only live replicas run another protocol version).
absl::Status NoReplica(const std::string& collection, const ShardTopology& shard, uint64_t version);

// The API's view of one shard (GetCollection's cluster field).
bottleneck::v1::ShardStatus ToShardStatus(const ShardTopology& shard);

}  // namespace bn::cluster

#endif  // BOTTLENECK_SERVER_CLUSTER_TOPOLOGY_H_
