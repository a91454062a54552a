// The one path that encodes items and writes them: Upsert (StreamUpsert calls it per message),
// DeleteItems, and the promoter's re-encoding of stored items. Every write is one durable store
// batch; before the call returns, the collection's neighbour cache forgets what changed and the
// serving (and promotion) indexes catch up with it. While a promotion runs, upserted items are
// encoded with both the serving and the target model.
//
// Thread safety: any thread; writes to one collection serialise on its write mutex.
// Errors: InvalidArgument for a bad request (nothing written); NotFound for an unknown
// collection; FailedPrecondition on a follower; Internal when a stored write could not reach the
// index (it is rebuilt from the store on restart).
#ifndef BOTTLENECK_SERVER_CORE_ITEM_INGEST_H_
#define BOTTLENECK_SERVER_CORE_ITEM_INGEST_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "bottleneck/v1/item.pb.h"

namespace bn {

class Store;
class CollectionRegistry;
class CollectionRuntime;
struct PromotionState;

class ItemIngest {
 public:
  // `store` and `registry` must outlive this. At most `max_batch_items` items per request.
  ItemIngest(Store* store, const CollectionRegistry* registry, uint32_t max_batch_items);

  // `log_position` (cluster mode: a shard replica applying its log) is stored with the write
  // (CollectionState::log_position); 0 stores none.
  [[nodiscard]] absl::StatusOr<bottleneck::v1::UpsertResponse> Upsert(
      const bottleneck::v1::UpsertRequest& request, uint64_t log_position = 0);
  // By ids, or by a filter (every matching item, in batches of max_batch_items under the
  // collection's write mutex; on a failure part-way the message says how many were deleted).
  [[nodiscard]] absl::StatusOr<bottleneck::v1::DeleteItemsResponse> Delete(
      const bottleneck::v1::DeleteItemsRequest& request, uint64_t log_position = 0);

  // Encodes with the promotion's model each stored item of `ids` that has no code for it yet,
  // and writes those codes. Items deleted meanwhile, or replaced (the upsert path encoded them
  // with both models), are skipped; an item the new model cannot encode is logged and skipped.
  [[nodiscard]] absl::Status Reencode(CollectionRuntime* runtime, const PromotionState& promotion,
                                      const std::vector<std::string>& ids);

 private:
  absl::StatusOr<bottleneck::v1::DeleteItemsResponse> DeleteMatching(
      CollectionRuntime* runtime, const bottleneck::v1::DeleteItemsRequest& request);
  Store* const store_;
  const CollectionRegistry* const registry_;
  const uint32_t max_batch_items_;
};

}  // namespace bn

#endif  // BOTTLENECK_SERVER_CORE_ITEM_INGEST_H_
