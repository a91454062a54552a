// The collections a server serves: their records, serving models and indexes in memory, loaded
// from the store (the source of truth) at start. Also the catalogue of model versions, and the
// background work on indexes: periodic snapshots (which let the change log be trimmed) and, on a
// follower, catching up with the primary's writes.
//
// Thread safety: every method may be called from any thread.
// Errors: InvalidArgument for a malformed name; NotFound for an unknown collection or model
// version; AlreadyExists; FailedPrecondition for a write on a follower; store errors as returned.
#ifndef BOTTLENECK_SERVER_CORE_COLLECTION_REGISTRY_H_
#define BOTTLENECK_SERVER_CORE_COLLECTION_REGISTRY_H_

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "bottleneck/v1/collection.pb.h"
#include "bottleneck/v1/model.pb.h"
#include "server/core/neighbour_cache.h"

namespace bn {

class Store;
class CollectionRuntime;
class ServingIndex;
struct ServingModel;
struct ServingState;
struct ModelRecord;
struct ClassifierCache;

// Whether loaded version `sm` of `collection` can classify: FailedPrecondition when it is not a
// classifier (ModelSpec.classifier), DataLoss when its engine model does not match its stored
// labels. Used by CollectionRegistry::Classifier and by cluster mode's Classify.
[[nodiscard]] absl::Status CheckClassifier(const std::string& collection, const ServingModel& sm);

class CollectionRegistry {
 public:
  struct Options {
    std::string data_dir;                   // Index snapshots live in <data_dir>/index.
    size_t neighbour_cache_items = 262144;  // Per collection (0: no cache).
    int encode_batch_max = 64;              // Per loaded model (EncodeBatcher).
    bool bf16_encode = false;               // Dense models encode in bf16 where the CPU can.
    // A read-only follower of a primary's store: refuses writes, catches up every
    // follow_interval.
    bool follower = false;
    std::chrono::milliseconds follow_interval{1000};
    std::chrono::seconds snapshot_interval{60};
    int background_nice = 20;  // Priority of the background thread (LowerThisThreadPriority).
  };

  // `store` must outlive the registry. Nothing is loaded until LoadAll().
  CollectionRegistry(Store* store, Options options);
  ~CollectionRegistry();  // Shutdown().
  CollectionRegistry(const CollectionRegistry&) = delete;
  CollectionRegistry& operator=(const CollectionRegistry&) = delete;

  // Loads every stored collection with its serving model and index (snapshot + change log, or a
  // rebuild). Call once, before serving.
  [[nodiscard]] absl::Status LoadAll();
  // Starts the thread that saves snapshots every snapshot_interval (and follows the primary).
  void StartBackground();
  // Stops that thread, then saves a snapshot of every serving index (stop promotions and jobs
  // first). Idempotent.
  void Shutdown();
  // Saves a snapshot of every serving index that changed since its last one and trims the
  // change log up to it (not while a promotion runs, nor on a follower).
  void SaveSnapshots();

  // The loaded collection, or NotFound ("collection 'x' not found"). Takes collection names only.
  [[nodiscard]] absl::StatusOr<std::shared_ptr<CollectionRuntime>> Find(
      const std::string& name) const;
  // Find(), where `name` may also be an alias (resolved under the same lock as the lookup, so a
  // SwitchAlias is seen whole): the one lookup of item writes and reads and of queries. Use the
  // runtime's name(), never `name`, for the store.
  [[nodiscard]] absl::StatusOr<std::shared_ptr<CollectionRuntime>> Lookup(
      const std::string& name) const;
  std::vector<std::shared_ptr<CollectionRuntime>> All() const;
  // FailedPrecondition on a follower (every write goes to the primary); OK otherwise.
  [[nodiscard]] absl::Status CheckWritable() const;

  [[nodiscard]] absl::StatusOr<bottleneck::v1::Collection> Create(
      const bottleneck::v1::CreateCollectionRequest& request);
  // The stored record with live statistics (counts, sizes, promotion progress).
  [[nodiscard]] absl::StatusOr<bottleneck::v1::Collection> Describe(const std::string& name) const;
  [[nodiscard]] absl::StatusOr<bottleneck::v1::ListCollectionsResponse> List() const;
  // Deletes the collection's data and snapshots. The caller stops its jobs and promotion first
  // (Core::DeleteCollection).
  [[nodiscard]] absl::Status Remove(const std::string& name);
  // Saves the durable fields of `record` (spec, serving version, promotion target).
  [[nodiscard]] absl::Status SaveRecord(CollectionRuntime* runtime,
                                        const bottleneck::v1::Collection& record);

  // --- Model versions ---
  [[nodiscard]] absl::StatusOr<bottleneck::v1::ListModelsResponse> ListModels(
      const std::string& collection) const;  // Newest first.
  [[nodiscard]] absl::StatusOr<bottleneck::v1::Model> GetModel(const std::string& collection,
                                                               uint64_t version) const;
  // Loads a stored version (engine model, text pipeline, encode batcher).
  [[nodiscard]] absl::StatusOr<std::shared_ptr<const ServingModel>> LoadModel(
      const std::string& collection, uint64_t version) const;
  // The classifier version `version` of the collection (0: its newest classifier version),
  // loaded with LoadModel and kept for the next call. NotFound for an unknown version;
  // FailedPrecondition when that version is not a classifier, or (version 0) the collection has
  // no classifier version. Cheap when nothing changed: one point lookup past the versions seen
  // (collection_registry_classify.cc).
  [[nodiscard]] absl::StatusOr<std::shared_ptr<const ServingModel>> Classifier(
      const CollectionRuntime& runtime, uint64_t version) const;
  // Opens (recovers) the index of `model` for the collection.
  [[nodiscard]] absl::StatusOr<std::shared_ptr<ServingIndex>> OpenIndex(
      const CollectionRuntime& runtime, const ServingModel& model) const;
  // Stores `record` as the collection's next version (record->meta.version is set) and returns
  // the version. Cancelled if `runtime` was deleted (or replaced) meanwhile.
  [[nodiscard]] absl::StatusOr<uint64_t> AddModel(const std::shared_ptr<CollectionRuntime>& runtime,
                                                  ModelRecord* record);

  // --- Aliases (collection_registry_aliases.cc): stored in the store (alias_store.h), kept in
  // memory, reloaded by a follower after each catch-up. A name is either a collection's or an
  // alias's, never both. InvalidArgument for bad names; AlreadyExists when the name is taken;
  // NotFound for an unknown alias or target collection; FailedPrecondition on a follower.
  [[nodiscard]] absl::StatusOr<bottleneck::v1::Alias> CreateAlias(
      const bottleneck::v1::CreateAliasRequest& request);
  [[nodiscard]] absl::StatusOr<bottleneck::v1::Alias> SwitchAlias(
      const bottleneck::v1::SwitchAliasRequest& request);
  [[nodiscard]] absl::Status DeleteAlias(const std::string& name);
  [[nodiscard]] absl::StatusOr<bottleneck::v1::ListAliasesResponse> ListAliases() const;

  // Held while snapshots are saved (SaveSnapshots): a backup holds it while it copies the
  // snapshot files and the store, so that no snapshot trims the change log in between (the
  // copied snapshots then replay the copied log instead of being rebuilt).
  [[nodiscard]] std::unique_lock<std::mutex> LockSnapshots() {
    return std::unique_lock(snapshot_mutex_);
  }
  std::string SnapshotDir() const;

  // Serialises changes to the set of collections and their versions (create, delete, new model
  // versions, the start of a promotion). Hold it only for short store operations.
  [[nodiscard]] std::unique_lock<std::mutex> LockAdmin() { return std::unique_lock(admin_mutex_); }

  // Per collection: its neighbour-head cache's statistics (metrics).
  std::vector<std::pair<std::string, NeighbourCache::Stats>> NeighbourCacheStats() const;

 private:
  absl::StatusOr<std::shared_ptr<CollectionRuntime>> Load(const std::string& name) const;
  absl::StatusOr<std::shared_ptr<const ServingState>> LoadServingState(
      const CollectionRuntime& runtime, uint64_t version) const;
  void FollowPrimary();
  absl::Status
  LoadAliases();  // Replaces aliases_ with the stored ones.  // collection_registry_background.cc
  // Looks at the versions past cache->scanned for classifiers (the caller holds cache->mutex).
  absl::Status ScanForClassifiers(const std::string& collection, ClassifierCache* cache) const;

  Store* const store_;
  const Options options_;
  mutable std::shared_mutex mutex_;  // Guards collections_ and aliases_.
  std::map<std::string, std::shared_ptr<CollectionRuntime>> collections_;
  std::map<std::string, std::string> aliases_;  // Alias -> collection name.
  std::mutex admin_mutex_;
  std::mutex snapshot_mutex_;

  std::mutex background_mutex_;  // Guards stopped_; background_cv_ wakes the thread.
  std::condition_variable background_cv_;
  bool stopped_ = false;
  std::thread background_;
};

}  // namespace bn

#endif  // BOTTLENECK_SERVER_CORE_COLLECTION_REGISTRY_H_
