// Durable file replacement: write to "<path>.tmp-<random>", fsync it, rename over `path`, fsync
// the directory. Readers see either the old or the new contents, never a mix, even after a crash.
#ifndef BOTTLENECK_ENGINE_UTIL_ATOMIC_FILE_H_
#define BOTTLENECK_ENGINE_UTIL_ATOMIC_FILE_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace bn {

// A failed system call on a file as a status "<context>: <strerror>": ENOSPC/EDQUOT ->
// ResourceExhausted, EACCES/EPERM/EROFS -> PermissionDenied, ENOENT -> NotFound, others (EIO...)
// -> Unavailable. Storage conditions are never Internal.
[[nodiscard]] absl::Status ErrnoStatus(int error, const std::string& context);

// Errors: ErrnoStatus of the failing call (ResourceExhausted when the disk is full).
[[nodiscard]] absl::Status WriteFileAtomically(const std::string& path, absl::string_view data);

// Reads a whole file. NotFound when it does not exist; other I/O errors as ErrnoStatus.
[[nodiscard]] absl::StatusOr<std::string> ReadFileToString(const std::string& path);

}  // namespace bn

#endif  // BOTTLENECK_ENGINE_UTIL_ATOMIC_FILE_H_
