// Files of a cluster backup (cluster_backups.h): written with their size and zlib CRC-32, then
// fsynced; read back in pieces.
//
// Thread safety: a BackupFileWriter is used by one thread. Errors: ErrnoStatus (atomic_file.h).
#ifndef BOTTLENECK_SERVER_CLUSTER_BACKUP_FILES_H_
#define BOTTLENECK_SERVER_CLUSTER_BACKUP_FILES_H_

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace bn::cluster {

class BackupFileWriter {
 public:
  BackupFileWriter() = default;
  ~BackupFileWriter();  // Closes an unfinished file (it stays, incomplete).
  BackupFileWriter(const BackupFileWriter&) = delete;
  BackupFileWriter& operator=(const BackupFileWriter&) = delete;

  // Creates `path` (which must not exist).
  [[nodiscard]] absl::Status Open(const std::string& path);
  [[nodiscard]] absl::Status Append(absl::string_view bytes);
  // Fsyncs and closes the file.
  [[nodiscard]] absl::Status Finish();

  uint64_t size() const { return size_; }
  uint32_t crc() const { return crc_; }

 private:
  std::string path_;
  int fd_ = -1;
  uint64_t size_ = 0;
  uint32_t crc_ = 0;
};

// Fsyncs a file or a directory.
[[nodiscard]] absl::Status FsyncPath(const std::string& path, bool directory);

// Calls `sink` with the file's bytes in pieces of about 1 MiB, then checks that they were
// `size` bytes with CRC-32 `crc` (FAILED_PRECONDITION naming the file otherwise: the backup is
// damaged). A sink error stops the read.
[[nodiscard]] absl::Status ReadBackupFile(
    const std::string& path, uint64_t size, uint32_t crc,
    const std::function<absl::Status(absl::string_view)>& sink);

}  // namespace bn::cluster

#endif  // BOTTLENECK_SERVER_CLUSTER_BACKUP_FILES_H_
