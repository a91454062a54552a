// Backups in cluster mode (docs/cluster.md, "Backups"): CreateBackup on any node writes a
// backup of the whole cluster into that node's --backup-dir and lists it in the backups bucket
// (key <node>.<name>, value the v1.Backup with its node). ListBackups on any node answers every
// node's backups (its own from its directory, the others' from the bucket); DeleteBackup on any
// node deletes it, forwarded to the node whose directory holds it (UNAVAILABLE naming that node
// while it is down).
// `bottleneckd --cluster URLS --restore DIR` restores one into a fresh cluster
// (cluster_restore.h).
//
// A backup is the directory <backup_dir>/<name>:
//   cluster-backup.json  the manifest (internal.proto's BackupManifest, proto3 JSON): protocol
//                        version, source cluster, the v1.Backup answer, every collection's
//                        record with its cut and per-shard item counts, its model versions,
//                        the aliases, and the size and CRC-32 of every other file.
//   c<i>-s<shard>.snap   shard <shard> of the i-th collection at the cut (SnapshotHeader +
//                        SnapshotItem records: each item's stored v1.Item and its code of the
//                        serving version).
//   c<i>-m<version>.model  a model version's ModelRecord.
//   c<i>-d<k>.dataset    the k-th dataset's blob (its uploaded examples); the manifest also
//                        holds the collection's finished jobs (JobEntry, with their reports).
// It is written under <backup_dir>/.tmp-<name>, every file fsynced, then renamed into place
// (and <backup_dir> fsynced): a backup without the dot exists only complete. Delete renames to
// .deleting-<name> first.
//
// The cut of a collection (one log stream orders every shard's writes): one ready replica of
// each shard holds its apply loop before its next message (ShardReplica::Hold); the coordinator
// then reads the log's last sequence C (every write acknowledged before CreateBackup was called
// is at or below it); each held replica applies its shard's messages up to C, takes a store
// snapshot, resumes, and writes its items from that snapshot to the snapshot stream, from which
// the coordinator copies them (no node reads another's disk). Writes are never held: only the
// chosen replicas' apply lags while they are held (a hold ends by itself after kHoldTimeout).
// The shards of one collection are thus all exactly at C, a prefix of its write order.
// Collections are cut one after the other.
//
// Thread safety: any thread; backups (and deletions) are taken one at a time per node.
// Errors: as the single node's Backups (INVALID_ARGUMENT, ALREADY_EXISTS, NOT_FOUND, storage
// errors); UNAVAILABLE naming the shard when a shard has no live ready replica or its replica
// does not reach the cut in time (nothing is left behind).
#ifndef BOTTLENECK_SERVER_CLUSTER_CLUSTER_BACKUPS_H_
#define BOTTLENECK_SERVER_CLUSTER_CLUSTER_BACKUPS_H_

#include <chrono>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "bottleneck/cluster/internal.pb.h"
#include "bottleneck/v1/collection.pb.h"
#include "server/cluster/context.h"

namespace bn::cluster {

inline constexpr char kClusterBackupManifest[] = "cluster-backup.json";

class ClusterBackups {
 public:
  static constexpr std::chrono::milliseconds kHoldTimeout{5000};

  ClusterBackups(const ClusterContext& context, std::string backup_dir)
      : context_(context), backup_dir_(std::move(backup_dir)) {}

  [[nodiscard]] absl::StatusOr<bottleneck::v1::Backup> Create(
      const bottleneck::v1::CreateBackupRequest& request);
  // Every node's backups, oldest first (this node's as its directory has them).
  [[nodiscard]] absl::StatusOr<bottleneck::v1::ListBackupsResponse> List() const;
  [[nodiscard]] absl::StatusOr<bottleneck::v1::DeleteBackupResponse> Delete(
      const bottleneck::v1::DeleteBackupRequest& request);

  // ShardService.BackupShard: this node's replica's part (FAILED_PRECONDITION for another
  // protocol version or a shard this node does not serve).
  [[nodiscard]] absl::StatusOr<bottleneck::cluster::BackupShardResponse> HandleShard(
      const bottleneck::cluster::BackupShardRequest& request,
      std::chrono::system_clock::time_point deadline);

 private:
  absl::StatusOr<bottleneck::v1::Backup> CreateLocked(const std::string& name);
  // Deletes backup `name` from this node's directory and the backups bucket (NOT_FOUND when this
  // node's directory does not hold it).
  absl::StatusOr<bottleneck::v1::DeleteBackupResponse> DeleteHere(const std::string& name);
  // This node's key of backup `name` in the backups bucket.
  std::string BackupKey(const std::string& name) const;
  // The backups the other nodes wrote, as the backups bucket lists them.
  absl::StatusOr<std::vector<bottleneck::v1::Backup>> OtherNodesBackups() const;
  // Cuts one collection into `dir` (files c<index>-...), filling `record`.
  absl::Status BackupCollection(const bottleneck::cluster::CollectionEntry& entry, int index,
                                const std::string& dir,
                                bottleneck::cluster::BackupManifest* manifest);
  // Copies the collection's datasets (files c<index>-d<k>.dataset) and records its finished jobs.
  absl::Status BackupDatasetsAndJobs(const bottleneck::cluster::CollectionEntry& entry, int index,
                                     const std::string& dir,
                                     bottleneck::cluster::BackupManifest* manifest,
                                     bottleneck::cluster::BackupCollectionRecord* record);
  absl::StatusOr<bottleneck::cluster::BackupShardResponse> CallShard(
      const std::string& node, const std::string& address,
      const bottleneck::cluster::BackupShardRequest& request,
      std::chrono::system_clock::time_point deadline);

  const ClusterContext context_;
  const std::string backup_dir_;
  std::mutex mutex_;  // One backup (or deletion) at a time.
};

// The manifest of the cluster backup in `dir`: NOT_FOUND when `dir` holds none; DATA_LOSS when
// it does not parse.
[[nodiscard]] absl::StatusOr<bottleneck::cluster::BackupManifest> ReadClusterBackup(
    const std::string& dir);

}  // namespace bn::cluster

#endif  // BOTTLENECK_SERVER_CLUSTER_CLUSTER_BACKUPS_H_
