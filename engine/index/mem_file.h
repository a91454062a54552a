// MemFile: an anonymous in-memory file (memfd) reachable by a /proc path, for libraries that save
// and load only through file paths (hnswlib's saveIndex and loadIndex).
//
// Owns its descriptor (closed on destruction); ok() is false when memfd_create failed. Not
// thread-safe; the path is valid only in this process while the MemFile lives.
#ifndef BOTTLENECK_ENGINE_INDEX_MEM_FILE_H_
#define BOTTLENECK_ENGINE_INDEX_MEM_FILE_H_

#include <string>

#include "absl/strings/string_view.h"

namespace bn {

class MemFile {
 public:
  MemFile();
  ~MemFile();
  MemFile(const MemFile&) = delete;
  MemFile& operator=(const MemFile&) = delete;

  bool ok() const { return fd_ >= 0; }
  std::string path() const;
  // The whole file into `out`; false on a read error.
  [[nodiscard]] bool ReadAll(std::string* out) const;
  // Writes `data` from offset 0; false on a write error.
  [[nodiscard]] bool WriteAll(absl::string_view data) const;

 private:
  int fd_;
};

}  // namespace bn

#endif  // BOTTLENECK_ENGINE_INDEX_MEM_FILE_H_
