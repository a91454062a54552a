// Restores a cluster backup (cluster_backups.h) into a fresh cluster:
// `bottleneckd --cluster URLS [--cluster-name N] --restore DIR`, a one-shot that exits; the
// nodes are then started as usual and restore their shards from the snapshots it wrote.
//
// Refused, with nothing changed (FAILED_PRECONDITION): a manifest of another protocol version,
// a file whose size or CRC differs from the manifest's, and a target that already has a
// collection or an alias under that cluster name. NOT_FOUND when DIR is not a cluster backup.
//
// Then, per collection: a new incarnation (a new log; node disks of another cluster are never
// resumed against it), its items republished into the new log (upserts in id order, batched
// under the servers' max_payload), each shard's cut snapshot (with the codes it held) written
// with log_position = the last republished sequence of that shard, its model versions, and its
// datasets (their blobs) and finished jobs, and its record last (a record is never visible
// without its data). A promotion in progress at the cut goes on: the restored replicas re-encode
// with its target and the serving version flips when every shard is ready. Aliases are written
// after every collection.
// All or nothing: a restore that fails midway (the target's JetStream full or unreachable)
// removes what it wrote, newest first (keys purged, log streams deleted, blobs deleted message by
// message), and answers the first error with "everything it had written was removed"; the target
// is then fresh again (its empty buckets remain) and the restore can simply be run again. Only if
// that removal fails too does the error say so, naming what it could not remove.
// A restore killed midway cannot remove anything, so it keeps a journal (key "restore" of the
// <cluster>_meta bucket, RestoreJournal: the collections and aliases it has begun, refreshed
// every 2 s). The next restore removes what a dead one began (records of those incarnations,
// RemoveIncarnation, its aliases) before the freshness check: at once when the journal names
// this host and a process that is gone, else once the journal is 15 s old; while it is younger
// the restore is refused (FAILED_PRECONDITION "another restore ... is writing"). Blob chunks the
// killed process wrote but never named in a key are left to the nodes' blob collector
// (blob_collector.h), which deletes them after their grace period.
// Test hook: BN_TEST_RESTORE_KILL_AFTER=<collection> SIGKILLs the restore right after that
// collection's record is written.
#ifndef BOTTLENECK_SERVER_CLUSTER_CLUSTER_RESTORE_H_
#define BOTTLENECK_SERVER_CLUSTER_CLUSTER_RESTORE_H_

#include <string>

#include "absl/status/statusor.h"
#include "bottleneck/cluster/internal.pb.h"
#include "server/cluster/cluster_options.h"

namespace bn::cluster {

// Returns the restored backup's manifest.
[[nodiscard]] absl::StatusOr<bottleneck::cluster::BackupManifest> RestoreClusterBackup(
    const ClusterOptions& options, const std::string& dir);

}  // namespace bn::cluster

#endif  // BOTTLENECK_SERVER_CLUSTER_CLUSTER_RESTORE_H_
