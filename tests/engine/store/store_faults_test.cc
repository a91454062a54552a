// Storage faults under the store, with an oracle of acknowledged writes: a full disk (the flood
// watermark, and RocksDB's own ENOSPC when the watermark is off), transient I/O errors on
// appends, syncs and reads, at chosen and at random points. What must hold: every failure is a
// storage status (RESOURCE_EXHAUSTED, UNAVAILABLE, DATA_LOSS; never INTERNAL), reads go on, the
// store takes writes again by itself once the fault clears, nothing acknowledged is lost (also
// across a reopen) and nothing refused is visible.
//
// BN_FAULT_OPS=N runs the random campaign longer (default 400 operations).
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <thread>

#include "engine/store/collection_store.h"
#include "engine/store/rocks_status.h"
#include "engine/store/store.h"
#include "engine/util/atomic_file.h"
#include "gtest/gtest.h"
#include "tests/engine/store/fault_fs.h"
#include "tests/util/temp_dir.h"

namespace bn {
namespace {

using testing::FaultFs;

bool IsStorageCode(const absl::Status& s) {
  return absl::IsResourceExhausted(s) || absl::IsUnavailable(s) || absl::IsDataLoss(s);
}

TEST(StorageStatusTest, RocksStatusesMapToStorageCodes) {
  EXPECT_TRUE(absl::IsResourceExhausted(
      FromRocks("w", rocksdb::Status::NoSpace("append", "No space left on device"))));
  // Re-created without the subcode: the errno text still counts.
  EXPECT_TRUE(
      absl::IsResourceExhausted(FromRocks("w", rocksdb::Status::IOError("While appending to file",
                                                                        "No space left on "
                                                                        "device"))));
  EXPECT_TRUE(absl::IsUnavailable(FromRocks("w", rocksdb::Status::IOError("injected"))));
  EXPECT_TRUE(absl::IsUnavailable(FromRocks("w", rocksdb::Status::Busy())));
  EXPECT_TRUE(absl::IsUnavailable(FromRocks("w", rocksdb::Status::TimedOut())));
  EXPECT_TRUE(absl::IsUnavailable(FromRocks("w", rocksdb::Status::ShutdownInProgress())));
  EXPECT_TRUE(absl::IsDataLoss(FromRocks("r", rocksdb::Status::Corruption("block checksum"))));
  EXPECT_TRUE(absl::IsDataLoss(FromRocks("r", rocksdb::Status::PathNotFound("000012.sst"))));
  EXPECT_TRUE(absl::IsUnavailable(FromRocks(
      "open",
      rocksdb::Status::IOError("While lock file: /d/LOCK", "Resource temporarily unavailable"))));
  EXPECT_TRUE(absl::IsNotFound(FromRocks("r", rocksdb::Status::NotFound())));
  const absl::Status s = FromRocks("writing item batch", rocksdb::Status::NoSpace("x"));
  EXPECT_NE(s.message().find("writing item batch"), absl::string_view::npos) << s;

  EXPECT_TRUE(absl::IsResourceExhausted(ErrnoStatus(ENOSPC, "write 'f'")));
  EXPECT_TRUE(absl::IsResourceExhausted(ErrnoStatus(EDQUOT, "write 'f'")));
  EXPECT_TRUE(absl::IsUnavailable(ErrnoStatus(EIO, "fsync 'f'")));
  EXPECT_TRUE(absl::IsPermissionDenied(ErrnoStatus(EROFS, "open 'f'")));
}

// A store over FaultFs whose disk guard measures the simulated disk (capacity and budget).
class StoreFaultsTest : public ::testing::Test {
 protected:
  static constexpr int64_t kCapacity = int64_t{64} << 20;

  void SetUp() override { fs_ = std::make_shared<FaultFs>(7); }

  StoreOptions Options(uint64_t flood_free_bytes) {
    StoreOptions options;
    options.file_system = fs_;
    options.block_cache_bytes = size_t{1} << 20;
    options.watermarks.flood_free_bytes = flood_free_bytes;
    options.watermarks.flood_free_percent = 0;
    options.watermarks.poll_interval = std::chrono::milliseconds(50);
    std::shared_ptr<FaultFs> fs = fs_;
    options.watermarks.measure = [fs](const std::string&) -> absl::StatusOr<DiskSpace> {
      DiskSpace space;
      space.total_bytes = kCapacity;
      space.free_bytes = static_cast<uint64_t>(std::max<int64_t>(0, fs->budget()));
      return space;
    };
    return options;
  }

  void Open(uint64_t flood_free_bytes) {
    store_.reset();
    auto opened = Store::Open(dir_.Sub("data"), Options(flood_free_bytes));
    ASSERT_TRUE(opened.ok()) << opened.status();
    store_ = std::move(*opened);
    store_->StartWatcher();
  }

  // One upsert of item `id` with a record of `size` bytes; records the outcome in the oracle.
  absl::Status Upsert(const std::string& id, size_t size = 2000) {
    ItemBatch batch;
    std::string record(size, static_cast<char>('a' + id.size() % 26));
    record.replace(0, std::min(id.size(), size), id.substr(0, std::min(id.size(), size)));
    batch.Upsert(id, record, {{1, "code-" + id}});
    auto result = CollectionStore(store_.get()).Write("c", batch);
    if (result.ok()) {
      acked_[id] = record;
      maybe_.erase(id);
      refused_.erase(id);
    } else {
      // Refused: invisible until a restart. A write whose WAL append succeeded but whose sync
      // failed may come back from the log after one, so it is a possible outcome afterwards.
      maybe_[id].insert(record);
      if (acked_.count(id) == 0) refused_.insert(id);
    }
    return result.status();
  }

  // Every acknowledged item reads back with its last acknowledged record; no refused write is
  // visible. `reopened`: a refused write that may have reached the log is allowed too.
  void CheckOracle(bool reopened = false) {
    CollectionStore cs(store_.get());
    for (const auto& [id, record] : acked_) {
      auto item = cs.GetItem("c", id);
      ASSERT_TRUE(item.ok()) << id << ": " << item.status();
      if (item->record == record) continue;
      EXPECT_TRUE(reopened && maybe_[id].count(item->record) > 0)
          << id << ": neither the acknowledged record nor a possible one";
    }
    for (const std::string& id : refused_) {
      auto item = cs.GetItem("c", id);
      if (reopened && item.ok() && maybe_[id].count(item->record) > 0) continue;
      EXPECT_TRUE(absl::IsNotFound(item.status())) << id << " was refused";
    }
  }

  // Waits until a write goes through (the store recovers by itself); false after `timeout`.
  bool WaitForWrites(const std::string& id, std::chrono::seconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (Upsert(id).ok()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }

  testing::TempDir dir_;
  std::shared_ptr<FaultFs> fs_;
  std::unique_ptr<Store> store_;
  std::map<std::string, std::string> acked_;
  std::set<std::string> refused_;
  std::map<std::string, std::set<std::string>> maybe_;
};

TEST_F(StoreFaultsTest, FloodStageRefusesUpsertsKeepsReadsAndLiftsWhenSpaceReturns) {
  constexpr uint64_t kFlood = 4 << 20;
  fs_->SetBudget(kFlood + (1 << 20));  // 1 MiB above the flood stage.
  Open(kFlood);
  ASSERT_TRUE(CollectionStore(store_.get()).PutCollection("c", "spec").ok());
  absl::Status refused;
  int i = 0;
  for (; i < 10000 && refused.ok(); ++i) refused = Upsert("item-" + std::to_string(i));
  ASSERT_FALSE(refused.ok()) << "the disk never filled";
  EXPECT_TRUE(absl::IsResourceExhausted(refused)) << refused;
  EXPECT_NE(refused.message().find("--disk-flood-free-bytes"), std::string::npos) << refused;
  EXPECT_NE(refused.message().find("free"), std::string::npos) << refused;
  // The watermark stopped the writes before RocksDB ever saw ENOSPC: the reserve is intact.
  EXPECT_GT(fs_->budget(), 0);
  EXPECT_LT(store_->write_state().free_bytes, kFlood + (64 << 10));
  // Below the flood stage (RocksDB's own flushes took the rest): the state says so.
  fs_->SetBudget(kFlood - 1);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_TRUE(store_->write_state().blocked);
  EXPECT_TRUE(store_->write_state().below_flood);
  // Refused again, reads go on, deletes go through (they free space in the end).
  EXPECT_TRUE(absl::IsResourceExhausted(Upsert("late", 10)));
  CheckOracle();
  ItemBatch del;
  del.Delete("item-0");
  ASSERT_TRUE(CollectionStore(store_.get()).Write("c", del).ok());
  acked_.erase("item-0");
  refused_.insert("item-0");

  // Space returns: writes go through without any reopen, and the state says so.
  fs_->AddBudget(8 << 20);
  ASSERT_TRUE(WaitForWrites("after", std::chrono::seconds(5)));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_FALSE(store_->write_state().blocked);
  CheckOracle();
  store_.reset();
  Open(kFlood);
  CheckOracle(/*reopened=*/true);
}

TEST_F(StoreFaultsTest, RocksDbOutOfSpaceIsResourceExhaustedAndRecoversWithoutReopen) {
  // No watermark: RocksDB itself runs into ENOSPC on the WAL.
  fs_->SetBudget(FaultFs::kUnlimited);
  Open(0);
  ASSERT_TRUE(CollectionStore(store_.get()).PutCollection("c", "spec").ok());
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(Upsert("a" + std::to_string(i)).ok());
  fs_->SetBudget(1 << 10);
  absl::Status failed;
  for (int i = 0; i < 100 && failed.ok(); ++i) failed = Upsert("b" + std::to_string(i));
  ASSERT_FALSE(failed.ok());
  EXPECT_TRUE(absl::IsResourceExhausted(failed)) << failed;
  // RocksDB stopped writes (background error): later writes are refused clearly, reads go on.
  const absl::Status again = Upsert("c0");
  EXPECT_TRUE(absl::IsResourceExhausted(again)) << again;
  CheckOracle();
  fs_->SetBudget(FaultFs::kUnlimited);
  const auto freed = std::chrono::steady_clock::now();
  ASSERT_TRUE(WaitForWrites("resumed", std::chrono::seconds(10)))
      << "writes still refused after space returned: " << Upsert("probe");
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - freed).count();
  EXPECT_LT(seconds, 10);
  CheckOracle();
  store_.reset();
  Open(0);
  CheckOracle(/*reopened=*/true);
}

TEST_F(StoreFaultsTest, RetryableWalSyncFailureIsUnavailableAndTheStoreResumes) {
  Open(0);
  ASSERT_TRUE(CollectionStore(store_.get()).PutCollection("c", "spec").ok());
  ASSERT_TRUE(Upsert("x").ok());
  fs_->FailNextSyncs(1);
  const absl::Status s = Upsert("y");
  ASSERT_FALSE(s.ok()) << "the injected fsync failure was not reported";
  EXPECT_TRUE(absl::IsUnavailable(s)) << s;
  ASSERT_TRUE(WaitForWrites("z", std::chrono::seconds(10))) << Upsert("probe");
  CheckOracle();
  store_.reset();
  Open(0);
  CheckOracle(/*reopened=*/true);
}

// EIO from fsync is not retryable (after it the kernel may have dropped the dirty pages):
// RocksDB stops writes for good. The store stays up: reads go on, writes are UNAVAILABLE with a
// clear message, and a reopen has every acknowledged write.
TEST_F(StoreFaultsTest, FatalWalSyncFailureKeepsReadsAndAReopenHasEveryAcknowledgedWrite) {
  Open(0);
  ASSERT_TRUE(CollectionStore(store_.get()).PutCollection("c", "spec").ok());
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(Upsert("x" + std::to_string(i)).ok());
  fs_->SetRetryable(false);
  fs_->FailNextSyncs(1);
  const absl::Status s = Upsert("y");
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(absl::IsUnavailable(s)) << s;
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const absl::Status again = Upsert("z");
  EXPECT_TRUE(absl::IsUnavailable(again)) << again;
  EXPECT_TRUE(store_->write_state().blocked);
  EXPECT_TRUE(store_->write_state().background_error);
  CheckOracle();
  store_.reset();
  Open(0);
  CheckOracle(/*reopened=*/true);
  EXPECT_TRUE(Upsert("after-reopen").ok());
}

TEST_F(StoreFaultsTest, RandomFaultsNeverLoseAcknowledgedWrites) {
  const char* env = std::getenv("BN_FAULT_OPS");
  const int ops = env != nullptr ? std::atoi(env) : 200;
  Open(0);
  ASSERT_TRUE(CollectionStore(store_.get()).PutCollection("c", "spec").ok());
  std::mt19937 rng(11);
  int ok = 0, failed = 0, read_errors = 0;
  int recoveries = 0;
  for (int i = 0; i < ops; ++i) {
    if (i % 100 == 0) fs_->SetRandomFailures(0.03, 0, 0.01);
    if (i % 100 == 60) fs_->ClearFaults();  // The fault clears: the store must recover.
    const std::string id = "r" + std::to_string(rng() % (ops / 2 + 1));
    absl::Status s = Upsert(id, 500 + rng() % 4000);
    if (s.ok()) {
      ++ok;
    } else {
      ++failed;
      EXPECT_TRUE(IsStorageCode(s)) << "not a storage code: " << s;
      // The store resumes by itself (RocksDB retries retryable errors, the watcher resumes).
      ASSERT_TRUE(WaitForWrites("recovered-" + std::to_string(i), std::chrono::seconds(15)));
      ++recoveries;
    }
    auto read = CollectionStore(store_.get()).GetItem("c", id);
    if (!read.ok() && !absl::IsNotFound(read.status())) {
      ++read_errors;
      EXPECT_TRUE(IsStorageCode(read.status())) << read.status();
    }
    if (i % 100 == 99) {
      // Faults cleared 40 operations ago: the store takes writes again.
      ASSERT_TRUE(WaitForWrites("probe-" + std::to_string(i), std::chrono::seconds(10)));
    }
  }
  fs_->ClearFaults();
  ASSERT_TRUE(WaitForWrites("final", std::chrono::seconds(10)));
  std::cout << "random faults: " << ok << " acknowledged, " << failed << " refused, " << recoveries
            << " recoveries, " << read_errors << " read errors, " << fs_->injected()
            << " faults injected\n";
  EXPECT_GT(fs_->injected(), 0u);
  // Every acknowledged item with its content, now and after a reopen.
  CheckOracle();
  store_.reset();
  Open(0);
  CheckOracle(/*reopened=*/true);
}

}  // namespace
}  // namespace bn
