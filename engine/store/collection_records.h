// Internal to engine/store/collection_store*.cc: the byte layouts of a collection's state record
// and of an item's value, and the read helpers the write and read paths share.
#ifndef BOTTLENECK_ENGINE_STORE_COLLECTION_RECORDS_H_
#define BOTTLENECK_ENGINE_STORE_COLLECTION_RECORDS_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "engine/store/collection_store.h"
#include "engine/store/store.h"
#include "rocksdb/db.h"

namespace bn::collection_records {

std::string EncodeState(const CollectionState& st);
[[nodiscard]] absl::Status DecodeState(absl::string_view in, CollectionState* st);
// An item's value: its item number (U64) then the record bytes.
std::string EncodeItemValue(uint64_t item_no, absl::string_view record);
// DataLoss when `in` is too short; `record` may be null.
[[nodiscard]] absl::Status DecodeItemValue(absl::string_view in, uint64_t* item_no,
                                           std::string* record);
// Reads the state with the given read options (NotFound when the collection does not exist).
[[nodiscard]] absl::Status ReadState(Store* store, const rocksdb::ReadOptions& ro,
                                     absl::string_view c, CollectionState* st);

// RAII RocksDB snapshot. A follower (secondary instance) has no snapshots; its view changes only
// when it catches up with the primary, and each iterator is consistent by itself.
class DbSnapshot {
 public:
  explicit DbSnapshot(const Store* store)
      : db_(store->db()), snap_(store->read_only() ? nullptr : db_->GetSnapshot()) {
    options_.snapshot = snap_;
  }
  ~DbSnapshot() {
    if (snap_ != nullptr) db_->ReleaseSnapshot(snap_);
  }
  const rocksdb::ReadOptions& options() const { return options_; }

 private:
  rocksdb::DB* db_;
  const rocksdb::Snapshot* snap_;
  rocksdb::ReadOptions options_;
};

}  // namespace bn::collection_records

#endif  // BOTTLENECK_ENGINE_STORE_COLLECTION_RECORDS_H_
