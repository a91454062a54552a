// The node-to-node side of a shard replica (internal.proto's ShardService): searches of one
// shard with a named model version, and reads of its items. The gRPC service calls it for other
// nodes; the node's own router calls it in process.
//
// Thread safety: any thread.
// Errors: FAILED_PRECONDITION for another protocol version, a shard this node does not serve, or
// a model version whose index is not ready here; UNAVAILABLE when the replica has not applied the
// log up to min_sequence by the deadline; INVALID_ARGUMENT for a malformed code.
#ifndef BOTTLENECK_SERVER_CLUSTER_SHARD_SERVER_H_
#define BOTTLENECK_SERVER_CLUSTER_SHARD_SERVER_H_

#include <chrono>
#include <memory>

#include "absl/status/statusor.h"
#include "bottleneck/cluster/internal.pb.h"
#include "server/cluster/context.h"

namespace bn::cluster {

class ShardReplica;

class ShardServer {
 public:
  explicit ShardServer(const ClusterContext& context) : context_(context) {}

  [[nodiscard]] absl::StatusOr<bottleneck::cluster::SearchShardResponse> Search(
      const bottleneck::cluster::SearchShardRequest& request,
      std::chrono::system_clock::time_point deadline) const;
  // A page of the shard's items (the local core's ListItems) or their count.
  [[nodiscard]] absl::StatusOr<bottleneck::cluster::ListShardItemsResponse> List(
      const bottleneck::cluster::ListShardItemsRequest& request,
      std::chrono::system_clock::time_point deadline) const;
  [[nodiscard]] absl::StatusOr<bottleneck::cluster::GetShardItemsResponse> GetItems(
      const bottleneck::cluster::GetShardItemsRequest& request,
      std::chrono::system_clock::time_point deadline) const;

 private:
  absl::StatusOr<std::shared_ptr<ShardReplica>> Replica(uint32_t protocol_version,
                                                        const std::string& collection,
                                                        uint64_t incarnation, uint32_t shard) const;

  const ClusterContext context_;
};

}  // namespace bn::cluster

#endif  // BOTTLENECK_SERVER_CLUSTER_SHARD_SERVER_H_
