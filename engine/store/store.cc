#include "engine/store/store.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "engine/store/rocks_status.h"
#include "engine/util/log.h"
#include "rocksdb/cache.h"
#include "rocksdb/db.h"
#include "rocksdb/env.h"
#include "rocksdb/file_system.h"
#include "rocksdb/filter_policy.h"
#include "rocksdb/listener.h"
#include "rocksdb/options.h"
#include "rocksdb/table.h"
#include "rocksdb/utilities/checkpoint.h"
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

// RocksDB's info log, written to <db>/LOG with plain stdio whose errors are ignored; warnings
// and errors also go to the server's log. RocksDB's own file logger asserts (aborting the server,
// with Debian's librocksdb) when an append to LOG failed before: on a full disk, the first
// background error it tried to log brought the server down.
class RocksInfoLog : public rocksdb::Logger {
 public:
  explicit RocksInfoLog(const std::string& path)
      : rocksdb::Logger(rocksdb::InfoLogLevel::INFO_LEVEL) {
    std::error_code ec;
    // One previous log is kept, as RocksDB's LOG.old files (but not without bound).
    if (std::filesystem::file_size(path, ec) > (uint64_t{16} << 20) && !ec) {
      std::filesystem::rename(path, path + ".old", ec);
    }
    file_ = std::fopen(path.c_str(), "a");
  }
  ~RocksInfoLog() override {
    if (file_ != nullptr) std::fclose(file_);
  }
  using rocksdb::Logger::Logv;
  void Logv(const char* format, va_list ap) override {
    Logv(rocksdb::InfoLogLevel::INFO_LEVEL, format, ap);
  }
  void Logv(const rocksdb::InfoLogLevel level, const char* format, va_list ap) override {
    if (level < GetInfoLogLevel()) return;
    char buffer[2048];
    std::vsnprintf(buffer, sizeof(buffer), format, ap);
    if (level >= rocksdb::InfoLogLevel::WARN_LEVEL && level < rocksdb::InfoLogLevel::HEADER_LEVEL) {
      BN_LOG(WARNING) << "rocksdb: " << buffer;
    }
    std::lock_guard<std::mutex> lock(mutex_);
    if (file_ == nullptr) return;
    std::fputs(buffer, file_);  // Errors (a full disk) are ignored: the log is best effort.
    std::fputc('\n', file_);
    std::fflush(file_);
    std::clearerr(file_);
  }

 private:
  std::mutex mutex_;
  std::FILE* file_ = nullptr;
};

// Tracks RocksDB's background error state: set when RocksDB stops writes after a failed flush,
// compaction or WAL write, cleared when a recovery (RocksDB's own or DB::Resume) succeeds.
class Store::ErrorListener : public rocksdb::EventListener {
 public:
  void OnBackgroundError(rocksdb::BackgroundErrorReason /*reason*/,
                         rocksdb::Status* bg_error) override {
    if (bg_error == nullptr || bg_error->ok()) return;
    std::lock_guard<std::mutex> lock(mutex_);
    if (!error_.ok()) return;
    error_ = *bg_error;
    fatal_ = bg_error->severity() >= rocksdb::Status::Severity::kFatalError;
    if (fatal_) {
      BN_LOG(ERROR) << "store: writes stopped by a storage error RocksDB cannot resume from: "
                    << error_.ToString()
                    << "; reads and searches go on, writes need a restart of the server";
    } else {
      BN_LOG(WARNING) << "store: writes stopped by a storage error: " << error_.ToString()
                      << "; recovering automatically once the cause clears";
    }
  }
  // RocksDB's own recovery from an out-of-space error (SstFileManager) waits until a write
  // buffer's worth of space (64 MiB) is free, however small the disk, and answers DB::Resume
  // with Busy meanwhile: on a 40 MiB disk it never resumed. The store's watcher resumes instead.
  void OnErrorRecoveryBegin(rocksdb::BackgroundErrorReason /*reason*/, rocksdb::Status bg_error,
                            bool* auto_recovery) override {
    if (auto_recovery != nullptr && ClassifyRocks(bg_error) == StorageCondition::kOutOfSpace) {
      *auto_recovery = false;
    }
  }
  void OnErrorRecoveryEnd(const rocksdb::BackgroundErrorRecoveryInfo& info) override {
    if (info.new_bg_error.ok()) Clear();
  }
  void Clear() {
    std::lock_guard<std::mutex> lock(mutex_);
    if (error_.ok()) return;
    error_ = rocksdb::Status::OK();
    BN_LOG(INFO) << "store: recovered from the storage error; writes accepted again";
  }
  rocksdb::Status error() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return error_;
  }
  // The error needs a reopen (RocksDB's fatal or unrecoverable severity).
  bool fatal() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return !error_.ok() && fatal_;
  }

 private:
  mutable std::mutex mutex_;
  rocksdb::Status error_;
  bool fatal_ = false;
};

absl::Status FromRocks(const std::string& context, const rocksdb::Status& s) {
  if (s.ok()) return absl::OkStatus();
  const std::string message = context + ": " + s.ToString();
  switch (ClassifyRocks(s)) {
    case StorageCondition::kNone:
      break;
    case StorageCondition::kLocked:
      return absl::UnavailableError(context + ": database is locked by another process (" +
                                    s.ToString() + ")");
    case StorageCondition::kOutOfSpace:
      return absl::ResourceExhaustedError(message);
    case StorageCondition::kTransient:
      return absl::UnavailableError(message);
    case StorageCondition::kCorruption:
      return absl::DataLossError(message);
    case StorageCondition::kPermission:
      return absl::PermissionDeniedError(message);
  }
  if (s.IsNotFound()) return absl::NotFoundError(message);
  if (s.IsInvalidArgument()) return absl::InvalidArgumentError(message);
  if (s.IsAborted()) return absl::AbortedError(message);
  if (s.IsNotSupported()) return absl::FailedPreconditionError(message);
  return absl::InternalError(message);
}

StorageCondition ClassifyRocks(const rocksdb::Status& s) {
  if (s.ok()) return StorageCondition::kNone;
  const std::string text = s.ToString();
  // Statuses re-created from a background error or a wrapped message may lose their subcode:
  // the errno text is checked as well.
  if (s.IsNoSpace() || text.find("No space left on device") != std::string::npos ||
      text.find("Disk quota exceeded") != std::string::npos) {
    return StorageCondition::kOutOfSpace;
  }
  if (s.IsCorruption()) return StorageCondition::kCorruption;
  if (s.IsIOError()) {
    if (text.find("While lock file") != std::string::npos ||
        text.find("lock hold by current process") != std::string::npos) {
      return StorageCondition::kLocked;
    }
    if (text.find("Permission denied") != std::string::npos ||
        text.find("Read-only file system") != std::string::npos) {
      return StorageCondition::kPermission;
    }
    // A file of the database that is gone (an SST deleted under it) is lost data, not a
    // condition that clears by retrying.
    if (s.IsPathNotFound() || text.find("No such file or directory") != std::string::npos) {
      return StorageCondition::kCorruption;
    }
    return StorageCondition::kTransient;
  }
  if (s.IsBusy() || s.IsTimedOut() || s.IsTryAgain() || s.IsShutdownInProgress() ||
      s.IsIncomplete() || s.IsIOFenced()) {
    return StorageCondition::kTransient;
  }
  return StorageCondition::kNone;
}

Store::Store(std::string dir, StoreOptions options)
    : dir_(std::move(dir)), options_(std::move(options)) {}

absl::StatusOr<std::unique_ptr<Store>> Store::Open(const std::string& dir,
                                                   const StoreOptions& options) {
  if (dir.empty()) return absl::InvalidArgumentError("data directory must not be empty");
  if (options.read_only) return OpenReadOnly(dir, options);
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

  std::unique_ptr<Store> store(new Store(dir, options));
  rocksdb::DBOptions db_options;
  if (options.file_system != nullptr) {
    store->env_ = rocksdb::NewCompositeEnv(options.file_system);
    db_options.env = store->env_.get();
  }
  store->errors_ = std::make_shared<ErrorListener>();
  if (options.follow_primary.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(std::filesystem::path(dir) / "db", ec);
    db_options.info_log =
        std::make_shared<RocksInfoLog>((std::filesystem::path(dir) / "db" / "LOG").string());
  }
  db_options.listeners.push_back(store->errors_);
  db_options.create_if_missing = options.create_if_missing;
  db_options.create_missing_column_families = true;
  db_options.max_background_jobs = 2;
  db_options.manual_wal_flush = false;
  // One block cache for every column family (searches read their neighbours' records: RocksDB's
  // 8 MiB default would send most of those reads to the kernel), and Bloom filters for the point
  // lookups that dominate (items by id and by item number, codes).
  rocksdb::BlockBasedTableOptions table;
  table.block_cache = rocksdb::NewLRUCache(options.block_cache_bytes);
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  rocksdb::ColumnFamilyOptions cf_options;
  cf_options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (const char* name : kColumnFamilyNames) {
    descriptors.emplace_back(name, cf_options);
  }

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
  store->guard_ = std::make_unique<DiskGuard>(dir, options.watermarks);
  // Out-of-space errors are resumed by the watcher (DB::Resume once the flood stage is clear),
  // not by RocksDB's SstFileManager, which waits for a write buffer's worth of free space
  // (64 MiB) and answers DB::Resume with Busy meanwhile: see ErrorListener.
  // The write-ahead log is replayed into memory on open instead of into new SST files: a
  // restart on a nearly full disk needs no space for it.
  db_options.avoid_flush_during_recovery = true;
  // No fallocate of ~70 MiB per new WAL (1.1 write buffers): on a small or nearly full disk the
  // reservation made free space jump by tens of MiB at every WAL switch, restart and kill, and
  // the flood stage measured space the store was holding without using.
  db_options.allow_fallocate = false;
  // At most half a write buffer of unflushed data across the WALs (RocksDB flushes the oldest
  // column families beyond it): the replay at open never fills a memtable, so it never writes an
  // SST either -- a restart needs no space beyond a few small files.
  db_options.max_total_wal_size = uint64_t{32} << 20;
  rocksdb::Status s =
      rocksdb::DB::Open(db_options, db_path, descriptors, &store->handles_, &store->db_);
  if (!s.ok() && ClassifyRocks(s) == StorageCondition::kOutOfSpace) {
    // Still too little space to open for writing: serve reads from a read-only open (which
    // writes nothing) rather than not at all.
    BN_LOG(ERROR) << "store: cannot open database '" << db_path << "' for writing (" << s.ToString()
                  << "); opening it read-only: reads and searches are served, "
                  << "writes are refused until space is freed and the server restarted";
    for (auto* h : store->handles_) delete h;
    store->handles_.clear();
    store->db_ = nullptr;
    s = rocksdb::DB::OpenForReadOnly(db_options, db_path, descriptors, &store->handles_,
                                     &store->db_);
    if (!s.ok()) return FromRocks("cannot open database '" + db_path + "' even read-only", s);
    store->read_only_reason_ =
        "the database was opened read-only because the disk was too full to open it for writing; "
        "free space on " +
        dir + " and restart the server";
    std::string value;
    s = store->db_->Get(rocksdb::ReadOptions(), store->handle(ColumnFamily::kMeta), kSchemaKey,
                        &value);
    if (!s.ok()) return FromRocks("cannot read schema version", s);
    if (std::atoi(value.c_str()) > kSchemaVersion) {
      return absl::FailedPreconditionError("database '" + db_path + "' has schema " + value +
                                           ", newer than this build's " +
                                           std::to_string(kSchemaVersion));
    }
    return store;
  }
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

absl::StatusOr<std::unique_ptr<Store>> Store::OpenReadOnly(const std::string& dir,
                                                           const StoreOptions& options) {
  const std::string db_path = (std::filesystem::path(dir) / "db").string();
  std::error_code ec;
  if (!std::filesystem::exists(std::filesystem::path(db_path) / "CURRENT", ec)) {
    return absl::NotFoundError("no database under '" + db_path + "'");
  }
  std::unique_ptr<Store> store(new Store(dir, options));
  rocksdb::DBOptions db_options;
  db_options.info_log = std::make_shared<RocksInfoLog>("/dev/null");  // Writes nothing to `dir`.
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (const char* name : kColumnFamilyNames) {
    descriptors.emplace_back(name, rocksdb::ColumnFamilyOptions());
  }
  rocksdb::Status s =
      rocksdb::DB::OpenForReadOnly(db_options, db_path, descriptors, &store->handles_, &store->db_);
  if (!s.ok()) return FromRocks("cannot open database '" + db_path + "' read-only", s);
  store->read_only_reason_ = "the database '" + db_path + "' was opened read-only";
  std::string value;
  s = store->db_->Get(rocksdb::ReadOptions(), store->handle(ColumnFamily::kMeta), kSchemaKey,
                      &value);
  if (!s.ok()) return FromRocks("cannot read the schema version of '" + db_path + "'", s);
  if (std::atoi(value.c_str()) > kSchemaVersion) {
    return absl::FailedPreconditionError("database '" + db_path + "' has schema " + value +
                                         ", newer than this build's " +
                                         std::to_string(kSchemaVersion));
  }
  return store;
}

absl::StatusOr<uint64_t> Store::CreateCheckpoint(const std::string& dir) const {
  if (read_only()) {
    return absl::FailedPreconditionError(
        "this store is read-only (a follower, or a database opened read-only): no checkpoint "
        "can be taken here");
  }
  std::error_code ec;
  // RocksDB wants an absolute path.
  const std::string target = (std::filesystem::absolute(dir, ec) / "db").string();
  if (std::filesystem::exists(target, ec)) {
    return absl::AlreadyExistsError("'" + target + "' already exists");
  }
  rocksdb::Checkpoint* raw = nullptr;
  rocksdb::Status s = rocksdb::Checkpoint::Create(db_, &raw);
  if (!s.ok()) return FromRocks("cannot start a checkpoint", s);
  std::unique_ptr<rocksdb::Checkpoint> checkpoint(raw);
  uint64_t sequence = 0;
  // log_size_for_flush 0: the memtables are flushed first, so the copy is SST files (hard links)
  // and a small MANIFEST rather than up to --max-total-wal-size of copied WAL.
  s = checkpoint->CreateCheckpoint(target, /*log_size_for_flush=*/0, &sequence);
  if (!s.ok()) {
    std::filesystem::remove_all(target, ec);
    std::filesystem::remove_all(target + ".tmp", ec);  // RocksDB's staging directory.
    return FromRocks("cannot write a checkpoint to '" + target + "'", s);
  }
  return sequence;
}

absl::Status Store::Check(const std::string& dir, std::string* report) {
  const std::string db_path = (std::filesystem::path(dir) / "db").string();
  std::error_code ec;
  if (!std::filesystem::exists(std::filesystem::path(db_path) / "CURRENT", ec)) {
    return absl::NotFoundError("no database under '" + db_path + "'");
  }
  rocksdb::DBOptions db_options;
  db_options.info_log = std::make_shared<RocksInfoLog>("/dev/null");
  db_options.paranoid_checks = true;
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (const char* name : kColumnFamilyNames) {
    descriptors.emplace_back(name, rocksdb::ColumnFamilyOptions());
  }
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s =
      rocksdb::DB::OpenForReadOnly(db_options, db_path, descriptors, &handles, &raw);
  if (!s.ok()) {
    *report += "open: " + s.ToString() + "\n";
    return FromRocks("cannot open '" + db_path + "' (MANIFEST, WAL or options damaged?)", s);
  }
  std::unique_ptr<rocksdb::DB> db(raw);
  absl::Status result;
  s = db->VerifyChecksum();
  *report += "sst checksums: " + (s.ok() ? std::string("ok") : s.ToString()) + "\n";
  if (!s.ok()) result = FromRocks("SST checksum verification of '" + db_path + "'", s);
  for (size_t i = 0; i < handles.size(); ++i) {
    rocksdb::ReadOptions ro;
    ro.verify_checksums = true;
    ro.fill_cache = false;
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(ro, handles[i]));
    uint64_t records = 0, bytes = 0;
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      ++records;
      bytes += it->key().size() + it->value().size();
    }
    const rocksdb::Status scan = it->status();
    *report += std::string("column family ") + kColumnFamilyNames[i] + ": " +
               std::to_string(records) + " records, " + std::to_string(bytes) + " bytes" +
               (scan.ok() ? "" : ", " + scan.ToString()) + "\n";
    if (!scan.ok() && result.ok()) {
      result = FromRocks(std::string("reading column family ") + kColumnFamilyNames[i], scan);
    }
  }
  for (auto* h : handles) db->DestroyColumnFamilyHandle(h);
  (void)db->Close();
  return result;
}

absl::Status Store::CheckWrite(uint64_t bytes) const {
  if (!read_only_reason_.empty()) return absl::ResourceExhaustedError(read_only_reason_);
  if (errors_ != nullptr) {
    rocksdb::Status error = errors_->error();
    if (!error.ok()) {
      return FromRocks(errors_->fatal()
                           ? "writes are stopped by a storage error until the server restarts"
                           : "writes are stopped until the store recovers from a storage error",
                       error);
    }
  }
  if (guard_ != nullptr) return guard_->CheckWrite(bytes);
  return absl::OkStatus();
}

StoreWriteState Store::write_state() const {
  StoreWriteState state;
  state.opened_read_only = !read_only_reason_.empty();
  state.background_error = errors_ != nullptr && !errors_->error().ok();
  if (guard_ != nullptr) {
    state.below_flood = guard_->below_flood();
    state.free_bytes = guard_->free_bytes();
  }
  state.blocked = state.opened_read_only || state.background_error || state.below_flood;
  return state;
}

void Store::SetWriteStateListener(std::function<void(const StoreWriteState&)> listener) {
  std::lock_guard<std::mutex> lock(state_mutex_);
  state_listener_ = std::move(listener);
  reported_once_ = false;
}

void Store::StartWatcher() {
  if (guard_ == nullptr) return;
  OnPoll(guard_->below_flood());
  guard_->Start([this](bool below_flood) { OnPoll(below_flood); });
}

void Store::OnPoll(bool below_flood) {
  if (errors_ != nullptr && read_only_reason_.empty()) {
    rocksdb::Status error = errors_->error();
    // Out of space: wait for the space to come back. Other I/O errors: retry every poll.
    if (!error.ok() && !errors_->fatal() &&
        !(below_flood && ClassifyRocks(error) == StorageCondition::kOutOfSpace)) {
      rocksdb::Status resumed = db_->Resume();
      if (resumed.ok()) {
        errors_->Clear();
      } else if (!resumed.IsBusy() && resumed.ToString() != last_resume_error_) {
        // Busy: RocksDB's own recovery is running.
        last_resume_error_ = resumed.ToString();  // Logged once per distinct failure.
        BN_LOG(WARNING) << "store: cannot resume writes yet: " << last_resume_error_;
      }
    }
  }
  const StoreWriteState state = write_state();
  std::lock_guard<std::mutex> lock(state_mutex_);
  if (reported_once_ && state.blocked == reported_blocked_) return;
  reported_once_ = true;
  reported_blocked_ = state.blocked;
  if (state_listener_) state_listener_(state);
}

absl::Status Store::CatchUpWithPrimary() {
  if (options_.follow_primary.empty()) return absl::FailedPreconditionError("not a follower");
  rocksdb::Status s = db_->TryCatchUpWithPrimary();
  if (!s.ok()) return FromRocks("cannot catch up with the primary", s);
  return absl::OkStatus();
}

Store::~Store() {
  if (guard_ != nullptr) guard_->Stop();
  if (db_ == nullptr) return;
  // The write-ahead log is replayed into memtables at open (avoid_flush_during_recovery), so a
  // clean close flushes them: the next start does not hold up to --max-total-wal-size of
  // replayed writes in memory (+24 MB of RSS at 50k items, bench/startup_memory.sh). A failed
  // flush (a full disk) loses nothing: the log stays.
  if (!read_only()) {
    rocksdb::FlushOptions flush;
    flush.wait = true;
    std::vector<rocksdb::ColumnFamilyHandle*> families;
    for (auto* h : handles_) {
      if (h != nullptr) families.push_back(h);
    }
    if (rocksdb::Status f = db_->Flush(flush, families); !f.ok()) {
      BN_LOG(WARNING) << "flushing memtables at close: " << f.ToString();
    }
  }
  for (auto* h : handles_) {
    if (h != nullptr) db_->DestroyColumnFamilyHandle(h);
  }
  rocksdb::Status s = db_->Close();
  if (!s.ok()) BN_LOG(ERROR) << "closing database: " << s.ToString();
  delete db_;
}

}  // namespace bn
