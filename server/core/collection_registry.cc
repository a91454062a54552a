#include "server/core/collection_registry.h"

#include <google/protobuf/util/time_util.h>

#include <algorithm>
#include <filesystem>

#include "engine/model/autoencoder.h"
#include "engine/model/model_file.h"
#include "engine/nn/bf16_mlp.h"
#include "engine/store/blob_store.h"
#include "engine/store/collection_store.h"
#include "engine/util/log.h"
#include "server/core/model_record.h"
#include "server/core/runtime.h"
#include "server/core/specs.h"
#include "server/core/thread_priority.h"
#include "server/core/validation.h"

namespace bn {

namespace v1 = ::bottleneck::v1;
using google::protobuf::util::TimeUtil;

namespace {

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

absl::Status ModelNotFound(const std::string& collection, uint64_t version) {
  return absl::NotFoundError("model version " + std::to_string(version) + " of collection '" +
                             collection + "' not found");
}

}  // namespace

CollectionRegistry::CollectionRegistry(Store* store, Options options)
    : store_(store), options_(std::move(options)) {}

CollectionRegistry::~CollectionRegistry() { Shutdown(); }

std::string CollectionRegistry::SnapshotDir() const {
  return (std::filesystem::path(options_.data_dir) / "index").string();
}

absl::StatusOr<std::shared_ptr<CollectionRuntime>> CollectionRegistry::Find(
    const std::string& name) const {
  if (absl::Status s = ValidateName("collection", name); !s.ok()) return s;
  std::shared_lock<std::shared_mutex> lock(mutex_);
  auto it = collections_.find(name);
  if (it == collections_.end()) return absl::NotFoundError("collection '" + name + "' not found");
  return it->second;
}

absl::StatusOr<std::shared_ptr<CollectionRuntime>> CollectionRegistry::Lookup(
    const std::string& name) const {
  if (absl::Status s = ValidateName("collection", name); !s.ok()) return s;
  std::shared_lock<std::shared_mutex> lock(mutex_);
  auto alias = aliases_.find(name);
  const std::string& target = alias == aliases_.end() ? name : alias->second;
  auto it = collections_.find(target);
  if (it == collections_.end()) {
    return absl::NotFoundError(alias == aliases_.end() ? "collection '" + name + "' not found"
                                                       : "collection '" + target + "' of alias '" +
                                                             name + "' not found");
  }
  return it->second;
}

std::vector<std::shared_ptr<CollectionRuntime>> CollectionRegistry::All() const {
  std::vector<std::shared_ptr<CollectionRuntime>> out;
  std::shared_lock<std::shared_mutex> lock(mutex_);
  for (const auto& [name, runtime] : collections_) out.push_back(runtime);
  return out;
}

absl::Status CollectionRegistry::CheckWritable() const {
  if (!options_.follower) return absl::OkStatus();
  return absl::FailedPreconditionError(
      "this server is a read-only follower of another server's store; send writes to the "
      "primary");
}

absl::Status CollectionRegistry::SaveRecord(CollectionRuntime* runtime,
                                            const v1::Collection& record) {
  v1::Collection stored = record;
  // Only the durable fields are stored; counts are computed on read.
  const uint64_t serving = record.stats().serving_model_version();
  const v1::Promotion promotion = record.stats().promotion();
  stored.clear_stats();
  stored.mutable_stats()->set_serving_model_version(serving);
  if (promotion.target_model_version() != 0) {
    *stored.mutable_stats()->mutable_promotion() = promotion;
  }
  CollectionStore items(store_);
  if (absl::Status s = items.PutCollection(runtime->name(), stored.SerializeAsString()); !s.ok()) {
    return s;
  }
  runtime->set_record(stored);
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<const ServingModel>> CollectionRegistry::LoadModel(
    const std::string& collection, uint64_t version) const {
  auto blob = BlobStore(store_).GetModel(collection, version);
  if (!blob.ok()) {
    if (blob.status().code() == absl::StatusCode::kNotFound) {
      return ModelNotFound(collection, version);
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
  if (options_.bf16_encode && (*engine_model)->kind() == ModelKind::kDenseAutoencoder) {
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
  model->batcher = std::make_unique<EncodeBatcher>(model->model.get(), options_.encode_batch_max);
  if (!record->text.empty()) {
    auto text = TextPipeline::Deserialize(record->text);
    if (!text.ok()) return text.status();
    model->text = std::move(*text);
  }
  return std::shared_ptr<const ServingModel>(std::move(model));
}

absl::StatusOr<std::shared_ptr<ServingIndex>> CollectionRegistry::OpenIndex(
    const CollectionRuntime& runtime, const ServingModel& model) const {
  auto index =
      OpenServingIndex(store_, runtime.name(), model.version,
                       IndexConfigFor(runtime.spec(), model.model->code_size()), SnapshotDir());
  if (!index.ok()) return index.status();
  return std::shared_ptr<ServingIndex>(std::move(*index));
}

absl::StatusOr<std::shared_ptr<const ServingState>> CollectionRegistry::LoadServingState(
    const CollectionRuntime& runtime, uint64_t version) const {
  auto model = LoadModel(runtime.name(), version);
  if (!model.ok()) return model.status();
  auto index = OpenIndex(runtime, **model);
  if (!index.ok()) return index.status();
  auto state = std::make_shared<ServingState>();
  state->model = *model;
  state->index = *index;
  const OpenReport& opened = (*index)->open_report();
  if (opened.from_snapshot && opened.replayed_changes == 0) {
    state->snapshot_counter = (*index)->applied_counter();
  }
  BN_LOG(INFO) << "collection " << runtime.name() << ": serving model v" << version << " with "
               << (*index)->index().size() << " indexed items ("
               << (opened.from_snapshot ? "from snapshot" : "rebuilt") << ")";
  return std::shared_ptr<const ServingState>(std::move(state));
}

absl::StatusOr<std::shared_ptr<CollectionRuntime>> CollectionRegistry::Load(
    const std::string& name) const {
  auto blob = CollectionStore(store_).GetCollectionSpec(name);
  if (!blob.ok()) return blob.status();
  v1::Collection record;
  if (!record.ParseFromString(*blob)) {
    return absl::DataLossError("collection record of '" + name + "' is malformed");
  }
  auto runtime = std::make_shared<CollectionRuntime>(name, record, options_.neighbour_cache_items);
  const uint64_t serving = record.stats().serving_model_version();
  if (serving != 0) {
    auto state = LoadServingState(*runtime, serving);
    if (!state.ok()) return state.status();
    runtime->set_serving(*state);
  } else {
    BN_LOG(INFO) << "collection " << name << ": no model serves it yet";
  }
  return runtime;
}

absl::Status CollectionRegistry::LoadAll() {
  std::error_code ec;
  std::filesystem::create_directories(SnapshotDir(), ec);
  if (ec) return absl::PermissionDeniedError("cannot create index directory: " + ec.message());
  auto names = CollectionStore(store_).ListCollections();
  if (!names.ok()) return names.status();
  for (const std::string& name : *names) {
    auto runtime = Load(name);
    if (!runtime.ok()) return runtime.status();
    std::unique_lock<std::shared_mutex> lock(mutex_);
    collections_[name] = *runtime;
  }
  return LoadAliases();
}

absl::StatusOr<v1::Collection> CollectionRegistry::Create(
    const v1::CreateCollectionRequest& request) {
  if (absl::Status s = CheckWritable(); !s.ok()) return s;
  if (absl::Status s = ValidateName("name", request.name()); !s.ok()) return s;
  if (request.shards() > 1 || request.replicas() > 1) {
    return absl::InvalidArgumentError(
        "shards and replicas above 1 need cluster mode (bottleneckd --cluster)");
  }
  v1::CollectionSpec spec = request.spec();
  if (absl::Status s = NormalizeCollectionSpec(&spec); !s.ok()) return s;
  std::lock_guard<std::mutex> admin(admin_mutex_);
  {
    std::shared_lock<std::shared_mutex> lock(mutex_);
    if (collections_.count(request.name()) > 0) {
      return absl::AlreadyExistsError("collection '" + request.name() + "' already exists");
    }
    if (aliases_.count(request.name()) > 0) {
      return absl::AlreadyExistsError("'" + request.name() + "' is the name of an alias (of '" +
                                      aliases_.at(request.name()) + "')");
    }
  }
  v1::Collection record;
  record.set_name(request.name());
  *record.mutable_spec() = spec;
  *record.mutable_create_time() = TimeUtil::GetCurrentTime();
  if (absl::Status s =
          CollectionStore(store_).PutCollection(request.name(), record.SerializeAsString());
      !s.ok()) {
    return s;
  }
  auto runtime =
      std::make_shared<CollectionRuntime>(request.name(), record, options_.neighbour_cache_items);
  {
    std::unique_lock<std::shared_mutex> lock(mutex_);
    collections_[request.name()] = runtime;
  }
  BN_LOG(INFO) << "created collection " << request.name();
  return Describe(request.name());
}

absl::StatusOr<v1::Collection> CollectionRegistry::Describe(const std::string& name) const {
  auto runtime = Find(name);
  if (!runtime.ok()) return runtime.status();
  // The promotion before the record: a promotion saves the record (with its new serving version)
  // before it clears itself, so a null promotion here means the record read next is final.
  auto promotion = (*runtime)->promotion();
  v1::Collection collection = (*runtime)->record();
  v1::CollectionStats* stats = collection.mutable_stats();
  CollectionStore items(store_);
  auto state = items.GetCollectionState(name);
  if (!state.ok()) return state.status();
  stats->set_item_count(state->item_count);
  stats->set_pending_item_count(state->item_count);
  if (auto serving = (*runtime)->serving()) {
    stats->set_index_bytes(serving->index->index().MemoryBytes());
    const uint64_t indexed = serving->index->index().size();
    stats->set_pending_item_count(state->item_count > indexed ? state->item_count - indexed : 0);
  }
  auto versions = BlobStore(store_).ListModelVersions(name);
  if (!versions.ok()) return versions.status();
  stats->set_model_count(versions->size());
  if (auto size = items.ApproximateSize(name); size.ok()) stats->set_store_bytes(size->total());
  stats->clear_promotion();
  if (promotion != nullptr) {
    v1::Promotion* p = stats->mutable_promotion();
    p->set_target_model_version(promotion->model->version);
    p->set_items_done(promotion->items_done.load());
    p->set_items_total(promotion->items_total.load());
    *p->mutable_start_time() = TimeUtil::SecondsToTimestamp(promotion->start_unix_seconds);
  }
  return collection;
}

absl::StatusOr<v1::ListCollectionsResponse> CollectionRegistry::List() const {
  v1::ListCollectionsResponse response;
  for (const auto& runtime : All()) {
    auto collection = Describe(runtime->name());
    if (collection.status().code() == absl::StatusCode::kNotFound) continue;  // Deleted meanwhile.
    if (!collection.ok()) return collection.status();
    *response.add_collections() = *collection;
  }
  return response;
}

absl::Status CollectionRegistry::Remove(const std::string& name) {
  if (absl::Status s = CheckWritable(); !s.ok()) return s;
  std::lock_guard<std::mutex> admin(admin_mutex_);
  auto runtime = Find(name);
  if (!runtime.ok()) return runtime.status();
  {
    std::shared_lock<std::shared_mutex> lock(mutex_);
    for (const auto& [alias, target] : aliases_) {
      if (target == name) {
        return absl::FailedPreconditionError("alias '" + alias + "' points at collection '" + name +
                                             "': delete or switch the alias first");
      }
    }
  }
  {
    std::lock_guard<std::mutex> write((*runtime)->write_mutex());
    if (absl::Status s = CollectionStore(store_).DeleteCollection(name); !s.ok()) return s;
    std::unique_lock<std::shared_mutex> lock(mutex_);
    collections_.erase(name);
  }
  // Snapshots are derived data: remove them (a stale one would also be detected on load).
  const std::string dir = SnapshotDir();
  const std::string probe = ServingIndex::SnapshotPath(dir, name, 0);
  const std::string prefix = probe.substr(0, probe.size() - std::string("0.hnsw").size());
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    if (entry.path().string().rfind(prefix, 0) == 0) std::filesystem::remove(entry.path(), ec);
  }
  BN_LOG(INFO) << "deleted collection " << name;
  return absl::OkStatus();
}

absl::StatusOr<v1::ListModelsResponse> CollectionRegistry::ListModels(
    const std::string& collection) const {
  auto runtime = Find(collection);
  if (!runtime.ok()) return runtime.status();
  auto serving = (*runtime)->serving();
  const uint64_t serving_version = serving == nullptr ? 0 : serving->model->version;
  BlobStore blobs(store_);
  auto versions = blobs.ListModelVersions(collection);
  if (!versions.ok()) return versions.status();
  v1::ListModelsResponse response;
  for (auto it = versions->rbegin(); it != versions->rend(); ++it) {  // Newest first.
    auto blob = blobs.GetModel(collection, *it);
    if (!blob.ok()) return blob.status();
    auto record = DecodeModelRecord(*blob);
    if (!record.ok()) return record.status();
    v1::Model* model = response.add_models();
    *model = record->meta;
    model->set_serving(*it == serving_version);
  }
  return response;
}

absl::StatusOr<v1::Model> CollectionRegistry::GetModel(const std::string& collection,
                                                       uint64_t version) const {
  auto runtime = Find(collection);
  if (!runtime.ok()) return runtime.status();
  auto blob = BlobStore(store_).GetModel(collection, version);
  if (!blob.ok()) {
    if (blob.status().code() == absl::StatusCode::kNotFound) {
      return ModelNotFound(collection, version);
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

absl::StatusOr<uint64_t> CollectionRegistry::AddModel(
    const std::shared_ptr<CollectionRuntime>& runtime, ModelRecord* record) {
  std::lock_guard<std::mutex> admin(admin_mutex_);
  auto current = Find(runtime->name());
  if (!current.ok() || *current != runtime) {
    return absl::CancelledError("the collection was deleted");
  }
  BlobStore blobs(store_);
  auto versions = blobs.ListModelVersions(runtime->name());
  if (!versions.ok()) return versions.status();
  const uint64_t version = versions->empty() ? 1 : versions->back() + 1;
  record->meta.set_collection(runtime->name());
  record->meta.set_version(version);
  if (absl::Status s = blobs.PutModel(runtime->name(), version, EncodeModelRecord(*record));
      !s.ok()) {
    return s;
  }
  return version;
}

std::vector<std::pair<std::string, NeighbourCache::Stats>> CollectionRegistry::NeighbourCacheStats()
    const {
  std::vector<std::pair<std::string, NeighbourCache::Stats>> out;
  for (const auto& runtime : All())
    out.emplace_back(runtime->name(), runtime->neighbours().stats());
  return out;
}

}  // namespace bn
