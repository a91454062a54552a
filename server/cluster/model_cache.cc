#include "server/cluster/model_cache.h"

#include "server/cluster/local_state.h"
#include "server/cluster/shard_versions.h"
#include "server/core/core.h"
#include "server/core/runtime.h"

namespace bn::cluster {

namespace pb = ::bottleneck::cluster;
namespace v1 = ::bottleneck::v1;

absl::StatusOr<std::string> EnsureWorkspace(const ClusterContext& context, LocalState* local,
                                            const pb::CollectionEntry& entry) {
  static std::mutex mutex;  // One creation at a time (they are rare).
  std::lock_guard<std::mutex> lock(mutex);
  const std::string& name = entry.collection().name();
  const std::string workspace = Names::LocalTraining(name);
  const auto recorded = local->Get(workspace);
  const bool ours = recorded.has_value() && recorded->training() &&
                    recorded->collection() == name &&
                    recorded->incarnation() == entry.incarnation();
  CollectionRegistry& registry = context.core->collections();
  if (ours && registry.Find(workspace).ok()) return workspace;
  if (registry.Find(workspace).ok()) {
    // A workspace of an earlier incarnation of the collection.
    if (absl::Status s = context.core->DeleteCollection(workspace); !s.ok()) return s;
  }
  v1::CreateCollectionRequest create;
  create.set_name(workspace);
  *create.mutable_spec() = entry.collection().spec();
  if (auto created = registry.Create(create); !created.ok()) return created.status();
  pb::LocalCollection record;
  record.set_collection(name);
  record.set_incarnation(entry.incarnation());
  record.set_training(true);
  if (absl::Status s = local->Put(workspace, record); !s.ok()) return s;
  return workspace;
}

absl::StatusOr<std::shared_ptr<const ServingModel>> ModelCache::Get(
    const pb::CollectionEntry& entry, uint64_t version) {
  const Key key{entry.collection().name(), entry.incarnation(), version};
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto it = entries_.begin(); it != entries_.end(); ++it) {
    if (it->first != key) continue;
    entries_.splice(entries_.begin(), entries_, it);
    return entries_.front().second;
  }
  auto workspace = EnsureWorkspace(context_, local_, entry);
  if (!workspace.ok()) return workspace.status();
  if (absl::Status s = InstallModel(context_, entry.collection().name(), entry.incarnation(),
                                    version, *workspace);
      !s.ok()) {
    return s;
  }
  auto model = context_.core->collections().LoadModel(*workspace, version);
  if (!model.ok()) return model.status();
  entries_.emplace_front(key, *model);
  if (entries_.size() > capacity_) entries_.pop_back();
  return *model;
}

}  // namespace bn::cluster
