#include "server/cluster/cluster_items.h"

#include <map>
#include <random>
#include <vector>

#include "absl/strings/str_cat.h"
#include "server/cluster/cluster_collections.h"
#include "server/cluster/cluster_queries.h"
#include "server/cluster/model_cache.h"
#include "server/cluster/nats_client.h"
#include "server/cluster/peers.h"
#include "server/cluster/retry.h"
#include "server/cluster/topology.h"
#include "server/core/inputs.h"
#include "server/core/runtime.h"
#include "server/core/validation.h"

namespace bn::cluster {
namespace {

namespace pb = ::bottleneck::cluster;
namespace v1 = ::bottleneck::v1;

constexpr size_t kMaxLabelBytes = 256;
constexpr int kMaxMetadataEntries = 64;
constexpr size_t kMessageOverhead = 1024;  // Room for the LogEntry's own fields.
constexpr auto kPublishBudget = std::chrono::seconds(15);

absl::Status At(const char* field, size_t i, const absl::Status& s) {
  return absl::Status(s.code(), absl::StrCat(field, "[", i, "]: ", s.message()));
}

std::string RequestId() {
  static thread_local std::mt19937_64 random(std::random_device{}());
  return Hex(random());
}

// Publishes `messages` (already split below max_payload) to the shard's subject, in order. The
// largest sequence, or UNAVAILABLE saying how many of the request's items were written.
struct Part {
  uint32_t shard;
  std::string data;
  size_t items;
};

absl::StatusOr<uint64_t> PublishParts(const ClusterContext& context,
                                      const pb::CollectionEntry& entry,
                                      const std::vector<Part>& parts, size_t total) {
  const std::string id = RequestId();
  uint64_t sequence = 0;
  size_t written = 0;
  for (size_t p = 0; p < parts.size(); ++p) {
    const std::string subject =
        context.names->LogSubject(entry.collection().name(), entry.incarnation(), parts[p].shard);
    nats::PublishOptions options;
    options.message_id = absl::StrCat(id, ".", p);  // A retried publish is stored once.
    auto ack = Retrying([&] { return context.nats->Publish(subject, parts[p].data, options); },
                        kPublishBudget);
    if (!ack.ok()) {
      return absl::Status(
          ack.status().code() == absl::StatusCode::kResourceExhausted
              ? absl::StatusCode::kResourceExhausted
              : absl::StatusCode::kUnavailable,
          absl::StrCat("the collection's log did not acknowledge the write: ",
                       ack.status().message(), " (", written, " of the request's ", total,
                       " items were written; retrying the request is safe)"));
    }
    sequence = std::max(sequence, ack->sequence);
    written += parts[p].items;
  }
  return sequence;
}

size_t MessageLimit(const ClusterContext& context) {
  const int64_t payload = context.nats->max_payload();
  return payload > static_cast<int64_t>(2 * kMessageOverhead)
             ? static_cast<size_t>(payload) - kMessageOverhead
             : static_cast<size_t>(payload) / 2;
}

}  // namespace

absl::StatusOr<v1::UpsertResponse> ClusterItems::Upsert(const v1::UpsertRequest& request) {
  auto view = collections_->Lookup(request.collection());
  if (!view.ok()) return view.status();
  const pb::CollectionEntry& entry = view->entry;
  const v1::CollectionSpec& spec = entry.collection().spec();
  const size_t n = request.items_size();
  if (n == 0) return absl::InvalidArgumentError("items must not be empty");
  if (n > context_.options->max_batch_items) {
    return absl::InvalidArgumentError(absl::StrCat("at most ", context_.options->max_batch_items,
                                                   " items per request; split the batch"));
  }
  for (size_t i = 0; i < n; ++i) {
    const v1::Item& item = request.items(i);
    if (absl::Status s = ValidateItemId(item.id()); !s.ok()) return At("items", i, s);
    if (item.label().size() > kMaxLabelBytes) {
      return At("items", i, absl::InvalidArgumentError("label must be at most 256 bytes"));
    }
    if (item.metadata_size() > kMaxMetadataEntries) {
      return At("items", i, absl::InvalidArgumentError("at most 64 metadata entries"));
    }
  }
  // Every input must go through the models the replicas encode with (the serving one, and a
  // promotion's target), or through the collection's own checks when none serves yet: a
  // replica never meets an item it cannot store.
  std::vector<uint64_t> versions;
  if (entry.serving_version() != 0) versions.push_back(entry.serving_version());
  if (entry.promotion_target() != 0) versions.push_back(entry.promotion_target());
  if (versions.empty()) {
    for (size_t i = 0; i < n; ++i) {
      if (absl::Status s = ValidateInput(spec, request.items(i).input()); !s.ok()) {
        return At("items", i, s);
      }
    }
  }
  for (uint64_t version : versions) {
    auto model = models_->Get(entry, version);
    if (!model.ok()) return model.status();
    std::vector<float> scratch;
    for (size_t i = 0; i < n; ++i) {
      scratch.clear();
      if (absl::Status s =
              InputToVector(spec, (*model)->text.get(), request.items(i).input(), &scratch);
          !s.ok()) {
        return At("items", i, s);
      }
    }
  }

  // Split by shard (in request order within a shard), and each shard's part by message size.
  const size_t limit = MessageLimit(context_);
  std::map<uint32_t, std::vector<size_t>> by_shard;
  for (size_t i = 0; i < n; ++i) {
    by_shard[ShardOf(request.items(i).id(), entry.shards())].push_back(i);
  }
  std::vector<Part> parts;
  for (const auto& [shard, indexes] : by_shard) {
    pb::LogEntry message;
    message.set_incarnation(entry.incarnation());
    message.set_shard(shard);
    size_t bytes = 0, count = 0;
    auto flush = [&] {
      if (count == 0) return;
      parts.push_back(Part{shard, message.SerializeAsString(), count});
      message.mutable_upsert()->clear_items();
      bytes = count = 0;
    };
    for (size_t i : indexes) {
      const size_t size = request.items(i).ByteSizeLong() + 16;
      if (size > limit) {
        return absl::ResourceExhaustedError(absl::StrCat(
            "items[", i, "] is ", size, " bytes; the NATS servers' max_payload allows ", limit,
            " per log message (raise max_payload in their configuration)"));
      }
      if (bytes + size > limit) flush();
      *message.mutable_upsert()->add_items() = request.items(i);
      bytes += size;
      ++count;
    }
    flush();
  }
  auto sequence = PublishParts(context_, entry, parts, n);
  if (!sequence.ok()) return sequence.status();
  v1::UpsertResponse response;
  response.set_upserted(n);
  response.set_pending(entry.serving_version() == 0 ? n : 0);
  response.set_serving_model_version(entry.serving_version());
  response.set_sequence(*sequence);
  return response;
}

// Delete by filter: the matching ids, a page at a time (ClusterQueries::ListItems), each page
// deleted by id. Not one atomic step as on a single node: an item written to match while this
// runs may stay, and one changed to stop matching after it was listed is still deleted.
absl::StatusOr<v1::DeleteItemsResponse> ClusterItems::DeleteMatching(
    const v1::DeleteItemsRequest& request, Deadline deadline) {
  ClusterQueries queries(context_, collections_, /*versions=*/nullptr, models_);  // Lists only.
  v1::ListItemsRequest list;
  list.set_collection(request.collection());
  *list.mutable_filter() = request.filter();
  list.set_page_size(
      static_cast<uint32_t>(std::min<size_t>(1000, context_.options->max_batch_items)));
  v1::DeleteItemsResponse response;
  while (true) {
    auto page = queries.ListItems(list, deadline);
    if (!page.ok()) return page.status();
    if (page->items_size() > 0) {
      v1::DeleteItemsRequest by_id;
      by_id.set_collection(request.collection());
      for (const auto& item : page->items()) by_id.add_ids(item.item().id());
      auto deleted = Delete(by_id, deadline);
      if (!deleted.ok()) return deleted.status();
      response.set_deleted(response.deleted() + deleted->deleted());
      response.set_sequence(deleted->sequence());
    }
    if (page->next_page_token().empty()) break;
    list.set_page_token(page->next_page_token());
  }
  return response;
}

absl::StatusOr<v1::DeleteItemsResponse> ClusterItems::Delete(const v1::DeleteItemsRequest& request,
                                                             Deadline deadline) {
  auto view = collections_->Lookup(request.collection());
  if (!view.ok()) return view.status();
  const pb::CollectionEntry& entry = view->entry;
  if (request.has_filter()) {
    if (!request.ids().empty()) {
      return absl::InvalidArgumentError("set ids or a filter, not both");
    }
    v1::DeleteItemsRequest resolved = request;  // Every page in the collection resolved here.
    resolved.set_collection(entry.collection().name());
    return DeleteMatching(resolved, deadline);
  }
  if (request.ids().empty()) return absl::InvalidArgumentError("ids must not be empty");
  if (static_cast<size_t>(request.ids_size()) > context_.options->max_batch_items) {
    return absl::InvalidArgumentError("too many ids in one request");
  }
  for (int i = 0; i < request.ids_size(); ++i) {
    if (absl::Status s = ValidateItemId(request.ids(i)); !s.ok()) return At("ids", i, s);
  }
  std::map<uint32_t, std::vector<std::string>> by_shard;
  for (const std::string& id : request.ids()) by_shard[ShardOf(id, entry.shards())].push_back(id);
  // How many exist, as a replica of each shard sees it now (a shard without one counts all).
  uint64_t existing = 0;
  const auto topology = Topology(*context_.metadata, entry);
  for (const auto& [shard, ids] : by_shard) {
    uint64_t found = ids.size();
    for (const ReplicaInfo& replica : Candidates(topology[shard], 0, context_.options->node_id)) {
      pb::GetShardItemsRequest check;
      check.set_protocol_version(kProtocolVersion);
      check.set_collection(entry.collection().name());
      check.set_incarnation(entry.incarnation());
      check.set_shard(shard);
      for (const std::string& id : ids) check.add_ids(id);
      check.set_exists_only(true);
      auto response = context_.peers->GetItems(replica.node, replica.address, check, deadline);
      if (!response.ok()) continue;
      found = 0;
      for (const auto& item : response->items()) found += item.found() ? 1 : 0;
      break;
    }
    existing += found;
  }
  std::vector<Part> parts;
  for (const auto& [shard, ids] : by_shard) {
    pb::LogEntry message;
    message.set_incarnation(entry.incarnation());
    message.set_shard(shard);
    for (const std::string& id : ids) message.mutable_delete_()->add_ids(id);
    parts.push_back(Part{shard, message.SerializeAsString(), ids.size()});
  }
  auto sequence = PublishParts(context_, entry, parts, request.ids_size());
  if (!sequence.ok()) return sequence.status();
  v1::DeleteItemsResponse response;
  response.set_deleted(existing);
  response.set_sequence(*sequence);
  return response;
}

absl::StatusOr<v1::GetItemResponse> ClusterItems::GetItem(const v1::GetItemRequest& request,
                                                          Deadline deadline) {
  auto view = collections_->Lookup(request.collection());
  if (!view.ok()) return view.status();
  if (absl::Status s = ValidateItemId(request.id()); !s.ok()) return s;
  const pb::CollectionEntry& entry = view->entry;
  const uint32_t shard = ShardOf(request.id(), entry.shards());
  const uint64_t version = request.include_code() ? entry.serving_version() : 0;
  const auto topology = Topology(*context_.metadata, entry);
  pb::GetShardItemsRequest get;
  get.set_protocol_version(kProtocolVersion);
  get.set_collection(entry.collection().name());
  get.set_incarnation(entry.incarnation());
  get.set_shard(shard);
  get.add_ids(request.id());
  get.set_code_version(version);
  get.set_min_sequence(request.min_sequence());
  absl::Status last = NoReplica(entry.collection().name(), topology[shard], version);
  for (const ReplicaInfo& replica :
       Candidates(topology[shard], version, context_.options->node_id)) {
    auto response = context_.peers->GetItems(replica.node, replica.address, get, deadline);
    if (!response.ok()) {
      last = response.status();
      if (Transient(last) || last.code() == absl::StatusCode::kFailedPrecondition) continue;
      return last;
    }
    const pb::ShardItem& item = response->items(0);
    if (!item.found()) return absl::NotFoundError("item '" + request.id() + "' not found");
    v1::GetItemResponse out;
    *out.mutable_item() = item.item();
    if (!item.code().empty()) {
      auto model = models_->Get(entry, version);
      if (!model.ok()) return model.status();
      *out.mutable_code() =
          BytesToCode(item.code(), (*model)->model->code_size(), (*model)->model->code_type());
      out.set_model_version(version);
    }
    return out;
  }
  return last;
}

}  // namespace bn::cluster
