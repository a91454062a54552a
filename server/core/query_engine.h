// Reads: nearest-neighbour search (by input, code or stored item), Encode, Decode and GetItem.
// Searches by input encode through the model's micro-batcher; neighbours' heads (id, label,
// metadata) come from the collection's cache, filled from the store on a miss. Nothing here
// writes, so it serves on followers too.
//
// Thread safety: any thread, concurrently.
// Errors: InvalidArgument (k, ef, empty query, malformed input or code); NotFound (collection,
// item, model version); FailedPrecondition (no model serves the collection yet, or the item has
// no code for it yet).
#ifndef BOTTLENECK_SERVER_CORE_QUERY_ENGINE_H_
#define BOTTLENECK_SERVER_CORE_QUERY_ENGINE_H_

#include <vector>

#include "absl/status/statusor.h"
#include "bottleneck/v1/item.pb.h"
#include "bottleneck/v1/query.pb.h"
#include "server/core/neighbour_cache.h"

namespace bn {

class Store;
class CollectionRegistry;
class CollectionRuntime;

// The heads (id, label, metadata) of the items with index `labels`, in order; nullptr for an item
// that no longer exists. From the collection's cache where it has them, otherwise from the store
// (label -> id in one MultiGet, then the items' records in another), filling the cache. Used by
// Search, and by cluster mode's shard searches (server/cluster).
[[nodiscard]] absl::StatusOr<std::vector<NeighbourCache::Head>> LookupNeighbourHeads(
    Store* store, const CollectionRuntime& runtime, const std::vector<uint64_t>& labels);

class QueryEngine {
 public:
  // `store` and `registry` must outlive this.
  QueryEngine(Store* store, const CollectionRegistry* registry);

  [[nodiscard]] absl::StatusOr<bottleneck::v1::SearchResponse> Search(
      const bottleneck::v1::SearchRequest& request) const;
  // Codes of up to 1024 inputs, with the serving model or a named version.
  [[nodiscard]] absl::StatusOr<bottleneck::v1::EncodeResponse> Encode(
      const bottleneck::v1::EncodeRequest& request) const;
  // Reconstructions (images, or top words) of up to 1024 codes.
  [[nodiscard]] absl::StatusOr<bottleneck::v1::DecodeResponse> Decode(
      const bottleneck::v1::DecodeRequest& request) const;
  [[nodiscard]] absl::StatusOr<bottleneck::v1::GetItemResponse> GetItem(
      const bottleneck::v1::GetItemRequest& request) const;

 private:
  Store* const store_;
  const CollectionRegistry* const registry_;
};

}  // namespace bn

#endif  // BOTTLENECK_SERVER_CORE_QUERY_ENGINE_H_
