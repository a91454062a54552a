#include "server/core/backup_dir.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>
#include <system_error>
#include <vector>

#include "engine/util/atomic_file.h"
#include "engine/util/log.h"
#include "server/core/validation.h"

namespace bn {
namespace {

namespace fs = std::filesystem;

constexpr char kTmpPrefix[] = ".tmp-";
constexpr char kDeletingPrefix[] = ".deleting-";

absl::Status FromErrorCode(const std::error_code& ec, const std::string& context) {
  return ErrnoStatus(ec.value(), context);
}

std::string DefaultName() {
  const std::time_t now = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&now, &utc);
  char text[32];
  std::strftime(text, sizeof(text), "backup-%Y%m%dT%H%M%SZ", &utc);
  return text;
}

}  // namespace

absl::StatusOr<std::string> NewBackupName(const std::string& requested,
                                          const std::string& backup_dir) {
  if (!requested.empty()) {
    if (absl::Status s = ValidateName("name", requested); !s.ok()) return s;
    return requested;
  }
  std::string name = DefaultName();
  std::error_code ec;
  for (int i = 2; fs::exists(fs::path(backup_dir) / name, ec); ++i) {
    name = DefaultName() + "-" + std::to_string(i);
  }
  return name;
}

absl::Status FsyncFileOrDir(const fs::path& path, bool directory) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | (directory ? O_DIRECTORY : 0));
  if (fd < 0) return ErrnoStatus(errno, "cannot open " + path.string());
  const int rc = ::fsync(fd);
  const int error = errno;
  ::close(fd);
  if (rc != 0) return ErrnoStatus(error, "cannot fsync " + path.string());
  return absl::OkStatus();
}

absl::StatusOr<BackupStaging> BeginBackup(const std::string& backup_dir, const std::string& name) {
  BackupStaging staging;
  staging.name = name;
  std::error_code ec;
  staging.root = fs::absolute(backup_dir, ec);
  if (ec) return FromErrorCode(ec, "bad backup directory " + backup_dir);
  staging.final_dir = staging.root / name;
  if (fs::exists(staging.final_dir, ec)) {
    return absl::AlreadyExistsError("backup '" + name + "' already exists (" +
                                    staging.final_dir.string() + ")");
  }
  fs::create_directories(staging.root, ec);
  if (ec) return FromErrorCode(ec, "cannot create the backup directory " + staging.root.string());
  staging.tmp = staging.root / (kTmpPrefix + name);
  fs::remove_all(staging.tmp, ec);  // Left by an interrupted backup.
  fs::create_directory(staging.tmp, ec);
  if (ec) return FromErrorCode(ec, "cannot create " + staging.tmp.string());
  return staging;
}

absl::Status PublishBackup(const BackupStaging& staging) {
  std::error_code ec;
  fs::rename(staging.tmp, staging.final_dir, ec);
  if (ec) return FromErrorCode(ec, "cannot rename " + staging.tmp.string());
  return FsyncFileOrDir(staging.root, true);
}

absl::Status AbandonBackup(const BackupStaging& staging, absl::Status why) {
  std::error_code ignored;
  fs::remove_all(staging.tmp, ignored);
  BN_LOG(WARNING) << "backup " << staging.name << " failed: " << why;
  return why;
}

absl::Status RemoveBackupDir(const fs::path& root, const std::string& name) {
  std::error_code ec;
  // Left-overs of deletions interrupted by a crash: hidden, never listed, removed now.
  std::vector<fs::path> leftovers;
  for (auto it = fs::directory_iterator(root, ec); !ec && it != fs::end(it); it.increment(ec)) {
    if (it->path().filename().string().rfind(kDeletingPrefix, 0) == 0) {
      leftovers.push_back(it->path());
    }
  }
  for (const fs::path& leftover : leftovers) {
    std::error_code ignored;
    fs::remove_all(leftover, ignored);
  }
  const fs::path dir = root / name;
  const fs::path trash = root / (kDeletingPrefix + name);
  ec.clear();
  fs::rename(dir, trash, ec);
  if (ec) return FromErrorCode(ec, "cannot rename " + dir.string() + " to " + trash.string());
  if (absl::Status s = FsyncFileOrDir(root, true); !s.ok()) return s;
  fs::remove_all(trash, ec);
  if (ec) {
    BN_LOG(WARNING) << "backup " << name << " deleted but " << trash.string()
                    << " not removed (the next DeleteBackup retries): " << ec.message();
  }
  return absl::OkStatus();
}

}  // namespace bn
