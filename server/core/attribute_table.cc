#include "server/core/attribute_table.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <map>
#include <optional>

#include "bottleneck/v1/common.pb.h"
#include "engine/store/collection_store.h"

namespace bn {

namespace v1 = ::bottleneck::v1;

// Changes to posting lists gathered over one load or refresh, applied in one pass per list (a
// delete by filter removes many items from one list: one erase each would be quadratic).
class AttributeTable::PostingEdits {
 public:
  void Remove(size_t slot, const std::string& value, uint64_t item_no) {
    edits_[{slot, value}].remove.push_back(item_no);
  }
  void Add(size_t slot, const std::string& value, uint64_t item_no) {
    edits_[{slot, value}].add.push_back(item_no);
  }
  void Apply(std::vector<PostingMap>* postings) {
    for (auto& [where, edit] : edits_) {
      PostingMap& map = (*postings)[where.first];
      std::vector<uint64_t>& list = map[where.second];
      if (!edit.remove.empty()) {
        std::sort(edit.remove.begin(), edit.remove.end());
        list.erase(std::remove_if(list.begin(), list.end(),
                                  [&](uint64_t n) {
                                    return std::binary_search(edit.remove.begin(),
                                                              edit.remove.end(), n);
                                  }),
                   list.end());
      }
      if (!edit.add.empty()) {
        const size_t old_size = list.size();
        list.insert(list.end(), edit.add.begin(), edit.add.end());
        if (!std::is_sorted(list.begin() + old_size, list.end())) {
          std::sort(list.begin() + old_size, list.end());
        }
        if (old_size > 0 && list[old_size - 1] > list[old_size]) {
          std::inplace_merge(list.begin(), list.begin() + old_size, list.end());
        }
        list.erase(std::unique(list.begin(), list.end()), list.end());
      }
      if (list.empty()) map.erase(where.second);
    }
    edits_.clear();
  }

 private:
  struct Edit {
    std::vector<uint64_t> remove, add;
  };
  std::map<std::pair<size_t, std::string>, Edit> edits_;
};

namespace {

std::vector<std::string> SortedUnique(std::vector<std::string> keys) {
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  return keys;
}

std::vector<std::string> Intersection(const std::vector<std::string>& sorted,
                                      std::vector<std::string> other) {
  other = SortedUnique(std::move(other));
  std::vector<std::string> out;
  std::set_intersection(sorted.begin(), sorted.end(), other.begin(), other.end(),
                        std::back_inserter(out));
  return out;
}

}  // namespace

AttributeTable::AttributeTable(std::string collection, std::vector<std::string> indexed_keys,
                               const std::vector<std::string>& numeric_keys, bool use_index)
    : collection_(std::move(collection)),
      indexed_keys_(SortedUnique(std::move(indexed_keys))),
      postings_(1 + indexed_keys_.size()),
      range_keys_(Intersection(indexed_keys_, numeric_keys)) {
  ranges_.resize(range_keys_.size());
  const char* env = std::getenv("BN_FILTER_INDEX");
  index_enabled_ = use_index && (env == nullptr || std::string(env) != "0");
}

const RangeIndex* AttributeTable::RangeOf(const std::string& key) const {
  if (!index_enabled_) return nullptr;
  auto it = std::lower_bound(range_keys_.begin(), range_keys_.end(), key);
  if (it == range_keys_.end() || *it != key) return nullptr;
  return &ranges_[it - range_keys_.begin()];
}

size_t AttributeTable::Reader::RangeCount(const std::string& key, double lower,
                                          double upper) const {
  const RangeIndex* range = table_->RangeOf(key);
  return range == nullptr ? 0 : range->Count(lower, upper);
}

void AttributeTable::Reader::RangeItems(const std::string& key, double lower, double upper,
                                        std::vector<uint64_t>* out) const {
  const RangeIndex* range = table_->RangeOf(key);
  if (range != nullptr) range->Items(lower, upper, out);
}

void AttributeTable::EditRanges(const Entry& entry, bool add) {
  for (size_t i = 0; i < range_keys_.size(); ++i) {
    double v;
    if (entry.attrs.Find(range_keys_[i], &v) == nullptr || std::isnan(v)) continue;
    if (add) {
      ranges_[i].Insert(v, entry.item_no);
    } else {
      ranges_[i].Erase(v, entry.item_no);
    }
  }
}

size_t AttributeTable::Reader::EstimateMatches(const CompiledFilter& filter, size_t sample) const {
  const auto& entries = table_->entries_;
  const size_t n = entries.size();
  if (n == 0) return 0;
  if (n <= sample) return Matching(filter).size();
  size_t hits = 0;
  for (size_t j = 0; j < sample; ++j) {
    if (filter.Matches(entries[j * n / sample].attrs)) ++hits;
  }
  return (hits * n + sample - 1) / sample;
}

std::vector<uint64_t> AttributeTable::Reader::Matching(const CompiledFilter& filter) const {
  const std::optional<IndexPlan> plan = filter.PlanWithIndex(*this);
  if (plan && (plan->exact || plan->candidates < table_->entries_.size() / 4)) {
    std::vector<uint64_t> candidates = filter.IndexCandidates(*this);
    return plan->exact ? candidates : MatchingAmong(filter, candidates);
  }
  std::vector<uint64_t> item_nos;
  for (const Entry& e : table_->entries_) {
    if (filter.Matches(e.attrs)) item_nos.push_back(e.item_no);
  }
  return item_nos;
}

std::vector<uint64_t> AttributeTable::Reader::MatchingAmong(
    const CompiledFilter& filter, const std::vector<uint64_t>& candidates) const {
  // The candidates' entries lie anywhere in the table: a cache miss each for the entry, its
  // metadata and its numbers (most of the time of a selective indexed search, by perf). Resolve
  // the positions in one tight loop (its misses overlap), then keep the next entries' misses in
  // flight while filtering the current one.
  std::vector<const Entry*> at;
  at.reserve(candidates.size());
  for (uint64_t item_no : candidates) {
    auto it = table_->pos_.find(item_no);
    if (it != table_->pos_.end()) at.push_back(&table_->entries_[it->second]);
  }
  constexpr size_t kAhead = 8;
  std::vector<uint64_t> item_nos;
  for (size_t i = 0; i < at.size(); ++i) {
    if (i + 2 * kAhead < at.size()) __builtin_prefetch(&at[i + 2 * kAhead]->attrs);
    if (i + kAhead < at.size()) {
      const ItemAttrs& next = at[i + kAhead]->attrs;
      for (size_t m = 0; m < next.metadata.size() && m < 4; ++m) {
        __builtin_prefetch(&next.metadata[m]);
      }
      if (!next.numbers.empty()) __builtin_prefetch(next.numbers.data());
    }
    if (filter.Matches(at[i]->attrs)) item_nos.push_back(at[i]->item_no);
  }
  return item_nos;
}

const AttributeTable::PostingMap* AttributeTable::Reader::PostingsOf(bool on_label,
                                                                     const std::string& key) const {
  if (!table_->index_enabled_) return nullptr;
  if (on_label) return &table_->postings_[0];
  const auto& keys = table_->indexed_keys_;
  auto it = std::lower_bound(keys.begin(), keys.end(), key);
  if (it == keys.end() || *it != key) return nullptr;
  return &table_->postings_[1 + (it - keys.begin())];
}

const std::vector<uint64_t>* AttributeTable::Reader::Postings(bool on_label, const std::string& key,
                                                              const std::string& value) const {
  const PostingMap* map = PostingsOf(on_label, key);
  if (map == nullptr) return nullptr;
  auto it = map->find(value);
  return it == map->end() ? nullptr : &it->second;
}

std::vector<std::pair<size_t, const std::string*>> AttributeTable::IndexedValues(
    const ItemAttrs& attrs) const {
  std::vector<std::pair<size_t, const std::string*>> out;
  out.emplace_back(0, &attrs.label);
  for (size_t i = 0; i < indexed_keys_.size(); ++i) {
    const std::string* value = attrs.Find(indexed_keys_[i]);
    if (value != nullptr) out.emplace_back(1 + i, value);
  }
  return out;
}

void AttributeTable::Invalidate(const std::vector<uint64_t>& item_nos) {
  std::lock_guard<std::mutex> lock(dirty_mu_);
  if (!tracking_) return;
  dirty_.insert(item_nos.begin(), item_nos.end());
  stale_.store(true, std::memory_order_release);
}

void AttributeTable::InvalidateAll() {
  std::lock_guard<std::mutex> lock(dirty_mu_);
  if (!tracking_) return;
  all_dirty_ = true;
  dirty_.clear();
  stale_.store(true, std::memory_order_release);
}

absl::StatusOr<AttributeTable::Reader> AttributeTable::Acquire(Store* store) {
  if (stale_.load(std::memory_order_acquire)) {
    std::lock_guard<std::mutex> refresh(refresh_mu_);
    // Take what is to refresh BEFORE reading the store: a write whose invalidation comes later
    // is left for the next refresh.
    bool load_all = false;
    std::vector<uint64_t> item_nos;
    {
      std::lock_guard<std::mutex> lock(dirty_mu_);
      load_all = !tracking_ || all_dirty_;
      tracking_ = true;
      all_dirty_ = false;
      item_nos.assign(dirty_.begin(), dirty_.end());
      dirty_.clear();
      // stale_ stays set until the reload is applied: a search that starts meanwhile (after
      // a write it must see) waits for this refresh on refresh_mu_ instead of reading the table
      // as it was.
    }
    absl::Status s = load_all ? LoadAll(store) : Reload(store, item_nos);
    if (!s.ok()) {
      std::lock_guard<std::mutex> lock(dirty_mu_);  // Try again next time.
      if (load_all) {
        all_dirty_ = true;
      } else {
        dirty_.insert(item_nos.begin(), item_nos.end());
      }
      stale_.store(true, std::memory_order_release);
      return s;
    }
    std::lock_guard<std::mutex> lock(dirty_mu_);
    stale_.store(all_dirty_ || !dirty_.empty(), std::memory_order_release);
  }
  return Reader(this);
}

absl::Status AttributeTable::LoadAll(Store* store) {
  std::vector<Entry> entries;
  absl::Status bad = absl::OkStatus();
  absl::Status s = CollectionStore(store).ScanItems(collection_, [&](const Item& item) {
    v1::Item record;
    if (!record.ParseFromString(item.record)) {
      bad = absl::DataLossError("stored record of item '" + item.id + "' is malformed");
      return false;
    }
    entries.push_back(Entry{item.item_no, item.id, ItemAttrs::FromItem(record)});
    return true;
  });
  if (!s.ok()) return s;
  if (!bad.ok()) return bad;
  std::unordered_map<uint64_t, uint32_t> pos;
  pos.reserve(entries.size());
  std::vector<PostingMap> postings(1 + indexed_keys_.size());
  for (size_t i = 0; i < entries.size(); ++i) {
    pos[entries[i].item_no] = static_cast<uint32_t>(i);
    for (const auto& [slot, value] : IndexedValues(entries[i].attrs)) {
      postings[slot][*value].push_back(entries[i].item_no);
    }
  }
  for (PostingMap& map : postings) {
    for (auto& [value, list] : map) std::sort(list.begin(), list.end());
  }
  std::vector<RangeIndex> ranges;
  for (size_t r = 0; r < range_keys_.size(); ++r) {
    std::vector<RangeIndex::Key> keys;
    for (const Entry& e : entries) {
      double v;
      if (e.attrs.Find(range_keys_[r], &v) != nullptr && !std::isnan(v)) {
        keys.emplace_back(v, e.item_no);
      }
    }
    std::sort(keys.begin(), keys.end());
    ranges.emplace_back(keys);
  }
  std::unique_lock<std::shared_mutex> lock(mu_);
  entries_.swap(entries);
  pos_.swap(pos);
  postings_.swap(postings);
  ranges_.swap(ranges);
  return absl::OkStatus();
}

absl::Status AttributeTable::Reload(Store* store, const std::vector<uint64_t>& item_nos) {
  if (item_nos.empty()) return absl::OkStatus();
  CollectionStore items(store);
  auto ids = items.LookupIds(collection_, item_nos);
  if (!ids.ok()) return ids.status();
  std::vector<std::string> found_ids;
  std::vector<size_t> found_at;
  for (size_t i = 0; i < item_nos.size(); ++i) {
    if (!(*ids)[i].has_value()) continue;
    found_ids.push_back(*(*ids)[i]);
    found_at.push_back(i);
  }
  auto records = items.GetItems(collection_, found_ids);
  if (!records.ok()) return records.status();
  std::vector<Entry> puts;
  std::vector<bool> present(item_nos.size(), false);
  for (size_t f = 0; f < found_ids.size(); ++f) {
    const auto& item = (*records)[f];
    const uint64_t item_no = item_nos[found_at[f]];
    if (!item.has_value() || item->item_no != item_no) continue;  // Deleted or replaced meanwhile.
    v1::Item record;
    if (!record.ParseFromString(item->record)) {
      return absl::DataLossError("stored record of item '" + found_ids[f] + "' is malformed");
    }
    puts.push_back(Entry{item_no, found_ids[f], ItemAttrs::FromItem(record)});
    present[found_at[f]] = true;
  }
  std::unique_lock<std::shared_mutex> lock(mu_);
  PostingEdits edits;
  for (size_t i = 0; i < item_nos.size(); ++i) {
    if (!present[i]) Erase(item_nos[i], &edits);
  }
  for (Entry& entry : puts) Put(std::move(entry), &edits);
  edits.Apply(&postings_);
  return absl::OkStatus();
}

void AttributeTable::Put(Entry entry, PostingEdits* edits) {
  for (const auto& [slot, value] : IndexedValues(entry.attrs)) {
    edits->Add(slot, *value, entry.item_no);
  }
  auto it = pos_.find(entry.item_no);
  if (it != pos_.end()) {
    Entry& old = entries_[it->second];
    for (const auto& [slot, value] : IndexedValues(old.attrs)) {
      edits->Remove(slot, *value, old.item_no);
    }
    EditRanges(old, /*add=*/false);
    EditRanges(entry, /*add=*/true);
    old = std::move(entry);
    return;
  }
  EditRanges(entry, /*add=*/true);
  pos_[entry.item_no] = static_cast<uint32_t>(entries_.size());
  entries_.push_back(std::move(entry));
}

void AttributeTable::Erase(uint64_t item_no, PostingEdits* edits) {
  auto it = pos_.find(item_no);
  if (it == pos_.end()) return;
  const uint32_t at = it->second;
  for (const auto& [slot, value] : IndexedValues(entries_[at].attrs)) {
    edits->Remove(slot, *value, item_no);
  }
  EditRanges(entries_[at], /*add=*/false);
  pos_.erase(it);
  if (at + 1 != entries_.size()) {
    entries_[at] = std::move(entries_.back());
    pos_[entries_[at].item_no] = at;
  }
  entries_.pop_back();
}

}  // namespace bn
