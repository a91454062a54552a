// Core: opening, collections, shutdown.
#include <google/protobuf/util/time_util.h>

#include <algorithm>
#include <chrono>
#include <filesystem>

#include "engine/util/log.h"
#include "server/core/core.h"
#include "server/core/core_impl.h"
#include "server/core/specs.h"
#include "server/core/thread_priority.h"
#include "server/validation.h"

namespace bn {

namespace v1 = ::bottleneck::v1;
using google::protobuf::util::TimeUtil;

Core::Core(Store* store, CoreOptions options)
    : impl_(std::make_unique<Impl>(store, std::move(options))) {}

Core::~Core() { Shutdown(); }

absl::StatusOr<std::shared_ptr<CollectionRuntime>> Core::Impl::Find(const std::string& name) {
  if (absl::Status s = ValidateName("collection", name); !s.ok()) return s;
  std::shared_lock<std::shared_mutex> lock(collections_mutex);
  auto it = collections.find(name);
  if (it == collections.end()) return absl::NotFoundError("collection '" + name + "' not found");
  return it->second;
}

std::string Core::Impl::SnapshotDir() const {
  return (std::filesystem::path(options.data_dir) / "index").string();
}

absl::Status Core::Impl::SaveCollectionRecord(CollectionRuntime* runtime,
                                              const v1::Collection& record) {
  v1::Collection stored = record;
  v1::CollectionStats* stats = stored.mutable_stats();
  // Only the durable fields are stored; counts are computed on read.
  const uint64_t serving = stats->serving_model_version();
  const v1::Promotion promotion = stats->promotion();
  stored.clear_stats();
  stored.mutable_stats()->set_serving_model_version(serving);
  if (promotion.target_model_version() != 0)
    *stored.mutable_stats()->mutable_promotion() = promotion;
  if (absl::Status s = items.PutCollection(runtime->name(), stored.SerializeAsString()); !s.ok()) {
    return s;
  }
  runtime->set_record(stored);
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<const ServingState>> Core::Impl::LoadServingState(
    const CollectionRuntime& runtime, uint64_t version) {
  auto model = LoadModel(runtime.name(), version);
  if (!model.ok()) return model.status();
  auto index = OpenIndex(runtime, **model);
  if (!index.ok()) return index.status();
  auto state = std::make_shared<ServingState>();
  state->model = *model;
  state->index = *index;
  if ((*index)->open_report().from_snapshot && (*index)->open_report().replayed_changes == 0) {
    state->snapshot_counter = (*index)->applied_counter();
  }
  BN_LOG(INFO) << "collection " << runtime.name() << ": serving model v" << version << " with "
               << (*index)->index().size() << " indexed items ("
               << ((*index)->open_report().from_snapshot ? "from snapshot" : "rebuilt") << ")";
  return std::shared_ptr<const ServingState>(std::move(state));
}

absl::StatusOr<std::shared_ptr<CollectionRuntime>> Core::Impl::LoadCollection(
    const std::string& name) {
  auto blob = items.GetCollectionSpec(name);
  if (!blob.ok()) return blob.status();
  v1::Collection record;
  if (!record.ParseFromString(*blob)) {
    return absl::DataLossError("collection record of '" + name + "' is malformed");
  }
  auto runtime = std::make_shared<CollectionRuntime>(name, record, options.neighbour_cache_items);
  const uint64_t serving = record.stats().serving_model_version();
  if (serving != 0) {
    auto state = LoadServingState(*runtime, serving);
    if (!state.ok()) return state.status();
    runtime->set_serving(*state);
  } else {
    BN_LOG(INFO) << "collection " << name << ": no model serves it yet";
  }
  return runtime;
}

absl::StatusOr<std::unique_ptr<Core>> Core::Open(Store* store, const CoreOptions& options) {
  std::unique_ptr<Core> core(new Core(store, options));
  Impl& impl = *core->impl_;
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(options.data_dir) / "index", ec);
  if (ec) return absl::PermissionDeniedError("cannot create index directory: " + ec.message());

  auto names = impl.items.ListCollections();
  if (!names.ok()) return names.status();
  for (const std::string& name : *names) {
    auto runtime = impl.LoadCollection(name);
    if (!runtime.ok()) return runtime.status();
    impl.collections[name] = *runtime;
    if (options.follower) continue;  // Jobs and promotions belong to the primary.
    if (absl::Status s = impl.RecoverJobs(name); !s.ok()) return s;
    const uint64_t target = (*runtime)->record().stats().promotion().target_model_version();
    if (target != 0 && options.training_enabled) {
      auto model = impl.LoadModel(name, target);
      if (!model.ok()) return model.status();
      BN_LOG(INFO) << "collection " << name << ": resuming the promotion of model v" << target;
      if (absl::Status s = impl.StartPromotion(*runtime, *model); !s.ok()) return s;
    }
  }
  Core* raw = core.get();
  impl.snapshot_thread = std::thread([raw] {
    Impl& impl = *raw->impl_;
    // Snapshots, compaction and a follower's catch-up are background work: they must not delay
    // queries (a compaction rebuilds a whole graph).
    LowerThisThreadPriority(impl.options.background_nice);
    // A follower wakes every follow_interval to apply the primary's writes, and saves its own
    // snapshots every snapshot_interval; a primary only does the latter.
    const auto tick = impl.options.follower
                          ? std::min<std::chrono::milliseconds>(impl.options.follow_interval,
                                                                impl.options.snapshot_interval)
                          : std::chrono::milliseconds(impl.options.snapshot_interval);
    auto next_snapshot = std::chrono::steady_clock::now() + impl.options.snapshot_interval;
    std::unique_lock<std::mutex> lock(impl.threads_mutex);
    while (!impl.shut_down) {
      impl.shutdown_cv.wait_for(lock, tick);
      if (impl.shut_down) break;
      lock.unlock();
      if (impl.options.follower) impl.FollowPrimary();
      if (std::chrono::steady_clock::now() >= next_snapshot) {
        raw->SaveSnapshots();
        next_snapshot = std::chrono::steady_clock::now() + impl.options.snapshot_interval;
      }
      lock.lock();
    }
  });
  return core;
}

void Core::SaveSnapshots() {
  std::vector<std::shared_ptr<CollectionRuntime>> runtimes;
  {
    std::shared_lock<std::shared_mutex> lock(impl_->collections_mutex);
    for (auto& [name, runtime] : impl_->collections) runtimes.push_back(runtime);
  }
  for (auto& runtime : runtimes) {
    auto serving = runtime->serving();
    if (serving == nullptr) continue;
    auto state = impl_->items.GetCollectionState(runtime->name());
    if (!state.ok()) continue;  // Deleted meanwhile.
    absl::Status s = serving->index->CatchUp();
    if (!s.ok()) {
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
    // A promotion's index replays the log from its own start; keep the log while one runs.
    // A follower's log is the primary's to trim.
    if (runtime->promotion() == nullptr && !impl_->options.follower) {
      if (absl::Status t = impl_->items.TrimChangeLog(runtime->name(), *covered); !t.ok()) {
        BN_LOG(WARNING) << "collection " << runtime->name() << ": change log not trimmed: " << t;
      }
    }
  }
}

void Core::Shutdown() {
  Impl& impl = *impl_;
  {
    std::lock_guard<std::mutex> lock(impl.threads_mutex);
    if (impl.shut_down) return;
    impl.shut_down = true;
  }
  impl.shutdown_cv.notify_all();
  if (impl.snapshot_thread.joinable()) impl.snapshot_thread.join();
  // Promotions: stop re-encoding (the record keeps the target; it resumes on restart).
  {
    std::shared_lock<std::shared_mutex> lock(impl.collections_mutex);
    for (auto& [name, runtime] : impl.collections) {
      if (auto promotion = runtime->promotion()) promotion->cancelled = true;
    }
  }
  for (auto& thread : impl.promotion_threads) {
    if (thread.joinable()) thread.join();
  }
  impl.runner.Shutdown();  // Jobs see their cancel flag and end INTERRUPTED.
  std::shared_lock<std::shared_mutex> lock(impl.collections_mutex);
  for (auto& [name, runtime] : impl.collections) {
    auto serving = runtime->serving();
    if (serving == nullptr) continue;
    absl::Status s = serving->index->CatchUp();
    if (s.ok()) s = serving->index->SaveSnapshot().status();
    if (!s.ok()) BN_LOG(WARNING) << "collection " << name << ": snapshot not saved: " << s;
  }
}

absl::StatusOr<v1::Collection> Core::CreateCollection(const v1::CreateCollectionRequest& request) {
  Impl& impl = *impl_;
  if (absl::Status s = impl.CheckWritable(); !s.ok()) return s;
  if (absl::Status s = ValidateName("name", request.name()); !s.ok()) return s;
  v1::CollectionSpec spec = request.spec();
  if (absl::Status s = NormalizeCollectionSpec(&spec); !s.ok()) return s;
  std::lock_guard<std::mutex> admin(impl.admin_mutex);
  {
    std::shared_lock<std::shared_mutex> lock(impl.collections_mutex);
    if (impl.collections.count(request.name()) > 0) {
      return absl::AlreadyExistsError("collection '" + request.name() + "' already exists");
    }
  }
  v1::Collection record;
  record.set_name(request.name());
  *record.mutable_spec() = spec;
  *record.mutable_create_time() = TimeUtil::GetCurrentTime();
  if (absl::Status s = impl.items.PutCollection(request.name(), record.SerializeAsString());
      !s.ok()) {
    return s;
  }
  auto runtime = std::make_shared<CollectionRuntime>(request.name(), record,
                                                     impl.options.neighbour_cache_items);
  {
    std::unique_lock<std::shared_mutex> lock(impl.collections_mutex);
    impl.collections[request.name()] = runtime;
  }
  BN_LOG(INFO) << "created collection " << request.name();
  return GetCollection(request.name());
}

absl::StatusOr<v1::Collection> Core::GetCollection(const std::string& name) {
  Impl& impl = *impl_;
  auto runtime = impl.Find(name);
  if (!runtime.ok()) return runtime.status();
  // The promotion before the record: a promotion saves the record (with its new serving version)
  // before it clears itself, so a null promotion here means the record read next is final.
  auto promotion = (*runtime)->promotion();
  v1::Collection collection = (*runtime)->record();
  v1::CollectionStats* stats = collection.mutable_stats();
  auto state = impl.items.GetCollectionState(name);
  if (!state.ok()) return state.status();
  stats->set_item_count(state->item_count);
  auto serving = (*runtime)->serving();
  if (serving != nullptr) {
    stats->set_index_bytes(serving->index->index().MemoryBytes());
    const uint64_t indexed = serving->index->index().size();
    stats->set_pending_item_count(state->item_count > indexed ? state->item_count - indexed : 0);
  } else {
    stats->set_pending_item_count(state->item_count);
  }
  auto versions = impl.blobs.ListModelVersions(name);
  if (!versions.ok()) return versions.status();
  stats->set_model_count(versions->size());
  if (auto size = impl.items.ApproximateSize(name); size.ok()) {
    stats->set_store_bytes(size->total());
  }
  if (promotion != nullptr) {
    v1::Promotion* p = stats->mutable_promotion();
    p->set_target_model_version(promotion->model->version);
    p->set_items_done(promotion->items_done.load());
    p->set_items_total(promotion->items_total.load());
    *p->mutable_start_time() = TimeUtil::SecondsToTimestamp(promotion->start_unix_seconds);
  } else {
    stats->clear_promotion();
  }
  return collection;
}

std::vector<std::pair<std::string, NeighbourCache::Stats>> Core::NeighbourCacheStats() const {
  std::vector<std::pair<std::string, NeighbourCache::Stats>> out;
  std::shared_lock<std::shared_mutex> lock(impl_->collections_mutex);
  for (const auto& [name, runtime] : impl_->collections) {
    out.emplace_back(name, runtime->neighbours().stats());
  }
  return out;
}

absl::StatusOr<v1::ListCollectionsResponse> Core::ListCollections() {
  std::vector<std::string> names;
  {
    std::shared_lock<std::shared_mutex> lock(impl_->collections_mutex);
    for (const auto& [name, runtime] : impl_->collections) names.push_back(name);
  }
  v1::ListCollectionsResponse response;
  for (const std::string& name : names) {
    auto collection = GetCollection(name);
    if (collection.status().code() == absl::StatusCode::kNotFound) continue;  // Deleted meanwhile.
    if (!collection.ok()) return collection.status();
    *response.add_collections() = *collection;
  }
  return response;
}

absl::Status Core::DeleteCollection(const std::string& name) {
  Impl& impl = *impl_;
  if (absl::Status s = impl.CheckWritable(); !s.ok()) return s;
  std::lock_guard<std::mutex> admin(impl.admin_mutex);
  auto runtime = impl.Find(name);
  if (!runtime.ok()) return runtime.status();
  impl.CancelJobsOf(name);
  if (auto promotion = (*runtime)->promotion()) promotion->cancelled = true;
  {
    std::lock_guard<std::mutex> write((*runtime)->write_mutex());
    if (absl::Status s = impl.items.DeleteCollection(name); !s.ok()) return s;
    std::unique_lock<std::shared_mutex> lock(impl.collections_mutex);
    impl.collections.erase(name);
  }
  // Snapshots are derived data: remove them (a stale one would also be detected on load).
  const std::string dir = impl.SnapshotDir();
  const std::string probe = ServingIndex::SnapshotPath(dir, name, 0);
  const std::string prefix = probe.substr(0, probe.size() - std::string("0.hnsw").size());
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    if (entry.path().string().rfind(prefix, 0) == 0) std::filesystem::remove(entry.path(), ec);
  }
  BN_LOG(INFO) << "deleted collection " << name;
  return absl::OkStatus();
}

}  // namespace bn
