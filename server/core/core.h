// The core of bottleneckd: every operation of the v1 API, without gRPC. The RPC layer
// (server/*_service.cc) authorises, calls one method here and converts the status once.
//
// Requests and responses are the v1 protobuf messages (the API's own types); the core
// validates every request fully before changing anything, so a rejected request changes nothing.
// Errors follow the contract in proto/bottleneck/v1/common.proto.
//
// Thread safety: every method may be called concurrently from any thread.
#ifndef BOTTLENECK_SERVER_CORE_CORE_H_
#define BOTTLENECK_SERVER_CORE_CORE_H_

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <shared_mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "bottleneck/v1/collection.pb.h"
#include "bottleneck/v1/item.pb.h"
#include "bottleneck/v1/model.pb.h"
#include "bottleneck/v1/query.pb.h"
#include "bottleneck/v1/training.pb.h"
#include "engine/store/blob_store.h"
#include "engine/store/collection_store.h"
#include "engine/store/store.h"
#include "server/core/job_runner.h"
#include "server/core/runtime.h"

namespace bn {

struct CoreOptions {
  std::string data_dir;  // Index snapshots go to <data_dir>/index.
  bool training_enabled = true;
  int max_concurrent_jobs = 1;
  int max_queued_jobs = 16;
  int training_threads = 0;  // 0: all cores.
  uint64_t max_dataset_examples = 1000000;
  uint32_t max_batch_items = 4096;  // Items per Upsert request / stream message.
  // A dataset's examples x input size x 4 bytes (what a training job holds in memory).
  uint64_t max_dataset_bytes = uint64_t{4} << 30;
  int encode_batch_max = 64;  // Concurrent single-item encodes per model call; 1: no batching.
  // Per collection: the most neighbour heads (id, label, metadata) searches keep in memory
  // instead of reading them from the store (server/core/neighbour_cache.h); 0: none.
  size_t neighbour_cache_items = 262144;
  // Dense auto-encoders encode in bf16 (engine/model/autoencoder.h WithBf16Encode) when the CPU
  // supports it; otherwise f32, with a warning.
  bool bf16_encode = false;
  // Priorities (LowerThisThreadPriority levels) of training threads and of index maintenance
  // (the snapshot thread, compaction, promotion re-encoding, a follower's catch-up).
  int training_nice = 20;
  int background_nice = 20;
  // A running job saves its checkpoint at the end of an epoch when this long has passed since
  // the last one (0: every epoch).
  std::chrono::seconds checkpoint_interval{60};
  // Index snapshots are saved (and the change log trimmed) this often when a collection changed.
  std::chrono::seconds snapshot_interval{60};
  // A read-only follower of a primary's store (Store opened with follow_primary): the core
  // refreshes collections, serving models and indexes from the store every follow_interval and
  // refuses writes with FailedPrecondition. Implies training_enabled = false.
  bool follower = false;
  std::chrono::milliseconds follow_interval{1000};
};

class Core {
 public:
  // Loads every collection: serving models, indexes (snapshot + change log, or a rebuild),
  // marks jobs that were running as INTERRUPTED and restarts unfinished promotions.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<Core>> Open(Store* store,
                                                                  const CoreOptions& options);
  ~Core();  // Shutdown().
  // Cancels jobs and promotions (they stay resumable), saves index snapshots. Idempotent.
  void Shutdown();
  // Saves a snapshot of every serving index that changed since its last snapshot and trims the
  // change log up to what the snapshots cover. Runs periodically; callable directly.
  void SaveSnapshots();

  // --- CollectionService ---
  absl::StatusOr<bottleneck::v1::Collection> CreateCollection(
      const bottleneck::v1::CreateCollectionRequest& request);
  absl::StatusOr<bottleneck::v1::Collection> GetCollection(const std::string& name);
  absl::StatusOr<bottleneck::v1::ListCollectionsResponse> ListCollections();
  absl::Status DeleteCollection(const std::string& name);
  // Per collection (by name): its neighbour-head cache's size and lookups, for the metrics.
  std::vector<std::pair<std::string, NeighbourCache::Stats>> NeighbourCacheStats() const;

  // --- ItemService ---
  absl::StatusOr<bottleneck::v1::UpsertResponse> Upsert(
      const bottleneck::v1::UpsertRequest& request);
  absl::StatusOr<bottleneck::v1::GetItemResponse> GetItem(
      const bottleneck::v1::GetItemRequest& request);
  absl::StatusOr<bottleneck::v1::DeleteItemsResponse> DeleteItems(
      const bottleneck::v1::DeleteItemsRequest& request);

  // --- QueryService ---
  absl::StatusOr<bottleneck::v1::SearchResponse> Search(
      const bottleneck::v1::SearchRequest& request);
  absl::StatusOr<bottleneck::v1::EncodeResponse> Encode(
      const bottleneck::v1::EncodeRequest& request);
  absl::StatusOr<bottleneck::v1::DecodeResponse> Decode(
      const bottleneck::v1::DecodeRequest& request);

  // --- ModelService ---
  absl::StatusOr<bottleneck::v1::ListModelsResponse> ListModels(const std::string& collection);
  absl::StatusOr<bottleneck::v1::Model> GetModel(const std::string& collection, uint64_t version);
  absl::StatusOr<bottleneck::v1::Promotion> PromoteModel(const std::string& collection,
                                                         uint64_t version);

  // --- TrainingService: datasets ---
  // An upload in progress; Append validates and writes each batch; Commit makes the dataset
  // visible; destroying an uncommitted upload deletes what it wrote.
  class DatasetUpload {
   public:
    virtual ~DatasetUpload() = default;
    virtual absl::Status Append(const bottleneck::v1::UploadDatasetRequest& message) = 0;
    virtual absl::StatusOr<bottleneck::v1::Dataset> Commit() = 0;
  };
  std::unique_ptr<DatasetUpload> BeginUpload();
  absl::StatusOr<bottleneck::v1::Dataset> GetDataset(const std::string& collection,
                                                     const std::string& dataset);
  absl::StatusOr<bottleneck::v1::ListDatasetsResponse> ListDatasets(const std::string& collection);
  absl::Status DeleteDataset(const std::string& collection, const std::string& dataset);

  // --- TrainingService: jobs ---
  absl::StatusOr<bottleneck::v1::Job> StartTraining(
      const bottleneck::v1::StartTrainingRequest& request);
  absl::StatusOr<bottleneck::v1::Job> GetJob(const std::string& job_id);
  absl::StatusOr<bottleneck::v1::ListJobsResponse> ListJobs(const std::string& collection);
  absl::StatusOr<bottleneck::v1::Job> CancelJob(const std::string& job_id);
  absl::StatusOr<bottleneck::v1::Job> ResumeJob(const std::string& job_id);
  // Calls `emit` with the job's current progress, then on every update until the job ends or
  // `emit` returns false (client gone). Returns NotFound for an unknown job.
  absl::Status WatchJob(const std::string& job_id,
                        const std::function<bool(const bottleneck::v1::JobProgress&)>& emit);

  struct Impl;  // Internal (server/core/core_impl.h), shared by the core_*.cc files.

 private:
  Core(Store* store, CoreOptions options);
  std::unique_ptr<Impl> impl_;
};

}  // namespace bn

#endif  // BOTTLENECK_SERVER_CORE_CORE_H_
