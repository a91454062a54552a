#include "server/core/item_ingest.h"

#include <algorithm>
#include <memory>

#include "engine/store/collection_store.h"
#include "engine/util/log.h"
#include "server/core/collection_registry.h"
#include "server/core/inputs.h"
#include "server/core/item_filter.h"
#include "server/core/runtime.h"
#include "server/core/specs.h"
#include "server/core/validation.h"

namespace bn {

namespace v1 = ::bottleneck::v1;

namespace {

constexpr size_t kMaxLabelBytes = 256;
constexpr int kMaxMetadataEntries = 64;

absl::Status At(const char* field, size_t i, const absl::Status& s) {
  return absl::Status(
      s.code(), std::string(field) + "[" + std::to_string(i) + "]: " + std::string(s.message()));
}

// Encodes `n` rows of the model's input size into the store's code bytes, one per row.
absl::StatusOr<std::vector<std::string>> EncodeRows(const ServingModel& model,
                                                    const std::vector<float>& vectors, size_t n) {
  const int64_t code_size = model.model->code_size();
  std::vector<float> codes(n * code_size);
  if (absl::Status s = model.model->Encode(vectors.data(), static_cast<int64_t>(n), codes.data());
      !s.ok()) {
    return s;
  }
  std::vector<std::string> out;
  out.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    out.push_back(CodeToBytes(codes.data() + i * code_size, code_size, model.model->code_type()));
  }
  return out;
}

// The indexes a write to `runtime` must reach: the serving one and a promotion's.
std::vector<std::shared_ptr<ServingIndex>> LiveIndexes(const CollectionRuntime& runtime) {
  std::vector<std::shared_ptr<ServingIndex>> indexes;
  if (auto serving = runtime.serving()) indexes.push_back(serving->index);
  if (auto promotion = runtime.promotion()) indexes.push_back(promotion->index);
  return indexes;
}

// Writes `batch` (the caller holds the collection's write mutex), forgets the cached heads of the
// items it touched when `invalidate`, and brings `indexes` up to the store.
absl::StatusOr<ItemBatchResult> Commit(Store* store, CollectionRuntime* runtime,
                                       const ItemBatch& batch,
                                       const std::vector<std::shared_ptr<ServingIndex>>& indexes,
                                       bool invalidate) {
  auto result = CollectionStore(store).Write(runtime->name(), batch);
  if (!result.ok()) return result.status();
  if (invalidate) {
    runtime->neighbours().Invalidate(result->item_nos);
    runtime->attributes().Invalidate(result->item_nos);
  }
  for (const auto& index : indexes) {
    if (absl::Status s = index->CatchUp(); !s.ok()) {
      BN_LOG(ERROR) << "collection " << index->collection() << ": index catch-up failed after a "
                    << "durable write: " << s;
      // A storage condition keeps its code (the catch-up reads the store); anything else is a
      // bug. Either way the write itself is durable.
      const absl::StatusCode code = s.code() == absl::StatusCode::kResourceExhausted ||
                                            s.code() == absl::StatusCode::kUnavailable ||
                                            s.code() == absl::StatusCode::kDataLoss
                                        ? s.code()
                                        : absl::StatusCode::kInternal;
      return absl::Status(
          code, "the write is stored but the index update failed: " + std::string(s.message()));
    }
  }
  return result;
}

absl::Status ValidateUpsert(const v1::CollectionSpec& spec, const v1::UpsertRequest& request,
                            uint32_t max_items) {
  const size_t n = request.items_size();
  if (n == 0) return absl::InvalidArgumentError("items must not be empty");
  if (n > max_items) {
    return absl::InvalidArgumentError("at most " + std::to_string(max_items) +
                                      " items per request; split the batch");
  }
  for (size_t i = 0; i < n; ++i) {
    const v1::Item& item = request.items(i);
    if (absl::Status s = ValidateItemId(item.id()); !s.ok()) return At("items", i, s);
    if (item.label().size() > kMaxLabelBytes) {
      return At("items", i, absl::InvalidArgumentError("label must be at most 256 bytes"));
    }
    if (item.metadata_size() > kMaxMetadataEntries) {
      return At("items", i, absl::InvalidArgumentError("at most 64 metadata entries"));
    }
    for (const std::string& key : spec.numeric_metadata_keys()) {
      auto it = item.metadata().find(key);
      double value;
      if (it != item.metadata().end() && !ParseFiniteNumber(it->second, &value)) {
        return At("items", i,
                  absl::InvalidArgumentError("metadata '" + key + "' is declared numeric but '" +
                                             it->second + "' is not a finite decimal number"));
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace

ItemIngest::ItemIngest(Store* store, const CollectionRegistry* registry, uint32_t max_batch_items)
    : store_(store), registry_(registry), max_batch_items_(max_batch_items) {}

absl::StatusOr<v1::UpsertResponse> ItemIngest::Upsert(const v1::UpsertRequest& request,
                                                      uint64_t log_position) {
  if (absl::Status s = registry_->CheckWritable(); !s.ok()) return s;
  auto runtime_or = registry_->Lookup(request.collection());
  if (!runtime_or.ok()) return runtime_or.status();
  CollectionRuntime& runtime = **runtime_or;
  if (absl::Status s = ValidateUpsert(runtime.spec(), request, max_batch_items_); !s.ok()) return s;
  // Before encoding: a full disk refuses the write anyway (CollectionStore::Write checks again).
  if (absl::Status s = store_->CheckWrite(); !s.ok()) return s;
  const size_t n = request.items_size();

  std::lock_guard<std::mutex> write(runtime.write_mutex());
  auto serving = runtime.serving();
  auto promotion = runtime.promotion();
  // Encode with the serving model and, during a promotion, with the target model too.
  std::vector<std::shared_ptr<const ServingModel>> models;
  if (serving != nullptr) models.push_back(serving->model);
  if (promotion != nullptr) models.push_back(promotion->model);
  if (models.empty()) {
    // Nothing to encode with yet: validate the inputs on their own (images must decode).
    for (size_t i = 0; i < n; ++i) {
      if (absl::Status s = ValidateInput(runtime.spec(), request.items(i).input()); !s.ok()) {
        return At("items", i, s);
      }
    }
  }
  std::vector<std::vector<std::string>> codes;  // [model][item]
  for (const auto& model : models) {
    std::vector<float> vectors;
    vectors.reserve(n * InputSize(runtime.spec()));
    for (size_t i = 0; i < n; ++i) {
      if (absl::Status s =
              InputToVector(runtime.spec(), model->text.get(), request.items(i).input(), &vectors);
          !s.ok()) {
        return At("items", i, s);
      }
    }
    auto encoded = EncodeRows(*model, vectors, n);
    if (!encoded.ok()) return encoded.status();
    codes.push_back(std::move(*encoded));
  }

  ItemBatch batch;
  for (size_t i = 0; i < n; ++i) {
    std::vector<std::pair<uint64_t, std::string>> item_codes;
    for (size_t m = 0; m < models.size(); ++m) {
      item_codes.emplace_back(models[m]->version, std::move(codes[m][i]));
    }
    batch.Upsert(request.items(i).id(), request.items(i).SerializeAsString(),
                 std::move(item_codes));
  }
  batch.SetLogPosition(log_position);
  auto written = Commit(store_, &runtime, batch, LiveIndexes(runtime), /*invalidate=*/true);
  if (!written.ok()) return written.status();
  v1::UpsertResponse response;
  response.set_upserted(n);
  response.set_pending(serving == nullptr ? n : 0);
  response.set_serving_model_version(serving == nullptr ? 0 : serving->model->version);
  return response;
}

absl::StatusOr<v1::DeleteItemsResponse> ItemIngest::Delete(const v1::DeleteItemsRequest& request,
                                                           uint64_t log_position) {
  if (absl::Status s = registry_->CheckWritable(); !s.ok()) return s;
  auto runtime_or = registry_->Lookup(request.collection());
  if (!runtime_or.ok()) return runtime_or.status();
  CollectionRuntime& runtime = **runtime_or;
  if (request.has_filter()) return DeleteMatching(&runtime, request);
  if (request.ids().empty()) return absl::InvalidArgumentError("set ids or a filter");
  if (static_cast<size_t>(request.ids_size()) > max_batch_items_) {
    return absl::InvalidArgumentError("too many ids in one request");
  }
  for (int i = 0; i < request.ids_size(); ++i) {
    if (absl::Status s = ValidateItemId(request.ids(i)); !s.ok()) return At("ids", i, s);
  }
  ItemBatch batch;
  for (const std::string& id : request.ids()) batch.Delete(id);
  batch.SetLogPosition(log_position);
  std::lock_guard<std::mutex> write(runtime.write_mutex());
  auto written = Commit(store_, &runtime, batch, LiveIndexes(runtime), /*invalidate=*/true);
  if (!written.ok()) return written.status();
  v1::DeleteItemsResponse response;
  for (uint64_t item_no : written->item_nos) {
    if (item_no != 0) response.set_deleted(response.deleted() + 1);
  }
  return response;
}

absl::StatusOr<v1::DeleteItemsResponse> ItemIngest::DeleteMatching(
    CollectionRuntime* runtime, const v1::DeleteItemsRequest& request) {
  if (!request.ids().empty()) return absl::InvalidArgumentError("set ids or a filter, not both");
  auto filter = CompiledFilter::Compile(request.filter(), runtime->spec());
  if (!filter.ok()) return filter.status();
  // Under the write mutex no other write reaches the collection: the matching set is exact.
  std::lock_guard<std::mutex> write(runtime->write_mutex());
  std::vector<uint64_t> item_nos;
  {
    auto attrs = runtime->attributes().Acquire(store_);
    if (!attrs.ok()) return attrs.status();
    item_nos = attrs->Matching(*filter);
  }
  v1::DeleteItemsResponse response;
  CollectionStore items(store_);
  for (size_t from = 0; from < item_nos.size(); from += max_batch_items_) {
    const std::vector<uint64_t> part(
        item_nos.begin() + from,
        item_nos.begin() + std::min(item_nos.size(), from + max_batch_items_));
    auto ids = items.LookupIds(runtime->name(), part);
    if (!ids.ok()) return ids.status();
    ItemBatch batch;
    for (const auto& id : *ids) {
      if (id.has_value()) batch.Delete(*id);
    }
    if (batch.empty()) continue;
    auto written = Commit(store_, runtime, batch, LiveIndexes(*runtime), /*invalidate=*/true);
    if (!written.ok()) {
      return absl::Status(written.status().code(),
                          std::string(written.status().message()) + " (" +
                              std::to_string(response.deleted()) +
                              " matching items were deleted before the failure)");
    }
    for (uint64_t item_no : written->item_nos) {
      if (item_no != 0) response.set_deleted(response.deleted() + 1);
    }
  }
  return response;
}

absl::Status ItemIngest::Reencode(CollectionRuntime* runtime, const PromotionState& promotion,
                                  const std::vector<std::string>& ids) {
  const ServingModel& model = *promotion.model;
  CollectionStore items(store_);
  std::lock_guard<std::mutex> write(runtime->write_mutex());
  std::vector<std::string> encoded_ids;
  std::vector<float> vectors;
  for (const std::string& id : ids) {
    // Read under the write lock: the item may have been replaced or deleted since the caller
    // listed it, and then the upsert path has already written its code for this version.
    auto item = items.GetItem(runtime->name(), id);
    if (!item.ok()) continue;
    if (items.GetCode(runtime->name(), model.version, item->item_no).ok()) continue;
    v1::Item record;
    if (!record.ParseFromString(item->record)) continue;
    if (absl::Status s = InputToVector(runtime->spec(), model.text.get(), record.input(), &vectors);
        !s.ok()) {
      BN_LOG(WARNING) << "collection " << runtime->name() << ": item " << id
                      << " cannot be encoded by model v" << model.version << ": " << s;
      continue;
    }
    encoded_ids.push_back(id);
  }
  if (encoded_ids.empty()) return absl::OkStatus();
  auto codes = EncodeRows(model, vectors, encoded_ids.size());
  if (!codes.ok()) return codes.status();
  ItemBatch batch;
  for (size_t i = 0; i < encoded_ids.size(); ++i) {
    batch.PutCode(encoded_ids[i], model.version, std::move((*codes)[i]));
  }
  // Heads (id, label, metadata) do not change with a new code: the cache stays valid.
  return Commit(store_, runtime, batch, {promotion.index}, /*invalidate=*/false).status();
}

}  // namespace bn
