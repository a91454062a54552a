// Collections in cluster mode: their records live in the collections bucket, their logs are
// JetStream streams (one per incarnation, a subject per shard). Create/Get/List/Delete answer the
// v1 CollectionService from any node; statistics come from the replicas' heartbeats.
//
// Thread safety: any thread.
// Errors: INVALID_ARGUMENT (name, spec, shards, replicas); ALREADY_EXISTS; FAILED_PRECONDITION
// for an existing collection re-created with another shard count; NOT_FOUND; UNAVAILABLE when
// NATS cannot be reached.
#ifndef BOTTLENECK_SERVER_CLUSTER_CLUSTER_COLLECTIONS_H_
#define BOTTLENECK_SERVER_CLUSTER_CLUSTER_COLLECTIONS_H_

#include <string>

#include "absl/status/statusor.h"
#include "bottleneck/v1/collection.pb.h"
#include "server/cluster/context.h"
#include "server/cluster/metadata.h"

namespace bn::cluster {

class ClusterCollections {
 public:
  explicit ClusterCollections(const ClusterContext& context) : context_(context) {}

  [[nodiscard]] absl::StatusOr<bottleneck::v1::Collection> Create(
      const bottleneck::v1::CreateCollectionRequest& request);
  [[nodiscard]] absl::StatusOr<bottleneck::v1::Collection> Describe(const std::string& name);
  [[nodiscard]] absl::StatusOr<bottleneck::v1::ListCollectionsResponse> List();
  // Removes the record (every node then drops its replicas), the log and the collection's models,
  // snapshots, datasets and jobs.
  [[nodiscard]] absl::Status Delete(const std::string& name);

  // The collection from this node's view: NOT_FOUND ("collection 'x' not found").
  [[nodiscard]] absl::StatusOr<Metadata::CollectionView> Find(const std::string& name) const;

 private:
  bottleneck::v1::Collection DescribeView(const Metadata::CollectionView& view);

  const ClusterContext context_;
};

}  // namespace bn::cluster

#endif  // BOTTLENECK_SERVER_CLUSTER_CLUSTER_COLLECTIONS_H_
