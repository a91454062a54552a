// Core: TrainingService (datasets and jobs).
#include <google/protobuf/util/time_util.h>

#include <chrono>
#include <map>
#include <set>

#include "engine/model/model_file.h"
#include "engine/util/log.h"
#include "server/core/core.h"
#include "server/core/core_impl.h"
#include "server/core/inputs.h"
#include "server/core/model_record.h"
#include "server/core/specs.h"
#include "server/core/trainer.h"
#include "server/validation.h"

namespace bn {

namespace v1 = ::bottleneck::v1;
using google::protobuf::util::TimeUtil;

bool JobEntry::finished() const {
  return job.state() == v1::JOB_STATE_SUCCEEDED || job.state() == v1::JOB_STATE_FAILED ||
         job.state() == v1::JOB_STATE_CANCELLED || job.state() == v1::JOB_STATE_INTERRUPTED;
}

namespace {

constexpr auto kPersistProgressEvery = std::chrono::seconds(5);

}  // namespace

// --- Jobs ---

absl::StatusOr<std::shared_ptr<JobEntry>> Core::Impl::FindJob(const std::string& job_id) {
  std::lock_guard<std::mutex> lock(jobs_mutex);
  auto it = jobs.find(job_id);
  if (it == jobs.end()) return absl::NotFoundError("job '" + job_id + "' not found");
  return it->second;
}

void Core::Impl::UpdateJob(const std::shared_ptr<JobEntry>& entry,
                           const std::function<void(v1::Job*)>& update, bool persist) {
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
  if (persist) {
    if (absl::Status s = blobs.PutJob(entry->collection, copy.id(), copy.SerializeAsString());
        !s.ok()) {
      BN_LOG(WARNING) << "job " << copy.id() << ": state not persisted: " << s;
    }
  }
}

absl::Status Core::Impl::RecoverJobs(const std::string& collection) {
  auto stored = blobs.ListJobs(collection);
  if (!stored.ok()) return stored.status();
  for (const auto& [job_id, blob] : *stored) {
    auto entry = std::make_shared<JobEntry>();
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
    std::lock_guard<std::mutex> lock(jobs_mutex);
    const std::string id(job_id);
    const size_t dot = id.rfind('.');
    if (dot != std::string::npos) {
      next_job_number =
          std::max<uint64_t>(next_job_number, std::strtoull(id.c_str() + dot + 1, nullptr, 10) + 1);
    }
    jobs[id] = entry;
  }
  return absl::OkStatus();
}

void Core::Impl::CancelJobsOf(const std::string& collection) {
  std::vector<std::string> ids;
  {
    std::lock_guard<std::mutex> lock(jobs_mutex);
    for (auto it = jobs.begin(); it != jobs.end();) {
      if (it->second->collection == collection) {
        {
          std::lock_guard<std::mutex> entry_lock(it->second->mutex);
          it->second->removed = true;
        }
        ids.push_back(it->first);
        it = jobs.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (const std::string& id : ids) runner.Cancel(id);
}

absl::Status Core::Impl::SubmitJob(const std::shared_ptr<JobEntry>& entry) {
  return runner.Submit(entry->job.id(),
                       [this, entry](const CancellationFlag& cancel) { RunJob(entry, cancel); });
}

absl::StatusOr<v1::Job> Core::StartTraining(const v1::StartTrainingRequest& request) {
  Impl& impl = *impl_;
  if (!impl.options.training_enabled) {
    return absl::FailedPreconditionError("training is disabled on this server (query replica)");
  }
  auto runtime = impl.Find(request.collection());
  if (!runtime.ok()) return runtime.status();
  // The request's own faults first (INVALID_ARGUMENT), then what depends on stored state.
  v1::ModelSpec spec = request.spec();
  if (absl::Status s = NormalizeModelSpec((*runtime)->spec(), &spec); !s.ok()) return s;
  auto dataset = GetDataset(request.collection(), request.dataset());
  if (!dataset.ok()) return dataset.status();
  if (request.description().size() > 1024) {
    return absl::InvalidArgumentError("description must be at most 1024 bytes");
  }
  auto entry = std::make_shared<JobEntry>();
  entry->collection = request.collection();
  {
    std::lock_guard<std::mutex> lock(impl.jobs_mutex);
    entry->job.set_id(request.collection() + "." + std::to_string(impl.next_job_number++));
  }
  v1::Job& job = entry->job;
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
  if (absl::Status s = impl.blobs.PutJob(entry->collection, job.id(), job.SerializeAsString());
      !s.ok()) {
    return s;
  }
  {
    std::lock_guard<std::mutex> lock(impl.jobs_mutex);
    impl.jobs[job.id()] = entry;
  }
  if (absl::Status s = impl.SubmitJob(entry); !s.ok()) {
    std::lock_guard<std::mutex> lock(impl.jobs_mutex);
    impl.jobs.erase(job.id());
    (void)impl.blobs.DeleteJob(entry->collection, job.id());
    return s;
  }
  BN_LOG(INFO) << "job " << job.id() << " queued (" << request.dataset() << ")";
  std::lock_guard<std::mutex> lock(entry->mutex);
  return entry->job;
}

absl::StatusOr<v1::Job> Core::GetJob(const std::string& job_id) {
  auto entry = impl_->FindJob(job_id);
  if (!entry.ok()) return entry.status();
  std::lock_guard<std::mutex> lock((*entry)->mutex);
  return (*entry)->job;
}

absl::StatusOr<v1::ListJobsResponse> Core::ListJobs(const std::string& collection) {
  if (!collection.empty()) {
    auto runtime = impl_->Find(collection);
    if (!runtime.ok()) return runtime.status();
  }
  std::vector<std::shared_ptr<JobEntry>> entries;
  {
    std::lock_guard<std::mutex> lock(impl_->jobs_mutex);
    for (auto& [id, entry] : impl_->jobs) {
      if (collection.empty() || entry->collection == collection) entries.push_back(entry);
    }
  }
  v1::ListJobsResponse response;
  for (auto& entry : entries) {
    std::lock_guard<std::mutex> lock(entry->mutex);
    *response.add_jobs() = entry->job;
  }
  return response;
}

absl::StatusOr<v1::Job> Core::CancelJob(const std::string& job_id) {
  auto entry = impl_->FindJob(job_id);
  if (!entry.ok()) return entry.status();
  impl_->runner.Cancel(job_id);
  {
    // A job that is not running any more (interrupted) is cancelled right here.
    std::lock_guard<std::mutex> lock((*entry)->mutex);
    if ((*entry)->job.state() != v1::JOB_STATE_INTERRUPTED) return (*entry)->job;
  }
  impl_->UpdateJob(
      *entry,
      [](v1::Job* job) {
        job->set_state(v1::JOB_STATE_CANCELLED);
        *job->mutable_end_time() = TimeUtil::GetCurrentTime();
      },
      true);
  std::lock_guard<std::mutex> lock((*entry)->mutex);
  return (*entry)->job;
}

absl::StatusOr<v1::Job> Core::ResumeJob(const std::string& job_id) {
  auto entry = impl_->FindJob(job_id);
  if (!entry.ok()) return entry.status();
  {
    std::lock_guard<std::mutex> lock((*entry)->mutex);
    if ((*entry)->job.state() != v1::JOB_STATE_INTERRUPTED) {
      return absl::FailedPreconditionError("only INTERRUPTED jobs can be resumed; job '" + job_id +
                                           "' is " + v1::JobState_Name((*entry)->job.state()));
    }
  }
  impl_->UpdateJob(
      *entry,
      [](v1::Job* job) {
        job->set_state(v1::JOB_STATE_QUEUED);
        job->clear_end_time();
      },
      true);
  if (absl::Status s = impl_->SubmitJob(*entry); !s.ok()) {
    impl_->UpdateJob(
        *entry, [](v1::Job* job) { job->set_state(v1::JOB_STATE_INTERRUPTED); }, true);
    return s;
  }
  std::lock_guard<std::mutex> lock((*entry)->mutex);
  return (*entry)->job;
}

absl::Status Core::WatchJob(const std::string& job_id,
                            const std::function<bool(const v1::JobProgress&)>& emit) {
  auto entry_or = impl_->FindJob(job_id);
  if (!entry_or.ok()) return entry_or.status();
  JobEntry& entry = **entry_or;
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

absl::Status Core::Impl::LoadDataset(const v1::Job& job, const v1::CollectionSpec& spec,
                                     const CancellationFlag& cancel, LabelledMatrix* all,
                                     std::unique_ptr<TextPipeline>* text) {
  std::vector<v1::Example> examples;
  absl::Status parse = absl::OkStatus();
  absl::Status s = blobs.ScanDataset(job.collection(), job.dataset(),
                                     [&](uint64_t index, absl::string_view blob) {
                                       if (index == 0) return true;  // The dataset's metadata.
                                       v1::UploadDatasetRequest batch;
                                       if (!batch.ParseFromString(std::string(blob))) {
                                         parse = absl::DataLossError("malformed dataset batch");
                                         return false;
                                       }
                                       for (v1::Example& example : *batch.mutable_examples()) {
                                         examples.push_back(std::move(example));
                                       }
                                       return !cancel.cancelled();
                                     });
  if (!s.ok()) return s;
  if (!parse.ok()) return parse;
  if (spec.has_document()) {
    std::vector<const v1::Document*> corpus;
    for (const v1::Example& example : examples) corpus.push_back(&example.input().document());
    auto learned =
        TextPipeline::Learn(corpus, spec.document().vocabulary_size(), job.spec().text());
    if (!learned.ok()) return learned.status();
    *text = std::move(*learned);
    all->x.cols = (*text)->vocabulary_size();
  } else {
    all->x.cols = InputSize(spec);
  }
  std::map<std::string, int> label_ids;
  bool any_unlabelled = false;
  int64_t skipped = 0;
  for (const v1::Example& example : examples) {
    const size_t before = all->x.data.size();
    s = InputToVector(spec, text->get(), example.input(), &all->x.data);
    if (!s.ok()) {
      // Documents with no word of the learned vocabulary carry nothing to learn from.
      if (spec.has_document() && s.code() == absl::StatusCode::kInvalidArgument) {
        all->x.data.resize(before);
        ++skipped;
        continue;
      }
      return s;
    }
    if (example.label().empty()) {
      any_unlabelled = true;
      all->labels.push_back(-1);
    } else {
      auto [it, inserted] = label_ids.emplace(example.label(), static_cast<int>(label_ids.size()));
      all->labels.push_back(it->second);
    }
  }
  if (skipped > 0) {
    BN_LOG(INFO) << "job " << job.id() << ": " << skipped
                 << " documents have no word of the vocabulary and were skipped";
  }
  all->x.rows = all->x.cols == 0 ? 0 : static_cast<int64_t>(all->x.data.size()) / all->x.cols;
  if (any_unlabelled) all->labels.assign(all->labels.size(), -1);
  return absl::OkStatus();
}

void Core::Impl::RunJob(const std::shared_ptr<JobEntry>& entry, const CancellationFlag& cancel) {
  const auto started = std::chrono::steady_clock::now();
  v1::Job job;
  {
    std::lock_guard<std::mutex> lock(entry->mutex);
    job = entry->job;
  }
  auto finish = [&](v1::JobState state, const std::string& error, uint64_t version) {
    UpdateJob(
        entry,
        [&](v1::Job* j) {
          j->set_state(state);
          j->set_error(error);
          if (version != 0) j->set_model_version(version);
          *j->mutable_end_time() = TimeUtil::GetCurrentTime();
          j->mutable_progress()->set_eta_seconds(0);
        },
        true);
    BN_LOG(INFO) << "job " << job.id() << " " << v1::JobState_Name(state)
                 << (error.empty() ? "" : ": " + error);
  };
  auto stopped = [&]() {
    // Cancellation during shutdown leaves the job resumable; otherwise the user cancelled it.
    std::lock_guard<std::mutex> lock(threads_mutex);
    return shut_down ? v1::JOB_STATE_INTERRUPTED : v1::JOB_STATE_CANCELLED;
  };
  if (cancel.cancelled()) return finish(stopped(), "", 0);
  UpdateJob(
      entry,
      [](v1::Job* j) {
        j->set_state(v1::JOB_STATE_RUNNING);
        *j->mutable_start_time() = TimeUtil::GetCurrentTime();
      },
      true);

  auto runtime = Find(job.collection());
  if (!runtime.ok())
    return finish(v1::JOB_STATE_FAILED, std::string(runtime.status().message()), 0);
  const v1::CollectionSpec& spec = (*runtime)->spec();

  // Load the dataset into a matrix (labels mapped to small integers). Document collections
  // first learn the model version's vocabulary from the dataset's texts.
  LabelledMatrix all;
  std::unique_ptr<TextPipeline> text;
  absl::Status s = LoadDataset(job, spec, cancel, &all, &text);
  if (!s.ok()) {
    return finish(v1::JOB_STATE_FAILED, "loading the dataset: " + std::string(s.message()), 0);
  }
  if (cancel.cancelled()) return finish(stopped(), "", 0);

  LabelledMatrix train, validation;
  s = SplitForValidation(all, job.spec().training().validation_fraction(),
                         job.spec().training().seed(), &train, &validation);
  if (!s.ok()) return finish(v1::JOB_STATE_FAILED, std::string(s.message()), 0);
  all = LabelledMatrix();

  auto last_persist = std::chrono::steady_clock::now();
  ProgressCallback progress = [&](const TrainingProgress& p) {
    const auto now = std::chrono::steady_clock::now();
    const bool epoch_end = p.steps_per_epoch > 0 && p.step >= p.steps_per_epoch && p.epoch > 0;
    const bool persist = epoch_end || now - last_persist > kPersistProgressEvery;
    if (persist) last_persist = now;
    UpdateJob(
        entry,
        [&](v1::Job* j) {
          if (epoch_end) {
            const int n = j->history_size();
            const bool same =
                n > 0 && j->history(n - 1).phase_index() == static_cast<uint32_t>(p.phase_index) &&
                j->history(n - 1).epoch() == static_cast<uint32_t>(p.epoch);
            v1::EpochSummary* h = same ? j->mutable_history(n - 1) : j->add_history();
            h->set_phase(p.phase);
            h->set_phase_index(p.phase_index);
            h->set_epoch(p.epoch);
            h->set_loss(p.loss);
            h->set_validation_error(p.validation_error);
            h->set_elapsed_seconds(std::chrono::duration<double>(now - started).count());
          }
          v1::JobProgress* out = j->mutable_progress();
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
          out->set_elapsed_seconds(std::chrono::duration<double>(now - started).count());
        },
        persist);
  };
  TrainingHooks hooks;
  hooks.threads = options.training_threads;
  hooks.progress = progress;
  // A checkpoint is tens of MB for large nets (weights and Adam moments): written every epoch,
  // its store writes, flushes and compactions would compete with queries. At most one per
  // checkpoint_interval (0: every epoch).
  auto last_checkpoint = std::chrono::steady_clock::now();
  hooks.want_checkpoint = [&] {
    return std::chrono::steady_clock::now() - last_checkpoint >= options.checkpoint_interval;
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
  auto trained = TrainAndEvaluate(spec, job.spec(), train, validation, hooks, cancel);
  if (!trained.ok()) {
    if (cancel.cancelled() || trained.status().code() == absl::StatusCode::kCancelled) {
      return finish(stopped(), "", 0);
    }
    return finish(v1::JOB_STATE_FAILED, std::string(trained.status().message()), 0);
  }

  // Store the new model version.
  ModelRecord record;
  if (text != nullptr) record.text = text->Serialize();
  auto file = SerializeModel(*trained->model);
  if (!file.ok()) return finish(v1::JOB_STATE_FAILED, std::string(file.status().message()), 0);
  record.model_file = std::move(*file);
  uint64_t version = 0;
  {
    std::lock_guard<std::mutex> admin(admin_mutex);
    auto current = Find(job.collection());
    if (!current.ok() || *current != *runtime) {
      return finish(v1::JOB_STATE_CANCELLED, "the collection was deleted", 0);
    }
    auto versions = blobs.ListModelVersions(job.collection());
    s = versions.status();
    if (s.ok() && !versions->empty()) version = versions->back();
    ++version;
    v1::Model& meta = record.meta;
    meta.set_collection(job.collection());
    meta.set_version(version);
    meta.set_job_id(job.id());
    *meta.mutable_spec() = job.spec();
    meta.set_code_size(static_cast<uint32_t>(trained->model->code_size()));
    meta.set_parameter_count(trained->model->parameter_count());
    *meta.mutable_report() = trained->report;
    *meta.mutable_create_time() = TimeUtil::GetCurrentTime();
    if (s.ok()) s = blobs.PutModel(job.collection(), version, EncodeModelRecord(record));
  }
  if (!s.ok())
    return finish(v1::JOB_STATE_FAILED, "storing the model: " + std::string(s.message()), 0);
  BN_LOG(INFO) << "job " << job.id() << ": model v" << version << " stored; validation error "
               << trained->report.reconstruction_error() << " (PCA "
               << trained->report.pca_reconstruction_error() << ")";
  finish(v1::JOB_STATE_SUCCEEDED, "", version);
  if (job.promote_when_done()) {
    auto promotion = Promote(*runtime, version);
    if (!promotion.ok()) {
      BN_LOG(WARNING) << "job " << job.id() << ": automatic promotion of v" << version
                      << " did not start: " << promotion.status();
    }
  }
}

}  // namespace bn
