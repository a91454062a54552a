// CollectionRegistry's background work: index snapshots (and change-log trimming) and, on a
// read-only follower, applying the primary's writes. A follower applies them to its store view
// and then brings its memory up to it: collections created or deleted, a newly promoted model
// (loaded with a fresh index, then swapped in), and item changes (the serving index replays the
// change log; a log trimmed past it forces a rebuild, see ServingIndex::CatchUp).
#include <set>

#include "engine/store/collection_store.h"
#include "engine/store/store.h"
#include "engine/util/log.h"
#include "server/core/collection_registry.h"
#include "server/core/runtime.h"
#include "server/core/thread_priority.h"

namespace bn {

namespace v1 = ::bottleneck::v1;

void CollectionRegistry::StartBackground() {
  background_ = std::thread([this] {
    // Snapshots, compaction and a follower's catch-up must not delay queries (a compaction
    // rebuilds a whole graph).
    LowerThisThreadPriority(options_.background_nice);
    const auto tick = options_.follower ? std::min<std::chrono::milliseconds>(
                                              options_.follow_interval, options_.snapshot_interval)
                                        : std::chrono::milliseconds(options_.snapshot_interval);
    auto next_snapshot = std::chrono::steady_clock::now() + options_.snapshot_interval;
    std::unique_lock<std::mutex> lock(background_mutex_);
    while (!stopped_) {
      background_cv_.wait_for(lock, tick);
      if (stopped_) break;
      lock.unlock();
      if (options_.follower) FollowPrimary();
      if (std::chrono::steady_clock::now() >= next_snapshot) {
        SaveSnapshots();
        next_snapshot = std::chrono::steady_clock::now() + options_.snapshot_interval;
      }
      lock.lock();
    }
  });
}

void CollectionRegistry::Shutdown() {
  {
    std::lock_guard<std::mutex> lock(background_mutex_);
    if (stopped_) return;
    stopped_ = true;
  }
  background_cv_.notify_all();
  if (background_.joinable()) background_.join();
  if (absl::Status s = store_->CheckWrite(); !s.ok()) {
    BN_LOG(WARNING) << "index snapshots not saved at shutdown (the next start replays the change "
                    << "log instead): " << s;
    return;
  }
  for (const auto& runtime : All()) {
    auto serving = runtime->serving();
    if (serving == nullptr) continue;
    absl::Status s = serving->index->CatchUp();
    if (s.ok()) s = serving->index->SaveSnapshot().status();
    if (!s.ok())
      BN_LOG(WARNING) << "collection " << runtime->name() << ": snapshot not saved: " << s;
  }
}

void CollectionRegistry::SaveSnapshots() {
  // Snapshots are derived (a restart without one replays the change log or rebuilds): they must
  // not take the space kept free below the disk's flood threshold.
  if (absl::Status s = store_->CheckWrite(); !s.ok()) {
    BN_LOG(DEBUG) << "snapshots skipped: " << s;
    return;
  }
  std::lock_guard<std::mutex> snapshots(snapshot_mutex_);
  CollectionStore items(store_);
  for (const auto& runtime : All()) {
    auto serving = runtime->serving();
    if (serving == nullptr) continue;
    if (!items.GetCollectionState(runtime->name()).ok()) continue;  // Deleted meanwhile.
    if (absl::Status s = serving->index->CatchUp(); !s.ok()) {
      BN_LOG(WARNING) << "collection " << runtime->name() << ": catch-up failed: " << s;
      continue;
    }
    if (serving->snapshot_counter.load() == serving->index->applied_counter()) continue;
    auto covered = serving->index->SaveSnapshot();
    if (!covered.ok()) {
      BN_LOG(WARNING) << "collection " << runtime->name()
                      << ": snapshot failed: " << covered.status();
      continue;
    }
    serving->snapshot_counter = *covered;
    // A promotion's index replays the log from its own start: keep the log while one runs.
    // A follower's log is the primary's to trim.
    if (runtime->promotion() == nullptr && !options_.follower) {
      if (absl::Status t = items.TrimChangeLog(runtime->name(), *covered); !t.ok()) {
        BN_LOG(WARNING) << "collection " << runtime->name() << ": change log not trimmed: " << t;
      }
    }
  }
}

void CollectionRegistry::FollowPrimary() {
  if (absl::Status s = store_->CatchUpWithPrimary(); !s.ok()) {
    BN_LOG(WARNING) << "follower: " << s;
    return;
  }
  CollectionStore items(store_);
  auto names = items.ListCollections();
  if (!names.ok()) {
    BN_LOG(WARNING) << "follower: cannot list collections: " << names.status();
    return;
  }
  const std::set<std::string> present(names->begin(), names->end());
  std::map<std::string, std::shared_ptr<CollectionRuntime>> known;
  {
    std::shared_lock<std::shared_mutex> lock(mutex_);
    known = collections_;
  }
  for (const auto& [name, runtime] : known) {
    if (present.count(name) > 0) continue;
    std::unique_lock<std::shared_mutex> lock(mutex_);
    collections_.erase(name);
    BN_LOG(INFO) << "follower: collection " << name << " was deleted on the primary";
  }
  for (const std::string& name : present) {
    auto it = known.find(name);
    if (it == known.end()) {
      auto runtime = Load(name);
      if (!runtime.ok()) {
        BN_LOG(WARNING) << "follower: cannot load collection " << name << ": " << runtime.status();
        continue;
      }
      std::unique_lock<std::shared_mutex> lock(mutex_);
      collections_[name] = *runtime;
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
      runtime.attributes().InvalidateAll();
      continue;
    }
    runtime.set_record(record);
    if (serving == nullptr) {
      runtime.attributes().InvalidateAll();  // No change log read: items may have changed.
      continue;
    }
    CatchUpReport applied;
    absl::Status s = serving->index->CatchUp(&applied);
    if (!s.ok()) BN_LOG(WARNING) << "follower: collection " << name << ": catch-up failed: " << s;
    // Forget the cached heads of the items that changed on the primary (all of them when the
    // index cannot tell).
    if (!s.ok() || applied.rebuilt) {
      runtime.neighbours().InvalidateAll();
      runtime.attributes().InvalidateAll();
    } else {
      runtime.neighbours().Invalidate(applied.item_nos);
      runtime.attributes().Invalidate(applied.item_nos);
    }
  }
  // After the collections, so that a new alias finds its new collection loaded.
  if (absl::Status s = LoadAliases(); !s.ok()) {
    BN_LOG(WARNING) << "follower: cannot read aliases: " << s;
  }
}

}  // namespace bn
