#include "server/cluster/cluster_collections.h"

#include <google/protobuf/util/time_util.h>

#include <algorithm>
#include <map>
#include <random>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "engine/util/log.h"
#include "server/cluster/blob_channel.h"
#include "server/cluster/incarnation_cleanup.h"
#include "server/cluster/nats_client.h"
#include "server/cluster/topology.h"
#include "server/core/specs.h"
#include "server/core/validation.h"

namespace bn::cluster {
namespace {

namespace v1 = ::bottleneck::v1;
namespace pb = ::bottleneck::cluster;
using google::protobuf::util::TimeUtil;

uint64_t NewIncarnation() {
  static thread_local std::mt19937_64 random(std::random_device{}());
  uint64_t value = 0;
  while (value == 0) value = random();
  return value;
}

absl::Status ShardCountChanged(const std::string& name, uint32_t have, uint32_t want) {
  return absl::FailedPreconditionError(
      absl::StrCat("collection '", name, "' exists with ", have, " shard", have == 1 ? "" : "s",
                   "; the shard count of a live collection cannot change (asked for ", want,
                   "): create a new collection with the new count and upsert its items there"));
}

absl::Status NameIsAlias(const std::string& name, const std::string& target) {
  return absl::AlreadyExistsError("'" + name + "' is the name of an alias (of '" + target + "')");
}

}  // namespace

absl::StatusOr<Metadata::CollectionView> ClusterCollections::Find(const std::string& name) const {
  if (absl::Status s = ValidateName("collection", name); !s.ok()) return s;
  auto view = context_.metadata->Collection(name);
  if (!view.has_value()) return absl::NotFoundError("collection '" + name + "' not found");
  return *view;
}

absl::StatusOr<v1::Collection> ClusterCollections::Create(
    const v1::CreateCollectionRequest& request) {
  const ClusterOptions& options = *context_.options;
  if (absl::Status s = ValidateName("name", request.name()); !s.ok()) return s;
  if (request.name().size() > kMaxClusterCollectionName) {
    return absl::InvalidArgumentError(absl::StrCat(
        "name must be at most ", kMaxClusterCollectionName, " characters in cluster mode"));
  }
  v1::CollectionSpec spec = request.spec();
  if (absl::Status s = NormalizeCollectionSpec(&spec); !s.ok()) return s;
  const uint32_t shards = request.shards() == 0 ? options.default_shards : request.shards();
  const uint32_t replicas = request.replicas() == 0 ? options.default_replicas : request.replicas();
  if (shards < 1 || shards > kMaxShards) {
    return absl::InvalidArgumentError(absl::StrCat("shards must be in 1..", kMaxShards));
  }
  if (replicas < 1 || replicas > kMaxReplicas) {
    return absl::InvalidArgumentError(absl::StrCat("replicas must be in 1..", kMaxReplicas));
  }
  auto existing = context_.metadata->ReadCollection(request.name());
  if (!existing.ok()) return existing.status();
  if (existing->has_value()) {
    if ((*existing)->entry.shards() != shards) {
      return ShardCountChanged(request.name(), (*existing)->entry.shards(), shards);
    }
    return absl::AlreadyExistsError("collection '" + request.name() + "' already exists");
  }
  auto alias = ReadAlias(request.name());
  if (!alias.ok()) return alias.status();
  if (alias->has_value()) return NameIsAlias(request.name(), (*alias)->value);

  pb::CollectionEntry entry;
  v1::Collection* collection = entry.mutable_collection();
  collection->set_name(request.name());
  *collection->mutable_spec() = spec;
  *collection->mutable_create_time() = TimeUtil::GetCurrentTime();
  entry.set_shards(shards);
  entry.set_replicas(replicas);
  entry.set_incarnation(NewIncarnation());
  entry.set_placement(SharedPlacement());
  entry.set_stream(context_.names->LogStream(request.name(), entry.incarnation()));
  // The log first: a record is never visible without it.
  nats::StreamConfig stream;
  stream.name = entry.stream();
  stream.subjects = {context_.names->LogSubjects(request.name(), entry.incarnation())};
  stream.replicas = options.stream_replicas;
  if (auto created = context_.nats->EnsureStream(stream); !created.ok()) return created.status();
  auto revision =
      context_.metadata->collections().Create(request.name(), entry.SerializeAsString());
  if (!revision.ok()) {
    (void)context_.nats->DeleteStream(entry.stream());
    if (revision.status().code() != absl::StatusCode::kAlreadyExists) return revision.status();
    // Created meanwhile by another request.
    auto other = context_.metadata->ReadCollection(request.name());
    if (other.ok() && other->has_value() && (*other)->entry.shards() != shards) {
      return ShardCountChanged(request.name(), (*other)->entry.shards(), shards);
    }
    return absl::AlreadyExistsError("collection '" + request.name() + "' already exists");
  }
  Metadata::CollectionView view;
  view.entry = entry;
  view.revision = *revision;
  context_.metadata->Remember(view);
  // An alias of that name created meanwhile through another node (cluster_aliases.cc): undo.
  if (auto raced = ReadAlias(request.name()); !raced.ok() || raced->has_value()) {
    if (absl::Status s = Delete(request.name()); !s.ok()) {
      BN_LOG(WARNING) << "collection " << request.name() << ": undoing its creation: " << s;
    }
    if (!raced.ok()) return raced.status();
    return NameIsAlias(request.name(), (*raced)->value);
  }
  BN_LOG(INFO) << "created collection " << request.name() << " (" << shards << " shards x "
               << replicas << " replicas, log " << entry.stream() << ")";
  return DescribeView(view);
}

absl::StatusOr<v1::Collection> ClusterCollections::Describe(const std::string& name) {
  auto view = Find(name);
  if (!view.ok()) return view.status();
  return DescribeView(*view);
}

v1::Collection ClusterCollections::DescribeView(const Metadata::CollectionView& view) {
  const pb::CollectionEntry& entry = view.entry;
  v1::Collection out = entry.collection();
  v1::CollectionStats* stats = out.mutable_stats();
  stats->Clear();
  stats->set_serving_model_version(entry.serving_version());
  v1::CollectionPlacement* placement = out.mutable_cluster();
  placement->set_shards(entry.shards());
  placement->set_replicas(entry.replicas());
  placement->set_stream(entry.stream());
  if (auto state = context_.nats->GetStream(entry.stream()); state.ok()) {
    placement->set_last_sequence(state->last_sequence);
    placement->set_log_messages(state->messages);
    placement->set_first_sequence(state->first_sequence);
  }
  uint64_t promotion_done = 0;
  for (const ShardTopology& shard : Topology(*context_.metadata, entry)) {
    *placement->add_shard_status() = ToShardStatus(shard);
    // The shard's figures from its most advanced live replica (any replica if none is live).
    const ReplicaInfo* best = nullptr;
    uint64_t done = 0;
    for (const ReplicaInfo& replica : shard.replicas) {
      if (best == nullptr || (replica.live && !best->live) ||
          (replica.live == best->live &&
           replica.report.applied_sequence() > best->report.applied_sequence())) {
        best = &replica;
      }
      if (entry.promotion_target() != 0) {
        if (replica.report.promotion_version() == entry.promotion_target()) {
          done = std::max(done, replica.report.promotion_done());
        } else if (replica.ReadyAt(entry.promotion_target())) {
          done = std::max(done, replica.report.item_count());
        }
      }
    }
    promotion_done += done;
    if (best == nullptr) continue;
    const auto& r = best->report;
    stats->set_item_count(stats->item_count() + r.item_count());
    stats->set_pending_item_count(stats->pending_item_count() + r.pending_item_count());
    stats->set_index_bytes(stats->index_bytes() + r.index_bytes());
    stats->set_store_bytes(stats->store_bytes() + r.store_bytes());
  }
  if (auto keys = context_.metadata->models().Keys(); keys.ok()) {
    const std::string prefix =
        Names::ModelKeyPrefix(entry.collection().name(), entry.incarnation());
    stats->set_model_count(std::count_if(keys->begin(), keys->end(), [&](const std::string& key) {
      return absl::StartsWith(key, prefix);
    }));
  }
  if (entry.promotion_target() != 0) {
    v1::Promotion* promotion = stats->mutable_promotion();
    promotion->set_target_model_version(entry.promotion_target());
    promotion->set_items_done(promotion_done);
    promotion->set_items_total(stats->item_count());
    *promotion->mutable_start_time() = TimeUtil::SecondsToTimestamp(entry.promotion_start_unix());
  }
  return out;
}

absl::StatusOr<v1::ListCollectionsResponse> ClusterCollections::List() {
  v1::ListCollectionsResponse response;
  for (const Metadata::CollectionView& view : context_.metadata->Collections()) {
    *response.add_collections() = DescribeView(view);
  }
  return response;
}

uint32_t ClusterCollections::SharedPlacement() const {
  // Every node places shards itself, so a scheme is used only when every member (dead ones
  // too, by their last heartbeat) implements it; a member never seen heartbeating counts as 0.
  std::map<std::string, uint32_t> implemented;
  for (const Metadata::NodeView& node : context_.metadata->Nodes()) {
    implemented[node.entry.node()] = node.entry.placement();
  }
  uint32_t scheme = kNewestPlacement;
  for (const std::string& member : context_.metadata->Members()) {
    auto it = implemented.find(member);
    scheme = std::min(scheme, it == implemented.end() ? 0u : it->second);
  }
  return scheme;
}

bool ClusterCollections::BeingDeleted(const pb::CollectionEntry& entry) {
  if (entry.deleting_unix_ms() == 0) return false;
  const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
  return now_ms - entry.deleting_unix_ms() <
         std::chrono::duration_cast<std::chrono::milliseconds>(kDeletingMarkTtl).count();
}

absl::StatusOr<uint64_t> ClusterCollections::MarkDeleting(const std::string& name,
                                                          Metadata::CollectionView view) {
  for (int attempt = 0; attempt < 8; ++attempt) {
    pb::CollectionEntry entry = view.entry;
    entry.set_deleting_unix_ms(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
    auto revision =
        context_.metadata->collections().Update(name, entry.SerializeAsString(), view.revision);
    if (revision.ok()) return *revision;
    // The record changed meanwhile (a promotion, another delete's mark): mark what it is now.
    if (revision.status().code() != absl::StatusCode::kFailedPrecondition) {
      return revision.status();
    }
    auto again = context_.metadata->ReadCollection(name);
    if (!again.ok()) return again.status();
    if (!again->has_value()) return absl::NotFoundError("collection '" + name + "' not found");
    view = **again;
  }
  return absl::AbortedError("collection '" + name + "': its record kept changing; retry");
}

void ClusterCollections::Unmark(const std::string& name, uint64_t revision) {
  for (int attempt = 0; attempt < 8; ++attempt) {
    auto view = context_.metadata->ReadCollection(name);
    if (!view.ok() || !view->has_value()) return;
    pb::CollectionEntry entry = (*view)->entry;
    if (entry.deleting_unix_ms() == 0) return;
    entry.set_deleting_unix_ms(0);
    auto updated =
        context_.metadata->collections().Update(name, entry.SerializeAsString(), (*view)->revision);
    if (updated.ok()) return;
    if (updated.status().code() != absl::StatusCode::kFailedPrecondition) break;
  }
  // The mark then expires after kDeletingMarkTtl: until then no alias can be made to the
  // collection (FAILED_PRECONDITION "being deleted").
  BN_LOG(WARNING) << "collection " << name << ": clearing the delete mark of revision " << revision
                  << " failed";
}

absl::Status ClusterCollections::Delete(const std::string& name) {
  if (absl::Status s = ValidateName("collection", name); !s.ok()) return s;
  auto view = context_.metadata->ReadCollection(name);
  if (!view.ok()) return view.status();
  if (!view->has_value()) return absl::NotFoundError("collection '" + name + "' not found");
  const pb::CollectionEntry entry = (*view)->entry;
  // Mark the record before looking for aliases: an alias written on another node meanwhile
  // either is seen below or sees the mark when it re-reads the record, and is undone.
  auto marked = MarkDeleting(name, **view);
  if (!marked.ok()) return marked.status();
  auto aliases = AliasesOf(name);
  if (!aliases.ok() || !aliases->empty()) {
    Unmark(name, *marked);
    if (!aliases.ok()) return aliases.status();
    return absl::FailedPreconditionError("alias '" + aliases->front() + "' points at collection '" +
                                         name + "': delete or switch the alias first");
  }
  // The record first: from then on every node drops its replicas and every request fails with
  // NOT_FOUND; what remains below is garbage tied to this incarnation.
  if (absl::Status s = context_.metadata->collections().Delete(name); !s.ok()) {
    Unmark(name, *marked);
    return s;
  }
  context_.metadata->Forget(name, *marked);
  if (absl::Status s =
          RemoveIncarnation(context_.nats, context_.metadata, *context_.names, context_.blobs,
                            context_.snapshot_blobs, name, entry.incarnation());
      !s.ok()) {
    BN_LOG(WARNING) << "collection " << name << ": some of its log, models, snapshots, datasets "
                    << "or jobs were not removed: " << s;
  }
  BN_LOG(INFO) << "deleted collection " << name;
  return absl::OkStatus();
}

}  // namespace bn::cluster
