// Options of a bottleneckd in cluster mode (bottleneckd --cluster; server/config.h maps the flags).
#ifndef BOTTLENECK_SERVER_CLUSTER_CLUSTER_OPTIONS_H_
#define BOTTLENECK_SERVER_CLUSTER_CLUSTER_OPTIONS_H_

#include <chrono>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "server/cluster/nats_client.h"

namespace bn::cluster {

struct ClusterOptions {
  std::vector<std::string> nats_servers;  // nats://HOST:PORT, any of the NATS cluster's servers.
  std::string nats_user;
  std::string nats_password;
  std::string nats_token;
  std::chrono::milliseconds nats_connect_timeout{5000};
  std::string cluster_name = "bottleneck";  // Prefix of every stream and bucket.
  std::string node_id;                      // Unique in the cluster.
  std::string data_dir;                     // The node's own directory (local store, snapshots).
  bool training = true;                     // Runs training jobs.
  uint32_t default_shards = 1;
  uint32_t default_replicas = 2;  // Replicas per shard.
  int stream_replicas = 3;        // JetStream replicas of logs, buckets and blobs.
  std::chrono::milliseconds heartbeat{1000};
  std::chrono::milliseconds lease{5000};  // A node without a new heartbeat for this long is down.
  // A shard's snapshot is refreshed this often when its log moved (by one of its replicas).
  std::chrono::seconds snapshot_interval{300};
  // Deletes the log's messages the shards' snapshots hold, every snapshot interval
  // (log_trimmer.h).
  bool log_trim = true;
  // Blobs no metadata names are deleted once their last chunk is this old (0: never;
  // blob_collector.h).
  std::chrono::seconds blob_gc_grace{3600};
  uint32_t max_batch_items = 4096;  // Items per Upsert request.
  // Priority of replica maintenance (re-encoding, snapshots): LowerThisThreadPriority levels.
  int background_nice = 20;
  // Node-to-node calls: a bearer token when the nodes require one, and TLS root certificates
  // (PEM) when they serve TLS.
  std::string peer_token;
  bool peer_tls = false;
  std::string peer_tls_roots;
};

// How this process connects to NATS with `options`' servers and credentials; `client_name` is
// what the servers' monitoring shows.
inline nats::ConnectOptions NatsConnectOptions(const ClusterOptions& options,
                                               std::string client_name) {
  nats::ConnectOptions connect;
  connect.servers = options.nats_servers;
  connect.name = std::move(client_name);
  connect.connect_timeout = options.nats_connect_timeout;
  connect.user = options.nats_user;
  connect.password = options.nats_password;
  connect.token = options.nats_token;
  return connect;
}

}  // namespace bn::cluster

#endif  // BOTTLENECK_SERVER_CLUSTER_CLUSTER_OPTIONS_H_
