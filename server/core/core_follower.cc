// Core: a read-only follower of a primary's store. Every follow_interval the follower applies the
// primary's writes to its store view and then brings its in-memory state up to it: collections
// created or deleted, a newly promoted model (loaded with a fresh index, then swapped in), and
// item changes (the serving index replays the change log; a log trimmed past it forces a
// rebuild, see ServingIndex::CatchUp).
#include <set>

#include "engine/util/log.h"
#include "server/core/core.h"
#include "server/core/core_impl.h"

namespace bn {

namespace v1 = ::bottleneck::v1;

absl::Status Core::Impl::CheckWritable() const {
  if (!options.follower) return absl::OkStatus();
  return absl::FailedPreconditionError(
      "this server is a read-only follower of another server's store; send writes to the "
      "primary");
}

void Core::Impl::FollowPrimary() {
  if (absl::Status s = store->CatchUpWithPrimary(); !s.ok()) {
    BN_LOG(WARNING) << "follower: " << s;
    return;
  }
  auto names = items.ListCollections();
  if (!names.ok()) {
    BN_LOG(WARNING) << "follower: cannot list collections: " << names.status();
    return;
  }
  const std::set<std::string> present(names->begin(), names->end());
  std::map<std::string, std::shared_ptr<CollectionRuntime>> known;
  {
    std::shared_lock<std::shared_mutex> lock(collections_mutex);
    known = collections;
  }
  for (const auto& [name, runtime] : known) {
    if (present.count(name) > 0) continue;
    std::unique_lock<std::shared_mutex> lock(collections_mutex);
    collections.erase(name);
    BN_LOG(INFO) << "follower: collection " << name << " was deleted on the primary";
  }
  for (const std::string& name : present) {
    auto it = known.find(name);
    if (it == known.end()) {
      auto runtime = LoadCollection(name);
      if (!runtime.ok()) {
        BN_LOG(WARNING) << "follower: cannot load collection " << name << ": " << runtime.status();
        continue;
      }
      std::unique_lock<std::shared_mutex> lock(collections_mutex);
      collections[name] = *runtime;
      BN_LOG(INFO) << "follower: collection " << name << " appeared on the primary";
      continue;
    }
    CollectionRuntime& runtime = *it->second;
    auto blob = items.GetCollectionSpec(name);
    v1::Collection record;
    if (!blob.ok() || !record.ParseFromString(*blob)) {
      BN_LOG(WARNING) << "follower: cannot read the record of collection " << name;
      continue;
    }
    const uint64_t version = record.stats().serving_model_version();
    auto serving = runtime.serving();
    if (version != 0 && (serving == nullptr || serving->model->version != version)) {
      // A promotion finished on the primary: its codes are complete in the store. The record
      // (which reports the serving version) changes only once the new model serves.
      auto state = LoadServingState(runtime, version);
      if (!state.ok()) {
        BN_LOG(WARNING) << "follower: collection " << name << ": cannot serve model v" << version
                        << ": " << state.status();
        continue;
      }
      runtime.set_serving(*state);
      runtime.set_record(record);
      runtime.neighbours().InvalidateAll();  // Items may have changed as well.
      continue;
    }
    runtime.set_record(record);
    if (serving != nullptr) {
      CatchUpReport applied;
      absl::Status s = serving->index->CatchUp(&applied);
      if (!s.ok()) {
        BN_LOG(WARNING) << "follower: collection " << name << ": catch-up failed: " << s;
      }
      // Forget the cached heads of the items that changed on the primary (all of them when the
      // index cannot tell).
      if (!s.ok() || applied.rebuilt) {
        runtime.neighbours().InvalidateAll();
      } else {
        runtime.neighbours().Invalidate(applied.labels);
      }
    }
  }
}

}  // namespace bn
