// The core of bottleneckd: every operation of the v1 API, without gRPC, as six parts that the
// RPC layer calls directly (docs/architecture.md draws them):
//   collections()  CollectionRegistry  collections, model versions, snapshots, follower catch-up
//   ingest()       ItemIngest          the one encode-and-write path (upserts, deletes, promotion)
//   queries()      QueryEngine         search, encode, decode, get item
//   datasets()     DatasetCatalog      training datasets
//   jobs()         JobManager          training jobs
//   promoter()     Promoter            zero-downtime promotion of a model version
//   backups()      Backups             online backups of the whole store (backups.h)
// Core owns them, opens them in order and shuts them down in reverse; the one operation that
// spans parts (deleting a collection) is here.
//
// Requests and responses are the v1 protobuf messages. Every part validates a request fully
// before changing anything; errors follow proto/bottleneck/v1/common.proto.
// Thread safety: every method of Core and of its parts may be called from any thread.
#ifndef BOTTLENECK_SERVER_CORE_CORE_H_
#define BOTTLENECK_SERVER_CORE_CORE_H_

#include <chrono>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "server/core/backups.h"
#include "server/core/collection_registry.h"
#include "server/core/dataset_catalog.h"
#include "server/core/item_ingest.h"
#include "server/core/job_manager.h"
#include "server/core/promoter.h"
#include "server/core/query_engine.h"

namespace bn {

class Store;

struct CoreOptions {
  std::string data_dir;    // Index snapshots go to <data_dir>/index.
  std::string backup_dir;  // Backups go there; empty: <data_dir>/backups.
  bool training_enabled = true;
  int max_concurrent_jobs = 1;
  int max_queued_jobs = 16;
  int training_threads = 0;  // 0: all cores.
  uint64_t max_dataset_examples = 1000000;
  uint32_t max_batch_items = 4096;  // Items per Upsert request / stream message.
  // A dataset's examples x input size x 4 bytes (what a training job holds in memory).
  uint64_t max_dataset_bytes = uint64_t{4} << 30;
  int encode_batch_max = 64;  // Concurrent single-item encodes per model call; 1: no batching.
  size_t neighbour_cache_items = 262144;  // Per collection; 0: none.
  bool bf16_encode = false;               // Dense models encode in bf16 where the CPU supports it.
  // Priorities of training threads and of index maintenance (snapshots, compaction, promotion
  // re-encoding, a follower's catch-up): LowerThisThreadPriority levels.
  int training_nice = 20;
  int background_nice = 20;
  // A running job checkpoints at an epoch end when this long has passed since the last one.
  std::chrono::seconds checkpoint_interval{60};
  // Index snapshots are saved (and the change log trimmed) this often when a collection changed.
  std::chrono::seconds snapshot_interval{60};
  // A read-only follower of a primary's store (opened with follow_primary): refreshes from it
  // every follow_interval and refuses writes. Implies training_enabled = false.
  bool follower = false;
  std::chrono::milliseconds follow_interval{1000};
};

class Core {
 public:
  // Opens the parts over `store` (which must outlive the Core): loads every collection (serving
  // models, indexes), marks jobs that were running as INTERRUPTED and resumes promotions.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<Core>> Open(Store* store,
                                                                  const CoreOptions& options);
  ~Core();  // Shutdown().
  Core(const Core&) = delete;
  Core& operator=(const Core&) = delete;

  // Stops promotions and jobs (both stay resumable) and saves index snapshots. Idempotent.
  void Shutdown();

  CollectionRegistry& collections() { return *registry_; }
  ItemIngest& ingest() { return *ingest_; }
  QueryEngine& queries() { return *queries_; }
  DatasetCatalog& datasets() { return *datasets_; }
  JobManager& jobs() { return *jobs_; }
  Promoter& promoter() { return *promoter_; }
  Backups& backups() { return *backups_; }

  // Deletes a collection: its jobs are cancelled and forgotten, its promotion stopped, then its
  // data and snapshots removed. NotFound; FailedPrecondition on a follower.
  [[nodiscard]] absl::Status DeleteCollection(const std::string& name);

 private:
  Core() = default;

  // In construction order; destroyed in reverse.
  std::unique_ptr<CollectionRegistry> registry_;
  std::unique_ptr<ItemIngest> ingest_;
  std::unique_ptr<QueryEngine> queries_;
  std::unique_ptr<DatasetCatalog> datasets_;
  std::unique_ptr<Promoter> promoter_;
  std::unique_ptr<JobManager> jobs_;
  std::unique_ptr<Backups> backups_;
};

}  // namespace bn

#endif  // BOTTLENECK_SERVER_CORE_CORE_H_
