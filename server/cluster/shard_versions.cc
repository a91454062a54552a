#include "server/cluster/shard_versions.h"

#include <algorithm>
#include <chrono>
#include <ctime>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/store/blob_store.h"
#include "engine/store/collection_store.h"
#include "engine/util/log.h"
#include "server/cluster/blob_channel.h"
#include "server/cluster/metadata.h"
#include "server/core/core.h"
#include "server/core/model_record.h"
#include "server/core/runtime.h"
#include "server/core/thread_priority.h"

namespace bn::cluster {
namespace {

namespace pb = ::bottleneck::cluster;
namespace v1 = ::bottleneck::v1;

constexpr size_t kReencodeBatch = 256;

}  // namespace

absl::Status InstallModel(const ClusterContext& context, const std::string& collection,
                          uint64_t incarnation, uint64_t version, const std::string& local_name) {
  BlobStore local(context.store);
  // Installed before (a training job's own version in a workspace has the workspace's name).
  if (auto blob = local.GetModel(local_name, version); blob.ok()) {
    auto record = DecodeModelRecord(*blob);
    if (record.ok() && record->meta.collection() == collection) return absl::OkStatus();
  }
  auto stored = context.metadata->models().Get(Names::ModelKey(collection, incarnation, version));
  if (!stored.ok()) return stored.status();
  if (!stored->has_value()) {
    return absl::NotFoundError(
        absl::StrCat("model version ", version, " of collection '", collection, "' not found"));
  }
  pb::ModelEntry entry;
  if (!entry.ParseFromString((*stored)->value)) {
    return absl::DataLossError(absl::StrCat("the record of model v", version, " does not parse"));
  }
  auto bytes = context.blobs->Get(entry.blob());
  if (!bytes.ok()) return bytes.status();
  return local.PutModel(local_name, version, *bytes);
}

ShardVersions::ShardVersions(const ClusterContext& context, std::string collection,
                             uint64_t incarnation, std::string local_name)
    : context_(context),
      collection_(std::move(collection)),
      incarnation_(incarnation),
      local_(std::move(local_name)) {}

ShardVersions::~ShardVersions() { Stop(); }

void ShardVersions::Start(std::shared_ptr<CollectionRuntime> runtime) {
  runtime_ = std::move(runtime);
  thread_ = std::thread([this] {
    // Re-encoding is background work: it yields to queries.
    LowerThisThreadPriority(context_.options->background_nice);
    Run();
  });
}

void ShardVersions::Stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopped_) return;
    stopped_ = true;
  }
  changed_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void ShardVersions::Update(uint64_t serving, uint64_t target) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (serving_ == serving && target_ == target) return;
    serving_ = serving;
    target_ = target;
  }
  changed_.notify_all();
}

void ShardVersions::Run() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (!stopped_) {
    const uint64_t serving = serving_, target = target_;
    lock.unlock();
    auto current = runtime_->serving();
    const uint64_t local = current == nullptr ? 0 : current->model->version;
    // The version to build: the serving one first, else the promotion's target.
    uint64_t want = 0;
    if (serving != 0 && local != serving) {
      want = serving;
    } else if (target != 0 && target != local) {
      want = target;
    }
    auto promotion = runtime_->promotion();
    if (promotion != nullptr && promotion->model->version != want) {
      CancelPromotion();
      promotion = nullptr;
    }
    bool failed = false;
    if (want != 0) {
      if (promotion == nullptr || complete_.load() != want) {
        failed = !Reencode(want);
        promotion = runtime_->promotion();
      }
      if (!failed && want == serving && promotion != nullptr && complete_.load() == want) {
        Swap(promotion);
      }
    }
    lock.lock();
    if (stopped_) break;
    if (serving_ == serving && target_ == target) {
      changed_.wait_for(lock, std::chrono::seconds(failed ? 2 : 1));
    }
  }
}

bool ShardVersions::Reencode(uint64_t version) {
  CancelPromotion();
  CollectionRegistry& registry = context_.core->collections();
  absl::Status s = InstallModel(context_, collection_, incarnation_, version, local_);
  auto model = s.ok() ? registry.LoadModel(local_, version)
                      : absl::StatusOr<std::shared_ptr<const ServingModel>>(s);
  if (!model.ok()) {
    BN_LOG(WARNING) << "shard " << local_ << ": model v" << version
                    << " cannot be loaded: " << model.status();
    return false;
  }
  auto index = registry.OpenIndex(*runtime_, **model);
  if (!index.ok()) {
    BN_LOG(WARNING) << "shard " << local_ << ": index of v" << version
                    << " cannot be opened: " << index.status();
    return false;
  }
  auto promotion = std::make_shared<PromotionState>();
  promotion->model = *model;
  promotion->index = *index;
  promotion->start_unix_seconds = std::time(nullptr);
  {
    std::lock_guard<std::mutex> write(runtime_->write_mutex());
    runtime_->set_promotion(promotion);
  }
  std::vector<std::string> ids;
  s = CollectionStore(context_.store).ScanItems(local_, [&](const Item& item) {
    ids.push_back(item.id);
    return true;
  });
  promotion->items_total = ids.size();
  BN_LOG(INFO) << "shard " << local_ << ": encoding " << ids.size() << " items with model v"
               << version;
  for (size_t start = 0; s.ok() && start < ids.size(); start += kReencodeBatch) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (stopped_ || (serving_ != version && target_ != version)) return false;
    }
    const size_t end = std::min(ids.size(), start + kReencodeBatch);
    s = context_.core->ingest().Reencode(
        runtime_.get(), *promotion,
        std::vector<std::string>(ids.begin() + start, ids.begin() + end));
    promotion->items_done = end;
  }
  if (s.ok()) s = promotion->index->CatchUp();
  if (!s.ok()) {
    BN_LOG(WARNING) << "shard " << local_ << ": encoding with v" << version << " failed: " << s;
    CancelPromotion();
    return false;
  }
  complete_ = version;
  BN_LOG(INFO) << "shard " << local_ << ": index of model v" << version << " complete ("
               << promotion->index->index().size() << " items)";
  return true;
}

void ShardVersions::Swap(const std::shared_ptr<PromotionState>& promotion) {
  const uint64_t version = promotion->model->version;
  {
    std::lock_guard<std::mutex> write(runtime_->write_mutex());
    if (runtime_->promotion() != promotion) return;
    if (absl::Status s = promotion->index->CatchUp(); !s.ok()) {
      BN_LOG(WARNING) << "shard " << local_ << ": catch-up before serving v" << version
                      << " failed: " << s;
      return;
    }
    v1::Collection record = runtime_->record();
    record.mutable_stats()->clear_promotion();
    record.mutable_stats()->set_serving_model_version(version);
    if (absl::Status s = context_.core->collections().SaveRecord(runtime_.get(), record); !s.ok()) {
      BN_LOG(WARNING) << "shard " << local_ << ": cannot record serving v" << version << ": " << s;
      return;
    }
    auto state = std::make_shared<ServingState>();
    state->model = promotion->model;
    state->index = promotion->index;
    runtime_->set_serving(state);
    runtime_->set_promotion(nullptr);
  }
  complete_ = 0;
  BN_LOG(INFO) << "shard " << local_ << ": serving model v" << version;
  if (auto saved = promotion->index->SaveSnapshot(); !saved.ok()) {
    BN_LOG(WARNING) << "shard " << local_ << ": index snapshot not saved: " << saved.status();
  }
}

void ShardVersions::CancelPromotion() {
  std::lock_guard<std::mutex> write(runtime_->write_mutex());
  if (auto promotion = runtime_->promotion()) {
    promotion->cancelled = true;
    runtime_->set_promotion(nullptr);
  }
  complete_ = 0;
}

std::vector<uint64_t> ShardVersions::ReadyVersions() const {
  std::vector<uint64_t> out;
  if (runtime_ == nullptr) return out;
  if (auto serving = runtime_->serving()) out.push_back(serving->model->version);
  const uint64_t complete = complete_.load();
  if (auto promotion = runtime_->promotion();
      promotion != nullptr && complete != 0 && promotion->model->version == complete) {
    out.push_back(complete);
  }
  return out;
}

absl::StatusOr<ShardVersions::Searchable> ShardVersions::For(uint64_t version) const {
  if (runtime_ != nullptr) {
    if (auto serving = runtime_->serving(); serving && serving->model->version == version) {
      return Searchable{serving->model, serving->index};
    }
    if (auto promotion = runtime_->promotion();
        promotion && promotion->model->version == version && complete_.load() == version) {
      return Searchable{promotion->model, promotion->index};
    }
  }
  const std::vector<uint64_t> ready = ReadyVersions();
  return absl::FailedPreconditionError(
      absl::StrCat("shard replica ", local_, " has no complete index of model v", version,
                   " (ready: ", ready.empty() ? "none" : absl::StrJoin(ready, ", "), ")"));
}

void ShardVersions::Progress(uint64_t* version, uint64_t* done, uint64_t* total) const {
  *version = *done = *total = 0;
  if (runtime_ == nullptr) return;
  if (auto promotion = runtime_->promotion()) {
    *version = promotion->model->version;
    *done = promotion->items_done.load();
    *total = promotion->items_total.load();
  }
}

}  // namespace bn::cluster
