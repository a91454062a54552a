#include "engine/index/serving_index.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "engine/store/collection_store.h"
#include "engine/util/atomic_file.h"
#include "gtest/gtest.h"
#include "tests/util/temp_dir.h"

namespace bn {
namespace {

constexpr uint32_t kDim = 8;
constexpr uint64_t kVersion = 3;

IndexConfig Config(Metric metric = Metric::kL2) {
  IndexConfig c;
  c.metric = metric;
  c.dim = kDim;
  c.M = 8;
  c.ef_construction = 50;
  c.initial_capacity = 64;
  return c;
}

std::string Code(std::mt19937* rng) {
  std::normal_distribution<float> n(0, 1);
  std::vector<float> v(kDim);
  for (float& x : v) x = n(*rng);
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float));
}

// Writes `n` items "prefix<i>" with codes for kVersion, in batches of 10.
void WriteItems(CollectionStore* cs, const std::string& prefix, int n, std::mt19937* rng) {
  for (int start = 0; start < n; start += 10) {
    ItemBatch b;
    for (int i = start; i < std::min(n, start + 10); ++i) {
      b.Upsert(prefix + std::to_string(i), "record", {{kVersion, Code(rng)}});
    }
    ASSERT_TRUE(cs->Write("c", b).ok());
  }
}

// The index holds exactly the store's codes of kVersion, with the same vectors.
void ExpectIndexMatchesStore(Store* store, const ServingIndex& si) {
  CollectionStore cs(store);
  size_t codes = 0;
  ASSERT_TRUE(cs.ScanCodes("c", kVersion, [&](uint64_t item_no, absl::string_view code) {
                  ++codes;
                  EXPECT_TRUE(si.index().Contains(item_no)) << item_no;
                  auto nn = si.SearchExact(code, 1);
                  EXPECT_TRUE(nn.ok());
                  if (nn.ok() && !nn->empty()) {
                    EXPECT_EQ((*nn)[0].distance, 0.0f);
                  }
                  return true;
                }).ok());
  EXPECT_EQ(si.index().size(), codes);
  EXPECT_EQ(si.applied_counter(), cs.GetCollectionState("c")->change_counter);
}

class ServingIndexTest : public ::testing::Test {
 protected:
  void SetUp() override {
    StoreOptions options;
    options.sync_writes = false;
    auto s = Store::Open(dir_.Sub("data"), options);
    ASSERT_TRUE(s.ok()) << s.status();
    store_ = std::move(*s);
    cs_ = std::make_unique<CollectionStore>(store_.get());
    ASSERT_TRUE(cs_->PutCollection("c", "spec").ok());
  }
  absl::StatusOr<std::unique_ptr<ServingIndex>> Open(Metric metric = Metric::kL2) {
    return OpenServingIndex(store_.get(), "c", kVersion, Config(metric), dir_.Sub("snapshots"));
  }
  testing::TempDir dir_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<CollectionStore> cs_;
  std::mt19937 rng_{42};
};

TEST_F(ServingIndexTest, MissingSnapshotRebuildsThenSnapshotIsLoadedAndCaughtUp) {
  WriteItems(cs_.get(), "a", 100, &rng_);
  {
    auto si = Open();
    ASSERT_TRUE(si.ok()) << si.status();
    EXPECT_FALSE((*si)->open_report().from_snapshot);
    EXPECT_EQ((*si)->open_report().rebuild_reason, "no snapshot");
    ExpectIndexMatchesStore(store_.get(), **si);
    // Live updates through CatchUp.
    WriteItems(cs_.get(), "b", 30, &rng_);
    ItemBatch b;
    b.Delete("a1");
    b.Upsert("a2", "new", {{kVersion, Code(&rng_)}});
    b.Upsert("a3", "no code any more");  // Drops its code for kVersion.
    ASSERT_TRUE(cs_->Write("c", b).ok());
    ASSERT_TRUE((*si)->CatchUp().ok());
    ExpectIndexMatchesStore(store_.get(), **si);
    auto covered = (*si)->SaveSnapshot();
    ASSERT_TRUE(covered.ok()) << covered.status();
    EXPECT_EQ(*covered, cs_->GetCollectionState("c")->change_counter);
  }
  // Changes after the snapshot, made while no index is open.
  ItemBatch b;
  b.Delete("a5");
  b.Upsert("a6", "r", {{kVersion, Code(&rng_)}});
  b.PutCode("a3", kVersion, Code(&rng_));
  ASSERT_TRUE(cs_->Write("c", b).ok());
  WriteItems(cs_.get(), "c", 20, &rng_);
  auto si = Open();
  ASSERT_TRUE(si.ok()) << si.status();
  EXPECT_TRUE((*si)->open_report().from_snapshot) << (*si)->open_report().rebuild_reason;
  EXPECT_EQ((*si)->open_report().replayed_changes, 23u);
  ExpectIndexMatchesStore(store_.get(), **si);
  EXPECT_GT((*si)->index().MemoryBytes(), 0u);
}

TEST_F(ServingIndexTest, CorruptOrForeignSnapshotsRebuild) {
  WriteItems(cs_.get(), "a", 50, &rng_);
  std::string path;
  {
    auto si = Open();
    ASSERT_TRUE(si.ok());
    ASSERT_TRUE((*si)->SaveSnapshot().ok());
    path = (*si)->snapshot_path();
  }
  auto good = ReadFileToString(path);
  ASSERT_TRUE(good.ok());
  struct Case {
    std::string contents;
    std::string reason_part;
  };
  std::string flipped_body = *good;
  flipped_body[flipped_body.size() - 100] ^= 0x40;
  std::string flipped_header = *good;
  flipped_header[20] ^= 0x01;
  std::vector<Case> cases = {{flipped_body, "body CRC"},
                             {flipped_header, "header CRC"},
                             {good->substr(0, good->size() / 2), "wrong size"},
                             {"garbage", "truncated"},
                             {std::string(4096, '\0'), "magic"}};
  for (const Case& c : cases) {
    ASSERT_TRUE(WriteFileAtomically(path, c.contents).ok());
    auto si = Open();
    ASSERT_TRUE(si.ok()) << si.status();
    EXPECT_FALSE((*si)->open_report().from_snapshot);
    EXPECT_NE((*si)->open_report().rebuild_reason.find(c.reason_part), std::string::npos)
        << (*si)->open_report().rebuild_reason;
    ExpectIndexMatchesStore(store_.get(), **si);
  }
  // A valid snapshot for another metric is not used.
  ASSERT_TRUE(WriteFileAtomically(path, *good).ok());
  auto cosine = Open(Metric::kCosine);
  ASSERT_TRUE(cosine.ok());
  EXPECT_FALSE((*cosine)->open_report().from_snapshot);
  EXPECT_NE((*cosine)->open_report().rebuild_reason.find("metric"), std::string::npos);
  // Codes of the wrong size for the config are a DataLoss error, not a crash.
  IndexConfig wrong = Config();
  wrong.dim = kDim + 1;
  EXPECT_TRUE(absl::IsDataLoss(
      OpenServingIndex(store_.get(), "c", kVersion, wrong, dir_.Sub("snapshots")).status()));
}

TEST_F(ServingIndexTest, TrimmedChangeLogMakesSnapshotStale) {
  WriteItems(cs_.get(), "a", 30, &rng_);
  {
    auto si = Open();
    ASSERT_TRUE(si.ok());
    ASSERT_TRUE((*si)->SaveSnapshot().ok());
  }
  WriteItems(cs_.get(), "b", 30, &rng_);
  const uint64_t now = cs_->GetCollectionState("c")->change_counter;
  ASSERT_TRUE(cs_->TrimChangeLog("c", now - 1).ok());
  auto si = Open();
  ASSERT_TRUE(si.ok());
  EXPECT_FALSE((*si)->open_report().from_snapshot);
  EXPECT_NE((*si)->open_report().rebuild_reason.find("trimmed"), std::string::npos);
  ExpectIndexMatchesStore(store_.get(), **si);
}

// Callers that cache per-item number state (the service's neighbour heads on a replica) learn what
// a CatchUp applied: the item numbers of the applied changes, or that the index was rebuilt.
TEST_F(ServingIndexTest, CatchUpReportsTheLabelsItAppliedOrARebuild) {
  WriteItems(cs_.get(), "a", 20, &rng_);
  auto si = Open();
  ASSERT_TRUE(si.ok()) << si.status();
  ItemBatch b;
  b.Delete("a1");
  b.Upsert("a2", "new record", {{kVersion, Code(&rng_)}});
  b.Upsert("fresh", "r", {{kVersion, Code(&rng_)}});
  auto written = cs_->Write("c", b);
  ASSERT_TRUE(written.ok()) << written.status();
  CatchUpReport report;
  ASSERT_TRUE((*si)->CatchUp(&report).ok());
  EXPECT_FALSE(report.rebuilt);
  std::vector<uint64_t> applied = report.item_nos;
  std::vector<uint64_t> expected = written->item_nos;
  std::sort(applied.begin(), applied.end());
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(applied, expected);

  CatchUpReport nothing;
  ASSERT_TRUE((*si)->CatchUp(&nothing).ok());
  EXPECT_FALSE(nothing.rebuilt);
  EXPECT_TRUE(nothing.item_nos.empty());

  // The change log trimmed past what the index applied: it rebuilds, and says so.
  WriteItems(cs_.get(), "b", 20, &rng_);
  ASSERT_TRUE(cs_->TrimChangeLog("c", cs_->GetCollectionState("c")->change_counter).ok());
  CatchUpReport rebuilt;
  ASSERT_TRUE((*si)->CatchUp(&rebuilt).ok());
  EXPECT_TRUE(rebuilt.rebuilt);
  ExpectIndexMatchesStore(store_.get(), **si);
}

TEST_F(ServingIndexTest, RecreatedCollectionDoesNotReuseOldSnapshot) {
  WriteItems(cs_.get(), "a", 30, &rng_);
  auto old = Open();
  ASSERT_TRUE(old.ok());
  ASSERT_TRUE((*old)->SaveSnapshot().ok());
  ASSERT_TRUE(cs_->DeleteCollection("c").ok());
  EXPECT_TRUE(absl::IsNotFound((*old)->CatchUp()));
  ASSERT_TRUE(cs_->PutCollection("c", "spec").ok());
  WriteItems(cs_.get(), "z", 40, &rng_);  // Counter passes the old snapshot's.
  EXPECT_TRUE(absl::IsFailedPrecondition((*old)->CatchUp()));
  auto si = Open();
  ASSERT_TRUE(si.ok());
  EXPECT_FALSE((*si)->open_report().from_snapshot);
  EXPECT_NE((*si)->open_report().rebuild_reason.find("incarnation"), std::string::npos);
  ExpectIndexMatchesStore(store_.get(), **si);
  EXPECT_EQ((*si)->index().size(), 40u);
}

// Writers on several threads each write then CatchUp; readers search meanwhile. The index must
// end equal to the store whatever order the catch-ups ran in.
TEST_F(ServingIndexTest, ConcurrentWritersCatchUpAndSearches) {
  auto si = Open();
  ASSERT_TRUE(si.ok());
  std::atomic<int> writers_left{2};
  std::vector<std::thread> threads;
  for (int w = 0; w < 2; ++w) {
    threads.emplace_back([&, w] {
      std::mt19937 rng(w);
      for (int i = 0; i < 60; ++i) {
        ItemBatch b;
        b.Upsert("w" + std::to_string(w) + "-" + std::to_string(i % 25), "r",
                 {{kVersion, Code(&rng)}});
        if (i % 5 == 4) b.Delete("w" + std::to_string(1 - w) + "-" + std::to_string(i % 25));
        ASSERT_TRUE(cs_->Write("c", b).ok());
        ASSERT_TRUE((*si)->CatchUp().ok());
        if (i == 30) {
          ASSERT_TRUE((*si)->SaveSnapshot().ok());
        }
      }
      --writers_left;
    });
  }
  threads.emplace_back([&] {
    std::mt19937 rng(9);
    while (writers_left > 0) {
      auto r = (*si)->Search(Code(&rng), 5);
      ASSERT_TRUE(r.ok());
    }
  });
  for (auto& t : threads) t.join();
  ExpectIndexMatchesStore(store_.get(), **si);
}

// SaveSnapshot holds the catch-up lock only while it copies the graph; the CRC and the file
// write (with its fsync) run while a writer thread goes on writing and catching up. Every
// snapshot must hold exactly the item numbers live after the writes up to the counter in its
// header (none later, none missing), and loading the last one and replaying the log must give the
// index a rebuild from the store gives.
TEST_F(ServingIndexTest, SnapshotsSavedDuringCatchUpsHoldExactlyTheirCounter) {
  WriteItems(cs_.get(), "a", 1000, &rng_);
  auto si = Open();
  ASSERT_TRUE(si.ok()) << si.status();
  std::map<uint64_t, std::set<uint64_t>> live_at;  // Change counter -> live item numbers.
  std::set<uint64_t> live;
  ASSERT_TRUE(cs_->ScanCodes("c", kVersion,
                             [&](uint64_t item_no, absl::string_view) {
                               live.insert(item_no);
                               return true;
                             })
                  .ok());
  live_at[cs_->GetCollectionState("c")->change_counter] = live;
  std::atomic<bool> stop{false};
  std::atomic<int> writes{0};
  std::thread writer([&] {
    std::mt19937 rng(3);
    for (int i = 0; !stop || i < 100; ++i) {
      ItemBatch b;
      b.Upsert("w" + std::to_string(i), "r", {{kVersion, Code(&rng)}});
      if (i % 3 == 2) b.Delete("w" + std::to_string(i - 2));
      if (i % 5 == 4) b.PutCode("a" + std::to_string(i % 1000), kVersion, Code(&rng));
      auto written = cs_->Write("c", b);
      ASSERT_TRUE(written.ok()) << written.status();
      ASSERT_TRUE((*si)->CatchUp().ok());
      live.insert(written->item_nos[0]);
      if (i % 3 == 2) live.erase(written->item_nos[1]);
      live_at[written->change_counter] = live;
      ++writes;
    }
  });
  std::vector<std::string> files;
  std::vector<uint64_t> covered;
  for (int n = 0; n < 10; ++n) {
    auto saved = (*si)->SaveSnapshot();
    ASSERT_TRUE(saved.ok()) << saved.status();
    covered.push_back(*saved);
    auto file = ReadFileToString((*si)->snapshot_path());
    ASSERT_TRUE(file.ok()) << file.status();
    files.push_back(std::move(*file));
  }
  stop = true;
  writer.join();
  ASSERT_GE(writes.load(), 100);
  ASSERT_GT(covered.back(), covered.front()) << "no snapshot saved while the writer ran";
  // Header layout (serving_index.h): the covered counter is the u64 at byte 41, the body starts
  // at byte 73.
  for (size_t n = 0; n < files.size(); ++n) {
    uint64_t counter = 0;
    std::memcpy(&counter, files[n].data() + 41, sizeof(counter));
    EXPECT_EQ(counter, covered[n]);
    ASSERT_EQ(live_at.count(counter), 1u) << counter;
    const std::set<uint64_t>& expected = live_at[counter];
    auto loaded = HnswIndex::Deserialize(Config(), absl::string_view(files[n]).substr(73));
    ASSERT_TRUE(loaded.ok()) << loaded.status();
    EXPECT_EQ((*loaded)->size(), expected.size()) << "snapshot at counter " << counter;
    for (uint64_t item_no : expected) {
      EXPECT_TRUE((*loaded)->Contains(item_no)) << item_no << " at counter " << counter;
    }
  }
  // The last file (the one on disk) loads and, after catching up, equals a fresh build.
  si->reset();
  auto reopened = Open();
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  EXPECT_TRUE((*reopened)->open_report().from_snapshot)
      << (*reopened)->open_report().rebuild_reason;
  EXPECT_EQ((*reopened)->open_report().snapshot_counter, covered.back());
  ExpectIndexMatchesStore(store_.get(), **reopened);
  auto fresh = OpenServingIndex(store_.get(), "c", kVersion, Config(), dir_.Sub("fresh"));
  ASSERT_TRUE(fresh.ok()) << fresh.status();
  ASSERT_FALSE((*fresh)->open_report().from_snapshot);
  EXPECT_EQ((*reopened)->index().size(), (*fresh)->index().size());
  std::mt19937 rng(11);
  for (int q = 0; q < 20; ++q) {
    const std::string query = Code(&rng);
    auto a = (*reopened)->SearchExact(query, 10);
    auto b = (*fresh)->SearchExact(query, 10);
    ASSERT_TRUE(a.ok() && b.ok());
    ASSERT_EQ(a->size(), b->size());
    for (size_t i = 0; i < a->size(); ++i) {
      EXPECT_EQ((*a)[i].item_no, (*b)[i].item_no);
      EXPECT_EQ((*a)[i].distance, (*b)[i].distance);
    }
  }
}

// A child process ingests with synced writes, reporting each acknowledged id through a pipe and
// saving a snapshot now and then; the parent SIGKILLs it mid-ingest, reopens, and checks that
// every acknowledged item is present and that the index agrees with the store. Under TSan, run
// this test alone (--gtest_filter=ServingIndexRecoveryTest.*): TSan cannot fork a process that
// already has threads (RocksDB's background threads from earlier tests).
TEST(ServingIndexRecoveryTest, KillNineMidIngestLosesNoAcknowledgedItem) {
  testing::TempDir dir;
  const std::string data = dir.Sub("data");
  const std::string snaps = dir.Sub("snapshots");
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    close(fds[0]);
    auto store = Store::Open(data, StoreOptions());  // sync_writes = true
    if (!store.ok()) _exit(2);
    CollectionStore cs(store->get());
    if (!cs.PutCollection("c", "spec").ok()) _exit(3);
    auto si = OpenServingIndex(store->get(), "c", kVersion, Config(), snaps);
    if (!si.ok()) _exit(4);
    std::mt19937 rng(7);
    for (int batch = 0; batch < 1000000; ++batch) {
      ItemBatch b;
      std::string acked;
      for (int i = 0; i < 5; ++i) {
        std::string id = "id" + std::to_string(batch * 5 + i);
        b.Upsert(id, "r", {{kVersion, Code(&rng)}});
        acked += id + "\n";
      }
      if (batch % 4 == 3) {
        b.Delete("id" + std::to_string(batch * 5 - 7));
        acked += "-id" + std::to_string(batch * 5 - 7) + "\n";
      }
      if (!cs.Write("c", b).ok()) _exit(5);
      if (write(fds[1], acked.data(), acked.size()) != static_cast<ssize_t>(acked.size())) {
        _exit(6);
      }
      if (!(*si)->CatchUp().ok()) _exit(7);
      if (batch % 15 == 14 && !(*si)->SaveSnapshot().ok()) _exit(8);
    }
    _exit(0);
  }
  close(fds[1]);
  std::string received;
  char buf[4096];
  int lines = 0;
  while (lines < 400) {
    ssize_t n = read(fds[0], buf, sizeof(buf));
    ASSERT_GT(n, 0) << "child exited early";
    received.append(buf, n);
    lines = std::count(received.begin(), received.end(), '\n');
  }
  kill(pid, SIGKILL);
  ssize_t n;
  while ((n = read(fds[0], buf, sizeof(buf))) > 0) received.append(buf, n);
  close(fds[0]);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFSIGNALED(status)) << "child status " << status;

  std::set<std::string> present;
  std::istringstream in(received.substr(0, received.rfind('\n') + 1));
  std::string line;
  int last_batch = -1;  // The last batch whose acknowledgement arrived.
  while (std::getline(in, line)) {
    if (line[0] == '-') {
      present.erase(line.substr(1));
    } else {
      present.insert(line);
      last_batch = std::max(last_batch, std::stoi(line.substr(2)) / 5);
    }
  }
  // The batch after it may be durable without its acknowledgement (the kill came between the
  // write and the report): its deletion may have happened, so that item may be absent.
  const int in_flight = last_batch + 1;
  if (in_flight % 4 == 3) present.erase("id" + std::to_string(in_flight * 5 - 7));
  auto store = Store::Open(data, StoreOptions());
  ASSERT_TRUE(store.ok()) << store.status();
  CollectionStore cs(store->get());
  for (const std::string& id : present) {
    EXPECT_TRUE(cs.GetItem("c", id).ok()) << "acknowledged item lost: " << id;
  }
  auto count = cs.CountItems("c");
  ASSERT_TRUE(count.ok());
  EXPECT_GE(*count, present.size());  // Batches written but not yet reported may exist too.
  auto si = OpenServingIndex(store->get(), "c", kVersion, Config(), snaps);
  ASSERT_TRUE(si.ok()) << si.status();
  EXPECT_EQ((*si)->index().size(), *count);
  ExpectIndexMatchesStore(store->get(), **si);
}

}  // namespace
}  // namespace bn
