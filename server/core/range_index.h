// The range index of one numeric metadata key (attribute_table.h): the items holding a numeric
// value of it, ordered by (value, item number), in sorted blocks of at most 2 * block entries
// (neighbours merged when one falls under block / 2). An edit moves at most one or two blocks'
// entries (O(log n + block)); counting a range sums the sizes of the blocks before two
// positions (O(log n + n / block)); listing it reads the entries in it.
// Why blocks (bench/range_index.cc at 1M items; docs/notes/vector-db.md, vdb5): build 9 ms after
// the sort, 1.9 us per overwrite, 1.6 us per count; an order-statistics tree (libstdc++'s pb_ds)
// took 0.4-3 s to build (load-dependent), 2x longer per edit and ~64 bytes per item (blocks:
// 16-32); one sorted vector moves 16 MB per overwrite (0.5-1.6 ms).
//
// Values compare as doubles (-0.0 == 0.0, as the filter compares them); NaN must not be inserted.
// Thread safety: none (the attribute table's lock guards it).
#ifndef BOTTLENECK_SERVER_CORE_RANGE_INDEX_H_
#define BOTTLENECK_SERVER_CORE_RANGE_INDEX_H_

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace bn {

class RangeIndex {
 public:
  using Key = std::pair<double, uint64_t>;  // (value, item number).

  // From `keys`, sorted and unique.
  explicit RangeIndex(const std::vector<Key>& keys = {}, size_t block = 512) : block_(block) {
    for (size_t i = 0; i < keys.size(); i += block_) {
      blocks_.emplace_back(keys.begin() + i, keys.begin() + std::min(keys.size(), i + block_));
    }
  }

  void Insert(double value, uint64_t item_no) {
    const Key key{value, item_no};
    if (blocks_.empty()) {
      blocks_.push_back({key});
      return;
    }
    const size_t b = std::min(BlockFor(key), blocks_.size() - 1);
    std::vector<Key>& block = blocks_[b];
    auto at = std::lower_bound(block.begin(), block.end(), key);
    if (at != block.end() && *at == key) return;  // Present.
    block.insert(at, key);
    if (block.size() > 2 * block_) {
      std::vector<Key> upper(block.begin() + block_, block.end());
      block.resize(block_);
      blocks_.insert(blocks_.begin() + b + 1, std::move(upper));
    }
  }

  void Erase(double value, uint64_t item_no) {
    const Key key{value, item_no};
    size_t b = BlockFor(key);
    if (b == blocks_.size()) return;
    std::vector<Key>& block = blocks_[b];
    auto at = std::lower_bound(block.begin(), block.end(), key);
    if (at == block.end() || *at != key) return;
    block.erase(at);
    if (!block.empty() && block.size() >= block_ / 2) return;
    // Small: merge with a neighbour when the two fit in one block, or drop it when empty.
    if (b + 1 < blocks_.size() && block.size() + blocks_[b + 1].size() <= 2 * block_) {
      block.insert(block.end(), blocks_[b + 1].begin(), blocks_[b + 1].end());
      blocks_.erase(blocks_.begin() + b + 1);
    } else if (b > 0 && blocks_[b - 1].size() + block.size() <= 2 * block_) {
      blocks_[b - 1].insert(blocks_[b - 1].end(), block.begin(), block.end());
      blocks_.erase(blocks_.begin() + b);
    } else if (block.empty()) {
      blocks_.erase(blocks_.begin() + b);
    }
  }

  // The number of items with lower <= value < upper (bounds may be infinite).
  size_t Count(double lower, double upper) const {
    if (!(lower < upper)) return 0;
    return Rank({upper, 0}) - Rank({lower, 0});
  }

  // Appends those items' numbers, in (value, item number) order, to `out`.
  void Items(double lower, double upper, std::vector<uint64_t>* out) const {
    if (!(lower < upper)) return;
    const Key from{lower, 0};
    for (size_t b = BlockFor(from); b < blocks_.size(); ++b) {
      const std::vector<Key>& block = blocks_[b];
      for (auto it = std::lower_bound(block.begin(), block.end(), from); it != block.end(); ++it) {
        if (!(it->first < upper)) return;
        out->push_back(it->second);
      }
    }
  }

  size_t blocks() const { return blocks_.size(); }

 private:
  // The first block whose last key is >= key (blocks_.size() when none).
  size_t BlockFor(const Key& key) const {
    return std::lower_bound(
               blocks_.begin(), blocks_.end(), key,
               [](const std::vector<Key>& block, const Key& k) { return block.back() < k; }) -
           blocks_.begin();
  }

  // The number of keys < key.
  size_t Rank(const Key& key) const {
    const size_t b = BlockFor(key);
    size_t rank = 0;
    for (size_t i = 0; i < b; ++i) rank += blocks_[i].size();
    if (b < blocks_.size()) {
      rank += std::lower_bound(blocks_[b].begin(), blocks_[b].end(), key) - blocks_[b].begin();
    }
    return rank;
  }

  size_t block_;
  std::vector<std::vector<Key>> blocks_;  // Each non-empty and sorted; concatenated: sorted.
};

}  // namespace bn

#endif  // BOTTLENECK_SERVER_CORE_RANGE_INDEX_H_
