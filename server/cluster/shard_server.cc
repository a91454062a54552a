#include "server/cluster/shard_server.h"

#include <optional>

#include "absl/strings/str_cat.h"
#include "engine/store/collection_store.h"
#include "server/cluster/replica_manager.h"
#include "server/cluster/shard_replica.h"
#include "server/cluster/shard_versions.h"
#include "server/core/core.h"
#include "server/core/item_filter.h"
#include "server/core/query_engine.h"
#include "server/core/runtime.h"

namespace bn::cluster {
namespace {

namespace pb = ::bottleneck::cluster;
namespace v1 = ::bottleneck::v1;

}  // namespace

absl::StatusOr<std::shared_ptr<ShardReplica>> ShardServer::Replica(uint32_t protocol_version,
                                                                   const std::string& collection,
                                                                   uint64_t incarnation,
                                                                   uint32_t shard) const {
  if (protocol_version != kProtocolVersion) {
    return absl::FailedPreconditionError(absl::StrCat(
        "node ", context_.options->node_id, " speaks cluster protocol version ", kProtocolVersion,
        ", the caller version ", protocol_version, ": run the same bottleneckd on every node"));
  }
  auto replica = context_.replicas->Find(collection, incarnation, shard);
  if (replica == nullptr || replica->runtime() == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat("node ", context_.options->node_id,
                                                      " does not serve shard ", shard,
                                                      " of collection '", collection, "'"));
  }
  return replica;
}

absl::StatusOr<pb::SearchShardResponse> ShardServer::Search(
    const pb::SearchShardRequest& request, std::chrono::system_clock::time_point deadline) const {
  auto replica = Replica(request.protocol_version(), request.collection(), request.incarnation(),
                         request.shard());
  if (!replica.ok()) return replica.status();
  if (absl::Status s = (*replica)->WaitForSequence(request.min_sequence(), deadline); !s.ok()) {
    return s;
  }
  auto searchable = (*replica)->versions()->For(request.model_version());
  if (!searchable.ok()) return searchable.status();
  auto runtime = (*replica)->runtime();
  uint64_t exclude = 0;
  if (!request.exclude_id().empty()) {
    if (auto item =
            CollectionStore(context_.store).GetItem((*replica)->local_name(), request.exclude_id());
        item.ok()) {
      exclude = item->item_no;
    }
  }
  std::optional<CompiledFilter> filter;
  if (request.has_filter()) {
    auto compiled = CompiledFilter::Compile(request.filter(), runtime->spec());
    if (!compiled.ok()) return compiled.status();
    filter.emplace(std::move(*compiled));
  }
  pb::SearchShardResponse response;
  if (absl::Status s =
          SearchIndex(context_.store, *runtime, *searchable->index, request.code(), exclude,
                      request.k(), request.ef(), request.exact(),
                      filter.has_value() ? &*filter : nullptr, response.mutable_neighbors());
      !s.ok()) {
    return s;
  }
  response.set_filter_applied(filter.has_value());
  response.set_applied_sequence((*replica)->applied());
  return response;
}

absl::StatusOr<pb::ListShardItemsResponse> ShardServer::List(
    const pb::ListShardItemsRequest& request,
    std::chrono::system_clock::time_point deadline) const {
  auto replica = Replica(request.protocol_version(), request.collection(), request.incarnation(),
                         request.shard());
  if (!replica.ok()) return replica.status();
  if (absl::Status s = (*replica)->WaitForSequence(request.min_sequence(), deadline); !s.ok()) {
    return s;
  }
  const std::string& local = (*replica)->local_name();
  QueryEngine& queries = context_.core->queries();
  pb::ListShardItemsResponse response;
  if (request.count_only()) {
    v1::CountItemsRequest count;
    count.set_collection(local);
    if (request.list().has_filter()) *count.mutable_filter() = request.list().filter();
    auto counted = queries.CountItems(count);
    if (!counted.ok()) return counted.status();
    response.set_count(counted->count());
  } else {
    v1::ListItemsRequest list = request.list();
    list.set_collection(local);
    list.set_include_codes(false);
    auto listed = queries.ListItems(list);
    if (!listed.ok()) return listed.status();
    *response.mutable_list() = std::move(*listed);
    response.mutable_list()->set_model_version(request.code_version());
    if (request.code_version() != 0) {
      CollectionStore store(context_.store);
      std::vector<std::string> ids;
      for (const auto& listed_item : response.list().items())
        ids.push_back(listed_item.item().id());
      auto items = store.GetItems(local, ids);
      if (!items.ok()) return items.status();
      for (const auto& item : *items) {
        std::string* code = response.add_codes();
        if (!item.has_value()) continue;  // Deleted since the page was read.
        auto stored = store.GetCode(local, request.code_version(), item->item_no);
        if (stored.ok()) {
          *code = std::move(*stored);
        } else if (stored.status().code() != absl::StatusCode::kNotFound) {
          return stored.status();
        }
      }
    }
  }
  response.set_applied_sequence((*replica)->applied());
  return response;
}

absl::StatusOr<pb::GetShardItemsResponse> ShardServer::GetItems(
    const pb::GetShardItemsRequest& request, std::chrono::system_clock::time_point deadline) const {
  auto replica = Replica(request.protocol_version(), request.collection(), request.incarnation(),
                         request.shard());
  if (!replica.ok()) return replica.status();
  if (absl::Status s = (*replica)->WaitForSequence(request.min_sequence(), deadline); !s.ok()) {
    return s;
  }
  CollectionStore store(context_.store);
  const std::string& local = (*replica)->local_name();
  auto items = store.GetItems(local, {request.ids().begin(), request.ids().end()});
  if (!items.ok()) return items.status();
  pb::GetShardItemsResponse response;
  for (int i = 0; i < request.ids_size(); ++i) {
    pb::ShardItem* out = response.add_items();
    out->set_id(request.ids(i));
    const auto& item = (*items)[i];
    if (!item.has_value()) continue;
    out->set_found(true);
    if (request.exists_only()) continue;
    if (!out->mutable_item()->ParseFromString(item->record)) {
      return absl::DataLossError("stored item record is malformed");
    }
    if (request.code_version() != 0) {
      auto code = store.GetCode(local, request.code_version(), item->item_no);
      if (code.ok()) {
        out->set_code(*code);
      } else if (code.status().code() != absl::StatusCode::kNotFound) {
        return code.status();
      }
    }
  }
  response.set_applied_sequence((*replica)->applied());
  return response;
}

}  // namespace bn::cluster
