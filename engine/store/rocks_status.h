// Conversion of RocksDB statuses to absl::Status at the store's boundary.
#ifndef BOTTLENECK_ENGINE_STORE_ROCKS_STATUS_H_
#define BOTTLENECK_ENGINE_STORE_ROCKS_STATUS_H_

#include <string>

#include "absl/status/status.h"
#include "rocksdb/status.h"

namespace bn {

// OK stays OK; otherwise the message is "<context>: <rocksdb message>" with a code chosen by kind
// (lock held -> Unavailable, corruption -> DataLoss, not found -> NotFound, I/O -> Internal).
[[nodiscard]] absl::Status FromRocks(const std::string& context, const rocksdb::Status& s);

}  // namespace bn

#endif  // BOTTLENECK_ENGINE_STORE_ROCKS_STATUS_H_
