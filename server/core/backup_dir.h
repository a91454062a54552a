// The directory side of a backup, shared by the single node's Backups (backups.h) and the
// cluster's ClusterBackups (server/cluster/cluster_backups.h). A backup is <root>/<name>. It is
// written under <root>/.tmp-<name> and renamed into place, so a backup without the dot exists
// only complete; it is deleted by renaming it to <root>/.deleting-<name> first, so it
// disappears atomically. Names starting with a dot are never listed.
//
// Thread safety: the callers serialise backups and deletions of one directory.
// Errors: ErrnoStatus (engine/util/atomic_file.h) of the failing file-system call.
#ifndef BOTTLENECK_SERVER_CORE_BACKUP_DIR_H_
#define BOTTLENECK_SERVER_CORE_BACKUP_DIR_H_

#include <filesystem>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace bn {

// The name of a new backup: `requested` (INVALID_ARGUMENT unless a valid name), or when it is
// empty backup-YYYYMMDDTHHMMSSZ (now, UTC) with -2, -3, ... appended while <backup_dir>/<name>
// exists.
[[nodiscard]] absl::StatusOr<std::string> NewBackupName(const std::string& requested,
                                                        const std::string& backup_dir);

// Where a new backup is written.
struct BackupStaging {
  std::string name;
  std::filesystem::path root;       // The backup directory, absolute.
  std::filesystem::path tmp;        // <root>/.tmp-<name>: write the backup here.
  std::filesystem::path final_dir;  // <root>/<name>.
};

// ALREADY_EXISTS when <backup_dir>/<name> exists; otherwise creates the backup directory and
// an empty <root>/.tmp-<name> (removing one left by an interrupted backup).
[[nodiscard]] absl::StatusOr<BackupStaging> BeginBackup(const std::string& backup_dir,
                                                        const std::string& name);
// Renames the staging directory into place and fsyncs <root>. The caller has fsynced what the
// staging directory holds (and the directory itself).
[[nodiscard]] absl::Status PublishBackup(const BackupStaging& staging);
// After a failure: removes the staging directory, logs `why` and returns it.
absl::Status AbandonBackup(const BackupStaging& staging, absl::Status why);

// Renames <root>/<name> to <root>/.deleting-<name>, fsyncs <root>, then removes it (a failure to
// remove is logged: the next deletion removes every left-over .deleting-* first).
[[nodiscard]] absl::Status RemoveBackupDir(const std::filesystem::path& root,
                                           const std::string& name);

// Fsyncs a file, or a directory's entries.
[[nodiscard]] absl::Status FsyncFileOrDir(const std::filesystem::path& path, bool directory);

}  // namespace bn

#endif  // BOTTLENECK_SERVER_CORE_BACKUP_DIR_H_
