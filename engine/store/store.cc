#include "engine/store/store.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "engine/store/rocks_status.h"
#include "engine/util/log.h"
#include "rocksdb/cache.h"
#include "rocksdb/db.h"
#include "rocksdb/filter_policy.h"
#include "rocksdb/options.h"
#include "rocksdb/table.h"
#if defined(__SANITIZE_THREAD__)
#include <mutex>

#include "rocksdb/utilities/stackable_db.h"
#endif

namespace bn {
namespace {

#if defined(__SANITIZE_THREAD__)
// ThreadSanitizer builds only. RocksDB's group commit lets the writer that leads a write group
// copy the other writers' batches, synchronised by RocksDB's own atomics, which TSan cannot see
// in the uninstrumented library: every concurrent item write and job update was reported as a
// race on the other thread's WriteBatch buffer. Under TSan, writes are serialised by a mutex
// that TSan does see, so no group ever holds two threads' batches. Other builds use RocksDB
// directly.
class TsanSerializedWrites : public rocksdb::StackableDB {
 public:
  explicit TsanSerializedWrites(rocksdb::DB* db) : rocksdb::StackableDB(db) {}
  using rocksdb::StackableDB::Delete;
  using rocksdb::StackableDB::DeleteRange;
  using rocksdb::StackableDB::Put;
  rocksdb::Status Put(const rocksdb::WriteOptions& o, rocksdb::ColumnFamilyHandle* cf,
                      const rocksdb::Slice& key, const rocksdb::Slice& value) override {
    std::lock_guard<std::mutex> lock(mu_);
    return rocksdb::StackableDB::Put(o, cf, key, value);
  }
  rocksdb::Status Delete(const rocksdb::WriteOptions& o, rocksdb::ColumnFamilyHandle* cf,
                         const rocksdb::Slice& key) override {
    std::lock_guard<std::mutex> lock(mu_);
    return rocksdb::StackableDB::Delete(o, cf, key);
  }
  rocksdb::Status DeleteRange(const rocksdb::WriteOptions& o, rocksdb::ColumnFamilyHandle* cf,
                              const rocksdb::Slice& begin, const rocksdb::Slice& end) override {
    std::lock_guard<std::mutex> lock(mu_);
    return rocksdb::StackableDB::DeleteRange(o, cf, begin, end);
  }
  rocksdb::Status Write(const rocksdb::WriteOptions& o, rocksdb::WriteBatch* batch) override {
    std::lock_guard<std::mutex> lock(mu_);
    return rocksdb::StackableDB::Write(o, batch);
  }

 private:
  std::mutex mu_;
};
#endif

const char* const kColumnFamilyNames[kNumColumnFamilies] = {
    "default",  // meta (RocksDB's default column family)
    "collections", "items", "codes", "models", "datasets", "jobs"};

constexpr char kSchemaKey[] = "schema_version";

}  // namespace

absl::Status FromRocks(const std::string& context, const rocksdb::Status& s) {
  if (s.ok()) return absl::OkStatus();
  if (s.IsIOError() && s.ToString().find("lock") != std::string::npos) {
    return absl::UnavailableError(context + ": database is locked by another process (" +
                                  s.ToString() + ")");
  }
  if (s.IsIOError()) return absl::InternalError(context + ": " + s.ToString());
  if (s.IsCorruption()) return absl::DataLossError(context + ": " + s.ToString());
  if (s.IsNotFound()) return absl::NotFoundError(context + ": " + s.ToString());
  if (s.IsInvalidArgument()) return absl::InvalidArgumentError(context + ": " + s.ToString());
  return absl::InternalError(context + ": " + s.ToString());
}

absl::StatusOr<std::unique_ptr<Store>> Store::Open(const std::string& dir,
                                                   const StoreOptions& options) {
  if (dir.empty()) return absl::InvalidArgumentError("data directory must not be empty");
  std::error_code ec;
  if (options.create_if_missing) {
    std::filesystem::create_directories(dir, ec);
    if (ec) {
      return absl::PermissionDeniedError("cannot create data directory '" + dir +
                                         "': " + ec.message());
    }
  }
  if (!std::filesystem::is_directory(dir, ec)) {
    return absl::NotFoundError("data directory '" + dir + "' does not exist");
  }
  if (::access(dir.c_str(), W_OK | X_OK) != 0) {
    return absl::PermissionDeniedError("data directory '" + dir +
                                       "' is not writable: " + std::strerror(errno));
  }

  rocksdb::DBOptions db_options;
  db_options.create_if_missing = options.create_if_missing;
  db_options.create_missing_column_families = true;
  db_options.max_background_jobs = 2;
  db_options.manual_wal_flush = false;
  // One block cache for every column family (searches read their neighbours' records: RocksDB's
  // 8 MiB default would send most of those reads to the kernel), and Bloom filters for the point
  // lookups that dominate (items by id and by label, codes).
  rocksdb::BlockBasedTableOptions table;
  table.block_cache = rocksdb::NewLRUCache(options.block_cache_bytes);
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  rocksdb::ColumnFamilyOptions cf_options;
  cf_options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (const char* name : kColumnFamilyNames) {
    descriptors.emplace_back(name, cf_options);
  }

  std::unique_ptr<Store> store(new Store(dir, options));
  if (!options.follow_primary.empty()) {
    const std::string primary = (std::filesystem::path(options.follow_primary) / "db").string();
    db_options.create_if_missing = false;
    db_options.max_open_files = -1;  // Required by secondary instances.
    rocksdb::Status s = rocksdb::DB::OpenAsSecondary(
        db_options, primary, (std::filesystem::path(dir) / "secondary").string(), descriptors,
        &store->handles_, &store->db_);
    if (!s.ok()) return FromRocks("cannot follow the database '" + primary + "'", s);
    std::string value;
    s = store->db_->Get(rocksdb::ReadOptions(), store->handle(ColumnFamily::kMeta), kSchemaKey,
                        &value);
    if (!s.ok()) return FromRocks("cannot read the primary's schema version", s);
    if (std::atoi(value.c_str()) > kSchemaVersion) {
      return absl::FailedPreconditionError("database '" + primary + "' has schema " + value +
                                           ", newer than this build's " +
                                           std::to_string(kSchemaVersion));
    }
    BN_LOG(INFO) << "following database " << primary << " read-only (schema " << value << ")";
    return store;
  }
  const std::string db_path = (std::filesystem::path(dir) / "db").string();
  rocksdb::Status s =
      rocksdb::DB::Open(db_options, db_path, descriptors, &store->handles_, &store->db_);
  if (!s.ok()) return FromRocks("cannot open database '" + db_path + "'", s);
#if defined(__SANITIZE_THREAD__)
  store->db_ = new TsanSerializedWrites(store->db_);  // Owns the opened database.
#endif

  // Schema version: written on creation, checked on every open.
  std::string value;
  s = store->db_->Get(rocksdb::ReadOptions(), store->handle(ColumnFamily::kMeta), kSchemaKey,
                      &value);
  if (s.IsNotFound()) {
    rocksdb::WriteOptions wo;
    wo.sync = true;
    s = store->db_->Put(wo, store->handle(ColumnFamily::kMeta), kSchemaKey,
                        std::to_string(kSchemaVersion));
    if (!s.ok()) return FromRocks("cannot write schema version", s);
    BN_LOG(INFO) << "created database " << db_path << " (schema " << kSchemaVersion << ")";
  } else if (!s.ok()) {
    return FromRocks("cannot read schema version", s);
  } else {
    int version = std::atoi(value.c_str());
    if (version > kSchemaVersion) {
      return absl::FailedPreconditionError("database '" + db_path + "' has schema " + value +
                                           ", newer than this build's " +
                                           std::to_string(kSchemaVersion));
    }
    BN_LOG(INFO) << "opened database " << db_path << " (schema " << version << ")";
  }
  return store;
}

absl::Status Store::CatchUpWithPrimary() {
  if (!read_only()) return absl::FailedPreconditionError("not a follower");
  rocksdb::Status s = db_->TryCatchUpWithPrimary();
  if (!s.ok()) return FromRocks("cannot catch up with the primary", s);
  return absl::OkStatus();
}

Store::~Store() {
  if (db_ == nullptr) return;
  for (auto* h : handles_) {
    if (h != nullptr) db_->DestroyColumnFamilyHandle(h);
  }
  rocksdb::Status s = db_->Close();
  if (!s.ok()) BN_LOG(ERROR) << "closing database: " << s.ToString();
  delete db_;
}

}  // namespace bn
