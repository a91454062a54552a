#include "engine/index/hnsw_index.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <random>
#include <set>
#include <thread>

#include "gtest/gtest.h"

namespace bn {
namespace {

std::string FloatCode(const std::vector<float>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float));
}

std::vector<float> RandomVector(std::mt19937* rng, int dim) {
  std::normal_distribution<float> n(0, 1);
  std::vector<float> v(dim);
  for (float& x : v) x = n(*rng);
  return v;
}

std::string RandomBits(std::mt19937* rng, int bits) {
  std::string s((bits + 7) / 8, '\0');
  for (char& c : s) c = static_cast<char>((*rng)() & 0xff);
  if (bits % 8) s.back() = static_cast<char>(s.back() & ((1 << (bits % 8)) - 1));
  return s;
}

// Naive reference distances, written independently of the index code.
double NaiveDistance(Metric m, const std::vector<float>& a, const std::vector<float>& b) {
  double dot = 0, l2 = 0, na = 0, nb = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    dot += double{a[i]} * b[i];
    l2 += (double{a[i]} - b[i]) * (double{a[i]} - b[i]);
    na += double{a[i]} * a[i];
    nb += double{b[i]} * b[i];
  }
  switch (m) {
    case Metric::kL2:
      return l2;
    case Metric::kInnerProduct:
      return 1 - dot;
    case Metric::kCosine:
      return 1 - dot / std::sqrt(na * nb);
    default:
      return 0;
  }
}

int NaiveHamming(const std::string& a, const std::string& b) {
  int bits = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    unsigned x = static_cast<unsigned char>(a[i] ^ b[i]);
    for (; x; x >>= 1) bits += x & 1;
  }
  return bits;
}

std::unique_ptr<HnswIndex> MakeIndex(Metric m, uint32_t dim, uint64_t capacity = 1024) {
  IndexConfig c;
  c.metric = m;
  c.dim = dim;
  c.M = 12;
  c.ef_construction = 100;
  c.initial_capacity = capacity;
  auto index = HnswIndex::Create(c);
  EXPECT_TRUE(index.ok()) << index.status();
  return std::move(*index);
}

class FloatSpaceTest : public ::testing::TestWithParam<Metric> {};

TEST_P(FloatSpaceTest, DistancesMatchNaiveAndExactSearchIsExact) {
  const Metric m = GetParam();
  const int dim = 19;  // Not a multiple of 4 or 16: exercises the SIMD tails.
  std::mt19937 rng(1);
  auto index = MakeIndex(m, dim);
  std::vector<std::vector<float>> data;
  for (int i = 0; i < 300; ++i) {
    data.push_back(RandomVector(&rng, dim));
    ASSERT_TRUE(index->Upsert(1000 + i, FloatCode(data.back())).ok());
  }
  EXPECT_EQ(index->size(), 300u);
  for (int q = 0; q < 10; ++q) {
    std::vector<float> query = RandomVector(&rng, dim);
    auto exact = index->SearchExact(FloatCode(query), 300);
    ASSERT_TRUE(exact.ok());
    ASSERT_EQ(exact->size(), 300u);
    std::vector<std::pair<double, uint64_t>> naive;
    for (int i = 0; i < 300; ++i) naive.push_back({NaiveDistance(m, query, data[i]), 1000 + i});
    std::sort(naive.begin(), naive.end());
    for (size_t i = 0; i < exact->size(); ++i) {
      EXPECT_NEAR((*exact)[i].distance, naive[i].first, 1e-3 * (1 + std::fabs(naive[i].first)));
    }
    for (int i = 0; i < 5; ++i) EXPECT_EQ((*exact)[i].item_no, naive[i].second);
    auto approx = index->Search(FloatCode(query), 10, 200);
    ASSERT_TRUE(approx.ok());
    ASSERT_EQ(approx->size(), 10u);
    EXPECT_EQ((*approx)[0].item_no, naive[0].second);  // ef=200 over 300 points: exact top-1.
    for (size_t i = 0; i + 1 < approx->size(); ++i) {
      EXPECT_LE((*approx)[i].distance, (*approx)[i + 1].distance);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllFloatMetrics, FloatSpaceTest,
                         ::testing::Values(Metric::kL2, Metric::kInnerProduct, Metric::kCosine));

TEST(HammingSpaceTest, DistancesMatchNaivePopcount) {
  for (int bits : {8, 61, 64, 200, 256}) {
    std::mt19937 rng(bits);
    auto index = MakeIndex(Metric::kHamming, bits);
    std::vector<std::string> codes;
    for (int i = 0; i < 200; ++i) {
      codes.push_back(RandomBits(&rng, bits));
      ASSERT_TRUE(index->Upsert(i + 1, codes.back()).ok());
    }
    std::string query = RandomBits(&rng, bits);
    auto exact = index->SearchExact(query, 200);
    ASSERT_TRUE(exact.ok());
    ASSERT_EQ(exact->size(), 200u);
    for (const Neighbor& n : *exact) {
      EXPECT_EQ(n.distance, NaiveHamming(query, codes[n.item_no - 1])) << bits;
    }
    auto approx = index->Search(query, 5, 200);
    ASSERT_TRUE(approx.ok());
    EXPECT_EQ((*approx)[0].distance, (*exact)[0].distance);
  }
}

TEST(HnswIndexTest, RejectsBadInput) {
  IndexConfig c;
  c.dim = 0;
  EXPECT_TRUE(absl::IsInvalidArgument(HnswIndex::Create(c).status()));
  auto index = MakeIndex(Metric::kL2, 4);
  EXPECT_TRUE(absl::IsInvalidArgument(index->Upsert(1, "abc")));
  EXPECT_TRUE(absl::IsInvalidArgument(index->Search("abc", 1).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(index->Search(std::string(16, '\0'), 0).status()));
  auto empty = index->Search(std::string(16, '\0'), 3);
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
}

TEST(HnswIndexTest, UpsertReplacesAndDeleteHidesAndUndeletes) {
  auto index = MakeIndex(Metric::kL2, 2);
  ASSERT_TRUE(index->Upsert(1, FloatCode({0, 0})).ok());
  ASSERT_TRUE(index->Upsert(2, FloatCode({10, 10})).ok());
  ASSERT_TRUE(index->Upsert(3, FloatCode({20, 20})).ok());
  auto near = [&](std::vector<float> q) { return (*index->Search(FloatCode(q), 1))[0].item_no; };
  EXPECT_EQ(near({9, 9}), 2u);
  // Replacing adds a node for the new vector and marks the old one deleted.
  ASSERT_TRUE(index->Upsert(2, FloatCode({100, 100})).ok());
  EXPECT_EQ(index->size(), 3u);
  EXPECT_EQ(index->deleted_count(), 1u);
  EXPECT_EQ(near({99, 99}), 2u);
  EXPECT_EQ(near({9, 9}), 1u);
  EXPECT_TRUE(*index->Delete(2));
  EXPECT_FALSE(*index->Delete(2));    // Already deleted.
  EXPECT_FALSE(*index->Delete(777));  // Absent.
  EXPECT_FALSE(index->Contains(2));
  EXPECT_EQ(index->size(), 2u);
  EXPECT_EQ(index->deleted_count(), 2u);
  EXPECT_EQ(near({99, 99}), 3u);
  auto all = index->SearchExact(FloatCode({0, 0}), 10);
  EXPECT_EQ(all->size(), 2u);
  // Upserting a deleted item number brings it back with the new vector.
  ASSERT_TRUE(index->Upsert(2, FloatCode({50, 50})).ok());
  EXPECT_TRUE(index->Contains(2));
  EXPECT_EQ(index->deleted_count(), 2u);
  EXPECT_EQ(index->size(), 3u);
  EXPECT_EQ(near({49, 49}), 2u);
  // A snapshot keeps the item number on its live node; compaction drops the old ones.
  std::string body;
  ASSERT_TRUE(index->Serialize(&body).ok());
  auto loaded = HnswIndex::Deserialize(index->config(), body);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ((*loaded)->size(), 3u);
  EXPECT_EQ((*loaded)->deleted_count(), 2u);
  EXPECT_EQ((*(*loaded)->Search(FloatCode({49, 49}), 1))[0].item_no, 2u);
  EXPECT_EQ((*(*loaded)->Search(FloatCode({19, 19}), 1))[0].item_no, 3u);
  ASSERT_TRUE(index->Compact().ok());
  EXPECT_EQ(index->deleted_count(), 0u);
  EXPECT_EQ(index->size(), 3u);
  EXPECT_EQ(near({49, 49}), 2u);
}

TEST(HnswIndexTest, GrowsBeyondInitialCapacityAndCompacts) {
  std::mt19937 rng(5);
  auto index = MakeIndex(Metric::kL2, 8, /*capacity=*/16);
  std::vector<std::vector<float>> data;
  for (int i = 0; i < 500; ++i) {
    data.push_back(RandomVector(&rng, 8));
    ASSERT_TRUE(index->Upsert(i, FloatCode(data.back())).ok());
  }
  EXPECT_GE(index->capacity(), 500u);
  const size_t bytes_before = index->MemoryBytes();
  EXPECT_GT(bytes_before, 500u * 8 * sizeof(float));
  for (int i = 0; i < 400; ++i) ASSERT_TRUE(*index->Delete(i));
  ASSERT_TRUE(index->Compact().ok());
  EXPECT_EQ(index->size(), 100u);
  EXPECT_EQ(index->deleted_count(), 0u);
  EXPECT_LT(index->capacity(), 500u + 1);
  for (int i = 400; i < 500; i += 7) {
    auto r = index->Search(FloatCode(data[i]), 1, 100);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ((*r)[0].item_no, static_cast<uint64_t>(i));
  }
}

TEST(HnswIndexTest, UpsertBatchGrowsOnceAndMatchesExact) {
  std::mt19937 rng(9);
  auto index = MakeIndex(Metric::kL2, 16, 8);
  std::vector<std::string> codes;
  std::vector<uint64_t> item_nos;
  for (int i = 0; i < 2000; ++i) {
    codes.push_back(FloatCode(RandomVector(&rng, 16)));
    item_nos.push_back(i * 3 + 1);
  }
  std::vector<absl::string_view> views(codes.begin(), codes.end());
  ASSERT_TRUE(index->UpsertBatch(item_nos, views).ok());
  EXPECT_EQ(index->size(), 2000u);
  int hits = 0;
  for (int q = 0; q < 50; ++q) {
    std::string query = FloatCode(RandomVector(&rng, 16));
    auto exact = index->SearchExact(query, 10);
    auto approx = index->Search(query, 10, 100);
    std::set<uint64_t> truth;
    for (auto& n : *exact) truth.insert(n.item_no);
    for (auto& n : *approx) hits += truth.count(n.item_no);
  }
  EXPECT_GT(hits, 50 * 10 * 8 / 10);  // Recall@10 well above 0.8 at ef=100 on 2000 points.
}

// The two-phase insert (neighbours found under the shared lock, links made under the exclusive
// one) builds exactly the graph of hnswlib's own addPoint. Compact() rebuilds the live nodes with
// hnswlib's addPoint, in node order, with the same seed and capacity: with no deletions, the
// serialized graphs must be byte-identical.
TEST(HnswIndexTest, InsertBuildsTheGraphHnswlibAddPointBuilds) {
  constexpr int kDim = 16, kPoints = 3000;
  std::mt19937 rng(21);
  auto index = MakeIndex(Metric::kL2, kDim, kPoints);
  std::vector<uint64_t> item_nos;
  std::vector<std::string> codes;
  for (int i = 0; i < kPoints; ++i) {
    const std::string code = FloatCode(RandomVector(&rng, kDim));
    if (i < kPoints / 2) {  // Half one at a time, half in one batch: both paths.
      ASSERT_TRUE(index->Upsert(i + 1, code).ok());
    } else {
      item_nos.push_back(i + 1);
      codes.push_back(code);
    }
  }
  ASSERT_TRUE(index->UpsertBatch(item_nos, {codes.begin(), codes.end()}).ok());
  std::string ours;
  ASSERT_TRUE(index->Serialize(&ours).ok());
  ASSERT_TRUE(index->Compact().ok());
  std::string reference;
  ASSERT_TRUE(index->Serialize(&reference).ok());
  ASSERT_EQ(ours.size(), reference.size());
  EXPECT_TRUE(ours == reference) << "the two-phase insert built a different graph";
}

// Serialize copies the graph into memory itself (ServingIndex::SaveSnapshot holds its catch-up
// lock only for that copy): its bytes must be exactly those of hnswlib's saveIndex, with upper
// layers, deleted nodes, re-upserted item numbers and spare capacity, for float and Hamming codes,
// and it appends to what the string already holds.
TEST(HnswIndexTest, SerializeWritesWhatHnswlibSaveIndexWrites) {
  for (const Metric m : {Metric::kL2, Metric::kHamming}) {
    constexpr int kDim = 24, kPoints = 1500;
    std::mt19937 rng(8);
    auto index = MakeIndex(m, kDim, 64);  // Grows by doubling: capacity above the node count.
    for (int i = 0; i < kPoints; ++i) {
      const std::string code =
          m == Metric::kHamming ? RandomBits(&rng, kDim) : FloatCode(RandomVector(&rng, kDim));
      ASSERT_TRUE(index->Upsert(i % 1200 + 1, code).ok());  // Items 1..300 upserted twice.
      if (i % 7 == 0) {
        ASSERT_TRUE(index->Delete(i / 2 + 1).ok());
      }
    }
    ASSERT_GT(index->deleted_count(), 0u);
    ASSERT_GT(index->capacity(), kPoints);
    std::string reference;
    ASSERT_TRUE(index->SerializeWithHnswlibForTesting(&reference).ok());
    std::string ours = "prefix";
    ASSERT_TRUE(index->Serialize(&ours).ok());
    ASSERT_EQ(ours.substr(0, 6), "prefix");
    ASSERT_EQ(ours.size() - 6, reference.size()) << MetricName(m);
    EXPECT_TRUE(ours.compare(6, std::string::npos, reference) == 0) << MetricName(m);
    auto loaded = HnswIndex::Deserialize(index->config(), absl::string_view(ours).substr(6));
    ASSERT_TRUE(loaded.ok()) << loaded.status();
    EXPECT_EQ((*loaded)->size(), index->size());
    EXPECT_EQ((*loaded)->deleted_count(), index->deleted_count());
  }
}

// Search's own base-layer search (batched prefetches, a per-thread visited bitset) must visit
// the graph as hnswlib's searchBaseLayerST does: the same neighbours at the same distances, for
// several ef, with and without deleted nodes, on an index large enough for many expansions.
TEST(HnswIndexTest, SearchFindsWhatHnswlibsBaseLayerSearchFinds) {
  for (const Metric m : {Metric::kL2, Metric::kInnerProduct}) {
    constexpr int kDim = 30, kPoints = 4000;
    std::mt19937 rng(5);
    auto index = MakeIndex(m, kDim, kPoints);
    std::vector<uint64_t> item_nos;
    std::vector<std::string> codes;
    for (int i = 0; i < kPoints; ++i) {
      item_nos.push_back(i + 1);
      codes.push_back(FloatCode(RandomVector(&rng, kDim)));
    }
    ASSERT_TRUE(index->UpsertBatch(item_nos, {codes.begin(), codes.end()}).ok());
    for (const bool with_deletions : {false, true}) {
      if (with_deletions) {
        for (uint64_t item_no = 1; item_no <= kPoints; item_no += 7) {
          ASSERT_TRUE(index->Delete(item_no).ok());
        }
      }
      for (size_t ef : {10, 40, 200}) {
        for (int q = 0; q < 50; ++q) {
          const std::string query = FloatCode(RandomVector(&rng, kDim));
          auto ours = index->Search(query, 10, ef);
          auto theirs = index->SearchWithHnswlibForTesting(query, 10, ef);
          ASSERT_TRUE(ours.ok() && theirs.ok());
          ASSERT_EQ(ours->size(), 10u);
          ASSERT_EQ(ours->size(), theirs->size());
          for (size_t i = 0; i < ours->size(); ++i) {
            EXPECT_EQ((*ours)[i].item_no, (*theirs)[i].item_no)
                << "metric " << MetricName(m) << " ef " << ef << " rank " << i;
            EXPECT_EQ((*ours)[i].distance, (*theirs)[i].distance);
            if (with_deletions) {
              EXPECT_NE((*ours)[i].item_no % 7, 1u);
            }
          }
        }
      }
    }
  }
}

TEST(HnswIndexTest, SerializeRoundTrip) {
  std::mt19937 rng(2);
  auto index = MakeIndex(Metric::kCosine, 12);
  for (int i = 0; i < 200; ++i)
    ASSERT_TRUE(index->Upsert(i, FloatCode(RandomVector(&rng, 12))).ok());
  ASSERT_TRUE(*index->Delete(5));
  std::string body;
  ASSERT_TRUE(index->Serialize(&body).ok());
  auto loaded = HnswIndex::Deserialize(index->config(), body);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ((*loaded)->size(), 199u);
  EXPECT_FALSE((*loaded)->Contains(5));
  std::string q = FloatCode(RandomVector(&rng, 12));
  auto a = index->SearchExact(q, 7);
  auto b = (*loaded)->SearchExact(q, 7);
  for (int i = 0; i < 7; ++i) EXPECT_EQ((*a)[i].item_no, (*b)[i].item_no);
  EXPECT_FALSE(HnswIndex::Deserialize(index->config(), body.substr(0, body.size() / 2)).ok());
  IndexConfig other = index->config();
  other.dim = 13;
  EXPECT_FALSE(HnswIndex::Deserialize(other, body).ok());
}

// Several threads insert, update and delete while others search. Run under TSan to check locking.
TEST(HnswIndexTest, ConcurrentInsertAndSearch) {
  auto index = MakeIndex(Metric::kL2, 8, /*capacity=*/32);  // Forces resizes during the run.
  std::atomic<bool> done{false};
  std::atomic<int> writers_left{2};
  std::vector<std::thread> threads;
  for (int w = 0; w < 2; ++w) {
    threads.emplace_back([&, w] {
      std::mt19937 rng(100 + w);
      for (int i = 0; i < 400; ++i) {
        const uint64_t item_no = w * 100000 + i;
        ASSERT_TRUE(index->Upsert(item_no, FloatCode(RandomVector(&rng, 8))).ok());
        if (i % 10 == 9) {
          ASSERT_TRUE(index->Delete(item_no - 5).ok());
        }
        if (w == 0 && i == 200) {
          ASSERT_TRUE(index->Compact().ok());  // Concurrent with searches and the other writer.
        }
        if (i % 7 == 0) {
          ASSERT_TRUE(index->Upsert(item_no, FloatCode(RandomVector(&rng, 8))).ok());
        }
      }
      if (--writers_left == 0) done = true;
    });
  }
  std::atomic<long> searches{0};
  for (int r = 0; r < 2; ++r) {
    threads.emplace_back([&, r] {
      std::mt19937 rng(200 + r);
      while (!done) {
        std::string q = FloatCode(RandomVector(&rng, 8));
        auto res = index->Search(q, 5, 20);
        ASSERT_TRUE(res.ok());
        auto exact = index->SearchExact(q, 3);
        ASSERT_TRUE(exact.ok());
        (void)index->MemoryBytes();
        ++searches;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(index->size(), 800u - 80u);
  EXPECT_GT(searches.load(), 0);
}

}  // namespace
}  // namespace bn
