// Scrape-time metrics of bottleneckd: the process (memory, CPU, file descriptors, uptime) and the
// core (items and index bytes per collection, training jobs).
//
// Process (from /proc/self/statm, /proc/self/fd and getrusage):
//   process_resident_memory_bytes, process_virtual_memory_bytes, process_cpu_seconds_total,
//   process_open_fds, process_start_time_seconds, bottleneck_uptime_seconds.
// Collections, label {collection}:
//   bottleneck_collection_items, bottleneck_collection_pending_items,
//   bottleneck_collection_index_bytes, bottleneck_collection_store_bytes,
//   bottleneck_collection_models, bottleneck_collection_serving_model_version,
//   bottleneck_collection_promotion_progress_ratio (only while a promotion runs).
// Jobs:
//   bottleneck_jobs{state} (every known job, by state: queued, running, succeeded, ...);
//   for running jobs only, labels {job_id, collection}: bottleneck_job_progress_ratio (0..1 over
//   all phases), bottleneck_job_phase, bottleneck_job_epoch, bottleneck_job_loss,
//   bottleneck_job_samples_per_second.
// Storage (engine/store/disk_guard.h):
//   bottleneck_disk_free_bytes (of the data directory's filesystem), bottleneck_disk_flood_stage
//   (1 while free space is below the flood threshold), bottleneck_storage_write_blocked (1 while
//   writes are refused: flood stage, a storage error not yet recovered from, or a read-only open).
#ifndef BOTTLENECK_SERVER_METRICS_COLLECTORS_H_
#define BOTTLENECK_SERVER_METRICS_COLLECTORS_H_

#include "bottleneck/v1/training.pb.h"
#include "server/metrics.h"

namespace bn {

class Core;
class Store;

// Adds the process collector. Uptime counts from this call.
void AddProcessCollector(MetricsRegistry* registry);

// Adds the core collector. `core` must stay valid while the registry may be rendered (stop the
// HTTP endpoint before closing the core). A failing core call is logged and its families left
// empty.
void AddCoreCollector(MetricsRegistry* registry, Core* core);

// Adds the storage collector. `store` must stay valid while the registry may be rendered.
void AddStorageCollector(MetricsRegistry* registry, const Store* store);

// Fraction of the whole job done (phases count equally; within a phase, epochs and steps),
// clamped to [0, 1]; 0 when the progress carries no phase count.
double JobProgressRatio(const bottleneck::v1::JobProgress& progress);

}  // namespace bn

#endif  // BOTTLENECK_SERVER_METRICS_COLLECTORS_H_
