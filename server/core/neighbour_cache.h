// What a search returns about each neighbour besides its distance (item id, label, metadata),
// cached by item number, so that a search does not read its neighbours' records from RocksDB
// (two MultiGets and a record parse per search were a quarter of the server's CPU at 16
// concurrent searches by code).
//
// The store stays the source of truth; the cache only holds what was read from it.
// Consistency contract:
//   - Every path that changes items calls Invalidate(item_nos) (or InvalidateAll()) after its
//     store write and before it acknowledges: ItemIngest (upserts, deletes) on a primary,
//     the catch-up of a follower.
//   - A search looks its item numbers up; for each miss it gets a stamp, reads the store, and
//   offers
//     what it read with Fill(item_no, stamp, value). Fill refuses the value when the item number
//     was invalidated after the stamp was taken, so a read that raced a write never caches what the
//     write replaced. Hence, once a write is acknowledged, no search returns the old head.
//
// Bounded: at most `capacity` entries (0 disables the cache: every Lookup misses and Fill keeps
// nothing). A full shard drops one arbitrary entry per fill.
//
// Thread safety: every method may be called from any thread. Lookups and fills lock one of 64
// shards for a hash-map operation.
#ifndef BOTTLENECK_SERVER_CORE_NEIGHBOUR_CACHE_H_
#define BOTTLENECK_SERVER_CORE_NEIGHBOUR_CACHE_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "bottleneck/v1/query.pb.h"

namespace bn {

class NeighbourCache {
 public:
  // A neighbour's id, label and metadata; its distance is left 0.
  using Head = std::shared_ptr<const bottleneck::v1::Neighbor>;

  explicit NeighbourCache(size_t capacity);
  NeighbourCache(const NeighbourCache&) = delete;
  NeighbourCache& operator=(const NeighbourCache&) = delete;

  // The cached head of `item_no`, or nullptr with *stamp set for a later Fill.
  [[nodiscard]] Head Lookup(uint64_t item_no, uint64_t* stamp) const;

  // Caches `head` for `item_no` unless it was invalidated since Lookup gave `stamp`.
  void Fill(uint64_t item_no, uint64_t stamp, Head head);

  void Invalidate(const std::vector<uint64_t>& item_nos);
  void InvalidateAll();

  struct Stats {
    size_t items = 0;     // Heads held.
    uint64_t hits = 0;    // Lookups answered from memory...
    uint64_t misses = 0;  // ...and lookups that had to read the store.
  };
  [[nodiscard]] Stats stats() const;
  [[nodiscard]] size_t size() const { return stats().items; }
  [[nodiscard]] size_t capacity() const { return capacity_; }

 private:
  static constexpr size_t kShards = 64;
  struct Shard {
    mutable std::mutex mu;
    uint64_t generation = 0;  // Bumped (under mu) by every invalidation in this shard.
    std::unordered_map<uint64_t, Head> heads;
    mutable uint64_t hits = 0, misses = 0;  // Counted under mu, which Lookup holds anyway.
  };
  static size_t ShardOf(uint64_t item_no) { return (item_no * 0x9E3779B97F4A7C15ull) >> 58; }

  const size_t capacity_;
  const size_t per_shard_;
  std::array<Shard, kShards> shards_;
};

}  // namespace bn

#endif  // BOTTLENECK_SERVER_CORE_NEIGHBOUR_CACHE_H_
