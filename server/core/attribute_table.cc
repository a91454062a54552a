#include "server/core/attribute_table.h"

#include <algorithm>

#include "bottleneck/v1/common.pb.h"
#include "engine/store/collection_store.h"

namespace bn {

namespace v1 = ::bottleneck::v1;

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
  std::vector<uint64_t> item_nos;
  for (const Entry& e : table_->entries_) {
    if (filter.Matches(e.attrs)) item_nos.push_back(e.item_no);
  }
  return item_nos;
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
    entries.push_back(Entry{item.item_no, ItemAttrs::FromItem(record)});
    return true;
  });
  if (!s.ok()) return s;
  if (!bad.ok()) return bad;
  std::unordered_map<uint64_t, uint32_t> pos;
  pos.reserve(entries.size());
  for (size_t i = 0; i < entries.size(); ++i) pos[entries[i].item_no] = static_cast<uint32_t>(i);
  std::unique_lock<std::shared_mutex> lock(mu_);
  entries_.swap(entries);
  pos_.swap(pos);
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
  std::vector<std::pair<uint64_t, ItemAttrs>> puts;
  std::vector<bool> present(item_nos.size(), false);
  for (size_t f = 0; f < found_ids.size(); ++f) {
    const auto& item = (*records)[f];
    const uint64_t item_no = item_nos[found_at[f]];
    if (!item.has_value() || item->item_no != item_no) continue;  // Deleted or replaced meanwhile.
    v1::Item record;
    if (!record.ParseFromString(item->record)) {
      return absl::DataLossError("stored record of item '" + found_ids[f] + "' is malformed");
    }
    puts.emplace_back(item_no, ItemAttrs::FromItem(record));
    present[found_at[f]] = true;
  }
  std::unique_lock<std::shared_mutex> lock(mu_);
  for (size_t i = 0; i < item_nos.size(); ++i) {
    if (!present[i]) Erase(item_nos[i]);
  }
  for (auto& [item_no, attrs] : puts) Put(item_no, std::move(attrs));
  return absl::OkStatus();
}

void AttributeTable::Put(uint64_t item_no, ItemAttrs attrs) {
  auto it = pos_.find(item_no);
  if (it != pos_.end()) {
    entries_[it->second].attrs = std::move(attrs);
    return;
  }
  pos_[item_no] = static_cast<uint32_t>(entries_.size());
  entries_.push_back(Entry{item_no, std::move(attrs)});
}

void AttributeTable::Erase(uint64_t item_no) {
  auto it = pos_.find(item_no);
  if (it == pos_.end()) return;
  const uint32_t at = it->second;
  pos_.erase(it);
  if (at + 1 != entries_.size()) {
    entries_[at] = std::move(entries_.back());
    pos_[entries_[at].item_no] = at;
  }
  entries_.pop_back();
}

}  // namespace bn
