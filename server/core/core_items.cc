// Core: ItemService.
#include "engine/util/log.h"
#include "server/core/core.h"
#include "server/core/core_impl.h"
#include "server/core/inputs.h"
#include "server/core/specs.h"
#include "server/validation.h"

namespace bn {

namespace v1 = ::bottleneck::v1;

namespace {

absl::Status AtItem(size_t i, const absl::Status& s) {
  return absl::Status(s.code(), "items[" + std::to_string(i) + "]: " + std::string(s.message()));
}

// Encodes `vectors` (n rows of the model's input size) into code bytes, one per row.
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

}  // namespace

absl::Status CatchUpAll(const std::vector<std::shared_ptr<ServingIndex>>& indexes) {
  for (const auto& index : indexes) {
    if (absl::Status s = index->CatchUp(); !s.ok()) {
      // The write is durable; the index is derived and is rebuilt from the store on restart.
      BN_LOG(ERROR) << "collection " << index->collection() << ": index catch-up failed after a "
                    << "durable write: " << s;
      return absl::InternalError("the write is stored but the index update failed: " +
                                 std::string(s.message()));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<v1::UpsertResponse> Core::Upsert(const v1::UpsertRequest& request) {
  Impl& impl = *impl_;
  if (absl::Status s = impl.CheckWritable(); !s.ok()) return s;
  auto runtime_or = impl.Find(request.collection());
  if (!runtime_or.ok()) return runtime_or.status();
  CollectionRuntime& runtime = **runtime_or;
  const size_t n = request.items_size();
  if (n == 0) return absl::InvalidArgumentError("items must not be empty");
  if (n > impl.options.max_batch_items) {
    return absl::InvalidArgumentError("at most " + std::to_string(impl.options.max_batch_items) +
                                      " items per request; split the batch");
  }
  for (size_t i = 0; i < n; ++i) {
    const v1::Item& item = request.items(i);
    if (absl::Status s = ValidateItemId(item.id()); !s.ok()) return AtItem(i, s);
    if (item.label().size() > 256) {
      return AtItem(i, absl::InvalidArgumentError("label must be at most 256 bytes"));
    }
    if (item.metadata_size() > 64) {
      return AtItem(i, absl::InvalidArgumentError("at most 64 metadata entries"));
    }
  }

  std::lock_guard<std::mutex> write(runtime.write_mutex());
  auto serving = runtime.serving();
  auto promotion = runtime.promotion();
  const int64_t input_size = InputSize(runtime.spec());
  // Encode with the serving model and, during a promotion, with the target model too.
  std::vector<std::shared_ptr<const ServingModel>> models;
  std::vector<std::shared_ptr<ServingIndex>> indexes;
  if (serving != nullptr) {
    models.push_back(serving->model);
    indexes.push_back(serving->index);
  }
  if (promotion != nullptr) {
    models.push_back(promotion->model);
    indexes.push_back(promotion->index);
  }
  if (models.empty()) {
    // Nothing to encode with yet: validate the inputs on their own (images must decode).
    for (size_t i = 0; i < n; ++i) {
      if (absl::Status s = ValidateInput(runtime.spec(), request.items(i).input()); !s.ok()) {
        return AtItem(i, s);
      }
    }
  }
  std::vector<std::vector<std::string>> codes;  // [model][item]
  for (const auto& model : models) {
    std::vector<float> vectors;
    vectors.reserve(n * input_size);
    for (size_t i = 0; i < n; ++i) {
      if (absl::Status s =
              InputToVector(runtime.spec(), model->text.get(), request.items(i).input(), &vectors);
          !s.ok()) {
        return AtItem(i, s);
      }
    }
    auto encoded = EncodeRows(*model, vectors, n);
    if (!encoded.ok()) return encoded.status();
    codes.push_back(std::move(*encoded));
  }

  ItemBatch batch;
  for (size_t i = 0; i < n; ++i) {
    std::vector<std::pair<uint64_t, std::string>> item_codes;
    for (size_t m = 0; m < models.size(); ++m)
      item_codes.emplace_back(models[m]->version, codes[m][i]);
    batch.Upsert(request.items(i).id(), request.items(i).SerializeAsString(),
                 std::move(item_codes));
  }
  auto result = impl.items.Write(request.collection(), batch);
  if (!result.ok()) return result.status();
  runtime.neighbours().Invalidate(result->labels);
  if (absl::Status s = CatchUpAll(indexes); !s.ok()) return s;
  v1::UpsertResponse response;
  response.set_upserted(n);
  response.set_pending(serving == nullptr ? n : 0);
  response.set_serving_model_version(serving == nullptr ? 0 : serving->model->version);
  return response;
}

absl::StatusOr<v1::GetItemResponse> Core::GetItem(const v1::GetItemRequest& request) {
  Impl& impl = *impl_;
  auto runtime = impl.Find(request.collection());
  if (!runtime.ok()) return runtime.status();
  if (absl::Status s = ValidateItemId(request.id()); !s.ok()) return s;
  auto item = impl.items.GetItem(request.collection(), request.id());
  if (!item.ok()) {
    if (item.status().code() == absl::StatusCode::kNotFound) {
      return absl::NotFoundError("item '" + request.id() + "' not found");
    }
    return item.status();
  }
  v1::GetItemResponse response;
  if (!response.mutable_item()->ParseFromString(item->record)) {
    return absl::DataLossError("stored item record is malformed");
  }
  auto serving = (*runtime)->serving();
  if (request.include_code() && serving != nullptr) {
    auto code = impl.items.GetCode(request.collection(), serving->model->version, item->label);
    if (code.ok()) {
      *response.mutable_code() = BytesToCode(*code, serving->model->model->code_size(),
                                             serving->model->model->code_type());
      response.set_model_version(serving->model->version);
    } else if (code.status().code() != absl::StatusCode::kNotFound) {
      return code.status();
    }
  }
  return response;
}

absl::StatusOr<v1::DeleteItemsResponse> Core::DeleteItems(const v1::DeleteItemsRequest& request) {
  Impl& impl = *impl_;
  if (absl::Status s = impl.CheckWritable(); !s.ok()) return s;
  auto runtime_or = impl.Find(request.collection());
  if (!runtime_or.ok()) return runtime_or.status();
  CollectionRuntime& runtime = **runtime_or;
  if (request.ids().empty()) return absl::InvalidArgumentError("ids must not be empty");
  if (static_cast<size_t>(request.ids_size()) > impl.options.max_batch_items) {
    return absl::InvalidArgumentError("too many ids in one request");
  }
  for (int i = 0; i < request.ids_size(); ++i) {
    if (absl::Status s = ValidateItemId(request.ids(i)); !s.ok()) {
      return absl::InvalidArgumentError("ids[" + std::to_string(i) +
                                        "]: " + std::string(s.message()));
    }
  }
  std::lock_guard<std::mutex> write(runtime.write_mutex());
  ItemBatch batch;
  for (const std::string& id : request.ids()) batch.Delete(id);
  auto result = impl.items.Write(request.collection(), batch);
  if (!result.ok()) return result.status();
  runtime.neighbours().Invalidate(result->labels);
  std::vector<std::shared_ptr<ServingIndex>> indexes;
  if (auto serving = runtime.serving()) indexes.push_back(serving->index);
  if (auto promotion = runtime.promotion()) indexes.push_back(promotion->index);
  if (absl::Status s = CatchUpAll(indexes); !s.ok()) return s;
  v1::DeleteItemsResponse response;
  for (uint64_t label : result->labels) {
    if (label != 0) response.set_deleted(response.deleted() + 1);
  }
  return response;
}

}  // namespace bn
