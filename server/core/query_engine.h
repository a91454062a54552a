// Reads: nearest-neighbour search (by input, code or stored item; optionally with the
// neighbours' label votes), Encode, Decode, Classify and GetItem. Searches by input encode
// through the model's micro-batcher; neighbours' heads (id, label, metadata) come from the
// collection's cache, filled from the store on a miss. Classify uses a classifier version
// (CollectionRegistry::Classifier). Nothing here writes, so it serves on followers too.
//
// Thread safety: any thread, concurrently.
// Errors: InvalidArgument (k, ef, empty query, malformed input or code, input count);
// NotFound (collection, item, model version); FailedPrecondition (no model serves the collection
// yet, the item has no code for it yet, Encode/Decode of a classifier version, Classify without
// a classifier version or with a version of another kind).
#ifndef BOTTLENECK_SERVER_CORE_QUERY_ENGINE_H_
#define BOTTLENECK_SERVER_CORE_QUERY_ENGINE_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "bottleneck/v1/collection.pb.h"
#include "bottleneck/v1/item.pb.h"
#include "bottleneck/v1/query.pb.h"
#include "server/core/neighbour_cache.h"

namespace bn {

class Store;
class CollectionRegistry;
class CollectionRuntime;

// The heads (id, label, metadata) of the items numbered `item_nos`, in order; nullptr for an item
// that no longer exists. From the collection's cache where it has them, otherwise from the store
// (label -> id in one MultiGet, then the items' records in another), filling the cache. Used by
// Search, and by cluster mode's shard searches (server/cluster).
[[nodiscard]] absl::StatusOr<std::vector<NeighbourCache::Head>> LookupNeighbourHeads(
    Store* store, const CollectionRuntime& runtime, const std::vector<uint64_t>& item_nos);

struct ServingModel;
class ServingIndex;
class CompiledFilter;

// The index part of a search whose query code is known: appends to `out` up to k neighbours of
// `code` in `index` (distances, heads from the neighbour cache), never item `exclude` (0: none),
// only items `filter` accepts when it is not null (a graph walk, or an exact scan of the matches
// when few match: bench/RESULTS-vector-db.md). ef 0 = the index's default. Used by Search and by
// cluster mode's shard searches.
[[nodiscard]] absl::Status SearchIndex(
    Store* store, const CollectionRuntime& runtime, const ServingIndex& index,
    const std::string& code, uint64_t exclude, uint32_t k, uint32_t ef, bool exact,
    const CompiledFilter* filter,
    google::protobuf::RepeatedPtrField<bottleneck::v1::Neighbor>* out);

// ListItems' page tokens: the token of a page that ended at item `last_id`, and the id a token
// names (InvalidArgument for a malformed token). Cluster mode merges shards' pages with them.
std::string ListPageToken(const std::string& last_id);
[[nodiscard]] absl::StatusOr<std::string> IdFromListPageToken(const std::string& token);

// Sets response->label_votes from its neighbours: most votes first, ties by label; unlabelled
// neighbours do not vote but count in the fractions' denominator.
void AddLabelVotes(bottleneck::v1::SearchResponse* response);

// `sm`'s model run on `inputs` (converted by the collection's input rules): its codes, or a
// classifier's class probabilities, row-major, inputs.size() x code_size; one micro-batched
// call for a single input, one batch for more. InvalidArgument naming inputs[i] for a malformed
// input. Shared by EncodeInputs and ClassifyInputs.
[[nodiscard]] absl::StatusOr<std::vector<float>> RunModelOnInputs(
    const bottleneck::v1::CollectionSpec& spec, const ServingModel& sm,
    const google::protobuf::RepeatedPtrField<bottleneck::v1::Input>& inputs);
// The codes of request.inputs (already checked to be 1..1024) with `sm`, in the collection's
// code kind: one micro-batched call for a single input, one batch for more. InvalidArgument
// naming inputs[i] for a malformed input. Used by Encode, and by cluster mode's Encode.
[[nodiscard]] absl::StatusOr<bottleneck::v1::EncodeResponse> EncodeInputs(
    const bottleneck::v1::CollectionSpec& spec, const ServingModel& sm,
    const bottleneck::v1::EncodeRequest& request);
// The outputs of request.codes (already checked to be 1..1024, top_words <= 1000) decoded
// with `sm`. InvalidArgument naming codes[i] for a malformed code. Used by Decode, and by
// cluster mode's Decode.
[[nodiscard]] absl::StatusOr<bottleneck::v1::DecodeResponse> DecodeCodes(
    const bottleneck::v1::CollectionSpec& spec, const ServingModel& sm,
    const bottleneck::v1::DecodeRequest& request);

// Classify's own checks of the request: 1..1024 inputs, k <= 1000 (InvalidArgument).
[[nodiscard]] absl::Status ValidateClassifyRequest(const bottleneck::v1::ClassifyRequest& request);
// The top k labels of each of request.inputs (already validated) with classifier version `sm`
// (checked by CheckClassifier): one micro-batched call for a single input, one batch for more.
// InvalidArgument naming inputs[i] for a malformed input. Used by Classify, and by cluster
// mode's Classify.
[[nodiscard]] absl::StatusOr<bottleneck::v1::ClassifyResponse> ClassifyInputs(
    const bottleneck::v1::CollectionSpec& spec, const ServingModel& sm,
    const bottleneck::v1::ClassifyRequest& request);

class QueryEngine {
 public:
  // `store` and `registry` must outlive this.
  QueryEngine(Store* store, const CollectionRegistry* registry);

  // With a filter: only matching items, k of them whenever k match (item_filter.h).
  [[nodiscard]] absl::StatusOr<bottleneck::v1::SearchResponse> Search(
      const bottleneck::v1::SearchRequest& request) const;
  // Up to 1024 searches of one collection, each with its own k, ef and filter; the input
  // queries are encoded in one model call. Validated whole first: a bad search rejects the
  // request with its status, prefixed by "searches[i]: ".
  [[nodiscard]] absl::StatusOr<bottleneck::v1::SearchBatchResponse> SearchBatch(
      const bottleneck::v1::SearchBatchRequest& request) const;
  // Codes of up to 1024 inputs, with the serving model or a named version.
  [[nodiscard]] absl::StatusOr<bottleneck::v1::EncodeResponse> Encode(
      const bottleneck::v1::EncodeRequest& request) const;
  // Reconstructions (images, or top words) of up to 1024 codes.
  [[nodiscard]] absl::StatusOr<bottleneck::v1::DecodeResponse> Decode(
      const bottleneck::v1::DecodeRequest& request) const;
  // Top-k labels with probabilities for up to 1024 inputs (query_classify.cc).
  [[nodiscard]] absl::StatusOr<bottleneck::v1::ClassifyResponse> Classify(
      const bottleneck::v1::ClassifyRequest& request) const;
  [[nodiscard]] absl::StatusOr<bottleneck::v1::GetItemResponse> GetItem(
      const bottleneck::v1::GetItemRequest& request) const;
  // Paging through items in id order (item_listing.cc; the consistency guarantee is stated in
  // item.proto); counting items, all or matching a filter.
  [[nodiscard]] absl::StatusOr<bottleneck::v1::ListItemsResponse> ListItems(
      const bottleneck::v1::ListItemsRequest& request) const;
  [[nodiscard]] absl::StatusOr<bottleneck::v1::CountItemsResponse> CountItems(
      const bottleneck::v1::CountItemsRequest& request) const;

 private:
  Store* const store_;
  const CollectionRegistry* const registry_;
};

}  // namespace bn

#endif  // BOTTLENECK_SERVER_CORE_QUERY_ENGINE_H_
