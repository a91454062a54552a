// Queries in cluster mode, from any node. Search turns the query into a code with the
// collection's serving version (encoding an input here, with the model's micro-batcher; taking a
// stored item's code from a replica of its shard), fans it out to one ready replica of every
// shard, naming the version (this node's own replicas are searched in process, the others over
// ShardService, in parallel; a failed replica is replaced by the next one of its shard), merges
// the shards' top k by distance and answers the v1 SearchResponse. A shard without a live ready
// replica fails the search with UNAVAILABLE naming it, unless allow_partial (then the response
// lists it in missing_shards). SearchBatch checks every search first, then runs them in turn
// (each fans out; unlike the single node, input queries are encoded one by one), all against one
// serving version. Encode, Decode and Classify run here with the cached model (Classify needs no
// shard: a classifier version's answer depends only on the model).
//
// Thread safety: any thread.
// Errors: as the single-node QueryService, plus UNAVAILABLE as above.
#ifndef BOTTLENECK_SERVER_CLUSTER_CLUSTER_QUERIES_H_
#define BOTTLENECK_SERVER_CLUSTER_CLUSTER_QUERIES_H_

#include <chrono>
#include <string>

#include "absl/status/statusor.h"
#include "bottleneck/cluster/internal.pb.h"
#include "bottleneck/v1/item.pb.h"
#include "bottleneck/v1/query.pb.h"
#include "server/cluster/context.h"

namespace bn::cluster {

class ClusterCollections;
class ClusterModels;
struct ShardTopology;
class ModelCache;

class ClusterQueries {
 public:
  using Deadline = std::chrono::system_clock::time_point;
  // `versions` may be null for a ClusterQueries that never classifies (Classify uses it).
  ClusterQueries(const ClusterContext& context, ClusterCollections* collections,
                 ClusterModels* versions, ModelCache* models)
      : context_(context), collections_(collections), versions_(versions), models_(models) {}

  [[nodiscard]] absl::StatusOr<bottleneck::v1::SearchResponse> Search(
      const bottleneck::v1::SearchRequest& request, Deadline deadline);
  [[nodiscard]] absl::StatusOr<bottleneck::v1::SearchBatchResponse> SearchBatch(
      const bottleneck::v1::SearchBatchRequest& request, Deadline deadline);
  // Pages through the collection in id order over every shard (cluster_listing.cc), with the
  // single node's request, tokens and errors; UNAVAILABLE naming a shard without a replica.
  [[nodiscard]] absl::StatusOr<bottleneck::v1::ListItemsResponse> ListItems(
      const bottleneck::v1::ListItemsRequest& request, Deadline deadline);
  [[nodiscard]] absl::StatusOr<bottleneck::v1::CountItemsResponse> CountItems(
      const bottleneck::v1::CountItemsRequest& request, Deadline deadline);
  [[nodiscard]] absl::StatusOr<bottleneck::v1::EncodeResponse> Encode(
      const bottleneck::v1::EncodeRequest& request);
  [[nodiscard]] absl::StatusOr<bottleneck::v1::DecodeResponse> Decode(
      const bottleneck::v1::DecodeRequest& request);
  // Top-k labels of up to 1024 inputs with a classifier version (cluster_classify.cc).
  [[nodiscard]] absl::StatusOr<bottleneck::v1::ClassifyResponse> Classify(
      const bottleneck::v1::ClassifyRequest& request);

 private:
  absl::StatusOr<bottleneck::cluster::ListShardItemsResponse> ListShard(
      const std::string& collection, const ShardTopology& shard, uint64_t version,
      const bottleneck::cluster::ListShardItemsRequest& request, Deadline deadline);
  absl::StatusOr<bottleneck::v1::SearchResponse> SearchOnce(
      const bottleneck::v1::SearchRequest& request, Deadline deadline, bool* version_moved);

  const ClusterContext context_;
  ClusterCollections* const collections_;
  ClusterModels* const versions_;
  ModelCache* const models_;
};

}  // namespace bn::cluster

#endif  // BOTTLENECK_SERVER_CLUSTER_CLUSTER_QUERIES_H_
