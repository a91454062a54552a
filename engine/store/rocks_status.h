// Conversions at the store's RocksDB boundary: RocksDB statuses to absl::Status, and string views
// to and from rocksdb::Slice. Pure functions.
#ifndef BOTTLENECK_ENGINE_STORE_ROCKS_STATUS_H_
#define BOTTLENECK_ENGINE_STORE_ROCKS_STATUS_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "rocksdb/slice.h"
#include "rocksdb/status.h"

namespace bn {

// What a failed RocksDB status says about the storage under it.
enum class StorageCondition {
  kNone,        // Not a storage condition (not found, invalid argument, a bug).
  kOutOfSpace,  // ENOSPC / EDQUOT, or RocksDB's NoSpace.
  kTransient,   // Other I/O errors, busy, timed out, shutting down: retrying may succeed.
  kCorruption,  // Checksum mismatch, torn or missing database file.
  kLocked,      // Another process holds the database lock.
  kPermission,  // The files or the filesystem are not writable.
};
StorageCondition ClassifyRocks(const rocksdb::Status& s);

// The one conversion of RocksDB statuses. OK stays OK; otherwise the message is
// "<context>: <rocksdb message>" and the code follows the storage condition: out of space ->
// ResourceExhausted, transient I/O error or lock held -> Unavailable (retryable), corruption or a
// missing database file -> DataLoss, permission -> PermissionDenied; otherwise not found ->
// NotFound, invalid argument -> InvalidArgument, not supported -> FailedPrecondition. Never
// Internal for a storage condition.
[[nodiscard]] absl::Status FromRocks(const std::string& context, const rocksdb::Status& s);

// The same bytes, not copied: valid while the viewed buffer is.
inline rocksdb::Slice ToSlice(absl::string_view s) { return rocksdb::Slice(s.data(), s.size()); }
inline absl::string_view ToView(const rocksdb::Slice& s) {
  return absl::string_view(s.data(), s.size());
}

}  // namespace bn

#endif  // BOTTLENECK_ENGINE_STORE_ROCKS_STATUS_H_
