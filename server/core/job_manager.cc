// JobManager: the jobs' records, queueing, cancel/resume, watching and recovery. The job's body
// is in job_run.cc.
#include "server/core/job_manager.h"

#include <google/protobuf/util/time_util.h>

#include <algorithm>
#include <cstdlib>
#include <vector>

#include "engine/store/blob_store.h"
#include "engine/util/log.h"
#include "server/core/collection_registry.h"
#include "server/core/dataset_catalog.h"
#include "server/core/job_runner.h"
#include "server/core/recipes.h"
#include "server/core/runtime.h"
#include "server/core/specs.h"

namespace bn {

namespace v1 = ::bottleneck::v1;
using google::protobuf::util::TimeUtil;

namespace {

constexpr size_t kMaxDescriptionBytes = 1024;

bool Finished(v1::JobState state) {
  return state == v1::JOB_STATE_SUCCEEDED || state == v1::JOB_STATE_FAILED ||
         state == v1::JOB_STATE_CANCELLED || state == v1::JOB_STATE_INTERRUPTED;
}

// The number in a job id "collection.N" (0 if it has none).
uint64_t JobNumber(const std::string& id) {
  const size_t dot = id.rfind('.');
  return dot == std::string::npos ? 0 : std::strtoull(id.c_str() + dot + 1, nullptr, 10);
}

// A classifier spec against stored state: the dataset must be labelled, and a named encoder
// version must be a dense auto-encoder of the collection with enough layers. Fills in how many
// layers are reused and, for documents, the encoder's text options (its pipeline is kept).
absl::Status ResolveClassifier(const CollectionRegistry& registry,
                               const v1::StartTrainingRequest& request, const v1::Dataset& dataset,
                               v1::ModelSpec* spec) {
  if (dataset.labelled_count() < dataset.example_count()) {
    return absl::FailedPreconditionError(
        "a classifier trains on labels, but only " + std::to_string(dataset.labelled_count()) +
        " of the " + std::to_string(dataset.example_count()) + " examples of dataset '" +
        request.dataset() + "' are labelled");
  }
  v1::ClassifierSpec* c = spec->mutable_classifier();
  if (c->encoder_model_version() == 0) return absl::OkStatus();
  auto encoder = registry.GetModel(request.collection(), c->encoder_model_version());
  if (!encoder.ok()) return encoder.status();
  const std::string version = "classifier.encoder_model_version " +
                              std::to_string(c->encoder_model_version()) + " of collection '" +
                              request.collection() + "'";
  if (!encoder->spec().has_dense()) {
    const v1::ModelSpec& e = encoder->spec();
    const std::string kind = e.has_pca()          ? "a PCA model"
                             : e.has_lsa()        ? "an LSA model"
                             : e.has_conv()       ? "a convolutional auto-encoder"
                             : e.has_classifier() ? "a classifier"
                                                  : "not an auto-encoder";
    return absl::FailedPreconditionError(
        version + " is " + kind +
        "; a classifier reuses the encoder layers of a dense auto-encoder version");
  }
  const uint32_t hidden = static_cast<uint32_t>(encoder->spec().dense().encoder_sizes_size());
  if (c->encoder_layers() == 0) c->set_encoder_layers(hidden > 0 ? hidden : 1);
  if (c->encoder_layers() > hidden + 1) {
    return absl::InvalidArgumentError("classifier.encoder_layers is " +
                                      std::to_string(c->encoder_layers()) + ", but " + version +
                                      " has " + std::to_string(hidden + 1) + " encoder layers (" +
                                      std::to_string(hidden) + " hidden and the code layer)");
  }
  if (encoder->spec().has_text()) *spec->mutable_text() = encoder->spec().text();
  return absl::OkStatus();
}

}  // namespace

bool JobManager::Entry::finished() const { return Finished(job.state()); }

v1::Job JobManager::Entry::Snapshot() const {
  std::lock_guard<std::mutex> lock(mutex);
  return job;
}

JobManager::JobManager(Store* store, CollectionRegistry* registry, const DatasetCatalog* datasets,
                       Promoter* promoter, Options options)
    : store_(store),
      registry_(registry),
      datasets_(datasets),
      promoter_(promoter),
      options_(options),
      runner_(std::make_unique<JobRunner>(options.max_concurrent_jobs, options.max_queued_jobs,
                                          options.training_nice)) {}

JobManager::~JobManager() { Shutdown(); }

void JobManager::Shutdown() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    shut_down_ = true;
  }
  runner_->Shutdown();  // Jobs see their cancel flag and end INTERRUPTED.
}

absl::StatusOr<JobManager::EntryPtr> JobManager::Find(const std::string& job_id) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = jobs_.find(job_id);
  if (it == jobs_.end()) return absl::NotFoundError("job '" + job_id + "' not found");
  return it->second;
}

void JobManager::Update(const EntryPtr& entry, const std::function<void(v1::Job*)>& update,
                        bool persist) {
  v1::Job copy;
  {
    std::lock_guard<std::mutex> lock(entry->mutex);
    persist = persist && !entry->removed;
    update(&entry->job);
    entry->job.mutable_progress()->set_state(entry->job.state());
    entry->job.mutable_progress()->set_job_id(entry->job.id());
    ++entry->sequence;
    copy = entry->job;
  }
  entry->changed.notify_all();
  if (!persist) return;
  if (absl::Status s =
          BlobStore(store_).PutJob(entry->collection, copy.id(), copy.SerializeAsString());
      !s.ok()) {
    BN_LOG(WARNING) << "job " << copy.id() << ": state not persisted: " << s;
  }
}

absl::Status JobManager::Recover(const std::string& collection) {
  BlobStore blobs(store_);
  auto stored = blobs.ListJobs(collection);
  if (!stored.ok()) return stored.status();
  for (const auto& [job_id, blob] : *stored) {
    auto entry = std::make_shared<Entry>();
    entry->collection = collection;
    if (!entry->job.ParseFromString(blob)) {
      BN_LOG(WARNING) << "job " << job_id << ": malformed record skipped";
      continue;
    }
    if (entry->job.state() == v1::JOB_STATE_QUEUED || entry->job.state() == v1::JOB_STATE_RUNNING) {
      entry->job.set_state(v1::JOB_STATE_INTERRUPTED);
      entry->job.mutable_progress()->set_state(v1::JOB_STATE_INTERRUPTED);
      *entry->job.mutable_end_time() = TimeUtil::GetCurrentTime();
      (void)blobs.PutJob(collection, job_id, entry->job.SerializeAsString());
      BN_LOG(INFO) << "job " << job_id << " was interrupted by a restart; ResumeJob continues it";
    }
    std::lock_guard<std::mutex> lock(mutex_);
    next_job_number_ = std::max(next_job_number_, JobNumber(job_id) + 1);
    jobs_[job_id] = entry;
  }
  return absl::OkStatus();
}

void JobManager::Forget(const std::string& collection) {
  std::vector<std::string> ids;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto it = jobs_.begin(); it != jobs_.end();) {
      if (it->second->collection != collection) {
        ++it;
        continue;
      }
      {
        std::lock_guard<std::mutex> entry_lock(it->second->mutex);
        it->second->removed = true;
      }
      ids.push_back(it->first);
      it = jobs_.erase(it);
    }
  }
  for (const std::string& id : ids) runner_->Cancel(id);
}

absl::Status JobManager::Submit(const EntryPtr& entry) {
  return runner_->Submit(entry->job.id(),
                         [this, entry](const CancellationFlag& cancel) { Run(entry, cancel); });
}

absl::StatusOr<v1::Job> JobManager::Start(const v1::StartTrainingRequest& request) {
  if (!options_.training_enabled) {
    return absl::FailedPreconditionError("training is disabled on this server (query replica)");
  }
  auto runtime = registry_->Find(request.collection());
  if (!runtime.ok()) return runtime.status();
  // The request's own faults first (INVALID_ARGUMENT), then what depends on stored state. A
  // spec without an architecture gets the default recipe for the collection and dataset size.
  auto dataset = datasets_->Get(request.collection(), request.dataset());
  v1::ModelSpec spec = request.spec();
  ApplyDefaultRecipe((*runtime)->spec(), dataset.ok() ? dataset->example_count() : 0, &spec);
  if (absl::Status s = NormalizeModelSpec((*runtime)->spec(), &spec); !s.ok()) return s;
  if (spec.has_classifier() && request.promote_when_done()) {
    return absl::InvalidArgumentError(
        "promote_when_done: a classifier version cannot serve the collection's index "
        "(QueryService.Classify serves it)");
  }
  if (!dataset.ok()) return dataset.status();
  // A job ends by saving a model (and checkpoints on the way): not while the disk is full.
  if (absl::Status s = store_->CheckWrite(); !s.ok()) return s;
  if (spec.training().validation() == v1::VALIDATION_SPLIT_BY_LABEL &&
      dataset->labelled_count() < dataset->example_count()) {
    return absl::FailedPreconditionError("validation BY_LABEL holds out whole labels, but only " +
                                         std::to_string(dataset->labelled_count()) + " of the " +
                                         std::to_string(dataset->example_count()) +
                                         " examples of dataset '" + request.dataset() +
                                         "' are labelled");
  }
  if (request.description().size() > kMaxDescriptionBytes) {
    return absl::InvalidArgumentError("description must be at most 1024 bytes");
  }
  if (spec.has_classifier()) {
    if (absl::Status s = ResolveClassifier(*registry_, request, *dataset, &spec); !s.ok()) {
      return s;
    }
  }
  auto entry = std::make_shared<Entry>();
  entry->collection = request.collection();
  v1::Job& job = entry->job;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    job.set_id(request.collection() + "." + std::to_string(next_job_number_++));
  }
  job.set_collection(request.collection());
  job.set_dataset(request.dataset());
  *job.mutable_spec() = spec;
  job.set_state(v1::JOB_STATE_QUEUED);
  job.set_promote_when_done(request.promote_when_done());
  job.set_description(request.description());
  *job.mutable_create_time() = TimeUtil::GetCurrentTime();
  job.mutable_progress()->set_job_id(job.id());
  job.mutable_progress()->set_state(v1::JOB_STATE_QUEUED);
  job.mutable_progress()->set_eta_seconds(-1);
  BlobStore blobs(store_);
  if (absl::Status s = blobs.PutJob(entry->collection, job.id(), job.SerializeAsString());
      !s.ok()) {
    return s;
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    jobs_[job.id()] = entry;
  }
  if (absl::Status s = Submit(entry); !s.ok()) {
    std::lock_guard<std::mutex> lock(mutex_);
    jobs_.erase(job.id());
    (void)blobs.DeleteJob(entry->collection, job.id());
    return s;
  }
  BN_LOG(INFO) << "job " << job.id() << " queued (" << request.dataset() << ")";
  return entry->Snapshot();
}

absl::StatusOr<v1::Job> JobManager::Get(const std::string& job_id) const {
  auto entry = Find(job_id);
  if (!entry.ok()) return entry.status();
  return (*entry)->Snapshot();
}

absl::StatusOr<v1::ListJobsResponse> JobManager::List(const std::string& collection) const {
  if (!collection.empty()) {
    auto runtime = registry_->Find(collection);
    if (!runtime.ok()) return runtime.status();
  }
  std::vector<EntryPtr> entries;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (const auto& [id, entry] : jobs_) {
      if (collection.empty() || entry->collection == collection) entries.push_back(entry);
    }
  }
  v1::ListJobsResponse response;
  for (const auto& entry : entries) *response.add_jobs() = entry->Snapshot();
  return response;
}

absl::StatusOr<v1::Job> JobManager::Cancel(const std::string& job_id) {
  auto entry = Find(job_id);
  if (!entry.ok()) return entry.status();
  runner_->Cancel(job_id);
  // A job that is not running any more (interrupted) is cancelled right here.
  if ((*entry)->Snapshot().state() != v1::JOB_STATE_INTERRUPTED) return (*entry)->Snapshot();
  Update(
      *entry,
      [](v1::Job* job) {
        job->set_state(v1::JOB_STATE_CANCELLED);
        *job->mutable_end_time() = TimeUtil::GetCurrentTime();
      },
      true);
  return (*entry)->Snapshot();
}

absl::StatusOr<v1::Job> JobManager::Resume(const std::string& job_id) {
  auto entry = Find(job_id);
  if (!entry.ok()) return entry.status();
  const v1::JobState state = (*entry)->Snapshot().state();
  if (state != v1::JOB_STATE_INTERRUPTED) {
    return absl::FailedPreconditionError("only INTERRUPTED jobs can be resumed; job '" + job_id +
                                         "' is " + v1::JobState_Name(state));
  }
  if (absl::Status s = store_->CheckWrite(); !s.ok()) return s;
  Update(
      *entry,
      [](v1::Job* job) {
        job->set_state(v1::JOB_STATE_QUEUED);
        job->clear_end_time();
      },
      true);
  if (absl::Status s = Submit(*entry); !s.ok()) {
    Update(
        *entry, [](v1::Job* job) { job->set_state(v1::JOB_STATE_INTERRUPTED); }, true);
    return s;
  }
  return (*entry)->Snapshot();
}

absl::Status JobManager::Watch(const std::string& job_id,
                               const std::function<bool(const v1::JobProgress&)>& emit) const {
  auto found = Find(job_id);
  if (!found.ok()) return found.status();
  const Entry& entry = **found;
  uint64_t seen = 0;
  while (true) {
    v1::JobProgress progress;
    bool finished;
    {
      std::unique_lock<std::mutex> lock(entry.mutex);
      // Wake at least once a second so that a vanished client is noticed by `emit`.
      entry.changed.wait_for(lock, std::chrono::seconds(1),
                             [&] { return entry.sequence != seen || entry.finished(); });
      progress = entry.job.progress();
      finished = entry.finished();
      seen = entry.sequence;
    }
    if (!emit(progress)) return absl::CancelledError("watcher went away");
    if (finished) return absl::OkStatus();
  }
}

}  // namespace bn
