// Durable file replacement: write to "<path>.tmp-<random>", fsync it, rename over `path`, fsync
// the directory. Readers see either the old or the new contents, never a mix, even after a crash.
#ifndef BOTTLENECK_ENGINE_UTIL_ATOMIC_FILE_H_
#define BOTTLENECK_ENGINE_UTIL_ATOMIC_FILE_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace bn {

[[nodiscard]] absl::Status WriteFileAtomically(const std::string& path, absl::string_view data);

// Reads a whole file. NotFound when it does not exist; Internal on I/O errors.
[[nodiscard]] absl::StatusOr<std::string> ReadFileToString(const std::string& path);

}  // namespace bn

#endif  // BOTTLENECK_ENGINE_UTIL_ATOMIC_FILE_H_
