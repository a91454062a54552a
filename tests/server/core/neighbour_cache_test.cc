#include "server/core/neighbour_cache.h"

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace bn {
namespace {

namespace v1 = ::bottleneck::v1;

NeighbourCache::Head MakeHead(const std::string& id, const std::string& label) {
  auto head = std::make_shared<v1::Neighbor>();
  head->set_id(id);
  head->set_label(label);
  (*head->mutable_metadata())["k"] = id + "/" + label;
  return head;
}

TEST(NeighbourCacheTest, MissThenFillThenHit) {
  NeighbourCache cache(100);
  uint64_t stamp = 0;
  EXPECT_EQ(cache.Lookup(7, &stamp), nullptr);
  cache.Fill(7, stamp, MakeHead("a", "cat"));
  uint64_t unused = 0;
  auto head = cache.Lookup(7, &unused);
  ASSERT_NE(head, nullptr);
  EXPECT_EQ(head->id(), "a");
  EXPECT_EQ(head->metadata().at("k"), "a/cat");
  EXPECT_NE(cache.Lookup(7, &unused), nullptr);
  const NeighbourCache::Stats stats = cache.stats();  // What the metrics report.
  EXPECT_EQ(stats.items, 1u);
  EXPECT_EQ(stats.misses, 1u);
  EXPECT_EQ(stats.hits, 2u);
}

// The race the stamps exist for: a search reads the store (old value), a write changes the item
// and invalidates its label, then the search offers the old value. It must not be cached.
TEST(NeighbourCacheTest, AFillThatRacedAnInvalidationIsRefused) {
  NeighbourCache cache(100);
  uint64_t stamp = 0;
  ASSERT_EQ(cache.Lookup(7, &stamp), nullptr);
  cache.Invalidate({7});                       // The write lands after the search's read.
  cache.Fill(7, stamp, MakeHead("a", "old"));  // The search offers what it read.
  uint64_t fresh = 0;
  EXPECT_EQ(cache.Lookup(7, &fresh), nullptr);  // Not cached: the next search reads again.
  cache.Fill(7, fresh, MakeHead("a", "new"));
  uint64_t unused = 0;
  ASSERT_NE(cache.Lookup(7, &unused), nullptr);
  EXPECT_EQ(cache.Lookup(7, &unused)->label(), "new");
}

TEST(NeighbourCacheTest, InvalidateDropsOnlyTheNamedLabelsAndInvalidateAllDropsEverything) {
  NeighbourCache cache(1000);
  for (uint64_t item_no = 1; item_no <= 200; ++item_no) {
    uint64_t stamp = 0;
    ASSERT_EQ(cache.Lookup(item_no, &stamp), nullptr);
    cache.Fill(item_no, stamp, MakeHead("i" + std::to_string(item_no), "x"));
  }
  ASSERT_EQ(cache.size(), 200u);
  cache.Invalidate({3, 150, 0, 999});  // 0 (a missing id's delete) and unknown item numbers are fine.
  EXPECT_EQ(cache.size(), 198u);
  uint64_t stamp = 0;
  EXPECT_EQ(cache.Lookup(3, &stamp), nullptr);
  EXPECT_EQ(cache.Lookup(150, &stamp), nullptr);
  EXPECT_NE(cache.Lookup(4, &stamp), nullptr);
  // A fill stamped before InvalidateAll is refused too.
  uint64_t before = 0;
  ASSERT_EQ(cache.Lookup(3, &before), nullptr);
  cache.InvalidateAll();
  EXPECT_EQ(cache.size(), 0u);
  cache.Fill(3, before, MakeHead("i3", "x"));
  EXPECT_EQ(cache.size(), 0u);
}

TEST(NeighbourCacheTest, StaysWithinItsCapacityAndZeroDisablesIt) {
  NeighbourCache cache(128);  // Two entries per shard.
  for (uint64_t item_no = 1; item_no <= 5000; ++item_no) {
    uint64_t stamp = 0;
    if (cache.Lookup(item_no, &stamp) == nullptr) cache.Fill(item_no, stamp, MakeHead("i", "x"));
  }
  EXPECT_LE(cache.size(), 128u);
  EXPECT_GE(cache.size(), 64u);  // Every shard was filled.

  NeighbourCache off(0);
  uint64_t stamp = 0;
  ASSERT_EQ(off.Lookup(1, &stamp), nullptr);
  off.Fill(1, stamp, MakeHead("i", "x"));
  EXPECT_EQ(off.Lookup(1, &stamp), nullptr);
  EXPECT_EQ(off.size(), 0u);
}

// Readers fill while a writer keeps replacing a value and invalidating it (the protocol of
// QueryEngine::Search against ItemIngest::Upsert): once the writer has finished, no reader's fill
// leaves an old value behind.
TEST(NeighbourCacheTest, ConcurrentReadersNeverLeaveAStaleValueAfterTheLastWrite) {
  NeighbourCache cache(64);
  std::atomic<int> store{0};  // The "store": the current version of label 1's head.
  std::atomic<bool> done{false};
  std::vector<std::thread> readers;
  for (int r = 0; r < 3; ++r) {
    readers.emplace_back([&] {
      while (!done.load()) {
        uint64_t stamp = 0;
        if (cache.Lookup(1, &stamp) != nullptr) continue;
        const int version = store.load();  // Read the store after taking the stamp.
        cache.Fill(1, stamp, MakeHead(std::to_string(version), "x"));
      }
    });
  }
  for (int v = 1; v <= 2000; ++v) {
    store.store(v);         // Write the store...
    cache.Invalidate({1});  // ...then invalidate, before "acknowledging".
    uint64_t stamp = 0;
    auto head = cache.Lookup(1, &stamp);
    if (head != nullptr) {
      ASSERT_EQ(head->id(), std::to_string(v)) << "stale head after write " << v;
    }
  }
  done = true;
  for (auto& t : readers) t.join();
  uint64_t stamp = 0;
  auto head = cache.Lookup(1, &stamp);
  if (head != nullptr) {
    EXPECT_EQ(head->id(), "2000");
  }
}

}  // namespace
}  // namespace bn
