#include "engine/index/mem_file.h"

#include <sys/mman.h>
#include <unistd.h>

namespace bn {

MemFile::MemFile() : fd_(memfd_create("bn-hnsw", MFD_CLOEXEC)) {}

MemFile::~MemFile() {
  if (fd_ >= 0) close(fd_);
}

std::string MemFile::path() const { return "/proc/self/fd/" + std::to_string(fd_); }

bool MemFile::ReadAll(std::string* out) const {
  off_t size = lseek(fd_, 0, SEEK_END);
  if (size < 0) return false;
  out->resize(size);
  size_t done = 0;
  while (done < out->size()) {
    ssize_t n = pread(fd_, &(*out)[done], out->size() - done, done);
    if (n <= 0) return false;
    done += n;
  }
  return true;
}

bool MemFile::WriteAll(absl::string_view data) const {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = pwrite(fd_, data.data() + done, data.size() - done, done);
    if (n <= 0) return false;
    done += n;
  }
  return true;
}

}  // namespace bn
