// Corruption at rest: bytes flipped in an SST file of a stopped store. Store::Check (bottleneckd
// --check) finds it and names the file; a store opened over it answers reads of the damaged
// data with DATA_LOSS (never wrong data, never INTERNAL).
#include <filesystem>
#include <fstream>

#include "engine/store/collection_store.h"
#include "engine/store/store.h"
#include "gtest/gtest.h"
#include "rocksdb/db.h"
#include "tests/util/temp_dir.h"

namespace bn {
namespace {

// Writes `n` items of ~1 KB each to collection "c" and flushes them into SST files.
void Fill(const std::string& dir, int n) {
  auto store = Store::Open(dir, StoreOptions());
  ASSERT_TRUE(store.ok()) << store.status();
  CollectionStore cs(store->get());
  ASSERT_TRUE(cs.PutCollection("c", "spec").ok());
  for (int i = 0; i < n; i += 100) {
    ItemBatch batch;
    for (int j = i; j < i + 100 && j < n; ++j) {
      batch.Upsert("item-" + std::to_string(j), std::string(1000, static_cast<char>('a' + j % 26)),
                   {{1, std::string(16, static_cast<char>(j))}});
    }
    ASSERT_TRUE(cs.Write("c", batch).ok());
  }
  rocksdb::FlushOptions flush;
  for (int cf = 0; cf < kNumColumnFamilies; ++cf) {
    ASSERT_TRUE((*store)->db()->Flush(flush, (*store)->handle(static_cast<ColumnFamily>(cf))).ok());
  }
}

// The largest SST file of the store.
std::string LargestSst(const std::string& dir) {
  std::string best;
  uintmax_t best_size = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir + "/db")) {
    if (entry.path().extension() != ".sst") continue;
    if (entry.file_size() > best_size) {
      best_size = entry.file_size();
      best = entry.path().string();
    }
  }
  return best;
}

void FlipBytes(const std::string& path, size_t offset, size_t count) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  for (size_t i = 0; i < count; ++i) {
    f.seekg(static_cast<std::streamoff>(offset + i));
    const char c = static_cast<char>(f.get());
    f.seekp(static_cast<std::streamoff>(offset + i));
    f.put(static_cast<char>(c ^ 0x5a));
  }
}

TEST(StoreCheckTest, AnIntactStoreChecksCleanWithCounts) {
  testing::TempDir dir;
  ASSERT_NO_FATAL_FAILURE(Fill(dir.Sub("data"), 500));
  std::string report;
  const absl::Status s = Store::Check(dir.Sub("data"), &report);
  EXPECT_TRUE(s.ok()) << s << "\n" << report;
  EXPECT_NE(report.find("sst checksums: ok"), std::string::npos) << report;
  // 500 item records + 500 item number entries + 5 change-log entries.
  EXPECT_NE(report.find("column family items: 1005 records"), std::string::npos) << report;
  EXPECT_NE(report.find("column family codes: 500 records"), std::string::npos) << report;
  EXPECT_TRUE(absl::IsNotFound(Store::Check(dir.Sub("nothing"), &report)));
}

TEST(StoreCheckTest, FlippedSstBytesAreFoundAndReadsAnswerDataLoss) {
  testing::TempDir dir;
  const std::string data = dir.Sub("data");
  ASSERT_NO_FATAL_FAILURE(Fill(data, 2000));
  const std::string sst = LargestSst(data);
  ASSERT_FALSE(sst.empty());
  ASSERT_GT(std::filesystem::file_size(sst), 40000u);
  FlipBytes(sst, 20000, 64);  // Inside a data block.

  std::string report;
  const absl::Status s = Store::Check(data, &report);
  EXPECT_TRUE(absl::IsDataLoss(s)) << s << "\n" << report;
  const std::string name = std::filesystem::path(sst).filename().string();
  EXPECT_NE(std::string(s.message()).find(name), std::string::npos)
      << "the damaged file is not named: " << s;

  // Served over it: the damaged items answer DATA_LOSS, the others their records.
  auto store = Store::Open(data, StoreOptions());
  ASSERT_TRUE(store.ok()) << store.status();
  CollectionStore cs(store->get());
  int lost = 0, intact = 0;
  for (int j = 0; j < 2000; ++j) {
    auto item = cs.GetItem("c", "item-" + std::to_string(j));
    if (item.ok()) {
      EXPECT_EQ(item->record, std::string(1000, static_cast<char>('a' + j % 26))) << j;
      ++intact;
    } else {
      EXPECT_TRUE(absl::IsDataLoss(item.status())) << item.status();
      ++lost;
    }
  }
  EXPECT_GT(lost, 0);
  EXPECT_GT(intact, 0);
}

}  // namespace
}  // namespace bn
