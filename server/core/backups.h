// Backups of a single-node server: a consistent, online copy of the whole data directory that a
// fresh server can be started from (`bottleneckd --restore BACKUP_DIR --data-dir NEW_DIR`).
//
// A backup is the directory <backup_dir>/<name>:
//   db/           a RocksDB checkpoint of the store (Store::CreateCheckpoint): every collection,
//                 item, code, model version, dataset, job and alias. SST files are hard links
//                 to the store's when the backup directory is on the same filesystem (the
//                 default, DATA_DIR/backups), copies otherwise. The store is the source of truth.
//   index/        the index snapshots, saved afresh by the backup just before the copy (hard
//                 links, or copies on another filesystem). A restored server
//                 loads them and replays the copied change log; one it cannot use (stale, damaged)
//                 is rebuilt from the store, as after any restart (serving_index.h).
//   backup.json   the manifest: the v1.Backup message in the proto3 JSON mapping (time, store
//                 sequence number, collections with their item counts read from the copy,
//                 aliases, size).
// It is written under <backup_dir>/.tmp-<name>, every file and directory fsynced, then renamed to
// <name> (and <backup_dir> fsynced): a backup directory without the dot exists only complete.
// Writes go on during the copy; every write acknowledged before Create() was called is in it.
// Index snapshots are not saved while a backup copies (CollectionRegistry::LockSnapshots).
// Delete renames a backup to a dot-name before removing it, so it disappears atomically too.
//
// Thread safety: every method may be called from any thread; backups are taken one at a time.
#ifndef BOTTLENECK_SERVER_CORE_BACKUPS_H_
#define BOTTLENECK_SERVER_CORE_BACKUPS_H_

#include <mutex>
#include <string>

#include "absl/status/statusor.h"
#include "bottleneck/v1/collection.pb.h"

namespace bn {

class Store;
class CollectionRegistry;

class Backups {
 public:
  // `store` and `registry` must outlive this. `backup_dir` is created on the first backup. The
  // copy runs on a thread of its own at `background_nice` (LowerThisThreadPriority), like other
  // background work, so that it does not take the CPU from queries and ingest.
  Backups(Store* store, CollectionRegistry* registry, std::string backup_dir,
          int background_nice = 20)
      : store_(store),
        registry_(registry),
        backup_dir_(std::move(backup_dir)),
        background_nice_(background_nice) {}

  // Takes a backup. InvalidArgument for a bad name; AlreadyExists when <backup_dir>/<name>
  // exists; FailedPrecondition on a follower; ResourceExhausted below the data directory's disk
  // flood stage (the checkpoint flushes memtables there) or when the backup directory's disk is
  // full; PermissionDenied/Unavailable for its other storage errors (nothing is left behind).
  [[nodiscard]] absl::StatusOr<bottleneck::v1::Backup> Create(
      const bottleneck::v1::CreateBackupRequest& request);
  // The complete backups under backup_dir (directories with a readable manifest), oldest first
  // (by time, then by store sequence number).
  [[nodiscard]] absl::StatusOr<bottleneck::v1::ListBackupsResponse> List() const;
  // Deletes backup <backup_dir>/<name>: renames it to <backup_dir>/.deleting-<name>, fsyncs
  // backup_dir (from then on it is gone, also after a crash: List skips dot-names), then removes
  // it (a failure there is logged; the next Delete removes such left-overs). InvalidArgument for
  // a bad name; NotFound when there is no backup of that name (a directory without a manifest
  // and db/CURRENT is none; one with a malformed manifest is deleted); FailedPrecondition on a
  // follower; storage errors as ErrnoStatus. Waits for a backup being taken.
  [[nodiscard]] absl::StatusOr<bottleneck::v1::DeleteBackupResponse> Delete(
      const bottleneck::v1::DeleteBackupRequest& request);

  const std::string& backup_dir() const { return backup_dir_; }

 private:
  absl::StatusOr<bottleneck::v1::Backup> CreateLocked(const std::string& name);

  Store* const store_;
  CollectionRegistry* const registry_;
  const std::string backup_dir_;
  const int background_nice_;
  std::mutex mutex_;  // One backup (or deletion) at a time.
};

// The manifest of the backup in directory `dir`. NotFound when `dir` is not a backup (no
// backup.json or no db/CURRENT); DataLoss for an unreadable manifest.
[[nodiscard]] absl::StatusOr<bottleneck::v1::Backup> ReadBackup(const std::string& dir);

// Restores the backup in directory `backup` into `data_dir`, which must not exist or be empty:
// db/ and index/ are staged under <data_dir>/.restoring (SST files hard-linked when on the same
// filesystem as the backup, every other file copied, all fsynced), then renamed into place, db
// last. The backup is not changed. FailedPrecondition when data_dir holds anything (naming the
// first entry; a .restoring left by an interrupted restore is removed and the restore redone);
// NotFound when `backup` is not a backup; storage errors as ErrnoStatus (atomic_file.h).
[[nodiscard]] absl::Status RestoreBackup(const std::string& backup, const std::string& data_dir);

}  // namespace bn

#endif  // BOTTLENECK_SERVER_CORE_BACKUPS_H_
