#include "server/cluster/cluster_backups.h"

#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/time_util.h>
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <ctime>
#include <filesystem>
#include <functional>
#include <random>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "engine/util/atomic_file.h"
#include "engine/util/log.h"
#include "server/cluster/backup_files.h"
#include "server/cluster/blob_channel.h"
#include "server/cluster/metadata.h"
#include "server/cluster/peers.h"
#include "server/cluster/replica_manager.h"
#include "server/cluster/retry.h"
#include "server/cluster/shard_replica.h"
#include "server/cluster/topology.h"
#include "server/core/backup_dir.h"
#include "server/core/validation.h"

namespace bn::cluster {
namespace {

namespace pb = ::bottleneck::cluster;
namespace v1 = ::bottleneck::v1;
namespace fs = std::filesystem;
using google::protobuf::util::TimeUtil;

constexpr auto kCutBudget = std::chrono::seconds(120);

absl::Status FromErrorCode(const std::error_code& ec, const std::string& context) {
  return ErrnoStatus(ec.value(), context);
}

uint64_t NewBackupId() {
  static thread_local std::mt19937_64 random(std::random_device{}());
  uint64_t value = 0;
  while (value == 0) value = random();
  return value;
}

// Copies a blob into the new file dir/name and lists it in the manifest.
absl::Status CopyBlob(BlobChannel* channel, const pb::BlobRef& ref, const std::string& dir,
                      const std::string& name, pb::BackupManifest* manifest) {
  BackupFileWriter file;
  if (absl::Status s = file.Open(dir + "/" + name); !s.ok()) return s;
  if (absl::Status s =
          channel->Read(ref, [&](absl::string_view chunk) { return file.Append(chunk); });
      !s.ok()) {
    return s;
  }
  if (absl::Status s = file.Finish(); !s.ok()) return s;
  pb::BackupFile* listed = manifest->add_files();
  listed->set_path(name);
  listed->set_size(file.size());
  listed->set_crc(file.crc());
  return absl::OkStatus();
}

// Calls `each` with every present value of `bucket` whose key starts with `prefix`, in key order.
absl::Status ForEachValue(nats::KeyValue& bucket, const std::string& prefix,
                          const std::function<absl::Status(const std::string&)>& each) {
  auto keys = Retrying([&] { return bucket.Keys(); });
  if (!keys.ok()) return keys.status();
  std::sort(keys->begin(), keys->end());
  for (const std::string& key : *keys) {
    if (!absl::StartsWith(key, prefix)) continue;
    auto value = Retrying([&] { return bucket.Get(key); });
    if (!value.ok()) return value.status();
    if (!value->has_value()) continue;  // Deleted meanwhile.
    if (absl::Status s = each((*value)->value); !s.ok()) return s;
  }
  return absl::OkStatus();
}

std::string ToJson(const pb::BackupManifest& manifest) {
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.always_print_primitive_fields = true;
  options.preserve_proto_field_names = true;
  (void)google::protobuf::util::MessageToJsonString(manifest, &json, options);
  return json;
}

}  // namespace

absl::StatusOr<pb::BackupManifest> ReadClusterBackup(const std::string& dir) {
  std::error_code ec;
  const fs::path root(dir);
  if (!fs::is_directory(root, ec) || !fs::exists(root / kClusterBackupManifest, ec)) {
    return absl::NotFoundError("'" + dir + "' is not a cluster backup (it needs " +
                               kClusterBackupManifest + ")");
  }
  auto text = ReadFileToString((root / kClusterBackupManifest).string());
  if (!text.ok()) return text.status();
  pb::BackupManifest manifest;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = true;
  if (!google::protobuf::util::JsonStringToMessage(*text, &manifest, options).ok()) {
    return absl::DataLossError("the manifest " + (root / kClusterBackupManifest).string() +
                               " is malformed");
  }
  manifest.mutable_backup()->set_path(fs::absolute(root, ec).lexically_normal().string());
  return manifest;
}

absl::StatusOr<pb::BackupShardResponse> ClusterBackups::HandleShard(
    const pb::BackupShardRequest& request, std::chrono::system_clock::time_point deadline) {
  if (request.protocol_version() != kProtocolVersion) {
    return absl::FailedPreconditionError(
        absl::StrCat("node ", context_.options->node_id, " speaks cluster protocol version ",
                     kProtocolVersion, ", the caller version ", request.protocol_version()));
  }
  if (request.phase() == pb::BackupShardRequest::DELETE_BACKUP) {
    auto deleted = DeleteHere(request.backup_name());
    if (!deleted.ok()) return deleted.status();
    pb::BackupShardResponse response;
    *response.mutable_deleted() = std::move(*deleted);
    return response;
  }
  auto replica =
      context_.replicas->Find(request.collection(), request.incarnation(), request.shard());
  if (replica == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("node ", context_.options->node_id, " does not serve shard ", request.shard(),
                     " of collection '", request.collection(), "'"));
  }
  pb::BackupShardResponse response;
  switch (request.phase()) {
    case pb::BackupShardRequest::HOLD:
      if (absl::Status s = replica->Hold(request.backup_id(), kHoldTimeout); !s.ok()) return s;
      break;
    case pb::BackupShardRequest::CUT: {
      auto snapshot = replica->Cut(request.backup_id(), request.cut(), deadline);
      if (!snapshot.ok()) return snapshot.status();
      *response.mutable_snapshot() = std::move(*snapshot);
      break;
    }
    default:
      replica->Release(request.backup_id());
      break;
  }
  response.set_applied_sequence(replica->applied());
  return response;
}

absl::StatusOr<pb::BackupShardResponse> ClusterBackups::CallShard(
    const std::string& node, const std::string& address, const pb::BackupShardRequest& request,
    std::chrono::system_clock::time_point deadline) {
  if (node == context_.options->node_id) return HandleShard(request, deadline);
  // A channel per call: backups are rare, and the fan-out's channels (peers.h) stay untouched.
  const ClusterOptions& options = *context_.options;
  std::shared_ptr<grpc::ChannelCredentials> credentials = grpc::InsecureChannelCredentials();
  if (options.peer_tls) {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = options.peer_tls_roots;
    credentials = grpc::SslCredentials(ssl);
  }
  auto stub = pb::ShardService::NewStub(grpc::CreateChannel(address, credentials));
  grpc::ClientContext context;
  context.set_deadline(deadline);
  if (!options.peer_token.empty()) {
    context.AddMetadata("authorization", "Bearer " + options.peer_token);
  }
  pb::BackupShardResponse response;
  grpc::Status status = stub->BackupShard(&context, request, &response);
  if (!status.ok()) return FromGrpc(status);
  return response;
}

absl::Status ClusterBackups::BackupCollection(const pb::CollectionEntry& entry, int index,
                                              const std::string& dir,
                                              pb::BackupManifest* manifest) {
  const std::string& name = entry.collection().name();
  const std::vector<ShardTopology> topology = Topology(*context_.metadata, entry);
  std::vector<ReplicaInfo> chosen;
  for (const ShardTopology& shard : topology) {
    auto candidates = Candidates(shard, 0, context_.options->node_id);
    if (candidates.empty()) return NoReplica(name, shard, 0);
    chosen.push_back(candidates.front());
  }
  pb::BackupShardRequest request;
  request.set_protocol_version(kProtocolVersion);
  request.set_collection(name);
  request.set_incarnation(entry.incarnation());
  request.set_backup_id(NewBackupId());
  const auto hold_start = std::chrono::steady_clock::now();
  size_t held = 0;
  auto release = [&] {
    pb::BackupShardRequest r = request;
    r.set_phase(pb::BackupShardRequest::RELEASE);
    for (size_t s = 0; s < held; ++s) {
      r.set_shard(static_cast<uint32_t>(s));
      (void)CallShard(chosen[s].node, chosen[s].address, r,
                      std::chrono::system_clock::now() + std::chrono::seconds(5));
    }
  };
  request.set_phase(pb::BackupShardRequest::HOLD);
  for (; held < chosen.size(); ++held) {
    request.set_shard(static_cast<uint32_t>(held));
    auto answer = CallShard(chosen[held].node, chosen[held].address, request,
                            std::chrono::system_clock::now() + std::chrono::seconds(3));
    if (!answer.ok()) {
      release();
      return absl::UnavailableError(
          absl::StrCat("backup of collection '", name, "': holding shard ", held, " on node ",
                       chosen[held].node, ": ", answer.status().message()));
    }
  }
  // Every write acknowledged before this point (so before CreateBackup) is at or below C.
  auto stream = context_.nats->GetStream(entry.stream());
  if (!stream.ok()) {
    release();
    return stream.status();
  }
  const uint64_t cut = stream->last_sequence;
  request.set_phase(pb::BackupShardRequest::CUT);
  request.set_cut(cut);
  std::vector<absl::StatusOr<pb::BackupShardResponse>> cuts(chosen.size(),
                                                            absl::UnknownError("not cut"));
  const auto deadline = std::chrono::system_clock::now() + kCutBudget;
  {
    std::vector<std::thread> threads;
    for (size_t s = 0; s < chosen.size(); ++s) {
      threads.emplace_back([&, s] {
        pb::BackupShardRequest r = request;
        r.set_shard(static_cast<uint32_t>(s));
        cuts[s] = CallShard(chosen[s].node, chosen[s].address, r, deadline);
      });
    }
    for (std::thread& t : threads) t.join();
  }
  // From the first hold to the last shard's blob written (each replica resumed applying as soon
  // as its store snapshot was taken: ShardReplica::Cut logs that).
  const double cut_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - hold_start)
          .count();
  absl::Status failed = absl::OkStatus();
  for (size_t s = 0; s < cuts.size() && failed.ok(); ++s) {
    if (!cuts[s].ok()) {
      failed =
          absl::Status(cuts[s].status().code(),
                       absl::StrCat("backup of collection '", name, "': cutting shard ", s,
                                    " on node ", chosen[s].node, ": ", cuts[s].status().message()));
    }
  }
  pb::BackupCollectionRecord* record = manifest->add_collections();
  *record->mutable_entry() = entry;
  record->set_cut(cut);
  for (size_t s = 0; s < cuts.size(); ++s) {
    if (!cuts[s].ok()) continue;
    const pb::SnapshotEntry& snapshot = cuts[s]->snapshot();
    const std::string file = absl::StrCat("c", index, "-s", s, ".snap");
    if (failed.ok()) {
      failed = CopyBlob(context_.snapshot_blobs, snapshot.blob(), dir, file, manifest);
    }
    // Never purged (nats-io/nats-server#4196): deleted message by message.
    (void)context_.snapshot_blobs->Delete(snapshot.blob());
    pb::BackupShardFile* shard = record->add_shards();
    shard->set_shard(static_cast<uint32_t>(s));
    shard->set_items(snapshot.items());
    shard->set_code_version(snapshot.code_version());
    shard->set_file(file);
    shard->set_node(chosen[s].node);
  }
  if (!failed.ok()) {
    release();
    return failed;
  }
  // Its model versions (the ones published: an entry without a blob is being published).
  if (absl::Status s = ForEachValue(
          context_.metadata->models(), Names::ModelKeyPrefix(name, entry.incarnation()),
          [&](const std::string& value) {
            pb::ModelEntry model;
            if (!model.ParseFromString(value) || !model.has_blob()) return absl::OkStatus();
            const std::string file =
                absl::StrCat("c", index, "-m", model.model().version(), ".model");
            if (absl::Status s = CopyBlob(context_.blobs, model.blob(), dir, file, manifest);
                !s.ok()) {
              return s;
            }
            pb::BackupModelFile* listed = record->add_models();
            *listed->mutable_model() = model.model();
            listed->set_file(file);
            return absl::OkStatus();
          });
      !s.ok()) {
    return s;
  }
  if (absl::Status s = BackupDatasetsAndJobs(entry, index, dir, manifest, record); !s.ok()) {
    return s;
  }
  uint64_t items = 0;
  for (const auto& shard : record->shards()) items += shard.items();
  BN_LOG(INFO) << "backup: collection " << name << " cut at log sequence " << cut << " (" << items
               << " items in " << record->shards_size() << " shards, " << record->models_size()
               << " model versions, " << record->datasets_size() << " datasets, "
               << record->jobs_size() << " finished jobs); holds to cut blobs in " << cut_ms
               << " ms";
  return absl::OkStatus();
}

absl::Status ClusterBackups::BackupDatasetsAndJobs(const pb::CollectionEntry& entry, int index,
                                                   const std::string& dir,
                                                   pb::BackupManifest* manifest,
                                                   pb::BackupCollectionRecord* record) {
  const std::string& name = entry.collection().name();
  // Datasets (an entry is created only once its blob is complete).
  absl::Status s = ForEachValue(
      context_.metadata->datasets(), Names::DatasetKeyPrefix(name, entry.incarnation()),
      [&](const std::string& value) {
        pb::DatasetEntry dataset;
        if (!dataset.ParseFromString(value) || !dataset.has_blob()) return absl::OkStatus();
        const std::string file =
            absl::StrCat("c", index, "-d", record->datasets_size(), ".dataset");
        absl::Status copied = CopyBlob(context_.blobs, dataset.blob(), dir, file, manifest);
        if (absl::IsNotFound(copied)) {  // Deleted between the read and the copy.
          std::error_code ec;
          fs::remove(fs::path(dir) / file, ec);  // CopyBlob lists a file only once it is whole.
          return absl::OkStatus();
        }
        if (!copied.ok()) return copied;
        pb::BackupDatasetFile* listed = record->add_datasets();
        *listed->mutable_dataset() = dataset.dataset();
        listed->set_file(file);
        return absl::OkStatus();
      });
  if (!s.ok()) return s;
  // Finished jobs of this incarnation (keys <collection>.<node>.<number>): their reports. A job
  // still running has no result to restore (the restored cluster has no node running it).
  return ForEachValue(context_.metadata->jobs(), name + ".", [&](const std::string& value) {
    pb::JobEntry job;
    if (!job.ParseFromString(value) || job.incarnation() != entry.incarnation() ||
        job.job().collection() != name) {
      return absl::OkStatus();
    }
    const v1::JobState state = job.job().state();
    if (state != v1::JOB_STATE_SUCCEEDED && state != v1::JOB_STATE_FAILED &&
        state != v1::JOB_STATE_CANCELLED) {
      BN_LOG(INFO) << "backup: job " << job.job().id() << " is " << v1::JobState_Name(state)
                   << ": not in the backup";
      return absl::OkStatus();
    }
    *record->add_jobs() = std::move(job);
    return absl::OkStatus();
  });
}

absl::StatusOr<v1::Backup> ClusterBackups::Create(const v1::CreateBackupRequest& request) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto name = NewBackupName(request.name(), backup_dir_);
  if (!name.ok()) return name.status();
  // On the caller's thread at normal priority, unlike the single node's copy (which runs at
  // --background-nice): threads inherit their creator's priority, so the cuts of this node's own
  // replicas would run at background priority while their apply loops wait for them.
  return CreateLocked(*name);
}

absl::StatusOr<v1::Backup> ClusterBackups::CreateLocked(const std::string& name) {
  const auto start = std::chrono::steady_clock::now();
  auto staging = BeginBackup(backup_dir_, name);
  if (!staging.ok()) return staging.status();
  const fs::path& tmp = staging->tmp;
  const fs::path& final_dir = staging->final_dir;
  auto fail = [&](absl::Status s) { return AbandonBackup(*staging, std::move(s)); };

  pb::BackupManifest manifest;
  manifest.set_protocol_version(kProtocolVersion);
  manifest.set_cluster(context_.names->cluster());
  v1::Backup* backup = manifest.mutable_backup();
  backup->set_name(name);
  backup->set_node(context_.options->node_id);
  *backup->mutable_create_time() = TimeUtil::GetCurrentTime();
  // From the bucket, not this node's view: a collection created through another node just
  // before the call is in the backup.
  nats::KeyValue& bucket = context_.metadata->collections();
  auto names = Retrying([&] { return bucket.Keys(); });
  if (!names.ok()) return fail(names.status());
  std::sort(names->begin(), names->end());
  int index = 0;
  for (const std::string& collection : *names) {
    auto view = Retrying([&] { return context_.metadata->ReadCollection(collection); });
    if (!view.ok()) return fail(view.status());
    if (!view->has_value()) continue;  // Deleted meanwhile.
    if (absl::Status s = BackupCollection((*view)->entry, index++, tmp.string(), &manifest);
        !s.ok()) {
      return fail(s);
    }
  }
  for (const pb::BackupCollectionRecord& record : manifest.collections()) {
    v1::BackupCollection* c = backup->add_collections();
    c->set_name(record.entry().collection().name());
    uint64_t items = 0;
    for (const auto& shard : record.shards()) items += shard.items();
    c->set_item_count(items);
    c->set_serving_model_version(record.entry().serving_version());
  }
  nats::KeyValue& aliases = context_.metadata->aliases();
  auto alias_names = Retrying([&] { return aliases.Keys(); });
  if (!alias_names.ok()) return fail(alias_names.status());
  std::sort(alias_names->begin(), alias_names->end());
  for (const std::string& alias : *alias_names) {
    auto value = Retrying([&] { return aliases.Get(alias); });
    if (!value.ok()) return fail(value.status());
    if (!value->has_value()) continue;
    const std::string& target = (*value)->value;
    if (std::none_of(backup->collections().begin(), backup->collections().end(),
                     [&](const v1::BackupCollection& c) { return c.name() == target; })) {
      BN_LOG(WARNING) << "backup " << name << ": alias " << alias << " names '" << target
                      << "', which is not in the backup: skipped";
      continue;
    }
    v1::Alias* a = backup->add_aliases();
    a->set_name(alias);
    a->set_collection(target);
    *manifest.add_aliases() = *a;
  }
  backup->set_path(final_dir.string());
  uint64_t bytes = 0;
  for (const auto& file : manifest.files()) bytes += file.size();
  backup->set_size_bytes(bytes);
  // The manifest counts itself (its length barely changes with the number's digits).
  backup->set_size_bytes(bytes + ToJson(manifest).size());
  const std::string json = ToJson(manifest);
  if (json.empty()) return fail(absl::InternalError("cannot write the backup manifest"));
  if (absl::Status s = WriteFileAtomically((tmp / kClusterBackupManifest).string(), json);
      !s.ok()) {
    return fail(s);
  }
  if (absl::Status s = FsyncPath(tmp.string(), true); !s.ok()) return fail(s);
  if (absl::Status s = PublishBackup(*staging); !s.ok()) return fail(s);
  // Listed for every node. The directory is the truth on this node: a failed put only hides it
  // from the other nodes' lists.
  if (auto put = Retrying([&] {
        return context_.metadata->backups().Put(BackupKey(name), backup->SerializeAsString());
      });
      !put.ok()) {
    BN_LOG(WARNING) << "backup " << name << " is not listed for the other nodes: " << put.status();
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  BN_LOG(INFO) << "backup " << name << " written to " << final_dir.string() << " in " << seconds
               << " s: " << backup->collections_size() << " collections, " << backup->size_bytes()
               << " bytes";
  return *backup;
}

std::string ClusterBackups::BackupKey(const std::string& name) const {
  return context_.options->node_id + "." + name;
}

absl::StatusOr<std::vector<v1::Backup>> ClusterBackups::OtherNodesBackups() const {
  nats::KeyValue& bucket = context_.metadata->backups();
  auto keys = bucket.Keys();
  if (!keys.ok()) return keys.status();
  std::vector<v1::Backup> out;
  for (const std::string& key : *keys) {
    if (absl::StartsWith(key, context_.options->node_id + ".")) continue;
    auto value = bucket.Get(key);
    if (!value.ok()) return value.status();
    v1::Backup backup;
    if (value->has_value() && backup.ParseFromString((*value)->value)) {
      out.push_back(std::move(backup));
    }
  }
  return out;
}

absl::StatusOr<v1::ListBackupsResponse> ClusterBackups::List() const {
  v1::ListBackupsResponse response;
  std::error_code ec;
  std::vector<v1::Backup> found;
  const bool exists = fs::exists(backup_dir_, ec);
  for (auto it = exists ? fs::directory_iterator(backup_dir_, ec) : fs::directory_iterator();
       !ec && it != fs::end(it); it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.empty() || name[0] == '.' || !it->is_directory(ec)) continue;
    auto manifest = ReadClusterBackup(it->path().string());
    if (!manifest.ok()) {
      BN_LOG(WARNING) << "backups: skipping " << it->path().string() << ": " << manifest.status();
      continue;
    }
    found.push_back(manifest->backup());
    found.back().set_node(context_.options->node_id);
  }
  if (ec) return FromErrorCode(ec, "cannot list the backup directory " + backup_dir_);
  // The other nodes' backups, from the bucket (this node's own: from its directory above).
  auto others = OtherNodesBackups();
  if (others.ok()) {
    for (auto& b : *others) found.push_back(std::move(b));
  } else {
    BN_LOG(WARNING) << "backups: listing only this node's (" << others.status() << ")";
  }
  std::sort(found.begin(), found.end(), [](const v1::Backup& a, const v1::Backup& b) {
    const int64_t ta = TimeUtil::TimestampToNanoseconds(a.create_time());
    const int64_t tb = TimeUtil::TimestampToNanoseconds(b.create_time());
    if (ta != tb) return ta < tb;
    return a.name() < b.name();
  });
  for (auto& b : found) *response.add_backups() = std::move(b);
  return response;
}

absl::StatusOr<v1::DeleteBackupResponse> ClusterBackups::Delete(
    const v1::DeleteBackupRequest& request) {
  if (absl::Status s = ValidateName("name", request.name()); !s.ok()) return s;
  auto here = DeleteHere(request.name());
  if (!absl::IsNotFound(here.status())) return here;
  // Not in this node's directory: forwarded to the node whose directory holds it.
  auto others = OtherNodesBackups();
  if (!others.ok()) return others.status();
  for (const v1::Backup& b : *others) {
    if (b.name() != request.name()) continue;
    auto node = context_.metadata->Node(b.node());
    if (!node.has_value() || !node->live) {
      return absl::UnavailableError(absl::StrCat("backup '", request.name(),
                                                 "' is in the --backup-dir of node ", b.node(),
                                                 ", which is down: delete it when it is back"));
    }
    pb::BackupShardRequest forward;
    forward.set_protocol_version(kProtocolVersion);
    forward.set_phase(pb::BackupShardRequest::DELETE_BACKUP);
    forward.set_backup_name(request.name());
    auto answer = CallShard(b.node(), node->entry.address(), forward,
                            std::chrono::system_clock::now() + std::chrono::seconds(60));
    if (!answer.ok()) return answer.status();
    return answer->deleted();
  }
  return here;  // NOT_FOUND.
}

absl::StatusOr<v1::DeleteBackupResponse> ClusterBackups::DeleteHere(const std::string& name) {
  std::lock_guard<std::mutex> lock(mutex_);
  std::error_code ec;
  const fs::path root = fs::absolute(backup_dir_, ec);
  if (ec) return FromErrorCode(ec, "bad backup directory " + backup_dir_);
  const fs::path dir = root / name;
  v1::DeleteBackupResponse response;
  auto manifest = ReadClusterBackup(dir.string());
  if (absl::IsNotFound(manifest.status())) {
    return absl::NotFoundError("backup '" + name + "' not found");
  }
  if (manifest.ok()) {
    *response.mutable_backup() = manifest->backup();
  } else if (absl::IsDataLoss(manifest.status())) {
    response.mutable_backup()->set_name(name);
    response.mutable_backup()->set_path(dir.string());
  } else {
    return manifest.status();
  }
  if (absl::Status s = RemoveBackupDir(root, name); !s.ok()) return s;
  if (absl::Status s =
          Retrying([&] { return context_.metadata->backups().Delete(BackupKey(name)); });
      !s.ok()) {
    BN_LOG(WARNING) << "backup " << name << " deleted but still listed for the other nodes: " << s;
  }
  BN_LOG(INFO) << "backup " << name << " deleted (" << dir.string() << ")";
  return response;
}

}  // namespace bn::cluster
