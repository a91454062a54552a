// Internal to the core: shared state of Core's implementation files (core_*.cc).
#ifndef BOTTLENECK_SERVER_CORE_CORE_IMPL_H_
#define BOTTLENECK_SERVER_CORE_CORE_IMPL_H_

#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <shared_mutex>
#include <string>
#include <thread>
#include <vector>

#include "server/core/core.h"
#include "server/core/trainer.h"

namespace bn {

// A job known to this server: its latest state and the watchers waiting for updates.
struct JobEntry {
  std::string collection;
  std::mutex mutex;
  std::condition_variable changed;
  uint64_t sequence = 0;  // Bumped on every update.
  bottleneck::v1::Job job;
  bool removed = false;  // The collection was deleted: never persist this job again.
  bool finished() const;
};

struct Core::Impl {
  Impl(Store* s, CoreOptions o)
      : store(s),
        items(s),
        blobs(s),
        options(std::move(o)),
        runner(options.max_concurrent_jobs, options.max_queued_jobs, options.training_nice) {}

  Store* store;
  CollectionStore items;
  BlobStore blobs;
  CoreOptions options;
  JobRunner runner;

  std::shared_mutex collections_mutex;  // Guards `collections`.
  std::map<std::string, std::shared_ptr<CollectionRuntime>> collections;
  std::mutex admin_mutex;  // Serialises create/delete of collections and promotions' start.

  std::mutex jobs_mutex;  // Guards `jobs` and `next_job_number`.
  std::map<std::string, std::shared_ptr<JobEntry>> jobs;
  uint64_t next_job_number = 1;

  std::mutex uploads_mutex;  // Guards `uploads`: "collection/dataset" being uploaded.
  std::set<std::string> uploads;

  std::mutex threads_mutex;
  std::vector<std::thread> promotion_threads;
  bool shut_down = false;
  std::condition_variable shutdown_cv;  // Wakes the snapshot thread.
  std::thread snapshot_thread;

  // NotFound ("collection 'x' not found") when absent; InvalidArgument for a malformed name.
  absl::StatusOr<std::shared_ptr<CollectionRuntime>> Find(const std::string& name);
  std::string SnapshotDir() const;

  // Loads a collection's record and, when a model serves it, that model and its index.
  absl::StatusOr<std::shared_ptr<CollectionRuntime>> LoadCollection(const std::string& name);
  // Loads model `version` of a collection and opens its index.
  absl::StatusOr<std::shared_ptr<const ServingState>> LoadServingState(
      const CollectionRuntime& runtime, uint64_t version);
  // A follower: applies the primary's latest writes (core_follower.cc): new and deleted
  // collections, newly promoted models, item changes. Errors are logged and retried next time.
  void FollowPrimary();
  // FailedPrecondition on a follower (every write goes to the primary); OK otherwise.
  absl::Status CheckWritable() const;

  // Loads a stored model version (model + text pipeline).
  absl::StatusOr<std::shared_ptr<const ServingModel>> LoadModel(const std::string& collection,
                                                                uint64_t version);
  // Opens (recovers) the index of `version` for a collection.
  absl::StatusOr<std::shared_ptr<ServingIndex>> OpenIndex(const CollectionRuntime& runtime,
                                                          const ServingModel& model);
  // PromoteModel's logic (also used by jobs with promote_when_done).
  absl::StatusOr<bottleneck::v1::Promotion> Promote(
      const std::shared_ptr<CollectionRuntime>& runtime, uint64_t version);
  // Starts the background re-encoding of every item with `model` (used by PromoteModel and on
  // startup for an unfinished promotion).
  absl::Status StartPromotion(const std::shared_ptr<CollectionRuntime>& runtime,
                              std::shared_ptr<const ServingModel> model);
  void RunPromotion(std::shared_ptr<CollectionRuntime> runtime,
                    std::shared_ptr<PromotionState> promotion);
  absl::Status SaveCollectionRecord(CollectionRuntime* runtime,
                                    const bottleneck::v1::Collection& record);

  // Jobs.
  // Loads the jobs of a collection at startup; jobs that were queued or running are marked
  // INTERRUPTED (resumable).
  absl::Status RecoverJobs(const std::string& collection);
  void CancelJobsOf(const std::string& collection);
  void RunJob(const std::shared_ptr<JobEntry>& entry, const CancellationFlag& cancel);
  // Reads a job's dataset into a matrix; for documents, learns the text pipeline first.
  absl::Status LoadDataset(const bottleneck::v1::Job& job,
                           const bottleneck::v1::CollectionSpec& spec,
                           const CancellationFlag& cancel, LabelledMatrix* all,
                           std::unique_ptr<TextPipeline>* text);
  void UpdateJob(const std::shared_ptr<JobEntry>& entry,
                 const std::function<void(bottleneck::v1::Job*)>& update, bool persist);
  absl::Status SubmitJob(const std::shared_ptr<JobEntry>& entry);
  absl::StatusOr<std::shared_ptr<JobEntry>> FindJob(const std::string& job_id);
};

// Brings each index up to the store after an acknowledged write.
absl::Status CatchUpAll(const std::vector<std::shared_ptr<ServingIndex>>& indexes);

}  // namespace bn

#endif  // BOTTLENECK_SERVER_CORE_CORE_IMPL_H_
