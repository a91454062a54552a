// ClusterQueries::ListItems and CountItems: every shard's page (or count) from one ready replica,
// merged by id. A page holds the page_size smallest ids after the token over all shards, but
// never an id past the point where a shard stopped scanning (a shard scans at most 100,000 items
// per page), so that the next page's token leaves nothing out. Each shard's page comes from one
// RocksDB snapshot of that replica; the shards' pages are not one snapshot of the collection.
#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "server/cluster/cluster_collections.h"
#include "server/cluster/cluster_queries.h"
#include "server/cluster/model_cache.h"
#include "server/cluster/peers.h"
#include "server/cluster/topology.h"
#include "server/core/inputs.h"
#include "server/core/item_filter.h"
#include "server/core/query_engine.h"
#include "server/core/runtime.h"

namespace bn::cluster {
namespace {

namespace pb = ::bottleneck::cluster;
namespace v1 = ::bottleneck::v1;

constexpr uint32_t kDefaultPageSize = 100;
constexpr uint32_t kMaxPageSize = 1000;

// A ListShardItems request for shard `s` of the collection.
pb::ListShardItemsRequest ShardRequest(const pb::CollectionEntry& entry, uint32_t s) {
  pb::ListShardItemsRequest request;
  request.set_protocol_version(kProtocolVersion);
  request.set_collection(entry.collection().name());
  request.set_incarnation(entry.incarnation());
  request.set_shard(s);
  return request;
}

}  // namespace

absl::StatusOr<pb::ListShardItemsResponse> ClusterQueries::ListShard(
    const std::string& collection, const ShardTopology& shard, uint64_t version,
    const pb::ListShardItemsRequest& request, Deadline deadline) {
  absl::StatusOr<pb::ListShardItemsResponse> got = NoReplica(collection, shard, version);
  for (const ReplicaInfo& replica : Candidates(shard, version, context_.options->node_id)) {
    got = context_.peers->ListItems(replica.node, replica.address, request, deadline);
    const absl::StatusCode code = got.status().code();
    if (got.ok() ||
        !(code == absl::StatusCode::kUnavailable || code == absl::StatusCode::kFailedPrecondition ||
          code == absl::StatusCode::kAborted)) {
      break;
    }
  }
  return got;
}

absl::StatusOr<v1::ListItemsResponse> ClusterQueries::ListItems(const v1::ListItemsRequest& request,
                                                                Deadline deadline) {
  auto view = collections_->Lookup(request.collection());
  if (!view.ok()) return view.status();
  const pb::CollectionEntry& entry = view->entry;
  const uint32_t page_size = request.page_size() == 0 ? kDefaultPageSize : request.page_size();
  if (page_size > kMaxPageSize) return absl::InvalidArgumentError("page_size must be in 0..1000");
  if (!request.page_token().empty()) {
    auto id = IdFromListPageToken(request.page_token());
    if (!id.ok()) return id.status();
  }
  if (request.has_filter()) {
    auto compiled = CompiledFilter::Compile(request.filter(), entry.collection().spec());
    if (!compiled.ok()) return compiled.status();
  }
  const uint64_t version = entry.serving_version();
  const uint64_t code_version = request.include_codes() ? version : 0;
  std::shared_ptr<const ServingModel> model;
  if (code_version != 0) {
    auto got = models_->Get(entry, code_version);
    if (!got.ok()) return got.status();
    model = *got;
  }
  const auto topology = Topology(*context_.metadata, entry);

  struct Listed {
    v1::ListedItem item;
    std::string code;
  };
  std::vector<Listed> merged;
  std::optional<std::string> cut;  // The smallest last-scanned id of a shard that has more.
  for (uint32_t s = 0; s < entry.shards(); ++s) {
    pb::ListShardItemsRequest shard_request = ShardRequest(entry, s);
    *shard_request.mutable_list() = request;
    shard_request.mutable_list()->set_page_size(page_size);
    shard_request.set_code_version(code_version);
    auto page =
        ListShard(entry.collection().name(), topology[s], code_version, shard_request, deadline);
    if (!page.ok()) return page.status();
    if (!page->list().next_page_token().empty()) {
      auto last = IdFromListPageToken(page->list().next_page_token());
      if (!last.ok()) return last.status();
      if (!cut.has_value() || *last < *cut) cut = std::move(*last);
    }
    for (int i = 0; i < page->list().items_size(); ++i) {
      Listed listed{std::move(*page->mutable_list()->mutable_items(i)),
                    i < page->codes_size() ? page->codes(i) : std::string()};
      merged.push_back(std::move(listed));
    }
  }
  std::sort(merged.begin(), merged.end(), [](const Listed& a, const Listed& b) {
    return a.item.item().id() < b.item.item().id();
  });
  v1::ListItemsResponse response;
  response.set_model_version(version);
  size_t taken = 0;
  for (Listed& listed : merged) {
    if (cut.has_value() && listed.item.item().id() > *cut) break;
    if (taken == page_size) break;
    v1::ListedItem* out = response.add_items();
    *out = std::move(listed.item);
    if (model != nullptr && !listed.code.empty()) {
      *out->mutable_code() =
          BytesToCode(listed.code, model->model->code_size(), model->model->code_type());
    }
    ++taken;
  }
  if (taken == page_size && (cut.has_value() || merged.size() > taken)) {
    response.set_next_page_token(ListPageToken(response.items(taken - 1).item().id()));
  } else if (cut.has_value()) {
    response.set_next_page_token(ListPageToken(*cut));
  }
  return response;
}

absl::StatusOr<v1::CountItemsResponse> ClusterQueries::CountItems(
    const v1::CountItemsRequest& request, Deadline deadline) {
  auto view = collections_->Lookup(request.collection());
  if (!view.ok()) return view.status();
  const pb::CollectionEntry& entry = view->entry;
  if (request.has_filter()) {
    auto compiled = CompiledFilter::Compile(request.filter(), entry.collection().spec());
    if (!compiled.ok()) return compiled.status();
  }
  const auto topology = Topology(*context_.metadata, entry);
  v1::CountItemsResponse response;
  for (uint32_t s = 0; s < entry.shards(); ++s) {
    pb::ListShardItemsRequest shard_request = ShardRequest(entry, s);
    shard_request.set_count_only(true);
    if (request.has_filter()) *shard_request.mutable_list()->mutable_filter() = request.filter();
    auto counted = ListShard(entry.collection().name(), topology[s], 0, shard_request, deadline);
    if (!counted.ok()) return counted.status();
    response.set_count(response.count() + counted->count());
  }
  return response;
}

}  // namespace bn::cluster
