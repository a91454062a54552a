// Removing what one incarnation of a collection left in NATS: what DeleteCollection does after
// the record is gone, and what a restore does with a dead restore's leftovers
// (cluster_restore.h).
//
// Thread safety: any thread; it only issues NATS requests.
#ifndef BOTTLENECK_SERVER_CLUSTER_INCARNATION_CLEANUP_H_
#define BOTTLENECK_SERVER_CLUSTER_INCARNATION_CLEANUP_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "server/cluster/nats_client.h"

namespace bn::cluster {

class BlobChannel;
class Metadata;
class Names;

// Deletes incarnation `incarnation` of `collection`: its log stream, the keys of its model
// versions, snapshots and datasets (their blobs deleted message by message first, never purged:
// nats-io/nats-server#4196) and of its jobs. The record is not touched (the caller removes it
// first). Best effort: goes on past a failure and returns the first (NotFound counts as done).
[[nodiscard]] absl::Status RemoveIncarnation(nats::Connection* nats, Metadata* metadata,
                                             const Names& names, BlobChannel* blobs,
                                             BlobChannel* snapshot_blobs,
                                             const std::string& collection, uint64_t incarnation);

}  // namespace bn::cluster

#endif  // BOTTLENECK_SERVER_CLUSTER_INCARNATION_CLEANUP_H_
