// The range index of a numeric indexed key (server/core/range_index.h) against the two simpler
// structures considered, at N items with distinct random values (like the bench's "rank"):
// build from N items, one overwrite (erase the old value, insert the new: what a refresh does
// per changed item), counting a range of 1,000 and listing + sorting its item numbers (what a
// filtered search's plan and candidates cost).
//   bench_range_index [--n 1000000]
#include "server/core/range_index.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ext/pb_ds/assoc_container.hpp>
#include <ext/pb_ds/tree_policy.hpp>
#include <functional>
#include <numeric>
#include <random>
#include <vector>

namespace {

using Key = bn::RangeIndex::Key;
using Clock = std::chrono::steady_clock;
double Us(Clock::time_point t0, int ops) {
  return 1e6 * std::chrono::duration<double>(Clock::now() - t0).count() / ops;
}

// An order-statistics tree (libstdc++ policy-based data structures).
using Tree = __gnu_pbds::tree<Key, __gnu_pbds::null_type, std::less<Key>, __gnu_pbds::rb_tree_tag,
                              __gnu_pbds::tree_order_statistics_node_update>;

template <typename Insert, typename Erase, typename Count, typename List>
void Measure(size_t n, std::vector<uint64_t> value, Insert insert, Erase erase, Count count,
             List list) {
  std::mt19937_64 rng(1);
  constexpr int kEdits = 20000, kCounts = 20000, kLists = 1000;
  Clock::time_point t0 = Clock::now();
  for (int i = 0; i < kEdits; ++i) {
    const uint64_t item = rng() % n;
    erase(static_cast<double>(value[item]), item);
    value[item] = rng() % n;
    insert(static_cast<double>(value[item]), item);
  }
  const double edit_us = Us(t0, kEdits);
  t0 = Clock::now();
  size_t total = 0;
  for (int i = 0; i < kCounts; ++i) {
    const double lo = static_cast<double>(rng() % n);
    total += count(lo, lo + 1000);
  }
  const double count_us = Us(t0, kCounts);
  t0 = Clock::now();
  std::vector<uint64_t> out;
  for (int i = 0; i < kLists; ++i) {
    out.clear();
    const double lo = static_cast<double>(rng() % n);
    list(lo, lo + 1000, &out);
    std::sort(out.begin(), out.end());
  }
  std::printf("| %.2f | %.2f | %.1f | %zu |\n", edit_us, count_us, Us(t0, kLists), total / kCounts);
}

}  // namespace

int main(int argc, char** argv) {
  size_t n = 1000000;
  if (argc == 3 && std::strcmp(argv[1], "--n") == 0) n = std::strtoull(argv[2], nullptr, 10);
  if (n < 2000) n = 2000;
  std::vector<uint64_t> value(n);
  std::iota(value.begin(), value.end(), 0);
  std::shuffle(value.begin(), value.end(), std::mt19937_64(24));
  std::vector<Key> keys;
  for (size_t i = 0; i < n; ++i) keys.emplace_back(static_cast<double>(value[i]), i);
  Clock::time_point t0 = Clock::now();
  std::vector<Key> sorted = keys;
  std::sort(sorted.begin(), sorted.end());
  const double sort_ms = Us(t0, 1) / 1000;
  std::printf("N = %zu; sorting the (value, item) pairs: %.0f ms\n", n, sort_ms);
  std::printf(
      "| structure | build ms (after the sort) | overwrite us | count us | list+sort 1000 us | "
      "mean count |\n|---|---|---|---|---|---|\n");

  t0 = Clock::now();
  bn::RangeIndex blocks(sorted);
  std::printf("| sorted blocks (RangeIndex) | %.0f ", Us(t0, 1) / 1000);
  Measure(
      n, value, [&](double v, uint64_t i) { blocks.Insert(v, i); },
      [&](double v, uint64_t i) { blocks.Erase(v, i); },
      [&](double lo, double hi) { return blocks.Count(lo, hi); },
      [&](double lo, double hi, std::vector<uint64_t>* out) { blocks.Items(lo, hi, out); });

  t0 = Clock::now();
  Tree tree;
  for (const Key& k : sorted) tree.insert(k);
  std::printf("| order-statistics tree (pb_ds) | %.0f ", Us(t0, 1) / 1000);
  Measure(
      n, value,
      [&](double v, uint64_t i) {
        tree.insert({v, i});
      },
      [&](double v, uint64_t i) {
        tree.erase({v, i});
      },
      [&](double lo, double hi) {
        return tree.order_of_key({hi, 0}) - tree.order_of_key({lo, 0});
      },
      [&](double lo, double hi, std::vector<uint64_t>* out) {
        for (auto it = tree.lower_bound({lo, 0}); it != tree.end() && it->first < hi; ++it) {
          out->push_back(it->second);
        }
      });

  std::vector<Key> vec = sorted;
  std::printf("| one sorted vector | 0 ");
  Measure(
      n, value,
      [&](double v, uint64_t i) {
        const Key k{v, i};
        vec.insert(std::lower_bound(vec.begin(), vec.end(), k), k);
      },
      [&](double v, uint64_t i) {
        vec.erase(std::lower_bound(vec.begin(), vec.end(), Key{v, i}));
      },
      [&](double lo, double hi) {
        return std::lower_bound(vec.begin(), vec.end(), Key{hi, 0}) -
               std::lower_bound(vec.begin(), vec.end(), Key{lo, 0});
      },
      [&](double lo, double hi, std::vector<uint64_t>* out) {
        for (auto it = std::lower_bound(vec.begin(), vec.end(), Key{lo, 0});
             it != vec.end() && it->first < hi; ++it) {
          out->push_back(it->second);
        }
      });
  return 0;
}
