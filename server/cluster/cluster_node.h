// A bottleneckd node in cluster mode (docs/cluster.md): the composition root of the cluster
// parts. It connects to NATS, opens the metadata, registers the node as a member, announces it
// with heartbeats, serves the shards placed on it (through the node's local Core, whose
// collections are its shards' caches) and routes every v1 request.
//
// Thread safety: every method may be called from any thread after Open.
// Errors: UNAVAILABLE when NATS cannot be reached (naming the servers), FAILED_PRECONDITION for
// a cluster of another protocol version or a node id already live elsewhere.
#ifndef BOTTLENECK_SERVER_CLUSTER_CLUSTER_NODE_H_
#define BOTTLENECK_SERVER_CLUSTER_CLUSTER_NODE_H_

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "bottleneck/v1/cluster.pb.h"
#include "server/cluster/cluster_options.h"
#include "server/cluster/context.h"

namespace bn::cluster {

class BlobCollector;
class ClusterBackups;
class ClusterCollections;
class LocalState;
class ClusterItems;
class ClusterModels;
class ClusterQueries;
class ClusterTraining;
class ModelCache;
class ShardServer;

class ClusterNode {
 public:
  // `core` and `store` (the node's local ones) must outlive the node.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<ClusterNode>> Open(
      const ClusterOptions& options, Core* core, Store* store);
  ~ClusterNode();  // Shutdown().
  ClusterNode(const ClusterNode&) = delete;
  ClusterNode& operator=(const ClusterNode&) = delete;

  // Announces `address` (where other nodes reach this node's query endpoint) and starts the
  // heartbeats and the shards' replicas.
  [[nodiscard]] absl::Status Start(const std::string& address);
  // Stops heartbeats and replicas (the node's heartbeat then ages out). Idempotent.
  void Shutdown();

  const ClusterContext& context() const { return context_; }
  ClusterCollections& collections() { return *collections_; }
  ClusterItems& items() { return *items_; }
  ClusterModels& model_versions() { return *model_versions_; }
  ClusterQueries& queries() { return *queries_; }
  ClusterTraining& training() { return *training_; }
  ShardServer& shard_server() { return *shard_server_; }
  ModelCache& models() { return *models_; }
  ClusterBackups& backups() { return *backups_; }

  // ClusterService.
  [[nodiscard]] absl::StatusOr<bottleneck::v1::Cluster> Describe() const;
  [[nodiscard]] absl::Status RemoveNode(const std::string& node);

 private:
  explicit ClusterNode(const ClusterOptions& options);
  absl::Status WaitForPreviousInstance();
  void HeartbeatLoop();
  absl::Status PutHeartbeat();

  const ClusterOptions options_;
  const Names names_;
  std::unique_ptr<nats::Connection> nats_;
  std::unique_ptr<Metadata> metadata_;
  std::unique_ptr<BlobChannel> blobs_;
  std::unique_ptr<BlobChannel> snapshot_blobs_;
  ClusterContext context_;
  std::unique_ptr<LocalState> local_;
  std::unique_ptr<ShardServer> shard_server_;
  std::unique_ptr<Peers> peers_;
  std::unique_ptr<ReplicaManager> replicas_;
  std::unique_ptr<BlobCollector> collector_;  // Null when --blob-gc-grace-seconds is 0.
  std::unique_ptr<ModelCache> models_;
  std::unique_ptr<ClusterCollections> collections_;
  std::unique_ptr<ClusterItems> items_;
  std::unique_ptr<ClusterModels> model_versions_;
  std::unique_ptr<ClusterQueries> queries_;
  std::unique_ptr<ClusterTraining> training_;
  std::unique_ptr<ClusterBackups> backups_;

  std::string address_;
  int64_t start_ns_ = 0;
  uint64_t heartbeat_ = 0;
  std::mutex mutex_;
  std::condition_variable stop_cv_;
  bool stopped_ = false;
  std::thread heartbeat_thread_;
};

}  // namespace bn::cluster

#endif  // BOTTLENECK_SERVER_CLUSTER_CLUSTER_NODE_H_
