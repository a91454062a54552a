// Items in cluster mode, from any node. Writes go to the collection's log: a request is validated
// whole (ids, labels, metadata, and every input against the serving model), its items are split
// by shard (ShardOf), each shard's part is published to its subject, and the reply comes once
// JetStream has acknowledged every part (stored on a quorum of the stream's replicas); it carries
// the log sequence for read-your-writes (min_sequence). Parts of a request that spans shards are
// separate messages: if publishing fails midway the status says how many items were written
// (upserts and deletes are idempotent, so a retry is safe). Delete by filter lists the matching
// ids (ClusterQueries::ListItems) and deletes them by id, a page at a time: not one atomic step as
// on a single node. Reads go to a ready replica of the item's shard (this node's first).
//
// Thread safety: any thread.
// Errors: as the single-node ItemService, plus UNAVAILABLE (NATS, or a shard without a live
// replica for reads) and RESOURCE_EXHAUSTED for an item larger than the NATS servers'
// max_payload.
#ifndef BOTTLENECK_SERVER_CLUSTER_CLUSTER_ITEMS_H_
#define BOTTLENECK_SERVER_CLUSTER_CLUSTER_ITEMS_H_

#include <chrono>

#include "absl/status/statusor.h"
#include "bottleneck/v1/item.pb.h"
#include "server/cluster/context.h"

namespace bn::cluster {

class ClusterCollections;
class ModelCache;

class ClusterItems {
 public:
  using Deadline = std::chrono::system_clock::time_point;
  ClusterItems(const ClusterContext& context, ClusterCollections* collections, ModelCache* models)
      : context_(context), collections_(collections), models_(models) {}

  [[nodiscard]] absl::StatusOr<bottleneck::v1::UpsertResponse> Upsert(
      const bottleneck::v1::UpsertRequest& request);
  [[nodiscard]] absl::StatusOr<bottleneck::v1::DeleteItemsResponse> Delete(
      const bottleneck::v1::DeleteItemsRequest& request, Deadline deadline);
  [[nodiscard]] absl::StatusOr<bottleneck::v1::GetItemResponse> GetItem(
      const bottleneck::v1::GetItemRequest& request, Deadline deadline);

 private:
  absl::StatusOr<bottleneck::v1::DeleteItemsResponse> DeleteMatching(
      const bottleneck::v1::DeleteItemsRequest& request, Deadline deadline);

  const ClusterContext context_;
  ClusterCollections* const collections_;
  ModelCache* const models_;
};

}  // namespace bn::cluster

#endif  // BOTTLENECK_SERVER_CLUSTER_CLUSTER_ITEMS_H_
