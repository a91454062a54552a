#include "server/cluster/cluster_models.h"

#include <google/protobuf/util/time_util.h>

#include <algorithm>
#include <ctime>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "engine/util/log.h"
#include "server/cluster/blob_channel.h"
#include "server/cluster/cluster_collections.h"
#include "server/cluster/metadata.h"
#include "server/cluster/nats_client.h"
#include "server/cluster/retry.h"
#include "server/cluster/topology.h"

namespace bn::cluster {
namespace {

namespace pb = ::bottleneck::cluster;
namespace v1 = ::bottleneck::v1;

absl::Status ModelNotFound(const std::string& collection, uint64_t version) {
  return absl::NotFoundError(
      absl::StrCat("model version ", version, " of collection '", collection, "' not found"));
}

}  // namespace

absl::StatusOr<std::vector<pb::ModelEntry>> ClusterModels::Entries(
    const pb::CollectionEntry& entry) {
  nats::KeyValue& bucket = context_.metadata->models();
  auto keys = bucket.Keys();
  if (!keys.ok()) return keys.status();
  const std::string prefix = Names::ModelKeyPrefix(entry.collection().name(), entry.incarnation());
  std::vector<pb::ModelEntry> out;
  for (const std::string& key : *keys) {
    if (!absl::StartsWith(key, prefix)) continue;
    auto value = bucket.Get(key);
    if (!value.ok()) return value.status();
    if (!value->has_value()) continue;
    pb::ModelEntry model;
    if (model.ParseFromString((*value)->value)) out.push_back(std::move(model));
  }
  std::sort(out.begin(), out.end(), [](const pb::ModelEntry& a, const pb::ModelEntry& b) {
    return a.model().version() > b.model().version();
  });
  return out;
}

absl::StatusOr<v1::ListModelsResponse> ClusterModels::List(const std::string& collection) {
  auto view = collections_->Find(collection);
  if (!view.ok()) return view.status();
  auto entries = Entries(view->entry);
  if (!entries.ok()) return entries.status();
  v1::ListModelsResponse response;
  for (const pb::ModelEntry& model : *entries) {
    if (!model.has_blob()) continue;  // Being published.
    v1::Model* out = response.add_models();
    *out = model.model();
    out->set_serving(out->version() == view->entry.serving_version());
  }
  return response;
}

absl::StatusOr<v1::Model> ClusterModels::Get(const std::string& collection, uint64_t version) {
  auto view = collections_->Find(collection);
  if (!view.ok()) return view.status();
  auto value = context_.metadata->models().Get(
      Names::ModelKey(collection, view->entry.incarnation(), version));
  if (!value.ok()) return value.status();
  pb::ModelEntry model;
  if (!value->has_value() || !model.ParseFromString((*value)->value) || !model.has_blob()) {
    return ModelNotFound(collection, version);
  }
  v1::Model out = model.model();
  out.set_serving(version == view->entry.serving_version());
  return out;
}

absl::StatusOr<v1::Promotion> ClusterModels::Promote(const std::string& collection,
                                                     uint64_t version) {
  auto found = collections_->Find(collection);
  if (!found.ok()) return found.status();
  if (version == 0) return absl::InvalidArgumentError("version must be >= 1");
  auto model = Get(collection, version);
  if (!model.ok()) return model.status();
  if (model->spec().has_classifier()) {  // As the single node's Promoter.
    return absl::FailedPreconditionError(
        "model version " + std::to_string(version) +
        " is a classifier: its outputs are label probabilities, not codes, so it cannot serve "
        "the collection's index (QueryService.Classify serves it)");
  }
  for (int attempt = 0; attempt < 10; ++attempt) {
    auto view = context_.metadata->ReadCollection(collection);
    if (!view.ok()) return view.status();
    if (!view->has_value()) return absl::NotFoundError("collection '" + collection + "' not found");
    pb::CollectionEntry entry = (*view)->entry;
    const auto described = collections_->Describe(collection);
    const uint64_t items = described.ok() ? described->stats().item_count() : 0;
    v1::Promotion promotion;
    promotion.set_target_model_version(version);
    if (entry.serving_version() == version) {  // Already serving: nothing to do.
      promotion.set_items_done(items);
      promotion.set_items_total(items);
      return promotion;
    }
    if (entry.promotion_target() != 0) {
      if (entry.promotion_target() != version) {
        return absl::FailedPreconditionError(
            absl::StrCat("model version ", entry.promotion_target(),
                         " is being promoted; wait for it to finish"));
      }
      return described.ok() ? described->stats().promotion() : promotion;
    }
    entry.set_promotion_target(version);
    entry.set_promotion_start_unix(std::time(nullptr));
    auto revision = context_.metadata->collections().Update(collection, entry.SerializeAsString(),
                                                            (*view)->revision);
    if (!revision.ok()) {
      if (revision.status().code() == absl::StatusCode::kFailedPrecondition) continue;  // Raced.
      return revision.status();
    }
    context_.metadata->Remember(Metadata::CollectionView{entry, *revision});
    BN_LOG(INFO) << "collection " << collection << ": promoting model v" << version
                 << " (every shard re-encodes; the serving version flips when all are ready)";
    promotion.set_items_total(items);
    *promotion.mutable_start_time() =
        google::protobuf::util::TimeUtil::SecondsToTimestamp(entry.promotion_start_unix());
    return promotion;
  }
  return absl::AbortedError("the collection's record kept changing; retry");
}

absl::StatusOr<uint64_t> ClusterModels::Publish(const pb::CollectionEntry& entry,
                                                ModelRecord* record) {
  const std::string& name = entry.collection().name();
  auto entries = Entries(entry);
  if (!entries.ok()) return entries.status();
  uint64_t version = entries->empty() ? 1 : entries->front().model().version() + 1;
  // Reserve the number: another node may publish at the same time.
  nats::KeyValue& bucket = context_.metadata->models();
  while (true) {
    pb::ModelEntry placeholder;
    placeholder.mutable_model()->set_version(version);
    auto created = bucket.Create(Names::ModelKey(name, entry.incarnation(), version),
                                 placeholder.SerializeAsString());
    if (created.ok()) break;
    if (created.status().code() != absl::StatusCode::kAlreadyExists) return created.status();
    ++version;
  }
  const std::string key = Names::ModelKey(name, entry.incarnation(), version);
  record->meta.set_collection(name);
  record->meta.set_version(version);
  record->meta.set_serving(false);
  auto blob = context_.blobs->Put(EncodeModelRecord(*record));
  if (!blob.ok()) {
    (void)bucket.Purge(key);
    return blob.status();
  }
  pb::ModelEntry model;
  *model.mutable_model() = record->meta;
  *model.mutable_blob() = *blob;
  if (auto put = bucket.Put(key, model.SerializeAsString()); !put.ok()) {
    // A put that timed out during a NATS fail-over may still have been applied: the blob is
    // deleted only when the entry does not name it.
    auto stored = Retrying([&] { return bucket.Get(key); }, std::chrono::seconds(10));
    pb::ModelEntry existing;
    const bool applied = stored.ok() && stored->has_value() &&
                         existing.ParseFromString((*stored)->value) &&
                         existing.blob().id() == blob->id();
    if (!applied) {
      if (stored.ok()) {
        (void)context_.blobs->Delete(*blob);
        (void)bucket.Purge(key);
      }
      return put.status();
    }
  }
  BN_LOG(INFO) << "collection " << name << ": model v" << version << " published (" << blob->size()
               << " bytes)";
  return version;
}

void ClusterModels::Flip() {
  for (const Metadata::CollectionView& view : context_.metadata->Collections()) {
    const pb::CollectionEntry& entry = view.entry;
    const uint64_t target = entry.promotion_target();
    if (target == 0) continue;
    bool ready = true;
    for (const ShardTopology& shard : Topology(*context_.metadata, entry)) {
      bool any = false;
      for (const ReplicaInfo& replica : shard.replicas) {
        if (!replica.live || replica.report.state() == kLeaving) continue;
        if (replica.ReadyAt(target)) {
          any = true;
        } else if (std::find(shard.placement.begin(), shard.placement.end(), replica.node) !=
                   shard.placement.end()) {
          ready = false;  // A live replica the shard is placed on is still building it.
        }
      }
      ready = ready && any;
    }
    if (!ready) continue;
    pb::CollectionEntry flipped = entry;
    flipped.set_serving_version(target);
    flipped.set_promotion_target(0);
    flipped.set_promotion_start_unix(0);
    auto revision = context_.metadata->collections().Update(
        entry.collection().name(), flipped.SerializeAsString(), view.revision);
    if (!revision.ok()) continue;  // Another node flipped it (or the record changed): re-check.
    context_.metadata->Remember(Metadata::CollectionView{flipped, *revision});
    BN_LOG(INFO) << "collection " << entry.collection().name() << ": every shard has model v"
                 << target << " ready; it now serves";
  }
}

absl::StatusOr<uint64_t> ClusterModels::NewestClassifier(const pb::CollectionEntry& entry) {
  const auto key = std::make_pair(entry.collection().name(), entry.incarnation());
  const auto now = std::chrono::steady_clock::now();
  ClassifierScan scan;
  bool known = false;
  {
    std::lock_guard<std::mutex> lock(classifiers_mutex_);
    auto it = classifiers_.find(key);
    if (it != classifiers_.end()) {
      scan = it->second;
      known = true;
    }
  }
  if (!known || now - scan.full_scan > std::chrono::seconds(30)) {
    auto entries = Entries(entry);  // Newest first.
    if (!entries.ok()) return entries.status();
    scan = ClassifierScan();
    scan.full_scan = now;
    for (const pb::ModelEntry& model : *entries) {
      if (!model.has_blob()) continue;  // Being published.
      if (scan.scanned == 0) scan.scanned = model.model().version();
      if (model.model().spec().has_classifier()) {
        scan.newest = model.model().version();
        break;
      }
    }
  } else {
    // The versions after the last one seen, up to the first that is not published (yet).
    nats::KeyValue& bucket = context_.metadata->models();
    while (true) {
      const uint64_t next = scan.scanned + 1;
      auto value = bucket.Get(Names::ModelKey(key.first, key.second, next));
      if (!value.ok()) return value.status();
      pb::ModelEntry model;
      if (!value->has_value() || !model.ParseFromString((*value)->value) || !model.has_blob()) {
        break;
      }
      if (model.model().spec().has_classifier()) scan.newest = next;
      scan.scanned = next;
    }
  }
  std::lock_guard<std::mutex> lock(classifiers_mutex_);
  ClassifierScan& cached = classifiers_[key];
  // Another call may have seen further meanwhile: keep the furthest view.
  if (scan.scanned >= cached.scanned) cached = scan;
  return cached.newest;
}

}  // namespace bn::cluster
