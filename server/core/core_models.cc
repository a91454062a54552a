// Core: ModelService, model loading, index opening and zero-downtime promotion.
#include <google/protobuf/util/time_util.h>

#include <algorithm>
#include <chrono>

#include "engine/model/autoencoder.h"
#include "engine/model/model_file.h"
#include "engine/nn/bf16_mlp.h"
#include "engine/util/log.h"
#include "server/core/core.h"
#include "server/core/core_impl.h"
#include "server/core/inputs.h"
#include "server/core/model_record.h"
#include "server/core/specs.h"
#include "server/core/thread_priority.h"

namespace bn {

namespace v1 = ::bottleneck::v1;

namespace {

constexpr size_t kPromotionBatch = 256;

IndexConfig IndexConfigFor(const v1::CollectionSpec& spec, int64_t code_size) {
  IndexConfig config;
  switch (spec.distance()) {
    case v1::DISTANCE_COSINE:
      config.metric = Metric::kCosine;
      break;
    case v1::DISTANCE_INNER_PRODUCT:
      config.metric = Metric::kInnerProduct;
      break;
    case v1::DISTANCE_HAMMING:
      config.metric = Metric::kHamming;
      break;
    default:
      config.metric = Metric::kL2;
  }
  config.dim = static_cast<uint32_t>(code_size);
  config.M = spec.index().m();
  config.ef_construction = spec.index().ef_construction();
  config.default_ef = spec.index().ef_search();
  return config;
}

}  // namespace

absl::StatusOr<std::shared_ptr<const ServingModel>> Core::Impl::LoadModel(
    const std::string& collection, uint64_t version) {
  auto blob = blobs.GetModel(collection, version);
  if (!blob.ok()) {
    if (blob.status().code() == absl::StatusCode::kNotFound) {
      return absl::NotFoundError("model version " + std::to_string(version) + " of collection '" +
                                 collection + "' not found");
    }
    return blob.status();
  }
  auto record = DecodeModelRecord(*blob);
  if (!record.ok()) return record.status();
  auto model = std::make_shared<ServingModel>();
  model->version = version;
  model->meta = record->meta;
  auto engine_model = DeserializeModel(record->model_file);
  if (!engine_model.ok()) return engine_model.status();
  if (options.bf16_encode && (*engine_model)->kind() == ModelKind::kDenseAutoencoder) {
    if (!Bf16Mlp::Supported()) {
      BN_LOG(WARNING) << "--inference-precision bf16: this CPU has no AVX-512 BF16; model v"
                      << version << " of " << collection << " encodes in f32";
    } else {
      auto bf16 = WithBf16Encode(std::move(*engine_model));
      if (!bf16.ok()) return bf16.status();
      engine_model = std::move(bf16);
    }
  }
  model->model = std::move(*engine_model);
  model->batcher = std::make_unique<EncodeBatcher>(model->model.get(), options.encode_batch_max);
  if (!record->text.empty()) {
    auto text = TextPipeline::Deserialize(record->text);
    if (!text.ok()) return text.status();
    model->text = std::move(*text);
  }
  return std::shared_ptr<const ServingModel>(std::move(model));
}

absl::StatusOr<std::shared_ptr<ServingIndex>> Core::Impl::OpenIndex(
    const CollectionRuntime& runtime, const ServingModel& model) {
  auto index =
      OpenServingIndex(store, runtime.name(), model.version,
                       IndexConfigFor(runtime.spec(), model.model->code_size()), SnapshotDir());
  if (!index.ok()) return index.status();
  return std::shared_ptr<ServingIndex>(std::move(*index));
}

absl::StatusOr<v1::ListModelsResponse> Core::ListModels(const std::string& collection) {
  Impl& impl = *impl_;
  auto runtime = impl.Find(collection);
  if (!runtime.ok()) return runtime.status();
  auto serving = (*runtime)->serving();
  const uint64_t serving_version = serving == nullptr ? 0 : serving->model->version;
  v1::ListModelsResponse response;
  auto versions = impl.blobs.ListModelVersions(collection);
  if (!versions.ok()) return versions.status();
  for (auto it = versions->rbegin(); it != versions->rend(); ++it) {  // Newest first.
    auto blob = impl.blobs.GetModel(collection, *it);
    if (!blob.ok()) return blob.status();
    auto record = DecodeModelRecord(*blob);
    if (!record.ok()) return record.status();
    v1::Model* model = response.add_models();
    *model = record->meta;
    model->set_serving(*it == serving_version);
  }
  return response;
}

absl::StatusOr<v1::Model> Core::GetModel(const std::string& collection, uint64_t version) {
  Impl& impl = *impl_;
  auto runtime = impl.Find(collection);
  if (!runtime.ok()) return runtime.status();
  auto blob = impl.blobs.GetModel(collection, version);
  if (!blob.ok()) {
    if (blob.status().code() == absl::StatusCode::kNotFound) {
      return absl::NotFoundError("model version " + std::to_string(version) + " not found");
    }
    return blob.status();
  }
  auto record = DecodeModelRecord(*blob);
  if (!record.ok()) return record.status();
  v1::Model model = record->meta;
  auto serving = (*runtime)->serving();
  model.set_serving(serving != nullptr && serving->model->version == version);
  return model;
}

absl::StatusOr<v1::Promotion> Core::PromoteModel(const std::string& collection, uint64_t version) {
  if (absl::Status s = impl_->CheckWritable(); !s.ok()) return s;
  auto runtime = impl_->Find(collection);
  if (!runtime.ok()) return runtime.status();
  if (version == 0) return absl::InvalidArgumentError("version must be >= 1");
  return impl_->Promote(*runtime, version);
}

absl::StatusOr<v1::Promotion> Core::Impl::Promote(const std::shared_ptr<CollectionRuntime>& runtime,
                                                  uint64_t version) {
  Impl& impl = *this;
  const std::string& collection = runtime->name();
  std::lock_guard<std::mutex> admin(impl.admin_mutex);
  auto serving = runtime->serving();
  auto count = impl.items.CountItems(collection);
  if (!count.ok()) return count.status();
  v1::Promotion promotion;
  promotion.set_target_model_version(version);
  if (serving != nullptr && serving->model->version == version) {
    promotion.set_items_done(*count);
    promotion.set_items_total(*count);
    return promotion;  // Already serving: nothing to do.
  }
  if (auto running = runtime->promotion()) {
    if (running->model->version != version) {
      return absl::FailedPreconditionError("model version " +
                                           std::to_string(running->model->version) +
                                           " is being promoted; wait for it to finish");
    }
    promotion.set_items_done(running->items_done.load());
    promotion.set_items_total(running->items_total.load());
    return promotion;
  }
  auto model = impl.LoadModel(collection, version);
  if (!model.ok()) return model.status();
  if (absl::Status s = impl.StartPromotion(runtime, *model); !s.ok()) return s;
  promotion.set_items_total(*count);
  return promotion;
}

absl::Status Core::Impl::StartPromotion(const std::shared_ptr<CollectionRuntime>& runtime,
                                        std::shared_ptr<const ServingModel> model) {
  auto index = OpenIndex(*runtime, *model);
  if (!index.ok()) return index.status();
  auto promotion = std::make_shared<PromotionState>();
  promotion->model = std::move(model);
  promotion->index = *index;
  promotion->start_unix_seconds = std::chrono::duration_cast<std::chrono::seconds>(
                                      std::chrono::system_clock::now().time_since_epoch())
                                      .count();
  v1::Collection record = runtime->record();
  v1::Promotion* stored = record.mutable_stats()->mutable_promotion();
  stored->set_target_model_version(promotion->model->version);
  *stored->mutable_start_time() =
      google::protobuf::util::TimeUtil::SecondsToTimestamp(promotion->start_unix_seconds);
  {
    std::lock_guard<std::mutex> write(runtime->write_mutex());
    if (absl::Status s = SaveCollectionRecord(runtime.get(), record); !s.ok()) return s;
    runtime->set_promotion(promotion);
  }
  BN_LOG(INFO) << "collection " << runtime->name() << ": promoting model v"
               << promotion->model->version << " (re-encoding every item in the background)";
  std::lock_guard<std::mutex> lock(threads_mutex);
  promotion_threads.emplace_back([this, runtime, promotion] {
    LowerThisThreadPriority(options.background_nice);  // Re-encoding yields to queries.
    RunPromotion(runtime, promotion);
  });
  return absl::OkStatus();
}

void Core::Impl::RunPromotion(std::shared_ptr<CollectionRuntime> runtime,
                              std::shared_ptr<PromotionState> promotion) {
  const std::string& name = runtime->name();
  const ServingModel& model = *promotion->model;
  const int64_t code_size = model.model->code_size();
  std::vector<std::string> ids;
  absl::Status s = items.ScanItems(name, [&](const Item& item) {
    ids.push_back(item.id);
    return true;
  });
  promotion->items_total = ids.size();
  for (size_t start = 0; s.ok() && start < ids.size(); start += kPromotionBatch) {
    if (promotion->cancelled) {
      BN_LOG(INFO) << "collection " << name << ": promotion paused at " << start << "/"
                   << ids.size() << " items (it resumes on restart)";
      return;
    }
    std::lock_guard<std::mutex> write(runtime->write_mutex());
    std::vector<std::string> batch_ids;
    std::vector<float> x;
    for (size_t i = start; i < std::min(ids.size(), start + kPromotionBatch); ++i) {
      // Re-read under the write lock: the item may have been replaced or deleted meanwhile, and
      // then the ingest path has already written its code for this version.
      auto item = items.GetItem(name, ids[i]);
      if (!item.ok()) continue;
      if (items.GetCode(name, model.version, item->label).ok()) continue;  // Already encoded.
      v1::Item record;
      if (!record.ParseFromString(item->record)) continue;
      if (absl::Status e = InputToVector(runtime->spec(), model.text.get(), record.input(), &x);
          !e.ok()) {
        BN_LOG(WARNING) << "collection " << name << ": item " << ids[i]
                        << " cannot be encoded by model v" << model.version << ": " << e;
        continue;
      }
      batch_ids.push_back(ids[i]);
    }
    if (!batch_ids.empty()) {
      std::vector<float> codes(batch_ids.size() * code_size);
      s = model.model->Encode(x.data(), static_cast<int64_t>(batch_ids.size()), codes.data());
      if (!s.ok()) break;
      ItemBatch batch;
      for (size_t i = 0; i < batch_ids.size(); ++i) {
        batch.PutCode(
            batch_ids[i], model.version,
            CodeToBytes(codes.data() + i * code_size, code_size, model.model->code_type()));
      }
      auto result = items.Write(name, batch);
      if (!result.ok()) {
        s = result.status();
        break;
      }
      s = promotion->index->CatchUp();
    }
    promotion->items_done = std::min(ids.size(), start + kPromotionBatch);
  }
  std::lock_guard<std::mutex> write(runtime->write_mutex());
  if (promotion->cancelled) return;  // Shutdown (resumes on restart) or collection deleted.
  v1::Collection record = runtime->record();
  record.mutable_stats()->clear_promotion();
  if (s.ok()) s = promotion->index->CatchUp();
  if (!s.ok()) {
    BN_LOG(ERROR) << "collection " << name << ": promotion of model v" << model.version
                  << " failed: " << s;
    (void)SaveCollectionRecord(runtime.get(), record);
    runtime->set_promotion(nullptr);
    return;
  }
  record.mutable_stats()->set_serving_model_version(model.version);
  if (absl::Status e = SaveCollectionRecord(runtime.get(), record); !e.ok()) {
    BN_LOG(ERROR) << "collection " << name << ": cannot record the promotion: " << e;
    runtime->set_promotion(nullptr);
    return;
  }
  auto state = std::make_shared<ServingState>();
  state->model = promotion->model;
  state->index = promotion->index;
  runtime->set_serving(state);
  runtime->set_promotion(nullptr);
  BN_LOG(INFO) << "collection " << name << ": now serving model v" << model.version << " ("
               << promotion->index->index().size() << " items indexed)";
  if (auto saved = promotion->index->SaveSnapshot(); !saved.ok()) {
    BN_LOG(WARNING) << "collection " << name << ": snapshot not saved: " << saved.status();
  }
}

}  // namespace bn
