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
#include "engine/store/disk_guard.h"

namespace rocksdb {
class DB;
class ColumnFamilyHandle;
class Env;
class FileSystem;
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
  // Open an existing database read-only (nothing is created or written, every write fails):
  // e.g. to read a backup's copy (CreateCheckpoint). NotFound without a database.
  bool read_only = false;
  // Disk watermark of `dir` (disk_guard.h): writes that add data are refused below it.
  DiskWatermarks watermarks;
  // The filesystem RocksDB uses; null: the default (POSIX). Tests inject faults with a
  // rocksdb::FileSystemWrapper.
  std::shared_ptr<rocksdb::FileSystem> file_system;
};

// What the store says about its ability to take writes (Store::write_state()).
struct StoreWriteState {
  bool blocked = false;           // Writes that add data are refused.
  bool below_flood = false;       // Free space is below the flood threshold.
  bool background_error = false;  // RocksDB stopped writes after an I/O error, not yet resumed.
  bool opened_read_only = false;  // The database could only be opened read-only (disk full).
  uint64_t free_bytes = 0;        // Of the data directory's filesystem, last measured.
};

class Store {
 public:
  // Opens (or creates) the database under `dir`. Errors: InvalidArgument for an empty path,
  // PermissionDenied when the directory cannot be created or written, FailedPrecondition for a
  // database whose schema is newer than this build's, Unavailable when another process holds the
  // database lock, the storage statuses of FromRocks otherwise. When the disk is too full for
  // the write-ahead log's replay, the database opens read-only instead (reads work, writes are
  // refused with ResourceExhausted; a restart after space is freed makes it writable).
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<Store>> Open(const std::string& dir,
                                                                   const StoreOptions& options);
  ~Store();  // Flushes and closes the database.
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  const std::string& dir() const { return dir_; }
  const StoreOptions& options() const { return options_; }
  int schema_version() const { return kSchemaVersion; }
  // True for a follower (StoreOptions::follow_primary) and for a database opened read-only for
  // lack of space: every write fails.
  bool read_only() const {
    return options_.read_only || !options_.follow_primary.empty() || !read_only_reason_.empty();
  }
  // A follower: applies the primary's writes made since the last call (MANIFEST and WAL tailing).
  // Reads see them afterwards. FailedPrecondition on a primary; Internal on I/O errors.
  [[nodiscard]] absl::Status CatchUpWithPrimary();

  // Before a write that adds about `bytes`: OK, or ResourceExhausted when the disk is below its
  // flood threshold or the database was opened read-only for lack of space, or the status of a
  // RocksDB background error not yet recovered from (ResourceExhausted for out of space,
  // Unavailable for other I/O errors). Deletes and small state records skip this check.
  [[nodiscard]] absl::Status CheckWrite(uint64_t bytes = 0) const;
  StoreWriteState write_state() const;
  // Called from the disk watcher thread whenever write_state().blocked changes (and once at
  // Start). Set before StartWatcher; the callback must not call back into the store's watcher.
  void SetWriteStateListener(std::function<void(const StoreWriteState&)> listener);
  // Starts the disk watcher: every poll interval it measures free space, resumes RocksDB after a
  // background error once space is above the threshold (DB::Resume) and reports state changes.
  void StartWatcher();

  // Writes a consistent copy of the database into `<dir>/db` online (a RocksDB checkpoint:
  // writes go on meanwhile). `dir` must exist and `<dir>/db` must not. SST files are hard-linked
  // when `dir` is on the same filesystem (copied otherwise), the other files copied. The copy
  // holds every write acknowledged before the call; returns a sequence number it holds (RocksDB's:
  // at least that of every such write).
  // FailedPrecondition on a read-only store (a follower); AlreadyExists when `<dir>/db` exists;
  // the storage statuses of FromRocks otherwise (ResourceExhausted for a full disk).
  [[nodiscard]] absl::StatusOr<uint64_t> CreateCheckpoint(const std::string& dir) const;

  // Verifies the database under `dir` offline (like `ldb checkconsistency` plus a full scan): opens
  // it read-only (writing nothing), checks every SST block checksum and reads every record of
  // every column family. Appends one line per finding to `report`. OK when everything is
  // intact; DataLoss naming the damaged file otherwise; NotFound without a database.
  [[nodiscard]] static absl::Status Check(const std::string& dir, std::string* report);

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
  Store(std::string dir, StoreOptions options);
  static absl::StatusOr<std::unique_ptr<Store>> OpenReadOnly(const std::string& dir,
                                                             const StoreOptions& options);

  class ErrorListener;
  void OnPoll(bool below_flood);

  std::string dir_;
  StoreOptions options_;
  std::unique_ptr<rocksdb::Env> env_;  // Over options_.file_system; before db_.
  std::shared_ptr<ErrorListener> errors_;
  std::unique_ptr<DiskGuard> guard_;
  std::string read_only_reason_;  // Non-empty: opened read-only for lack of space.
  std::mutex state_mutex_;
  std::function<void(const StoreWriteState&)> state_listener_;
  bool reported_blocked_ = false;
  bool reported_once_ = false;
  std::string last_resume_error_;  // Watcher thread only.
  rocksdb::DB* db_ = nullptr;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  mutable std::array<std::mutex, 64> collection_mutexes_;
  mutable std::mutex meta_mutex_;
};

}  // namespace bn

#endif  // BOTTLENECK_ENGINE_STORE_STORE_H_
