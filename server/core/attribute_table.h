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
// Secondary index (CollectionSpec.indexed_metadata_keys): for the label and each indexed metadata
// key, a posting list per value (the item numbers holding it, ascending), maintained by the same
// loads and refreshes as the entries, so postings == what the entries hold at every reader.
// Range index: for each key both indexed and numeric (CollectionSpec.numeric_metadata_keys), the
// items with a numeric value of it ordered by (value, item number) (range_index.h): a range
// counts its items without reading them and lists them in O(log n + matches); a refresh edits it
// per changed item (no pass over all items). They are derived, like the table: the store holds only
// the items (docs/notes/vector-db.md has why: the filter needs them in memory anyway; rebuilding
// them costs a fraction of the load).
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
#include "server/core/range_index.h"

namespace bn {

class Store;

class AttributeTable {
 public:
  // Value -> item numbers holding it (ascending, never empty).
  using PostingMap = std::unordered_map<std::string, std::vector<uint64_t>>;

  // `indexed_keys`: the metadata keys to keep postings for (the label always has them); those
  // also in `numeric_keys` get a range index too.
  // use_index false, or BN_FILTER_INDEX=0 in the environment, hides the postings and range
  // indexes from readers (tests and benchmarks: the same data without the index).
  explicit AttributeTable(std::string collection, std::vector<std::string> indexed_keys = {},
                          const std::vector<std::string>& numeric_keys = {}, bool use_index = true);
  AttributeTable(const AttributeTable&) = delete;
  AttributeTable& operator=(const AttributeTable&) = delete;

  // A read view; holds the table's shared lock while alive.
  class Reader : public PostingLookup {
   public:
    const ItemAttrs* Find(uint64_t item_no) const {
      auto it = table_->pos_.find(item_no);
      return it == table_->pos_.end() ? nullptr : &table_->entries_[it->second].attrs;
    }
    // The id of an item, or nullptr.
    const std::string* Id(uint64_t item_no) const {
      auto it = table_->pos_.find(item_no);
      return it == table_->pos_.end() ? nullptr : &table_->entries_[it->second].id;
    }
    size_t size() const { return table_->entries_.size(); }
    // Estimated number of items matching `filter`, from an evenly strided sample of at most
    // `sample` items (exact when the table holds no more).
    size_t EstimateMatches(const CompiledFilter& filter, size_t sample = 1024) const;
    // Item numbers of all items matching `filter`: from the filter's index plan (item_filter.h)
    // when it is exact (the postings only: no item is touched) or names fewer than a quarter of
    // the items (ascending then), else a scan of the table.
    std::vector<uint64_t> Matching(const CompiledFilter& filter) const;
    // The items among `candidates` that exist and match `filter`.
    std::vector<uint64_t> MatchingAmong(const CompiledFilter& filter,
                                        const std::vector<uint64_t>& candidates) const;

    // PostingLookup.
    bool Indexed(bool on_label, const std::string& key) const override {
      return PostingsOf(on_label, key) != nullptr;
    }
    const std::vector<uint64_t>* Postings(bool on_label, const std::string& key,
                                          const std::string& value) const override;
    // The posting lists of the label or of an indexed key; nullptr for a key not indexed.
    const PostingMap* PostingsOf(bool on_label, const std::string& key) const;
    bool RangeIndexed(const std::string& key) const override {
      return table_->RangeOf(key) != nullptr;
    }
    size_t RangeCount(const std::string& key, double lower, double upper) const override;
    void RangeItems(const std::string& key, double lower, double upper,
                    std::vector<uint64_t>* out) const override;

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
    std::string id;
    ItemAttrs attrs;
  };
  class PostingEdits;
  absl::Status LoadAll(Store* store);                                  // refresh_mu_ held
  absl::Status Reload(Store* store, const std::vector<uint64_t>& ls);  // refresh_mu_ held
  // mu_ held exclusively for the three below.
  void Put(Entry entry, PostingEdits* edits);
  void Erase(uint64_t item_no, PostingEdits* edits);
  // The values `attrs` gives the indexed fields: (slot in postings_, value) pairs.
  std::vector<std::pair<size_t, const std::string*>> IndexedValues(const ItemAttrs& attrs) const;
  // Adds (add) or removes the item's numeric values of the range-indexed keys.
  void EditRanges(const Entry& entry, bool add);
  // The range index of `key`; nullptr when there is none or the index is hidden.
  const RangeIndex* RangeOf(const std::string& key) const;

  const std::string collection_;
  std::mutex refresh_mu_;  // Serialises refreshes.
  std::mutex dirty_mu_;    // Guards tracking_, all_dirty_ and dirty_.
  bool tracking_ = false;  // A load started: record invalidations from now on.
  bool all_dirty_ = false;
  std::unordered_set<uint64_t> dirty_;
  std::atomic<bool> stale_{true};  // Something to refresh (or never loaded).
  mutable std::shared_mutex mu_;   // Guards entries_ and pos_.
  std::vector<Entry> entries_;
  std::unordered_map<uint64_t, uint32_t> pos_;   // item number -> index in entries_.
  const std::vector<std::string> indexed_keys_;  // Sorted, unique.
  // postings_[0]: the label's; postings_[1 + i]: indexed_keys_[i]'s. Guarded by mu_.
  std::vector<PostingMap> postings_;
  const std::vector<std::string> range_keys_;  // Sorted: indexed_keys_ that are numeric.
  std::vector<RangeIndex> ranges_;             // ranges_[i]: range_keys_[i]'s. Guarded by mu_.
  // False for use_index false or BN_FILTER_INDEX=0: the postings are kept but the planner is
  // told nothing is indexed.
  bool index_enabled_ = true;
};

}  // namespace bn

#endif  // BOTTLENECK_SERVER_CORE_ATTRIBUTE_TABLE_H_
