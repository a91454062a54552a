// The durable store: one RocksDB database per server data directory, the source of truth for
// collections, items, codes, models, datasets and jobs. Everything else (the HNSW indexes) is
// derived from it and can be rebuilt.
//
// Column families (key layout in engine/store/keys.h; typed access in
// engine/store/collection_store.h):
//   meta         schema version and server-wide records
//   collections  one record per collection
//   items        items with their original input, label and metadata
//   codes        codes per (collection, model version, item)
//   models       model versions (architecture, weights, preprocessing)
//   datasets     uploaded training datasets
//   jobs         training jobs and their checkpoints
//
// Thread safety: a Store is safe for concurrent use by multiple threads.
#ifndef BOTTLENECK_ENGINE_STORE_STORE_H_
#define BOTTLENECK_ENGINE_STORE_STORE_H_

#include <array>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace rocksdb {
class DB;
class ColumnFamilyHandle;
}  // namespace rocksdb

namespace bn {

// The on-disk schema this build reads and writes. A database with a newer schema is refused.
inline constexpr int kSchemaVersion = 1;

enum class ColumnFamily { kMeta = 0, kCollections, kItems, kCodes, kModels, kDatasets, kJobs };
inline constexpr int kNumColumnFamilies = 7;

struct StoreOptions {
  // Create the directory and database when missing.
  bool create_if_missing = true;
  // Sync the WAL on every acknowledged write batch. Turn off only for bulk loads whose loss on a
  // machine crash is acceptable.
  bool sync_writes = true;
  // RocksDB block cache shared by every column family.
  size_t block_cache_bytes = size_t{256} << 20;
  // Non-empty: open read-only as a follower of the primary whose data directory this is (a
  // RocksDB secondary instance: it reads the primary's files, e.g. on a shared volume, and sees
  // its writes after CatchUpWithPrimary). `dir` is then the follower's own directory (RocksDB's
  // info log of the secondary goes there); the primary must have created its database already.
  std::string follow_primary;
};

class Store {
 public:
  // Opens (or creates) the database under `dir`. Errors: InvalidArgument for an empty path,
  // PermissionDenied / Internal when the directory cannot be created or written,
  // FailedPrecondition for a database whose schema is newer than this build's, Unavailable when
  // another process holds the database lock.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<Store>> Open(const std::string& dir,
                                                                   const StoreOptions& options);
  ~Store();  // Flushes and closes the database.
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  const std::string& dir() const { return dir_; }
  const StoreOptions& options() const { return options_; }
  int schema_version() const { return kSchemaVersion; }
  // True for a follower (StoreOptions::follow_primary): every write fails.
  bool read_only() const { return !options_.follow_primary.empty(); }
  // A follower: applies the primary's writes made since the last call (MANIFEST and WAL tailing).
  // Reads see them afterwards. FailedPrecondition on a primary; Internal on I/O errors.
  [[nodiscard]] absl::Status CatchUpWithPrimary();

  // Raw access for the store's own modules (keys.h, item/collection stores). Owned by the Store.
  rocksdb::DB* db() const { return db_; }
  rocksdb::ColumnFamilyHandle* handle(ColumnFamily cf) const {
    return handles_[static_cast<int>(cf)];
  }

  // Writer lock for one collection (striped: distinct collections may share a mutex). Held by
  // CollectionStore around every read-modify-write of a collection's state, so that write batches
  // of one collection commit one at a time, in change-counter order. Never held across calls.
  std::mutex& CollectionMutex(absl::string_view collection) const {
    return collection_mutexes_[std::hash<std::string>()(std::string(collection)) %
                               collection_mutexes_.size()];
  }
  // Serializes allocation of store-wide counters in the meta column family.
  std::mutex& MetaMutex() const { return meta_mutex_; }

 private:
  Store(std::string dir, StoreOptions options) : dir_(std::move(dir)), options_(options) {}

  std::string dir_;
  StoreOptions options_;
  rocksdb::DB* db_ = nullptr;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  mutable std::array<std::mutex, 64> collection_mutexes_;
  mutable std::mutex meta_mutex_;
};

}  // namespace bn

#endif  // BOTTLENECK_ENGINE_STORE_STORE_H_
