// One replica of one shard on this node: a local collection (server/core) that follows the
// shard's subject of the collection's log through a durable JetStream consumer. Each log message
// is applied through ItemIngest (encoded with the local serving model, and a promotion's target)
// with its stream sequence stored in the same RocksDB write batch, so after a crash the replica
// continues from exactly what it applied. A new (or wiped) replica first restores the shard's
// latest snapshot (items with their codes, written by one of the shard's replicas to the blob
// stream), then replays the log after it. The replica also writes snapshots when asked, and keeps
// its model versions in step with the collection's (shard_versions.h).
//
// States (ReplicaReport.state): restoring (preparing the local collection, loading a snapshot),
// catching_up (replaying the log), ready (it has been caught up with the log since it started).
//
// Thread safety: every public method may be called from any thread. The replica's own thread
// applies the log; a second thread writes snapshots.
#ifndef BOTTLENECK_SERVER_CLUSTER_SHARD_REPLICA_H_
#define BOTTLENECK_SERVER_CLUSTER_SHARD_REPLICA_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "bottleneck/cluster/internal.pb.h"
#include "server/cluster/context.h"

namespace bn {
class CollectionRuntime;
}

namespace bn::cluster {

class LocalState;
class ShardVersions;

class ShardReplica {
 public:
  ShardReplica(const ClusterContext& context, LocalState* local,
               const bottleneck::cluster::CollectionEntry& entry, uint32_t shard);
  ~ShardReplica();  // Stop().
  ShardReplica(const ShardReplica&) = delete;
  ShardReplica& operator=(const ShardReplica&) = delete;

  void Start();
  // Stops the threads; the local collection stays (a restart continues from it). Idempotent.
  void Stop();
  // After Stop(): deletes the local collection (the shard moved away or its collection is gone).
  void Drop();

  const std::string& collection() const { return collection_; }
  uint64_t incarnation() const { return incarnation_; }
  uint32_t shard() const { return shard_; }
  const std::string& local_name() const { return local_; }

  // The collection's record changed (serving version, promotion target).
  void UpdateEntry(const bottleneck::cluster::CollectionEntry& entry);
  // Kept only until the shard's new replicas are ready (reported as "leaving").
  void SetLeaving(bool leaving) { leaving_ = leaving; }
  bool leaving() const { return leaving_; }

  uint64_t applied() const { return applied_.load(); }
  // The log was trimmed past what this replica applied while it ran (log_trimmer.h): it stopped
  // following, and its owner drops it and starts a new one, which restores the shard's snapshot.
  bool lost() const { return lost_.load(); }
  bool ready() const { return ready_.load(); }
  bottleneck::cluster::ReplicaReport Report() const;

  // Waits until every message of the shard's log up to `sequence` is applied: UNAVAILABLE
  // (naming the shard and how far it is) if that takes past `deadline`.
  [[nodiscard]] absl::Status WaitForSequence(uint64_t sequence,
                                             std::chrono::system_clock::time_point deadline);
  // The local collection (null until prepared).
  std::shared_ptr<CollectionRuntime> runtime() const;
  ShardVersions* versions() const { return versions_.get(); }

  // Writes a snapshot of the shard to the blob stream (on the snapshot thread) unless one runs.
  void RequestSnapshot();
  uint64_t snapshot_position() const { return snapshot_position_.load(); }

  // --- A backup's cut (cluster_backups.h; shard_replica_backup.cc) ---
  // Holds the apply loop before its next message until Cut or Release of `backup_id`, or for
  // `timeout` (then the loop resumes by itself). UNAVAILABLE while another backup holds it.
  [[nodiscard]] absl::Status Hold(uint64_t backup_id, std::chrono::milliseconds timeout);
  // Lets the held loop apply the log up to `cut` and no further, then writes the shard's items
  // exactly at `cut` (with their codes of the serving version, read from one store snapshot) as
  // a snapshot blob with log_position `cut`; the loop resumes as soon as that store snapshot is
  // taken. FAILED_PRECONDITION when this backup's hold is gone (it expired, and the replica may
  // have applied past the cut); UNAVAILABLE when the log up to `cut` is not applied by
  // `deadline`. The hold is released on every return.
  [[nodiscard]] absl::StatusOr<bottleneck::cluster::SnapshotEntry> Cut(
      uint64_t backup_id, uint64_t cut, std::chrono::system_clock::time_point deadline);
  void Release(uint64_t backup_id);

 private:
  // Called by the apply loop before it applies `sequence`: waits while a backup holds the loop
  // below it. False when the replica stops.
  bool WaitWhileHeld(uint64_t sequence);
  void Run();
  absl::Status Prepare();
  absl::Status Restore(const bottleneck::cluster::SnapshotEntry& snapshot);
  absl::Status Follow();
  // Whether the log was trimmed past `applied` (a fetch skipped sequences, so it cannot tell).
  absl::StatusOr<bool> TrimmedPastApplied(uint64_t applied);
  absl::Status Apply(uint64_t sequence, const std::string& data);
  absl::Status WriteSnapshot();
  // The header of a snapshot of this shard at log `position`, with the codes of the version
  // `runtime` serves (0: none).
  bottleneck::cluster::SnapshotHeader SnapshotHeaderAt(uint64_t position,
                                                       const CollectionRuntime& runtime) const;
  bool Sleep(std::chrono::milliseconds duration);  // False when stopped.

  const ClusterContext context_;
  LocalState* const local_state_;
  const std::string collection_;
  const uint64_t incarnation_;
  const uint32_t shard_;
  const std::string local_;
  const std::string stream_;
  const std::string subject_;
  const std::string consumer_;

  mutable std::mutex mutex_;  // Guards entry_, runtime_, stopped_; applied_cv_ waits on it.
  std::condition_variable applied_cv_;
  bottleneck::cluster::CollectionEntry entry_;
  std::shared_ptr<CollectionRuntime> runtime_;
  bool stopped_ = false;
  std::unique_ptr<ShardVersions> versions_;

  std::atomic<uint64_t> applied_{0};
  // Messages up to this sequence are known applied (checked against the log by WaitForSequence).
  std::atomic<uint64_t> complete_through_{0};
  std::atomic<bool> ready_{false};
  std::atomic<bool> prepared_{false};
  std::atomic<bool> leaving_{false};
  std::atomic<bool> lost_{false};
  std::atomic<uint64_t> snapshot_position_{0};
  std::atomic<bool> snapshot_requested_{false};
  // A backup's hold (guarded by mutex_): the loop applies nothing past hold_limit_ (nothing at
  // all while unset) until hold_until_, while hold_id_ is non-zero.
  uint64_t hold_id_ = 0;
  std::optional<uint64_t> hold_limit_;
  std::chrono::steady_clock::time_point hold_until_;
  std::chrono::steady_clock::time_point hold_start_;
  std::thread thread_;
  std::thread snapshot_thread_;
};

}  // namespace bn::cluster

#endif  // BOTTLENECK_SERVER_CLUSTER_SHARD_REPLICA_H_
