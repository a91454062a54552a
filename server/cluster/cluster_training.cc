#include "server/cluster/cluster_training.h"

#include <algorithm>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "engine/store/blob_store.h"
#include "engine/util/log.h"
#include "server/cluster/blob_channel.h"
#include "server/cluster/cluster_collections.h"
#include "server/cluster/cluster_models.h"
#include "server/cluster/local_state.h"
#include "server/cluster/metadata.h"
#include "server/cluster/model_cache.h"
#include "server/cluster/nats_client.h"
#include "server/cluster/peers.h"
#include "server/cluster/shard_versions.h"
#include "server/core/core.h"
#include "server/core/model_record.h"
#include "server/core/validation.h"

namespace bn::cluster {
namespace {

namespace pb = ::bottleneck::cluster;
namespace v1 = ::bottleneck::v1;
using Clock = std::chrono::steady_clock;

bool Finished(v1::JobState state) {
  return state == v1::JOB_STATE_SUCCEEDED || state == v1::JOB_STATE_FAILED ||
         state == v1::JOB_STATE_CANCELLED || state == v1::JOB_STATE_INTERRUPTED;
}

// "<collection>__t.<n>" (the workspace's job) -> "<collection>.<node>.<n>".
std::string ClusterJobId(const std::string& collection, const std::string& node,
                         const std::string& local_id) {
  return absl::StrCat(collection, ".", node, ".", local_id.substr(local_id.rfind('.') + 1));
}

// The local job as the cluster shows it.
v1::Job Translate(v1::Job job, const pb::JobEntry& entry) {
  job.set_id(entry.job().id());
  job.set_collection(entry.job().collection());
  job.set_promote_when_done(entry.job().promote_when_done());
  job.mutable_progress()->set_job_id(entry.job().id());
  job.set_model_version(entry.job().model_version());  // The published version (0 until then).
  return job;
}
}  // namespace

ClusterTraining::ClusterTraining(const ClusterContext& context, LocalState* local,
                                 ClusterCollections* collections, ClusterModels* models)
    : context_(context), local_(local), collections_(collections), models_(models) {}

ClusterTraining::~ClusterTraining() { Stop(); }

absl::StatusOr<ClusterTraining::JobRecord> ClusterTraining::ReadJob(const std::string& job_id) {
  if (job_id.empty() || job_id.size() > 256) {
    return absl::InvalidArgumentError("job_id must be 1-256 characters");
  }
  auto value = context_.metadata->jobs().Get(job_id);
  if (!value.ok()) {
    // A malformed id is not a valid key: it names no job.
    if (value.status().code() == absl::StatusCode::kInvalidArgument) {
      return absl::NotFoundError("job '" + job_id + "' not found");
    }
    return value.status();
  }
  JobRecord record;
  if (!value->has_value() || !record.entry.ParseFromString((*value)->value)) {
    return absl::NotFoundError("job '" + job_id + "' not found");
  }
  record.revision = (*value)->revision;
  return record;
}

v1::Job ClusterTraining::Visible(const pb::JobEntry& entry) const {
  v1::Job job = entry.job();
  if (!Finished(job.state()) && entry.node() != context_.options->node_id) {
    auto node = context_.metadata->Node(entry.node());
    if (!node.has_value() || !node->live) {
      job.set_state(v1::JOB_STATE_INTERRUPTED);
      job.mutable_progress()->set_state(v1::JOB_STATE_INTERRUPTED);
      job.set_error("its node " + entry.node() + " is down; ResumeJob continues it there");
    }
  }
  return job;
}

absl::Status ClusterTraining::Mirror(const pb::JobEntry& entry) {
  return context_.metadata->jobs().Put(entry.job().id(), entry.SerializeAsString()).status();
}

absl::StatusOr<v1::Job> ClusterTraining::StartTraining(const v1::StartTrainingRequest& request) {
  auto view = collections_->Find(request.collection());
  if (!view.ok()) return view.status();
  if (!context_.options->training) {
    return absl::FailedPreconditionError(
        "node " + context_.options->node_id +
        " does not train (--no-training): send StartTraining to a node that does");
  }
  if (absl::Status s = ValidateName("dataset", request.dataset()); !s.ok()) return s;
  // The job itself runs with promote_when_done off (the cluster promotes the published version),
  // so the single node's refusal is made here.
  if (request.spec().has_classifier() && request.promote_when_done()) {
    return absl::InvalidArgumentError(
        "promote_when_done: a classifier version cannot serve the collection's index "
        "(QueryService.Classify serves it)");
  }
  auto workspace = EnsureWorkspace(context_, local_, view->entry);
  if (!workspace.ok()) return workspace.status();
  // A classifier from an encoder version reads that version in the workspace: install the
  // cluster's version there first (a workspace holds only the versions this node used).
  if (const uint64_t encoder = request.spec().classifier().encoder_model_version();
      request.spec().has_classifier() && encoder != 0) {
    if (absl::Status s = InstallModel(context_, request.collection(), view->entry.incarnation(),
                                      encoder, *workspace);
        !s.ok()) {
      return s;
    }
  }
  if (absl::Status s = ImportDataset(view->entry, *workspace, request.dataset()); !s.ok()) {
    return s;
  }
  v1::StartTrainingRequest local = request;
  local.set_collection(*workspace);
  local.set_promote_when_done(false);  // The cluster promotes the published version.
  auto job = context_.core->jobs().Start(local);
  if (!job.ok()) return job.status();
  pb::JobEntry entry;
  entry.set_node(context_.options->node_id);
  entry.set_incarnation(view->entry.incarnation());
  entry.set_local_id(job->id());
  entry.mutable_job()->set_id(
      ClusterJobId(request.collection(), context_.options->node_id, job->id()));
  entry.mutable_job()->set_collection(request.collection());
  entry.mutable_job()->set_promote_when_done(request.promote_when_done());
  *entry.mutable_job() = Translate(*job, entry);
  if (absl::Status s = Mirror(entry); !s.ok()) {
    (void)context_.core->jobs().Cancel(job->id());
    return s;
  }
  Track(entry);
  return entry.job();
}

void ClusterTraining::Track(pb::JobEntry entry) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (stopped_) return;
  const std::string id = entry.job().id();
  auto it = trackers_.find(id);
  if (it != trackers_.end()) {
    if (it->second.joinable()) it->second.join();  // Its job had ended (it is being resumed).
    trackers_.erase(it);
  }
  trackers_[id] = std::thread([this, entry]() mutable {
    auto last = Clock::now() - std::chrono::seconds(1);
    v1::JobState last_state = entry.job().state();
    absl::Status watched =
        context_.core->jobs().Watch(entry.local_id(), [&](const v1::JobProgress& progress) {
          {
            std::lock_guard<std::mutex> lock(mutex_);
            if (stopped_) return false;
          }
          const bool changed = progress.state() != last_state;
          if (!changed && Clock::now() - last < std::chrono::milliseconds(500)) return true;
          auto local = context_.core->jobs().Get(entry.local_id());
          if (!local.ok()) return false;
          if (Finished(local->state())) return true;  // Finish() mirrors the end.
          *entry.mutable_job() = Translate(*local, entry);
          if (absl::Status s = Mirror(entry); !s.ok()) {
            BN_LOG(WARNING) << "job " << entry.job().id() << ": state not mirrored: " << s;
          }
          last = Clock::now();
          last_state = progress.state();
          return true;
        });
    auto local = context_.core->jobs().Get(entry.local_id());
    if (watched.ok() && local.ok() && Finished(local->state())) Finish(entry, *local);
  });
}

void ClusterTraining::Finish(pb::JobEntry entry, const v1::Job& local) {
  v1::Job job = Translate(local, entry);
  if (local.state() == v1::JOB_STATE_SUCCEEDED && entry.job().model_version() == 0) {
    // Publish the workspace's version as the collection's next one.
    absl::Status s = absl::OkStatus();
    auto view = collections_->Find(entry.job().collection());
    const std::string workspace = Names::LocalTraining(entry.job().collection());
    BlobStore blobs(context_.store);
    auto blob = view.ok() ? blobs.GetModel(workspace, local.model_version())
                          : absl::StatusOr<std::string>(view.status());
    auto record = blob.ok() ? DecodeModelRecord(*blob) : absl::StatusOr<ModelRecord>(blob.status());
    if (record.ok() && view->entry.incarnation() == entry.incarnation()) {
      record->meta.set_job_id(job.id());
      auto version = models_->Publish(view->entry, &*record);
      if (version.ok()) {
        (void)blobs.DeleteModel(workspace, local.model_version());
        (void)blobs.PutModel(workspace, *version, EncodeModelRecord(*record));
        job.set_model_version(*version);
        entry.mutable_job()->set_model_version(*version);
        if (entry.job().promote_when_done()) {
          if (auto promoted = models_->Promote(entry.job().collection(), *version);
              !promoted.ok()) {
            BN_LOG(WARNING) << "job " << job.id() << ": model v" << *version
                            << " not promoted: " << promoted.status();
          }
        }
      } else {
        s = version.status();
      }
    } else {
      s = record.ok() ? absl::NotFoundError("the collection was deleted") : record.status();
    }
    if (!s.ok()) {
      BN_LOG(ERROR) << "job " << job.id() << ": the model was not published: " << s;
      job.set_state(v1::JOB_STATE_FAILED);
      job.mutable_progress()->set_state(v1::JOB_STATE_FAILED);
      job.set_error("the trained model could not be published: " + std::string(s.message()));
    }
  }
  *entry.mutable_job() = job;
  if (absl::Status s = Mirror(entry); !s.ok()) {
    BN_LOG(WARNING) << "job " << job.id() << ": final state not mirrored: " << s;
  }
}

void ClusterTraining::Start() {
  // Jobs this node ran before it stopped came back INTERRUPTED (or succeeded unpublished).
  for (const auto& [workspace, local] : local_->All()) {
    if (!local.training()) continue;
    auto view = context_.metadata->Collection(local.collection());
    if (!view.has_value() || view->entry.incarnation() != local.incarnation()) continue;
    auto jobs = context_.core->jobs().List(workspace);
    if (!jobs.ok()) continue;
    for (const v1::Job& job : jobs->jobs()) {
      const std::string id = ClusterJobId(local.collection(), context_.options->node_id, job.id());
      auto record = ReadJob(id);
      if (!record.ok()) continue;  // Never mirrored, or its collection was deleted.
      if (record->entry.job().state() == job.state() &&
          (job.state() != v1::JOB_STATE_SUCCEEDED || record->entry.job().model_version() != 0)) {
        continue;
      }
      if (Finished(job.state())) {
        Finish(record->entry, job);
      } else {
        Track(record->entry);
      }
    }
  }
}

void ClusterTraining::Stop() {
  std::map<std::string, std::thread> trackers;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopped_) return;
    stopped_ = true;
    trackers.swap(trackers_);
  }
  for (auto& [id, thread] : trackers) {
    if (thread.joinable()) thread.join();
  }
}

absl::StatusOr<v1::Job> ClusterTraining::GetJob(const std::string& job_id) {
  auto record = ReadJob(job_id);
  if (!record.ok()) return record.status();
  return Visible(record->entry);
}

absl::StatusOr<v1::ListJobsResponse> ClusterTraining::ListJobs(const std::string& collection) {
  if (!collection.empty()) {
    if (auto view = collections_->Find(collection); !view.ok()) return view.status();
  }
  auto keys = context_.metadata->jobs().Keys();
  if (!keys.ok()) return keys.status();
  std::sort(keys->begin(), keys->end());
  v1::ListJobsResponse response;
  for (const std::string& key : *keys) {
    if (!collection.empty() && !absl::StartsWith(key, collection + ".")) continue;
    auto record = ReadJob(key);
    if (record.ok()) *response.add_jobs() = Visible(record->entry);
  }
  return response;
}

absl::StatusOr<v1::Job> ClusterTraining::Forward(const std::string& job_id, bool resume,
                                                 Deadline deadline) {
  auto record = ReadJob(job_id);
  if (!record.ok()) return record.status();
  const pb::JobEntry& entry = record->entry;
  pb::ForwardJobRequest request;
  request.set_protocol_version(kProtocolVersion);
  request.set_job_id(job_id);
  request.set_resume(resume);
  if (entry.node() == context_.options->node_id) return HandleForward(request);
  if (!resume && Finished(entry.job().state())) return entry.job();
  // As the single node answers (and a job restored from a backup names a node that may not exist).
  if (resume && Finished(entry.job().state())) {
    return absl::FailedPreconditionError("only INTERRUPTED jobs can be resumed; job '" + job_id +
                                         "' is " + v1::JobState_Name(entry.job().state()));
  }
  auto node = context_.metadata->Node(entry.node());
  if (!node.has_value() || !node->live) {
    return absl::FailedPreconditionError(
        absl::StrCat("job ", job_id, " runs on node ", entry.node(), ", which is down; ",
                     resume ? "resume" : "cancel", " it when the node is back"));
  }
  return context_.peers->ForwardJob(node->entry.address(), request, deadline);
}

absl::StatusOr<v1::Job> ClusterTraining::CancelJob(const std::string& job_id, Deadline deadline) {
  return Forward(job_id, /*resume=*/false, deadline);
}

absl::StatusOr<v1::Job> ClusterTraining::ResumeJob(const std::string& job_id, Deadline deadline) {
  return Forward(job_id, /*resume=*/true, deadline);
}

absl::StatusOr<v1::Job> ClusterTraining::HandleForward(const pb::ForwardJobRequest& request) {
  if (request.protocol_version() != kProtocolVersion) {
    return absl::FailedPreconditionError(
        absl::StrCat("node ", context_.options->node_id, " speaks cluster protocol version ",
                     kProtocolVersion, ", the caller version ", request.protocol_version()));
  }
  auto record = ReadJob(request.job_id());
  if (!record.ok()) return record.status();
  pb::JobEntry entry = record->entry;
  if (entry.node() != context_.options->node_id) {
    return absl::FailedPreconditionError("job " + request.job_id() + " runs on node " +
                                         entry.node() + ", not here");
  }
  auto local = request.resume() ? context_.core->jobs().Resume(entry.local_id())
                                : context_.core->jobs().Cancel(entry.local_id());
  if (!local.ok()) return local.status();
  *entry.mutable_job() = Translate(*local, entry);
  if (absl::Status s = Mirror(entry); !s.ok()) return s;
  if (request.resume()) Track(entry);
  return entry.job();
}

absl::Status ClusterTraining::WatchJob(const std::string& job_id,
                                       const std::function<bool(const v1::JobProgress&)>& emit) {
  std::string last;
  auto emitted = Clock::now();
  while (true) {
    auto record = ReadJob(job_id);
    if (!record.ok()) return record.status();
    const v1::Job job = Visible(record->entry);
    const std::string progress = job.progress().SerializeAsString();
    // On every change, and at least once a second (so that a vanished watcher is noticed).
    if (progress != last || Clock::now() - emitted > std::chrono::seconds(1)) {
      last = progress;
      emitted = Clock::now();
      if (!emit(job.progress())) return absl::CancelledError("watcher went away");
    }
    if (Finished(job.state())) return absl::OkStatus();
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
}

}  // namespace bn::cluster
