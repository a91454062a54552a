// RangeIndex (server/core/range_index.h) against a std::set of the same (value, item) pairs:
// random inserts and erases with small blocks (splits and merges happen), then counts and lists
// for random half-open bounds, infinite ones, empty ones and -0.0 / 0.0.
#include "server/core/range_index.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <set>
#include <vector>

#include "gtest/gtest.h"

namespace bn::testing {
namespace {

using Key = RangeIndex::Key;
constexpr double kInf = std::numeric_limits<double>::infinity();

// What the index must answer for [lower, upper), computed from the reference set.
std::vector<uint64_t> InRange(const std::set<Key>& keys, double lower, double upper) {
  std::vector<uint64_t> out;
  for (const Key& k : keys) {
    if (k.first >= lower && k.first < upper) out.push_back(k.second);
  }
  return out;
}

void ExpectSameAnswers(const RangeIndex& index, const std::set<Key>& keys, std::mt19937_64* rng,
                       const std::vector<double>& values) {
  std::vector<double> bounds = values;
  bounds.insert(bounds.end(), {-kInf, kInf, -0.0, 0.0, 0.5, 100.0, -100.0});
  for (int q = 0; q < 200; ++q) {
    const double lower = bounds[(*rng)() % bounds.size()];
    const double upper = bounds[(*rng)() % bounds.size()];
    const std::vector<uint64_t> want = InRange(keys, lower, upper);
    EXPECT_EQ(index.Count(lower, upper), want.size()) << lower << " " << upper;
    std::vector<uint64_t> got;
    index.Items(lower, upper, &got);
    EXPECT_EQ(got, want) << lower << " " << upper;  // In (value, item) order, as the set's.
  }
}

TEST(RangeIndexTest, CountsAndListsLikeASortedSetThroughSplitsAndMerges) {
  std::mt19937_64 rng(5);
  const std::vector<double> values = {-3, -1.5, -0.0, 0.0, 1, 2, 2.5, 7, 1e300, -1e-300};
  for (size_t block : {1, 2, 4, 512}) {
    // Built from sorted keys, then edited.
    std::set<Key> keys;
    for (uint64_t item = 0; item < 60; ++item) keys.insert({values[rng() % values.size()], item});
    RangeIndex index(std::vector<Key>(keys.begin(), keys.end()), block);
    ExpectSameAnswers(index, keys, &rng, values);
    size_t max_blocks = 0;
    for (int round = 0; round < 30; ++round) {
      // Mostly inserts in early rounds, mostly erases later (blocks shrink and merge).
      const bool grow = round < 15;
      for (int e = 0; e < 40; ++e) {
        const uint64_t item = rng() % 300;
        auto it =
            std::find_if(keys.begin(), keys.end(), [&](const Key& k) { return k.second == item; });
        if (it != keys.end()) {  // An item holds one value: erase it first (an overwrite).
          index.Erase(it->first, it->second);
          keys.erase(it);
        }
        if (grow ? rng() % 4 != 0 : rng() % 4 == 0) {
          const double v = values[rng() % values.size()];
          index.Insert(v, item);
          keys.insert({v, item});
        }
      }
      index.Erase(12345, 999999);  // Absent: no-op.
      ExpectSameAnswers(index, keys, &rng, values);
      max_blocks = std::max(max_blocks, index.blocks());
    }
    if (block <= 4) {
      EXPECT_GT(max_blocks, 10u) << block;  // Splits happened.
    }
    // Merges keep the block count bounded by the size: at most one small block per full one.
    EXPECT_LE(index.blocks(), 1 + 4 * keys.size() / std::max<size_t>(1, block)) << block;
  }
}

}  // namespace
}  // namespace bn::testing
