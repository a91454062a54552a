// Calls to other nodes' ShardService (and to this node's own ShardServer in process, without
// gRPC). Channels are made on first use and kept, one per address; every call carries the
// node-to-node token (when the nodes require tokens) and a deadline.
//
// Thread safety: any thread. Callbacks of asynchronous calls run on a gRPC thread (or, for this
// node, on the calling thread before the call returns).
// Errors: the peer's status (UNAVAILABLE when it cannot be reached).
#ifndef BOTTLENECK_SERVER_CLUSTER_PEERS_H_
#define BOTTLENECK_SERVER_CLUSTER_PEERS_H_

#include <grpcpp/security/credentials.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "absl/status/statusor.h"
#include "bottleneck/cluster/internal.grpc.pb.h"
#include "server/cluster/cluster_options.h"

namespace bn::cluster {

class ShardServer;

class Peers {
 public:
  using Deadline = std::chrono::system_clock::time_point;
  using SearchDone = std::function<void(absl::StatusOr<bottleneck::cluster::SearchShardResponse>)>;

  // `local` (this node's ShardServer, reached in process at `self`) must outlive the Peers.
  Peers(const ClusterOptions& options, const ShardServer* local);

  // Searches one shard on `node` at `address`; `done` is called exactly once.
  void SearchAsync(const std::string& node, const std::string& address,
                   const bottleneck::cluster::SearchShardRequest& request, Deadline deadline,
                   SearchDone done);
  [[nodiscard]] absl::StatusOr<bottleneck::cluster::GetShardItemsResponse> GetItems(
      const std::string& node, const std::string& address,
      const bottleneck::cluster::GetShardItemsRequest& request, Deadline deadline);
  [[nodiscard]] absl::StatusOr<bottleneck::cluster::ListShardItemsResponse> ListItems(
      const std::string& node, const std::string& address,
      const bottleneck::cluster::ListShardItemsRequest& request, Deadline deadline);
  [[nodiscard]] absl::StatusOr<bottleneck::v1::Job> ForwardJob(
      const std::string& address, const bottleneck::cluster::ForwardJobRequest& request,
      Deadline deadline);

 private:
  bottleneck::cluster::ShardService::Stub* Stub(const std::string& address);
  std::unique_ptr<grpc::ClientContext> Context(Deadline deadline) const;

  const ClusterOptions options_;
  const ShardServer* const local_;
  std::shared_ptr<grpc::ChannelCredentials> credentials_;
  std::mutex mutex_;
  std::map<std::string, std::unique_ptr<bottleneck::cluster::ShardService::Stub>> stubs_;
};

// A gRPC status as an absl::Status (same code and message).
absl::Status FromGrpc(const grpc::Status& status);

}  // namespace bn::cluster

#endif  // BOTTLENECK_SERVER_CLUSTER_PEERS_H_
