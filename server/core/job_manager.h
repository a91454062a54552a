// Training jobs: queued on a bounded pool (JobRunner), run (dataset -> split -> train and
// evaluate, or fine-tune a classifier from an encoder version -> a new model version, optionally
// promoted), watched, cancelled and resumed. Every
// state change is persisted; jobs that were queued or running when the server stopped come back
// INTERRUPTED and resume from their last checkpoint.
//
// Thread safety: any thread.
// Errors: InvalidArgument (spec, description, a classifier promoted when done); NotFound
// (collection, dataset, job, a classifier's encoder version); FailedPrecondition (training
// disabled; resuming a job that is not INTERRUPTED; a classifier on a dataset with unlabelled
// examples or from a version that is not a dense auto-encoder); ResourceExhausted (queue full).
#ifndef BOTTLENECK_SERVER_CORE_JOB_MANAGER_H_
#define BOTTLENECK_SERVER_CORE_JOB_MANAGER_H_

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "absl/status/statusor.h"
#include "bottleneck/v1/training.pb.h"

namespace bn {

class Store;
class CollectionRegistry;
class CollectionRuntime;
class DatasetCatalog;
class Promoter;
class JobRunner;
class CancellationFlag;
struct TrainingProgress;

class JobManager {
 public:
  struct Options {
    bool training_enabled = true;
    int max_concurrent_jobs = 1;
    int max_queued_jobs = 16;
    int training_threads = 0;  // oneDNN/OpenMP threads per job; 0: all cores.
    int training_nice = 20;    // Priority of the job threads (LowerThisThreadPriority).
    // A running job checkpoints at an epoch end when this long has passed since the last one.
    std::chrono::seconds checkpoint_interval{60};
  };

  // The pointers must outlive the manager.
  JobManager(Store* store, CollectionRegistry* registry, const DatasetCatalog* datasets,
             Promoter* promoter, Options options);
  ~JobManager();  // Shutdown().
  JobManager(const JobManager&) = delete;
  JobManager& operator=(const JobManager&) = delete;

  // Loads a collection's stored jobs (at start); queued or running ones become INTERRUPTED.
  [[nodiscard]] absl::Status Recover(const std::string& collection);

  [[nodiscard]] absl::StatusOr<bottleneck::v1::Job> Start(
      const bottleneck::v1::StartTrainingRequest& request);
  [[nodiscard]] absl::StatusOr<bottleneck::v1::Job> Get(const std::string& job_id) const;
  // Jobs of one collection, or of all when `collection` is empty.
  [[nodiscard]] absl::StatusOr<bottleneck::v1::ListJobsResponse> List(
      const std::string& collection) const;
  // Asks the job to stop (it ends CANCELLED within a few seconds); a finished job is returned
  // as it is; an INTERRUPTED one becomes CANCELLED at once.
  [[nodiscard]] absl::StatusOr<bottleneck::v1::Job> Cancel(const std::string& job_id);
  [[nodiscard]] absl::StatusOr<bottleneck::v1::Job> Resume(const std::string& job_id);
  // Calls `emit` with the job's progress now, then on every update until the job ends or `emit`
  // returns false (Cancelled: the watcher went away).
  [[nodiscard]] absl::Status Watch(
      const std::string& job_id,
      const std::function<bool(const bottleneck::v1::JobProgress&)>& emit) const;

  // Forgets and cancels the jobs of a collection being deleted (never persisted again).
  void Forget(const std::string& collection);
  // Cancels every job; running ones end INTERRUPTED (resumable). Idempotent.
  void Shutdown();

 private:
  // A job's latest state and the watchers waiting for updates.
  struct Entry {
    std::string collection;
    mutable std::mutex mutex;
    mutable std::condition_variable changed;
    uint64_t sequence = 0;  // Bumped on every update.
    bottleneck::v1::Job job;
    bool removed = false;  // The collection was deleted: never persist this job again.
    bool finished() const;
    bottleneck::v1::Job Snapshot() const;
  };
  using EntryPtr = std::shared_ptr<Entry>;

  absl::StatusOr<EntryPtr> Find(const std::string& job_id) const;
  absl::Status Submit(const EntryPtr& entry);
  void Update(const EntryPtr& entry, const std::function<void(bottleneck::v1::Job*)>& update,
              bool persist);
  // job_run.cc: the job's body and its steps.
  void Run(const EntryPtr& entry, const CancellationFlag& cancel);
  void Finish(const EntryPtr& entry, bottleneck::v1::JobState state, const std::string& error,
              uint64_t version);
  bottleneck::v1::JobState Stopped() const;  // INTERRUPTED during shutdown, else CANCELLED.
  absl::StatusOr<uint64_t> TrainAndStore(const EntryPtr& entry,
                                         const std::shared_ptr<CollectionRuntime>& runtime,
                                         const CancellationFlag& cancel);
  std::function<void(const TrainingProgress&)> ProgressRecorder(const EntryPtr& entry);

  Store* const store_;
  CollectionRegistry* const registry_;
  const DatasetCatalog* const datasets_;
  Promoter* const promoter_;
  const Options options_;
  std::unique_ptr<JobRunner> runner_;

  mutable std::mutex mutex_;  // Guards jobs_, next_job_number_ and shut_down_.
  std::map<std::string, EntryPtr> jobs_;
  uint64_t next_job_number_ = 1;
  bool shut_down_ = false;
};

}  // namespace bn

#endif  // BOTTLENECK_SERVER_CORE_JOB_MANAGER_H_
