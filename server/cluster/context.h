// What the parts of a cluster node share (cluster_node.h owns all of it). Plain pointers: each is
// owned by the ClusterNode (or the Server, for the local Core and Store) and outlives the parts.
#ifndef BOTTLENECK_SERVER_CLUSTER_CONTEXT_H_
#define BOTTLENECK_SERVER_CLUSTER_CONTEXT_H_

#include "server/cluster/cluster_options.h"
#include "server/cluster/names.h"

namespace bn {
class Core;
class Store;
namespace nats {
class Connection;
}
}  // namespace bn

namespace bn::cluster {

class Metadata;
class BlobChannel;
class Peers;
class ReplicaManager;

struct ClusterContext {
  const ClusterOptions* options = nullptr;
  const Names* names = nullptr;
  nats::Connection* nats = nullptr;
  Metadata* metadata = nullptr;
  BlobChannel* blobs = nullptr;           // Models and datasets.
  BlobChannel* snapshot_blobs = nullptr;  // Shard snapshots.
  Peers* peers = nullptr;
  ReplicaManager* replicas = nullptr;  // The shards this node serves.
  Core* core = nullptr;                // The node's local core (its shards' collections).
  Store* store = nullptr;              // The node's local store: a cache of the logs.
};

}  // namespace bn::cluster

#endif  // BOTTLENECK_SERVER_CLUSTER_CONTEXT_H_
