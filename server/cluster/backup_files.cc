#include "server/cluster/backup_files.h"

#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/util/atomic_file.h"

namespace bn::cluster {

namespace {

uint32_t Extend(uint32_t crc, absl::string_view bytes) {
  uLong c = crc;
  size_t done = 0;
  while (done < bytes.size()) {
    const uInt n = static_cast<uInt>(std::min<size_t>(bytes.size() - done, 1u << 30));
    c = crc32(c, reinterpret_cast<const Bytef*>(bytes.data() + done), n);
    done += n;
  }
  return static_cast<uint32_t>(c);
}

}  // namespace

BackupFileWriter::~BackupFileWriter() {
  if (fd_ >= 0) ::close(fd_);
}

absl::Status BackupFileWriter::Open(const std::string& path) {
  path_ = path;
  fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd_ < 0) return ErrnoStatus(errno, "cannot create " + path);
  return absl::OkStatus();
}

absl::Status BackupFileWriter::Append(absl::string_view bytes) {
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd_, bytes.data() + done, bytes.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus(errno, "cannot write " + path_);
    }
    done += static_cast<size_t>(n);
  }
  crc_ = Extend(crc_, bytes);
  size_ += bytes.size();
  return absl::OkStatus();
}

absl::Status BackupFileWriter::Finish() {
  if (::fsync(fd_) != 0) return ErrnoStatus(errno, "cannot fsync " + path_);
  const int rc = ::close(fd_);
  fd_ = -1;
  if (rc != 0) return ErrnoStatus(errno, "cannot close " + path_);
  return absl::OkStatus();
}

absl::Status FsyncPath(const std::string& path, bool directory) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | (directory ? O_DIRECTORY : 0));
  if (fd < 0) return ErrnoStatus(errno, "cannot open " + path);
  const int rc = ::fsync(fd);
  const int error = errno;
  ::close(fd);
  if (rc != 0) return ErrnoStatus(error, "cannot fsync " + path);
  return absl::OkStatus();
}

absl::Status ReadBackupFile(const std::string& path, uint64_t size, uint32_t crc,
                            const std::function<absl::Status(absl::string_view)>& sink) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) {
      return absl::FailedPreconditionError("the backup is damaged: " + path + " is missing");
    }
    return ErrnoStatus(errno, "cannot open " + path);
  }
  std::vector<char> buffer(size_t{1} << 20);
  uint64_t read = 0;
  uint32_t have = 0;
  absl::Status status = absl::OkStatus();
  while (status.ok()) {
    const ssize_t n = ::read(fd, buffer.data(), buffer.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      status = ErrnoStatus(errno, "cannot read " + path);
      break;
    }
    if (n == 0) break;
    const absl::string_view piece(buffer.data(), static_cast<size_t>(n));
    have = Extend(have, piece);
    read += piece.size();
    status = sink(piece);
  }
  ::close(fd);
  if (!status.ok()) return status;
  if (read != size || have != crc) {
    return absl::FailedPreconditionError(
        absl::StrCat("the backup is damaged: ", path, " has ", read, " bytes with CRC ", have,
                     ", its manifest says ", size, " bytes with CRC ", crc));
  }
  return absl::OkStatus();
}

}  // namespace bn::cluster
