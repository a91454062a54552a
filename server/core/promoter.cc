#include "server/core/promoter.h"

#include <google/protobuf/util/time_util.h>

#include <algorithm>
#include <chrono>

#include "engine/store/collection_store.h"
#include "engine/util/log.h"
#include "server/core/collection_registry.h"
#include "server/core/item_ingest.h"
#include "server/core/runtime.h"
#include "server/core/thread_priority.h"

namespace bn {

namespace v1 = ::bottleneck::v1;

namespace {

constexpr size_t kReencodeBatch = 256;  // Items per write (and per hold of the write lock).

int64_t NowUnixSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

Promoter::Promoter(Store* store, CollectionRegistry* registry, ItemIngest* ingest,
                   int background_nice)
    : store_(store), registry_(registry), ingest_(ingest), background_nice_(background_nice) {}

Promoter::~Promoter() { Shutdown(); }

absl::StatusOr<v1::Promotion> Promoter::Promote(const std::string& collection, uint64_t version) {
  if (absl::Status s = registry_->CheckWritable(); !s.ok()) return s;
  auto runtime = registry_->Find(collection);
  if (!runtime.ok()) return runtime.status();
  if (version == 0) return absl::InvalidArgumentError("version must be >= 1");
  return Start(*runtime, version);
}

absl::StatusOr<v1::Promotion> Promoter::Start(const std::shared_ptr<CollectionRuntime>& runtime,
                                              uint64_t version) {
  auto admin = registry_->LockAdmin();
  auto count = CollectionStore(store_).CountItems(runtime->name());
  if (!count.ok()) return count.status();
  v1::Promotion promotion;
  promotion.set_target_model_version(version);
  auto serving = runtime->serving();
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
  auto model = registry_->LoadModel(runtime->name(), version);
  if (!model.ok()) return model.status();
  if ((*model)->meta.spec().has_classifier()) {
    return absl::FailedPreconditionError(
        "model version " + std::to_string(version) +
        " is a classifier: its outputs are label probabilities, not codes, so it cannot serve "
        "the collection's index (QueryService.Classify serves it)");
  }
  if (absl::Status s = Launch(runtime, *model); !s.ok()) return s;
  promotion.set_items_total(*count);
  return promotion;
}

absl::Status Promoter::Resume(const std::shared_ptr<CollectionRuntime>& runtime) {
  const uint64_t target = runtime->record().stats().promotion().target_model_version();
  if (target == 0) return absl::OkStatus();
  auto model = registry_->LoadModel(runtime->name(), target);
  if (!model.ok()) return model.status();
  BN_LOG(INFO) << "collection " << runtime->name() << ": resuming the promotion of model v"
               << target;
  return Launch(runtime, *model);
}

absl::Status Promoter::Launch(const std::shared_ptr<CollectionRuntime>& runtime,
                              std::shared_ptr<const ServingModel> model) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (shut_down_) return absl::UnavailableError("the server is shutting down");
  auto index = registry_->OpenIndex(*runtime, *model);
  if (!index.ok()) return index.status();
  auto promotion = std::make_shared<PromotionState>();
  promotion->model = std::move(model);
  promotion->index = *index;
  promotion->start_unix_seconds = NowUnixSeconds();
  v1::Collection record = runtime->record();
  v1::Promotion* stored = record.mutable_stats()->mutable_promotion();
  stored->set_target_model_version(promotion->model->version);
  *stored->mutable_start_time() =
      google::protobuf::util::TimeUtil::SecondsToTimestamp(promotion->start_unix_seconds);
  {
    std::lock_guard<std::mutex> write(runtime->write_mutex());
    if (absl::Status s = registry_->SaveRecord(runtime.get(), record); !s.ok()) return s;
    runtime->set_promotion(promotion);
  }
  BN_LOG(INFO) << "collection " << runtime->name() << ": promoting model v"
               << promotion->model->version << " (re-encoding every item in the background)";
  threads_.emplace_back([this, runtime, promotion] {
    LowerThisThreadPriority(background_nice_);  // Re-encoding yields to queries.
    Run(runtime, promotion);
  });
  return absl::OkStatus();
}

void Promoter::Run(const std::shared_ptr<CollectionRuntime>& runtime,
                   const std::shared_ptr<PromotionState>& promotion) {
  std::vector<std::string> ids;
  absl::Status s = CollectionStore(store_).ScanItems(runtime->name(), [&](const Item& item) {
    ids.push_back(item.id);
    return true;
  });
  promotion->items_total = ids.size();
  for (size_t start = 0; s.ok() && start < ids.size(); start += kReencodeBatch) {
    if (promotion->cancelled) {
      BN_LOG(INFO) << "collection " << runtime->name() << ": promotion paused at " << start << "/"
                   << ids.size() << " items (it resumes on restart)";
      return;
    }
    const size_t end = std::min(ids.size(), start + kReencodeBatch);
    s = ingest_->Reencode(runtime.get(), *promotion,
                          std::vector<std::string>(ids.begin() + start, ids.begin() + end));
    promotion->items_done = end;
  }
  Finish(runtime.get(), promotion, s);
}

void Promoter::Finish(CollectionRuntime* runtime, const std::shared_ptr<PromotionState>& promotion,
                      absl::Status s) {
  const std::string& name = runtime->name();
  const uint64_t version = promotion->model->version;
  std::lock_guard<std::mutex> write(runtime->write_mutex());
  if (promotion->cancelled) return;  // Shutdown (resumes on restart) or collection deleted.
  v1::Collection record = runtime->record();
  record.mutable_stats()->clear_promotion();
  if (s.ok()) s = promotion->index->CatchUp();
  if (!s.ok()) {
    BN_LOG(ERROR) << "collection " << name << ": promotion of model v" << version
                  << " failed: " << s;
    (void)registry_->SaveRecord(runtime, record);
    runtime->set_promotion(nullptr);
    return;
  }
  record.mutable_stats()->set_serving_model_version(version);
  if (absl::Status e = registry_->SaveRecord(runtime, record); !e.ok()) {
    BN_LOG(ERROR) << "collection " << name << ": cannot record the promotion: " << e;
    runtime->set_promotion(nullptr);
    return;
  }
  auto state = std::make_shared<ServingState>();
  state->model = promotion->model;
  state->index = promotion->index;
  runtime->set_serving(state);
  runtime->set_promotion(nullptr);
  BN_LOG(INFO) << "collection " << name << ": now serving model v" << version << " ("
               << promotion->index->index().size() << " items indexed)";
  if (auto saved = promotion->index->SaveSnapshot(); !saved.ok()) {
    BN_LOG(WARNING) << "collection " << name << ": snapshot not saved: " << saved.status();
  }
}

void Promoter::Cancel(const CollectionRuntime& runtime) {
  if (auto promotion = runtime.promotion()) promotion->cancelled = true;
}

void Promoter::Shutdown() {
  std::vector<std::thread> threads;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (shut_down_) return;
    shut_down_ = true;
    threads.swap(threads_);
  }
  for (const auto& runtime : registry_->All()) Cancel(*runtime);
  for (auto& thread : threads) {
    if (thread.joinable()) thread.join();
  }
}

}  // namespace bn
