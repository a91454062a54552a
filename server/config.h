// bottleneckd configuration: command-line flags and an optional config file.
#ifndef BOTTLENECK_SERVER_CONFIG_H_
#define BOTTLENECK_SERVER_CONFIG_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace bn {

struct ServerConfig {
  // Address of the query endpoint (QueryService, read-only Collection/Model methods, health).
  std::string listen = "127.0.0.1:50051";
  // Address of the training/admin endpoint. Empty: the same address as `listen`, which then
  // serves every service.
  std::string training_listen;
  std::string data_dir = "./data";
  bool training_enabled = true;  // false: a query replica.
  // A follower (query replica) of the primary whose --data-dir this is (e.g. a shared volume):
  // reads its store read-only and serves its collections, promoted models and items, refreshed
  // every follow_interval_ms. Implies no training endpoint.
  std::string follow;
  int follow_interval_ms = 1000;
  int inference_threads = 1;  // OpenMP threads per encode; 0: number of cores.
  // "f32", or "bf16": dense auto-encoders encode with bf16 weights and activations (AVX-512 BF16
  // CPUs; others keep f32 with a warning). Decoding stays f32.
  std::string inference_precision = "f32";
  int training_threads = 0;  // 0: number of cores.
  int max_concurrent_jobs = 1;
  int grpc_max_threads = 0;  // 0: gRPC's default.
  // Idle gRPC handler threads kept for the next requests (gRPC's own default of 2 makes a busy
  // server create and destroy a thread per request).
  int grpc_max_pollers = 8;
  std::string tls_cert_file;  // PEM; TLS is on when both cert and key are given.
  std::string tls_key_file;
  std::string admin_token_file;  // One token per line; empty lines and '#' comments ignored.
  std::string query_token_file;
  std::string log_level = "info";
  std::string log_format = "text";  // "text" (logfmt) or "json" (one object per line).
  // HOST:PORT of the Prometheus metrics endpoint (GET /metrics, GET /healthz); empty: off.
  std::string metrics_listen;
  // Disk flood stage (engine/store/disk_guard.h): writes that add data are refused while the
  // data directory's filesystem has less free space than the larger of these.
  uint64_t disk_flood_free_bytes = uint64_t{256} << 20;
  int disk_flood_free_percent = 2;
  int disk_check_interval_ms = 1000;     // Free-space polling (health, metrics, recovery).
  bool sync_writes = true;               // Sync the WAL per acknowledged write batch.
  int block_cache_mib = 256;             // RocksDB block cache (items' records, codes).
  int snapshot_interval_seconds = 60;    // Index snapshots of changed collections.
  int checkpoint_interval_seconds = 60;  // Training checkpoints at most this often; 0: each epoch.
  // Micro-batching of concurrent single-item encodes: at most this many per model call; 1 turns
  // batching off (every request encodes alone).
  int encode_batch_max = 64;
  int neighbour_cache_items = 262144;  // Per collection; 0: no cache.
  // Admission control: requests beyond these are refused with RESOURCE_EXHAUSTED at once
  // instead of queueing without bound.
  int max_inflight_queries = 256;  // Search, Encode, Decode, Classify at the same time.
  int max_write_streams = 8;       // Upsert/Delete calls (streams count once) at the same time.
  int max_dataset_uploads = 2;     // UploadDataset streams at the same time.
  int max_queued_jobs = 16;        // Training jobs waiting for a slot.
  int max_dataset_mib = 4096;      // Size bound of one dataset (its float matrix in memory).
  int ingest_threads = 2;          // Threads that run upserts and deletes (encode, store, index).
  // Scheduling priorities of background work (0: as queries; 1-19: that niceness; 20:
  // SCHED_IDLE, which a waking query preempts at once): ingest threads, training threads, and
  // index maintenance (snapshots, compaction, promotion re-encoding, a follower's catch-up).
  int ingest_nice = 20;
  int training_nice = 20;
  int background_nice = 20;
  // Backups (CollectionService.CreateBackup) are written under this directory; empty:
  // <data_dir>/backups.
  std::string backup_dir;
  // Non-empty: restore this backup directory into --data-dir (which must be missing or empty),
  // then serve it (bottleneckd --restore BACKUP_DIR --data-dir DIR).
  std::string restore;
  // Non-empty: verify this data directory offline (bottleneckd --check DIR) and exit.
  std::string check_dir;
  // Cluster mode (docs/cluster.md): NATS server URLs, comma-separated ("nats://h1:4222,...").
  // Empty: a single node with its embedded store (the default).
  std::string cluster;
  std::string cluster_name = "bottleneck";  // Prefix of the cluster's streams and buckets.
  std::string node_id;                      // Empty: the host name.
  std::string advertise;  // HOST:PORT other nodes reach this one at; empty: the --listen address.
  int default_shards = 1;
  int replicas_per_shard = 2;
  int stream_replicas = 3;  // JetStream replicas of the logs, buckets and blobs.
  int heartbeat_ms = 1000;
  int node_lease_ms = 5000;
  int shard_snapshot_interval_seconds = 300;
  bool log_trim = true;
  int blob_gc_grace_seconds = 3600;
  std::string nats_user;
  std::string nats_password_file;
  std::string nats_token_file;
  bool show_help = false;
  bool show_version = false;
};

// Parses argv (argv[0] is skipped). Flags take "--name=value" or "--name value"; booleans also
// take "--name" / "--no-name". "--config FILE" reads "name = value" lines (with '#' comments)
// before the other flags, which override it. Errors: InvalidArgument naming the flag or line.
[[nodiscard]] absl::StatusOr<ServerConfig> ParseServerFlags(const std::vector<std::string>& args);

// Checks values (addresses, thread counts, TLS files given in pairs). InvalidArgument otherwise.
[[nodiscard]] absl::Status ValidateServerConfig(const ServerConfig& config);

// The --help text.
std::string ServerUsage();

}  // namespace bn

#endif  // BOTTLENECK_SERVER_CONFIG_H_
