// A fault-injecting RocksDB filesystem for tests (public API: rocksdb::FileSystemWrapper over the
// default POSIX filesystem), in the spirit of RocksDB's FaultInjectionTestFS and SQLite's I/O
// error tests. It simulates a small disk (a byte budget that appends consume: ENOSPC when it runs
// out) and fails appends, syncs and reads on demand: the next N, or each with a probability.
// Injected failures happen before the data reaches the file (nothing is half-written).
//
// Thread safety: every knob is atomic or guarded; RocksDB calls it from its own threads.
#ifndef BOTTLENECK_TESTS_ENGINE_STORE_FAULT_FS_H_
#define BOTTLENECK_TESTS_ENGINE_STORE_FAULT_FS_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <random>
#include <string>

#include "rocksdb/file_system.h"

namespace bn::testing {

class FaultFs : public rocksdb::FileSystemWrapper {
 public:
  explicit FaultFs(uint64_t seed = 1)
      : rocksdb::FileSystemWrapper(rocksdb::FileSystem::Default()), rng_(seed) {}
  static const char* kClassName() { return "BottleneckFaultFs"; }
  const char* Name() const override { return kClassName(); }

  // --- The simulated disk: appends consume the budget; ENOSPC once it would go negative. ---
  void SetBudget(int64_t bytes) { budget_.store(bytes); }
  void AddBudget(int64_t bytes) { budget_.fetch_add(bytes); }
  int64_t budget() const { return budget_.load(); }
  static constexpr int64_t kUnlimited = int64_t{1} << 50;

  // --- Transient I/O errors ---
  // The next `n` appends / syncs / reads fail with EIO.
  void FailNextAppends(int n) { fail_appends_.store(n); }
  void FailNextSyncs(int n) { fail_syncs_.store(n); }
  void FailNextReads(int n) { fail_reads_.store(n); }
  // Each append, sync or read fails with this probability (0: never).
  void SetRandomFailures(double append_p, double sync_p, double read_p) {
    std::lock_guard<std::mutex> lock(mutex_);
    append_p_ = append_p;
    sync_p_ = sync_p;
    read_p_ = read_p;
  }
  void ClearFaults() {
    SetRandomFailures(0, 0, 0);
    fail_appends_ = fail_syncs_ = fail_reads_ = 0;
  }
  uint64_t injected() const { return injected_.load(); }
  // Whether injected I/O errors carry RocksDB's "retryable" flag (default true): RocksDB resumes
  // by itself after a retryable one; after a non-retryable failure of the write-ahead log it
  // stops writes until the database is reopened.
  void SetRetryable(bool retryable) { retryable_.store(retryable); }

  // Each hook: OK to proceed, or the injected error.
  rocksdb::IOStatus BeforeAppend(size_t n) {
    if (Take(&fail_appends_) || Roll(&append_p_)) return Injected("append");
    if (budget_.fetch_sub(static_cast<int64_t>(n)) < static_cast<int64_t>(n)) {
      budget_.fetch_add(static_cast<int64_t>(n));
      ++injected_;
      rocksdb::IOStatus s = rocksdb::IOStatus::NoSpace("fault_fs", "No space left on device");
      s.SetRetryable(true);
      return s;
    }
    return rocksdb::IOStatus::OK();
  }
  rocksdb::IOStatus BeforeSync() {
    if (Take(&fail_syncs_) || Roll(&sync_p_)) return Injected("sync");
    return rocksdb::IOStatus::OK();
  }
  rocksdb::IOStatus BeforeRead() {
    if (Take(&fail_reads_) || Roll(&read_p_)) return Injected("read");
    return rocksdb::IOStatus::OK();
  }

  rocksdb::IOStatus NewWritableFile(const std::string& f, const rocksdb::FileOptions& o,
                                    std::unique_ptr<rocksdb::FSWritableFile>* r,
                                    rocksdb::IODebugContext* dbg) override {
    rocksdb::IOStatus s = target()->NewWritableFile(f, o, r, dbg);
    if (s.ok()) *r = std::make_unique<Writable>(std::move(*r), this);
    return s;
  }
  rocksdb::IOStatus ReopenWritableFile(const std::string& f, const rocksdb::FileOptions& o,
                                       std::unique_ptr<rocksdb::FSWritableFile>* r,
                                       rocksdb::IODebugContext* dbg) override {
    rocksdb::IOStatus s = target()->ReopenWritableFile(f, o, r, dbg);
    if (s.ok()) *r = std::make_unique<Writable>(std::move(*r), this);
    return s;
  }
  rocksdb::IOStatus ReuseWritableFile(const std::string& f, const std::string& old,
                                      const rocksdb::FileOptions& o,
                                      std::unique_ptr<rocksdb::FSWritableFile>* r,
                                      rocksdb::IODebugContext* dbg) override {
    rocksdb::IOStatus s = target()->ReuseWritableFile(f, old, o, r, dbg);
    if (s.ok()) *r = std::make_unique<Writable>(std::move(*r), this);
    return s;
  }
  rocksdb::IOStatus NewRandomAccessFile(const std::string& f, const rocksdb::FileOptions& o,
                                        std::unique_ptr<rocksdb::FSRandomAccessFile>* r,
                                        rocksdb::IODebugContext* dbg) override {
    rocksdb::IOStatus s = target()->NewRandomAccessFile(f, o, r, dbg);
    if (s.ok()) *r = std::make_unique<RandomAccess>(std::move(*r), this);
    return s;
  }

 private:
  class Writable : public rocksdb::FSWritableFileOwnerWrapper {
   public:
    Writable(std::unique_ptr<rocksdb::FSWritableFile>&& t, FaultFs* fs)
        : rocksdb::FSWritableFileOwnerWrapper(std::move(t)), fs_(fs) {}
    rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& o,
                             rocksdb::IODebugContext* dbg) override {
      rocksdb::IOStatus s = fs_->BeforeAppend(data.size());
      return s.ok() ? target()->Append(data, o, dbg) : s;
    }
    rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& o,
                             const rocksdb::DataVerificationInfo& v,
                             rocksdb::IODebugContext* dbg) override {
      rocksdb::IOStatus s = fs_->BeforeAppend(data.size());
      return s.ok() ? target()->Append(data, o, v, dbg) : s;
    }
    rocksdb::IOStatus PositionedAppend(const rocksdb::Slice& data, uint64_t offset,
                                       const rocksdb::IOOptions& o,
                                       rocksdb::IODebugContext* dbg) override {
      rocksdb::IOStatus s = fs_->BeforeAppend(data.size());
      return s.ok() ? target()->PositionedAppend(data, offset, o, dbg) : s;
    }
    rocksdb::IOStatus PositionedAppend(const rocksdb::Slice& data, uint64_t offset,
                                       const rocksdb::IOOptions& o,
                                       const rocksdb::DataVerificationInfo& v,
                                       rocksdb::IODebugContext* dbg) override {
      rocksdb::IOStatus s = fs_->BeforeAppend(data.size());
      return s.ok() ? target()->PositionedAppend(data, offset, o, v, dbg) : s;
    }
    rocksdb::IOStatus Sync(const rocksdb::IOOptions& o, rocksdb::IODebugContext* dbg) override {
      rocksdb::IOStatus s = fs_->BeforeSync();
      return s.ok() ? target()->Sync(o, dbg) : s;
    }
    rocksdb::IOStatus Fsync(const rocksdb::IOOptions& o, rocksdb::IODebugContext* dbg) override {
      rocksdb::IOStatus s = fs_->BeforeSync();
      return s.ok() ? target()->Fsync(o, dbg) : s;
    }

   private:
    FaultFs* fs_;
  };

  class RandomAccess : public rocksdb::FSRandomAccessFileOwnerWrapper {
   public:
    RandomAccess(std::unique_ptr<rocksdb::FSRandomAccessFile>&& t, FaultFs* fs)
        : rocksdb::FSRandomAccessFileOwnerWrapper(std::move(t)), fs_(fs) {}
    rocksdb::IOStatus Read(uint64_t offset, size_t n, const rocksdb::IOOptions& o,
                           rocksdb::Slice* result, char* scratch,
                           rocksdb::IODebugContext* dbg) const override {
      rocksdb::IOStatus s = fs_->BeforeRead();
      return s.ok() ? target()->Read(offset, n, o, result, scratch, dbg) : s;
    }
    rocksdb::IOStatus MultiRead(rocksdb::FSReadRequest* reqs, size_t num_reqs,
                                const rocksdb::IOOptions& o,
                                rocksdb::IODebugContext* dbg) override {
      // Per request, as RocksDB's own fallback does.
      for (size_t i = 0; i < num_reqs; ++i) {
        reqs[i].status =
            Read(reqs[i].offset, reqs[i].len, o, &reqs[i].result, reqs[i].scratch, dbg);
      }
      return rocksdb::IOStatus::OK();
    }

   private:
    FaultFs* fs_;
  };

  static bool Take(std::atomic<int>* counter) {
    int n = counter->load();
    while (n > 0) {
      if (counter->compare_exchange_weak(n, n - 1)) return true;
    }
    return false;
  }
  bool Roll(const double* p) {
    std::lock_guard<std::mutex> lock(mutex_);
    return *p > 0 && std::uniform_real_distribution<double>(0, 1)(rng_) < *p;
  }
  rocksdb::IOStatus Injected(const char* what) {
    ++injected_;
    rocksdb::IOStatus s =
        rocksdb::IOStatus::IOError("fault_fs", std::string("injected ") + what + " failure");
    s.SetRetryable(retryable_.load());
    return s;
  }

  std::atomic<int64_t> budget_{kUnlimited};
  std::atomic<int> fail_appends_{0};
  std::atomic<int> fail_syncs_{0};
  std::atomic<int> fail_reads_{0};
  std::atomic<uint64_t> injected_{0};
  std::atomic<bool> retryable_{true};
  std::mutex mutex_;
  std::mt19937_64 rng_;
  double append_p_ = 0, sync_p_ = 0, read_p_ = 0;
};

}  // namespace bn::testing

#endif  // BOTTLENECK_TESTS_ENGINE_STORE_FAULT_FS_H_
