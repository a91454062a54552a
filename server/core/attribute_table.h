// The labels and metadata of every item of one collection, in memory, keyed by item number: what
// filtered searches evaluate their filter on for each node the HNSW walk visits (a RocksDB read
// per node would cost more than the walk). Loaded from the store on first use (a scan of the
// items), then kept in step by invalidation, like the neighbour cache:
//   - every path that changes items calls Invalidate(item_nos) (or InvalidateAll()) after its
//     store write and before it acknowledges (the same places as NeighbourCache::Invalidate);
//   - Acquire() re-reads the invalidated item numbers from the store before it hands out a reader.
// Hence a filtered search that starts after a write was acknowledged sees that write.
// Until the first Acquire() nothing is held and invalidations are not recorded.
//
// Thread safety: any thread. Readers share a lock; refreshes serialise among themselves and take
// the lock exclusively only to apply what they read.
#ifndef BOTTLENECK_SERVER_CORE_ATTRIBUTE_TABLE_H_
#define BOTTLENECK_SERVER_CORE_ATTRIBUTE_TABLE_H_

#include <atomic>
#include <cstdint>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "absl/status/statusor.h"
#include "server/core/item_filter.h"

namespace bn {

class Store;

class AttributeTable {
 public:
  explicit AttributeTable(std::string collection) : collection_(std::move(collection)) {}
  AttributeTable(const AttributeTable&) = delete;
  AttributeTable& operator=(const AttributeTable&) = delete;

  // A read view; holds the table's shared lock while alive.
  class Reader {
   public:
    const ItemAttrs* Find(uint64_t item_no) const {
      auto it = table_->pos_.find(item_no);
      return it == table_->pos_.end() ? nullptr : &table_->entries_[it->second].attrs;
    }
    size_t size() const { return table_->entries_.size(); }
    // Estimated number of items matching `filter`, from an evenly strided sample of at most
    // `sample` items (exact when the table holds no more).
    size_t EstimateMatches(const CompiledFilter& filter, size_t sample = 1024) const;
    // Labels of all items matching `filter` (a scan of the table).
    std::vector<uint64_t> Matching(const CompiledFilter& filter) const;

   private:
    friend class AttributeTable;
    explicit Reader(const AttributeTable* table) : table_(table), lock_(table->mu_) {}
    const AttributeTable* table_;
    std::shared_lock<std::shared_mutex> lock_;
  };

  // Brings the table up to the store (loads it on first use) and returns a reader.
  [[nodiscard]] absl::StatusOr<Reader> Acquire(Store* store);

  void Invalidate(const std::vector<uint64_t>& item_nos);
  void InvalidateAll();

 private:
  struct Entry {
    uint64_t item_no;
    ItemAttrs attrs;
  };
  absl::Status LoadAll(Store* store);                                  // refresh_mu_ held
  absl::Status Reload(Store* store, const std::vector<uint64_t>& ls);  // refresh_mu_ held
  void Put(uint64_t item_no, ItemAttrs attrs);                         // mu_ held exclusively
  void Erase(uint64_t item_no);                                        // mu_ held exclusively

  const std::string collection_;
  std::mutex refresh_mu_;  // Serialises refreshes.
  std::mutex dirty_mu_;    // Guards tracking_, all_dirty_ and dirty_.
  bool tracking_ = false;  // A load started: record invalidations from now on.
  bool all_dirty_ = false;
  std::unordered_set<uint64_t> dirty_;
  std::atomic<bool> stale_{true};  // Something to refresh (or never loaded).
  mutable std::shared_mutex mu_;   // Guards entries_ and pos_.
  std::vector<Entry> entries_;
  std::unordered_map<uint64_t, uint32_t> pos_;  // item number -> index in entries_.
};

}  // namespace bn

#endif  // BOTTLENECK_SERVER_CORE_ATTRIBUTE_TABLE_H_
