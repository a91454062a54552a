// Training in cluster mode. A dataset uploaded to any node is validated by that node's
// DatasetCatalog (into the collection's training workspace there, workspace in model_cache.h) and
// stored on the blob stream, described in the datasets bucket. A job runs on the node that
// received StartTraining (it must train: not --no-training), in its local JobManager over the
// workspace, after importing the dataset from the blob stream if the node lacks it. A tracker
// thread mirrors the job's state into the jobs bucket (so any node answers GetJob, ListJobs and
// WatchJob) and, when it succeeds, publishes the model as the collection's next version
// (ClusterModels::Publish) and promotes it if asked. CancelJob and ResumeJob are forwarded to the
// node that runs the job. A job whose node is down reads as INTERRUPTED; it resumes there.
//
// Job ids: <collection>.<node>.<number>.
//
// Thread safety: any thread.
// Classifier jobs run the same way; a classifier from an encoder version installs that version in
// the workspace first. Like on a single node, a classifier job with promote_when_done is refused
// (INVALID_ARGUMENT) here, since the local job always runs with it off.
//
// Errors: as the single-node TrainingService, plus FAILED_PRECONDITION for StartTraining on a
// node that does not train and for Cancel/Resume of a job whose node is down.
#ifndef BOTTLENECK_SERVER_CLUSTER_CLUSTER_TRAINING_H_
#define BOTTLENECK_SERVER_CLUSTER_CLUSTER_TRAINING_H_

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "bottleneck/cluster/internal.pb.h"
#include "bottleneck/v1/training.pb.h"
#include "server/cluster/context.h"

namespace bn::cluster {

class ClusterCollections;
class ClusterModels;
class LocalState;

class ClusterTraining {
 public:
  using Deadline = std::chrono::system_clock::time_point;

  ClusterTraining(const ClusterContext& context, LocalState* local, ClusterCollections* collections,
                  ClusterModels* models);
  ~ClusterTraining();  // Stop().

  // Mirrors the jobs this node recovered at start (INTERRUPTED) and publishes models of jobs
  // that succeeded before a crash let them be published.
  void Start();
  // Stops the trackers (the node's jobs end INTERRUPTED with the core). Idempotent.
  void Stop();

  class Upload {
   public:
    virtual ~Upload() = default;
    [[nodiscard]] virtual absl::Status Append(
        const bottleneck::v1::UploadDatasetRequest& message) = 0;
    [[nodiscard]] virtual absl::StatusOr<bottleneck::v1::Dataset> Commit() = 0;
  };
  std::unique_ptr<Upload> BeginUpload();
  [[nodiscard]] absl::StatusOr<bottleneck::v1::Dataset> GetDataset(const std::string& collection,
                                                                   const std::string& dataset);
  [[nodiscard]] absl::StatusOr<bottleneck::v1::ListDatasetsResponse> ListDatasets(
      const std::string& collection);
  [[nodiscard]] absl::Status DeleteDataset(const std::string& collection,
                                           const std::string& dataset);

  [[nodiscard]] absl::StatusOr<bottleneck::v1::Job> StartTraining(
      const bottleneck::v1::StartTrainingRequest& request);
  [[nodiscard]] absl::StatusOr<bottleneck::v1::Job> GetJob(const std::string& job_id);
  [[nodiscard]] absl::StatusOr<bottleneck::v1::ListJobsResponse> ListJobs(
      const std::string& collection);
  [[nodiscard]] absl::StatusOr<bottleneck::v1::Job> CancelJob(const std::string& job_id,
                                                              Deadline deadline);
  [[nodiscard]] absl::StatusOr<bottleneck::v1::Job> ResumeJob(const std::string& job_id,
                                                              Deadline deadline);
  // As JobManager::Watch, from the jobs bucket.
  [[nodiscard]] absl::Status WatchJob(
      const std::string& job_id,
      const std::function<bool(const bottleneck::v1::JobProgress&)>& emit);
  // ShardService.ForwardJob: cancels or resumes a job this node runs.
  [[nodiscard]] absl::StatusOr<bottleneck::v1::Job> HandleForward(
      const bottleneck::cluster::ForwardJobRequest& request);

 private:
  class UploadImpl;
  struct JobRecord {
    bottleneck::cluster::JobEntry entry;
    uint64_t revision = 0;
  };
  absl::StatusOr<JobRecord> ReadJob(const std::string& job_id);
  // The job as clients see it: a job whose node is down reads as INTERRUPTED.
  bottleneck::v1::Job Visible(const bottleneck::cluster::JobEntry& entry) const;
  absl::Status ImportDataset(const bottleneck::cluster::CollectionEntry& entry,
                             const std::string& workspace, const std::string& dataset);
  absl::Status Mirror(const bottleneck::cluster::JobEntry& entry);
  // Follows local job `local_id` until it ends (thread), then publishes its model.
  void Track(bottleneck::cluster::JobEntry entry);
  void Finish(bottleneck::cluster::JobEntry entry, const bottleneck::v1::Job& local);
  absl::StatusOr<bottleneck::v1::Job> Forward(const std::string& job_id, bool resume,
                                              Deadline deadline);

  const ClusterContext context_;
  LocalState* const local_;
  ClusterCollections* const collections_;
  ClusterModels* const models_;
  std::mutex mutex_;                             // Guards trackers_ and stopped_.
  std::map<std::string, std::thread> trackers_;  // By cluster job id.
  bool stopped_ = false;
};

}  // namespace bn::cluster

#endif  // BOTTLENECK_SERVER_CLUSTER_CLUSTER_TRAINING_H_
