// QueryEngine's Encode, Decode and GetItem (Search and SearchBatch are in query_engine.cc).
#include <string>
#include <vector>

#include "engine/store/collection_store.h"
#include "server/core/collection_registry.h"
#include "server/core/inputs.h"
#include "server/core/query_engine.h"
#include "server/core/runtime.h"
#include "server/core/validation.h"

namespace bn {

namespace v1 = ::bottleneck::v1;

namespace {

constexpr int kMaxBatch = 1024;  // Inputs per Encode, codes per Decode.

// The model of `version` (0 = serving) for Encode/Decode.
absl::StatusOr<std::shared_ptr<const ServingModel>> ModelFor(const CollectionRegistry& registry,
                                                             const CollectionRuntime& runtime,
                                                             uint64_t version) {
  auto serving = runtime.serving();
  if (version == 0) {
    if (serving == nullptr) {
      return absl::FailedPreconditionError("no model serves collection '" + runtime.name() +
                                           "' yet; name a model_version");
    }
    return serving->model;
  }
  if (serving != nullptr && serving->model->version == version) return serving->model;
  if (auto promotion = runtime.promotion(); promotion && promotion->model->version == version) {
    return promotion->model;
  }
  auto model = registry.LoadModel(runtime.name(), version);
  if (model.ok() && (*model)->meta.spec().has_classifier()) {
    return absl::FailedPreconditionError(
        "model version " + std::to_string(version) +
        " is a classifier: it has no codes or decoder (use QueryService.Classify)");
  }
  return model;
}

}  // namespace

absl::StatusOr<std::vector<float>> RunModelOnInputs(
    const v1::CollectionSpec& spec, const ServingModel& sm,
    const google::protobuf::RepeatedPtrField<v1::Input>& inputs) {
  std::vector<float> x;
  for (int i = 0; i < inputs.size(); ++i) {
    if (absl::Status s = InputToVector(spec, sm.text.get(), inputs.Get(i), &x); !s.ok()) {
      return absl::Status(s.code(),
                          "inputs[" + std::to_string(i) + "]: " + std::string(s.message()));
    }
  }
  const int64_t n = inputs.size();
  std::vector<float> out(static_cast<size_t>(n * sm.model->code_size()));
  absl::Status run =
      n == 1 ? sm.batcher->Encode(x.data(), out.data()) : sm.model->Encode(x.data(), n, out.data());
  if (!run.ok()) return run;
  return out;
}

absl::StatusOr<v1::EncodeResponse> EncodeInputs(const v1::CollectionSpec& spec,
                                                const ServingModel& sm,
                                                const v1::EncodeRequest& request) {
  auto codes = RunModelOnInputs(spec, sm, request.inputs());
  if (!codes.ok()) return codes.status();
  const int64_t n = request.inputs_size();
  const int64_t code_size = sm.model->code_size();
  v1::EncodeResponse response;
  response.set_model_version(sm.version);
  for (int64_t i = 0; i < n; ++i) {
    *response.add_codes() =
        BytesToCode(CodeToBytes(codes->data() + i * code_size, code_size, sm.model->code_type()),
                    code_size, sm.model->code_type());
  }
  return response;
}

absl::StatusOr<v1::DecodeResponse> DecodeCodes(const v1::CollectionSpec& spec,
                                               const ServingModel& sm,
                                               const v1::DecodeRequest& request) {
  const int64_t code_size = sm.model->code_size();
  std::vector<float> codes;
  for (int i = 0; i < request.codes_size(); ++i) {
    auto bytes = CodeFromApi(request.codes(i), code_size, sm.model->code_type());
    if (!bytes.ok()) {
      return absl::InvalidArgumentError("codes[" + std::to_string(i) +
                                        "]: " + std::string(bytes.status().message()));
    }
    std::vector<float> values = CodeBytesToFloats(*bytes, code_size, sm.model->code_type());
    codes.insert(codes.end(), values.begin(), values.end());
  }
  const int64_t n = request.codes_size();
  std::vector<float> x(n * sm.model->input_size());
  if (absl::Status s = sm.model->Decode(codes.data(), n, x.data()); !s.ok()) return s;
  v1::DecodeResponse response;
  response.set_model_version(sm.version);
  const uint32_t top = request.top_words() == 0 ? kDefaultTopWords : request.top_words();
  for (int64_t i = 0; i < n; ++i) {
    auto output = VectorToOutput(spec, sm.text.get(), x.data() + i * sm.model->input_size(), top);
    if (!output.ok()) return output.status();
    *response.add_outputs() = *output;
  }
  return response;
}

absl::StatusOr<v1::EncodeResponse> QueryEngine::Encode(const v1::EncodeRequest& request) const {
  auto runtime_or = registry_->Lookup(request.collection());
  if (!runtime_or.ok()) return runtime_or.status();
  const CollectionRuntime& runtime = **runtime_or;
  if (request.inputs().empty() || request.inputs_size() > kMaxBatch) {
    return absl::InvalidArgumentError("inputs must hold 1..1024 inputs");
  }
  auto model_or = ModelFor(*registry_, runtime, request.model_version());
  if (!model_or.ok()) return model_or.status();
  return EncodeInputs(runtime.spec(), **model_or, request);
}

absl::StatusOr<v1::DecodeResponse> QueryEngine::Decode(const v1::DecodeRequest& request) const {
  auto runtime_or = registry_->Lookup(request.collection());
  if (!runtime_or.ok()) return runtime_or.status();
  const CollectionRuntime& runtime = **runtime_or;
  if (request.codes().empty() || request.codes_size() > kMaxBatch) {
    return absl::InvalidArgumentError("codes must hold 1..1024 codes");
  }
  if (request.top_words() > 1000) return absl::InvalidArgumentError("top_words must be <= 1000");
  auto model_or = ModelFor(*registry_, runtime, request.model_version());
  if (!model_or.ok()) return model_or.status();
  return DecodeCodes(runtime.spec(), **model_or, request);
}

absl::StatusOr<v1::GetItemResponse> QueryEngine::GetItem(const v1::GetItemRequest& request) const {
  auto runtime = registry_->Lookup(request.collection());
  if (!runtime.ok()) return runtime.status();
  if (absl::Status s = ValidateItemId(request.id()); !s.ok()) return s;
  CollectionStore items(store_);
  auto item = items.GetItem((*runtime)->name(), request.id());
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
    auto code = items.GetCode((*runtime)->name(), serving->model->version, item->item_no);
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

}  // namespace bn
