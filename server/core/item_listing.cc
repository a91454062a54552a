// QueryEngine::ListItems and CountItems (issue 24).
//
// Page tokens: "L1." + the hex of the last item id the page scanned; the next page starts after
// it. A page reads the items from one RocksDB snapshot (CollectionStore::ScanItemsAfter).
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
  size_t scanned = 0;
  std::string last;
  bool more = false;
  absl::Status bad = absl::OkStatus();
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
