// QueryEngine::ListItems and CountItems (issue 24).
//
// Page tokens: "L1." + the hex of the last item id the page scanned; the next page starts after
// it. A page reads the items from one RocksDB snapshot (CollectionStore::ScanItemsAfter), or,
// when the filter's index plan names under a quarter of the items, takes the page's ids from the
// attribute table's matches (which hold every acknowledged write) and reads those items in one
// MultiGet, listing those that still match: an item present and matching throughout a page
// sequence is listed exactly once either way.
#include <algorithm>
#include <cctype>
#include <optional>

#include "absl/strings/escaping.h"
#include "engine/store/collection_store.h"
#include "server/core/collection_registry.h"
#include "server/core/inputs.h"
#include "server/core/item_filter.h"
#include "server/core/query_engine.h"
#include "server/core/runtime.h"
#include "server/core/specs.h"

namespace bn {

namespace v1 = ::bottleneck::v1;

namespace {

constexpr uint32_t kDefaultPageSize = 100;
constexpr uint32_t kMaxPageSize = 1000;
constexpr size_t kMaxScannedPerPage = 100000;
constexpr char kTokenPrefix[] = "L1.";

// When the filter's index plan names under a quarter of the items: *page_ids = the ids of the
// first `page_size` matches (by the attribute table) after `after`, in id order, and *more
// whether matches follow them. Leaves *page_ids empty (nullopt) otherwise: scan the items.
absl::Status PageFromIndex(Store* store, const CollectionRuntime& runtime,
                           const CompiledFilter& filter, const std::string& after,
                           uint32_t page_size, std::optional<std::vector<std::string>>* page_ids,
                           bool* more) {
  auto attrs = runtime.attributes().Acquire(store);
  if (!attrs.ok()) return attrs.status();
  const std::optional<IndexPlan> plan = filter.PlanWithIndex(*attrs);
  if (!plan || plan->candidates >= attrs->size() / 4) return absl::OkStatus();
  std::vector<const std::string*> ids;
  for (uint64_t item_no : attrs->Matching(filter)) {
    const std::string* id = attrs->Id(item_no);
    if (id != nullptr && *id > after) ids.push_back(id);
  }
  auto by_id = [](const std::string* a, const std::string* b) { return *a < *b; };
  *more = ids.size() > page_size;
  if (*more) {
    std::nth_element(ids.begin(), ids.begin() + page_size, ids.end(), by_id);
    ids.resize(page_size);
  }
  std::sort(ids.begin(), ids.end(), by_id);
  page_ids->emplace();
  for (const std::string* id : ids) (*page_ids)->push_back(*id);
  return absl::OkStatus();
}

}  // namespace

std::string ListPageToken(const std::string& last_id) {
  return kTokenPrefix + absl::BytesToHexString(last_id);
}

absl::StatusOr<std::string> IdFromListPageToken(const std::string& token) {
  const std::string prefix = kTokenPrefix;
  if (token.compare(0, prefix.size(), prefix) != 0 || token.size() == prefix.size() ||
      token.size() > prefix.size() + 2 * kMaxItemIdBytes || (token.size() - prefix.size()) % 2) {
    return absl::InvalidArgumentError("page_token is malformed: pass next_page_token unchanged");
  }
  const std::string hex = token.substr(prefix.size());
  for (char c : hex) {
    if (!std::isxdigit(static_cast<unsigned char>(c))) {
      return absl::InvalidArgumentError("page_token is malformed: pass next_page_token unchanged");
    }
  }
  return absl::HexStringToBytes(hex);
}

absl::StatusOr<v1::ListItemsResponse> QueryEngine::ListItems(
    const v1::ListItemsRequest& request) const {
  auto runtime_or = registry_->Lookup(request.collection());
  if (!runtime_or.ok()) return runtime_or.status();
  const CollectionRuntime& runtime = **runtime_or;
  const uint32_t page_size = request.page_size() == 0 ? kDefaultPageSize : request.page_size();
  if (page_size > kMaxPageSize) return absl::InvalidArgumentError("page_size must be in 0..1000");
  std::string after;
  if (!request.page_token().empty()) {
    auto id = IdFromListPageToken(request.page_token());
    if (!id.ok()) return id.status();
    after = std::move(*id);
  }
  std::optional<CompiledFilter> filter;
  if (request.has_filter()) {
    auto compiled = CompiledFilter::Compile(request.filter(), runtime.spec());
    if (!compiled.ok()) return compiled.status();
    filter.emplace(std::move(*compiled));
  }
  auto serving = runtime.serving();
  v1::ListItemsResponse response;
  if (serving != nullptr) response.set_model_version(serving->model->version);
  CollectionStore items(store_);
  absl::Status bad = absl::OkStatus();
  // Appends a listed item; false (with `bad` set) on a malformed record or a failed code read.
  auto emit = [&](const Item& item, v1::Item record) {
    v1::ListedItem* out = response.add_items();
    if (!request.include_inputs()) record.clear_input();
    *out->mutable_item() = std::move(record);
    if (request.include_codes() && serving != nullptr) {
      auto code = items.GetCode(runtime.name(), serving->model->version, item.item_no);
      if (code.ok()) {
        *out->mutable_code() = BytesToCode(*code, serving->model->model->code_size(),
                                           serving->model->model->code_type());
      } else if (code.status().code() != absl::StatusCode::kNotFound) {
        bad = code.status();
        return false;
      }
    }
    return true;
  };
  if (filter) {
    // The secondary index names the matches: read only the page's items.
    std::optional<std::vector<std::string>> page_ids;
    bool more = false;
    if (absl::Status s =
            PageFromIndex(store_, runtime, *filter, after, page_size, &page_ids, &more);
        !s.ok()) {
      return s;
    }
    if (page_ids) {
      auto found = items.GetItems(runtime.name(), *page_ids);
      if (!found.ok()) return found.status();
      for (size_t i = 0; i < page_ids->size(); ++i) {
        const std::optional<Item>& item = (*found)[i];
        if (!item.has_value()) continue;  // Deleted since the index was read.
        v1::Item record;
        if (!record.ParseFromString(item->record)) {
          return absl::DataLossError("stored record of item '" + item->id + "' is malformed");
        }
        // Overwritten since: list it only if it still matches.
        if (!filter->Matches(ItemAttrs::FromItem(record))) continue;
        if (!emit(*item, std::move(record))) return bad;
      }
      if (more) response.set_next_page_token(ListPageToken(page_ids->back()));
      return response;
    }
  }
  size_t scanned = 0;
  std::string last;
  bool more = false;
  absl::Status s = items.ScanItemsAfter(runtime.name(), after, [&](const Item& item) {
    if (static_cast<uint32_t>(response.items_size()) == page_size ||
        scanned == kMaxScannedPerPage) {
      more = true;
      return false;
    }
    ++scanned;
    last = item.id;
    v1::Item record;
    if (!record.ParseFromString(item.record)) {
      bad = absl::DataLossError("stored record of item '" + item.id + "' is malformed");
      return false;
    }
    if (filter && !filter->Matches(ItemAttrs::FromItem(record))) return true;
    return emit(item, std::move(record));
  });
  if (!s.ok()) return s;
  if (!bad.ok()) return bad;
  if (more) response.set_next_page_token(ListPageToken(last));
  return response;
}

absl::StatusOr<v1::CountItemsResponse> QueryEngine::CountItems(
    const v1::CountItemsRequest& request) const {
  auto runtime_or = registry_->Lookup(request.collection());
  if (!runtime_or.ok()) return runtime_or.status();
  const CollectionRuntime& runtime = **runtime_or;
  v1::CountItemsResponse response;
  if (!request.has_filter()) {
    auto count = CollectionStore(store_).CountItems(runtime.name());
    if (!count.ok()) return count.status();
    response.set_count(*count);
    return response;
  }
  auto filter = CompiledFilter::Compile(request.filter(), runtime.spec());
  if (!filter.ok()) return filter.status();
  auto attrs = runtime.attributes().Acquire(store_);
  if (!attrs.ok()) return attrs.status();
  response.set_count(attrs->Matching(*filter).size());
  return response;
}

}  // namespace bn
