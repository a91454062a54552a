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

// OK stays OK; otherwise the message is "<context>: <rocksdb message>" with a code chosen by kind
// (lock held -> Unavailable, corruption -> DataLoss, not found -> NotFound, I/O -> Internal).
[[nodiscard]] absl::Status FromRocks(const std::string& context, const rocksdb::Status& s);

// The same bytes, not copied: valid while the viewed buffer is.
inline rocksdb::Slice ToSlice(absl::string_view s) { return rocksdb::Slice(s.data(), s.size()); }
inline absl::string_view ToView(const rocksdb::Slice& s) {
  return absl::string_view(s.data(), s.size());
}

}  // namespace bn

#endif  // BOTTLENECK_ENGINE_STORE_ROCKS_STATUS_H_
