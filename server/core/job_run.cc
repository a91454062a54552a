// JobManager: the body of one training job, on a JobRunner thread.
//   load the dataset -> split off validation -> TrainAndEvaluate (PCA baseline, the model,
//   the report), or TrainClassifierAndEvaluate for a classifier (from its encoder version) ->
//   store a new model version -> promote it when asked.
// Progress goes to the job record (persisted at epoch ends and every few seconds) and to
// watchers; checkpoints go to the store at most every checkpoint_interval.
#include <google/protobuf/util/time_util.h>

#include <chrono>

#include "engine/model/model_file.h"
#include "engine/store/blob_store.h"
#include "engine/util/log.h"
#include "server/core/collection_registry.h"
#include "server/core/dataset_catalog.h"
#include "server/core/job_manager.h"
#include "server/core/model_record.h"
#include "server/core/promoter.h"
#include "server/core/runtime.h"
#include "server/core/trainer.h"

namespace bn {

namespace v1 = ::bottleneck::v1;
using google::protobuf::util::TimeUtil;

namespace {

constexpr auto kPersistProgressEvery = std::chrono::seconds(5);

// Copies a progress report into the job (and, at an epoch's end, into its history).
void RecordProgress(const TrainingProgress& p, bool epoch_end, double elapsed, v1::Job* job) {
  if (epoch_end) {
    const int n = job->history_size();
    const bool same = n > 0 &&
                      job->history(n - 1).phase_index() == static_cast<uint32_t>(p.phase_index) &&
                      job->history(n - 1).epoch() == static_cast<uint32_t>(p.epoch);
    v1::EpochSummary* h = same ? job->mutable_history(n - 1) : job->add_history();
    h->set_phase(p.phase);
    h->set_phase_index(p.phase_index);
    h->set_epoch(p.epoch);
    h->set_loss(p.loss);
    h->set_validation_error(p.validation_error);
    h->set_elapsed_seconds(elapsed);
  }
  v1::JobProgress* out = job->mutable_progress();
  out->set_phase(p.phase);
  out->set_phase_index(p.phase_index);
  out->set_phase_count(p.phase_count);
  out->set_epoch(p.epoch);
  out->set_epochs(p.epochs);
  out->set_step(p.step);
  out->set_steps_per_epoch(p.steps_per_epoch);
  out->set_loss(p.loss);
  out->set_validation_error(p.validation_error);
  out->set_samples_per_second(p.samples_per_second);
  out->set_eta_seconds(p.eta_seconds);
  out->set_elapsed_seconds(elapsed);
}

}  // namespace

v1::JobState JobManager::Stopped() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return shut_down_ ? v1::JOB_STATE_INTERRUPTED : v1::JOB_STATE_CANCELLED;
}

void JobManager::Finish(const EntryPtr& entry, v1::JobState state, const std::string& error,
                        uint64_t version) {
  Update(
      entry,
      [&](v1::Job* j) {
        j->set_state(state);
        j->set_error(error);
        if (version != 0) j->set_model_version(version);
        *j->mutable_end_time() = TimeUtil::GetCurrentTime();
        j->mutable_progress()->set_eta_seconds(0);
      },
      true);
  BN_LOG(INFO) << "job " << entry->job.id() << " " << v1::JobState_Name(state)
               << (error.empty() ? "" : ": " + error);
}

std::function<void(const TrainingProgress&)> JobManager::ProgressRecorder(const EntryPtr& entry) {
  const auto started = std::chrono::steady_clock::now();
  auto last_persist = std::make_shared<std::chrono::steady_clock::time_point>(started);
  return [this, entry, started, last_persist](const TrainingProgress& p) {
    const auto now = std::chrono::steady_clock::now();
    const bool epoch_end = p.steps_per_epoch > 0 && p.step >= p.steps_per_epoch && p.epoch > 0;
    const bool persist = epoch_end || now - *last_persist > kPersistProgressEvery;
    if (persist) *last_persist = now;
    const double elapsed = std::chrono::duration<double>(now - started).count();
    Update(
        entry, [&](v1::Job* job) { RecordProgress(p, epoch_end, elapsed, job); }, persist);
  };
}

absl::StatusOr<uint64_t> JobManager::TrainAndStore(
    const EntryPtr& entry, const std::shared_ptr<CollectionRuntime>& runtime,
    const CancellationFlag& cancel) {
  const v1::Job job = entry->Snapshot();
  const v1::CollectionSpec& spec = runtime->spec();
  LabelledMatrix all;
  std::unique_ptr<TextPipeline> text;
  // A classifier from an encoder: that version's model, and its text pipeline for documents.
  std::shared_ptr<const ServingModel> encoder;
  if (job.spec().has_classifier() && job.spec().classifier().encoder_model_version() != 0) {
    auto loaded =
        registry_->LoadModel(job.collection(), job.spec().classifier().encoder_model_version());
    if (!loaded.ok()) {
      return absl::Status(loaded.status().code(),
                          "loading the encoder: " + std::string(loaded.status().message()));
    }
    encoder = std::move(*loaded);
    if (encoder->text != nullptr) {
      auto copy = TextPipeline::Deserialize(encoder->text->Serialize());
      if (!copy.ok()) return copy.status();
      text = std::move(*copy);
    }
  }
  if (absl::Status s = datasets_->Load(job, spec, cancel, &all, &text); !s.ok()) {
    if (cancel.cancelled()) return absl::CancelledError("cancelled");
    return absl::Status(s.code(), "loading the dataset: " + std::string(s.message()));
  }
  if (cancel.cancelled()) return absl::CancelledError("cancelled");
  LabelledMatrix train;
  ValidationData validation;
  if (absl::Status s = SplitForTraining(all, job.spec().training(), &train, &validation); !s.ok()) {
    return s;
  }
  all = LabelledMatrix();

  BlobStore blobs(store_);
  TrainingHooks hooks;
  hooks.threads = options_.training_threads;
  hooks.progress = ProgressRecorder(entry);
  // A checkpoint is tens of MB for large nets (weights and Adam moments): written every epoch,
  // its store writes, flushes and compactions would compete with queries.
  auto last_checkpoint = std::chrono::steady_clock::now();
  hooks.want_checkpoint = [&] {
    return std::chrono::steady_clock::now() - last_checkpoint >= options_.checkpoint_interval;
  };
  hooks.on_checkpoint = [&](const std::string& bytes) {
    last_checkpoint = std::chrono::steady_clock::now();
    if (absl::Status e = blobs.PutJobCheckpoint(job.collection(), job.id(), bytes); !e.ok()) {
      BN_LOG(WARNING) << "job " << job.id() << ": checkpoint not saved: " << e;
    }
  };
  auto checkpoint = blobs.GetJobCheckpoint(job.collection(), job.id());
  if (checkpoint.ok()) {
    hooks.resume_from = &*checkpoint;
    BN_LOG(INFO) << "job " << job.id() << ": resuming from its checkpoint";
  }
  auto trained =
      job.spec().has_classifier()
          ? TrainClassifierAndEvaluate(spec, job.spec(), encoder ? encoder->model.get() : nullptr,
                                       train, validation, hooks, cancel)
          : TrainAndEvaluate(spec, job.spec(), train, validation, hooks, cancel);
  if (!trained.ok()) return trained.status();

  ModelRecord record;
  if (text != nullptr) record.text = text->Serialize();
  auto file = SerializeModel(*trained->model);
  if (!file.ok()) return file.status();
  record.model_file = std::move(*file);
  v1::Model& meta = record.meta;
  meta.set_job_id(job.id());
  *meta.mutable_spec() = job.spec();
  meta.set_code_size(static_cast<uint32_t>(trained->model->code_size()));
  meta.set_parameter_count(trained->model->parameter_count());
  *meta.mutable_report() = trained->report;
  *meta.mutable_create_time() = TimeUtil::GetCurrentTime();
  if (text != nullptr) {
    meta.set_vocabulary_source(text->source());
    meta.set_vocabulary_word_count(text->vocabulary_size());
  }
  if (job.spec().has_classifier()) {
    *meta.mutable_class_labels() = {train.label_names.begin(), train.label_names.end()};
  }
  auto version = registry_->AddModel(runtime, &record);
  if (!version.ok()) {
    if (version.status().code() == absl::StatusCode::kCancelled) return version.status();
    return absl::Status(version.status().code(),
                        "storing the model: " + std::string(version.status().message()));
  }
  if (job.spec().has_classifier()) {
    BN_LOG(INFO) << "job " << job.id() << ": classifier v" << *version
                 << " stored; validation classification error "
                 << trained->report.classification_error();
  } else {
    BN_LOG(INFO) << "job " << job.id() << ": model v" << *version << " stored; validation error "
                 << trained->report.reconstruction_error() << " (PCA "
                 << trained->report.pca_reconstruction_error() << ")";
  }
  return *version;
}

void JobManager::Run(const EntryPtr& entry, const CancellationFlag& cancel) {
  if (cancel.cancelled()) return Finish(entry, Stopped(), "", 0);
  Update(
      entry,
      [](v1::Job* j) {
        j->set_state(v1::JOB_STATE_RUNNING);
        *j->mutable_start_time() = TimeUtil::GetCurrentTime();
      },
      true);
  const v1::Job job = entry->Snapshot();
  auto runtime = registry_->Find(job.collection());
  if (!runtime.ok()) {
    return Finish(entry, v1::JOB_STATE_FAILED, std::string(runtime.status().message()), 0);
  }
  auto version = TrainAndStore(entry, *runtime, cancel);
  if (!version.ok()) {
    if (cancel.cancelled()) return Finish(entry, Stopped(), "", 0);
    if (version.status().code() == absl::StatusCode::kCancelled) {
      // Cancelled without the flag: the collection went away while the model was stored.
      return Finish(entry, v1::JOB_STATE_CANCELLED, std::string(version.status().message()), 0);
    }
    return Finish(entry, v1::JOB_STATE_FAILED, std::string(version.status().message()), 0);
  }
  Finish(entry, v1::JOB_STATE_SUCCEEDED, "", *version);
  if (job.promote_when_done()) {
    auto promotion = promoter_->Promote(job.collection(), *version);
    if (!promotion.ok()) {
      BN_LOG(WARNING) << "job " << job.id() << ": automatic promotion of v" << *version
                      << " did not start: " << promotion.status();
    }
  }
}

}  // namespace bn
