#include "server/core/neighbour_cache.h"

#include <utility>

namespace bn {

NeighbourCache::NeighbourCache(size_t capacity)
    : capacity_(capacity), per_shard_(capacity == 0 ? 0 : (capacity + kShards - 1) / kShards) {}

NeighbourCache::Head NeighbourCache::Lookup(uint64_t item_no, uint64_t* stamp) const {
  const Shard& shard = shards_[ShardOf(item_no)];
  std::lock_guard<std::mutex> lock(shard.mu);
  auto it = shard.heads.find(item_no);
  if (it != shard.heads.end()) {
    ++shard.hits;
    return it->second;
  }
  ++shard.misses;
  *stamp = shard.generation;
  return nullptr;
}

void NeighbourCache::Fill(uint64_t item_no, uint64_t stamp, Head head) {
  if (per_shard_ == 0 || head == nullptr) return;
  Shard& shard = shards_[ShardOf(item_no)];
  std::lock_guard<std::mutex> lock(shard.mu);
  if (shard.generation != stamp) return;  // Invalidated since the store was read.
  if (shard.heads.size() >= per_shard_ && shard.heads.find(item_no) == shard.heads.end()) {
    shard.heads.erase(shard.heads.begin());
  }
  shard.heads[item_no] = std::move(head);
}

void NeighbourCache::Invalidate(const std::vector<uint64_t>& item_nos) {
  for (uint64_t item_no : item_nos) {
    if (item_no == 0) continue;  // A delete of a missing id.
    Shard& shard = shards_[ShardOf(item_no)];
    std::lock_guard<std::mutex> lock(shard.mu);
    shard.heads.erase(item_no);
    ++shard.generation;
  }
}

void NeighbourCache::InvalidateAll() {
  for (Shard& shard : shards_) {
    std::lock_guard<std::mutex> lock(shard.mu);
    shard.heads.clear();
    ++shard.generation;
  }
}

NeighbourCache::Stats NeighbourCache::stats() const {
  Stats stats;
  for (const Shard& shard : shards_) {
    std::lock_guard<std::mutex> lock(shard.mu);
    stats.items += shard.heads.size();
    stats.hits += shard.hits;
    stats.misses += shard.misses;
  }
  return stats;
}

}  // namespace bn
