#include "server/core/core.h"

#include "server/core/runtime.h"

namespace bn {

absl::StatusOr<std::unique_ptr<Core>> Core::Open(Store* store, const CoreOptions& options) {
  std::unique_ptr<Core> core(new Core());
  CollectionRegistry::Options registry;
  registry.data_dir = options.data_dir;
  registry.neighbour_cache_items = options.neighbour_cache_items;
  registry.encode_batch_max = options.encode_batch_max;
  registry.bf16_encode = options.bf16_encode;
  registry.follower = options.follower;
  registry.follow_interval = options.follow_interval;
  registry.snapshot_interval = options.snapshot_interval;
  registry.background_nice = options.background_nice;
  core->registry_ = std::make_unique<CollectionRegistry>(store, registry);
  core->ingest_ =
      std::make_unique<ItemIngest>(store, core->registry_.get(), options.max_batch_items);
  core->queries_ = std::make_unique<QueryEngine>(store, core->registry_.get());
  core->datasets_ = std::make_unique<DatasetCatalog>(
      store, core->registry_.get(),
      DatasetCatalog::Limits{options.max_dataset_examples, options.max_dataset_bytes});
  core->promoter_ = std::make_unique<Promoter>(store, core->registry_.get(), core->ingest_.get(),
                                               options.background_nice);
  JobManager::Options jobs;
  jobs.training_enabled = options.training_enabled && !options.follower;
  jobs.max_concurrent_jobs = options.max_concurrent_jobs;
  jobs.max_queued_jobs = options.max_queued_jobs;
  jobs.training_threads = options.training_threads;
  jobs.training_nice = options.training_nice;
  jobs.checkpoint_interval = options.checkpoint_interval;
  core->jobs_ = std::make_unique<JobManager>(store, core->registry_.get(), core->datasets_.get(),
                                             core->promoter_.get(), jobs);
  core->backups_ = std::make_unique<Backups>(
      store, core->registry_.get(),
      options.backup_dir.empty() ? options.data_dir + "/backups" : options.backup_dir,
      options.background_nice);

  if (absl::Status s = core->registry_->LoadAll(); !s.ok()) return s;
  // Jobs and promotions belong to the primary.
  if (!options.follower) {
    for (const auto& runtime : core->registry_->All()) {
      if (absl::Status s = core->jobs_->Recover(runtime->name()); !s.ok()) return s;
      if (!options.training_enabled || store->read_only()) continue;
      if (absl::Status s = core->promoter_->Resume(runtime); !s.ok()) return s;
    }
  }
  core->registry_->StartBackground();
  return core;
}

Core::~Core() { Shutdown(); }

void Core::Shutdown() {
  if (registry_ == nullptr) return;
  promoter_->Shutdown();  // Re-encoding stops; the target stays recorded and resumes on restart.
  jobs_->Shutdown();      // Jobs see their cancel flag and end INTERRUPTED.
  registry_->Shutdown();  // Last snapshots.
}

absl::Status Core::DeleteCollection(const std::string& name) {
  if (absl::Status s = registry_->CheckWritable(); !s.ok()) return s;
  auto runtime = registry_->Find(name);
  if (!runtime.ok()) return runtime.status();
  jobs_->Forget(name);
  promoter_->Cancel(**runtime);
  return registry_->Remove(name);
}

}  // namespace bn
