#include "server/cluster/cluster_restore.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdlib>
#include <ctime>
#include <functional>
#include <mutex>
#include <random>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/util/log.h"
#include "server/cluster/backup_files.h"
#include "server/cluster/blob_channel.h"
#include "server/cluster/cluster_backups.h"
#include "server/cluster/incarnation_cleanup.h"
#include "server/cluster/metadata.h"
#include "server/cluster/nats_client.h"
#include "server/cluster/retry.h"

namespace bn::cluster {
namespace {

namespace pb = ::bottleneck::cluster;

constexpr size_t kMaxItemsPerMessage = 1000;
constexpr char kJournalKey[] = "restore";
// A journal not refreshed for this long belongs to a restore that is gone.
constexpr int64_t kJournalStaleMs = 15000;
constexpr size_t kMessageOverhead = 1024;

uint64_t NewIncarnation() {
  static thread_local std::mt19937_64 random(std::random_device{}());
  uint64_t value = 0;
  while (value == 0) value = random();
  return value;
}

const pb::BackupFile* Listed(const pb::BackupManifest& manifest, const std::string& path) {
  for (const pb::BackupFile& file : manifest.files()) {
    if (file.path() == path) return &file;
  }
  return nullptr;
}

// Reads a listed file of the backup as snapshot records: `header` gets the first, `item` is
// called with each of the others.
absl::Status ReadSnapshotFile(const std::string& path, const pb::BackupFile& listed,
                              pb::SnapshotHeader* header,
                              const std::function<absl::Status(pb::SnapshotItem)>& item) {
  RecordReader reader;
  bool header_seen = false;
  auto on_record = [&](absl::string_view bytes) -> absl::Status {
    if (!header_seen) {
      header_seen = true;
      if (!header->ParseFromString(std::string(bytes))) {
        return absl::FailedPreconditionError("the backup is damaged: " + path +
                                             " has no snapshot header");
      }
      return absl::OkStatus();
    }
    pb::SnapshotItem parsed;
    if (!parsed.ParseFromString(std::string(bytes))) {
      return absl::FailedPreconditionError("the backup is damaged: an item of " + path +
                                           " does not parse");
    }
    return item(std::move(parsed));
  };
  if (absl::Status s =
          ReadBackupFile(path, listed.size(), listed.crc(),
                         [&](absl::string_view chunk) { return reader.Feed(chunk, on_record); });
      !s.ok()) {
    return s;
  }
  return reader.Finish();
}

class Restorer {
 public:
  Restorer(const ClusterOptions& options, std::string dir, const pb::BackupManifest& manifest)
      : options_(options),
        names_(options.cluster_name),
        dir_(std::move(dir)),
        manifest_(manifest) {}

  ~Restorer() {
    if (refresher_.joinable()) EndJournal(/*clean=*/false);
  }

  absl::Status Connect() {
    auto connection =
        nats::Connection::Connect(NatsConnectOptions(options_, "bottleneckd --restore"));
    if (!connection.ok()) return connection.status();
    nats_ = std::move(*connection);
    Metadata::Options metadata;
    metadata.node = "restore";
    metadata.bucket_replicas = options_.stream_replicas;
    metadata.lease = options_.lease;
    auto opened = Metadata::Open(nats_.get(), names_, metadata);
    if (!opened.ok()) return opened.status();
    metadata_ = std::move(*opened);
    nats::KvConfig meta;
    meta.bucket = names_.MetaBucket();
    meta.replicas = options_.stream_replicas;
    auto meta_bucket = Retrying([&] { return nats_->EnsureKeyValue(meta); });
    if (!meta_bucket.ok()) return meta_bucket.status();
    meta_ = std::move(*meta_bucket);
    blobs_ = std::make_unique<BlobChannel>(nats_.get(), names_);
    snapshot_blobs_ = std::make_unique<BlobChannel>(nats_.get(), names_, size_t{1} << 20,
                                                    BlobChannel::Kind::kSnapshots);
    for (BlobChannel* channel : {blobs_.get(), snapshot_blobs_.get()}) {
      if (absl::Status s =
              Retrying([&] { return channel->EnsureStream(options_.stream_replicas); });
          !s.ok()) {
        return s;
      }
    }
    return absl::OkStatus();
  }

  // A restore that was killed left its journal: remove what it wrote (FAILED_PRECONDITION
  // while that restore may still be running).
  absl::Status RecoverDeadRestore() {
    auto value = Retrying([&] { return meta_->Get(kJournalKey); });
    if (!value.ok()) return value.status();
    if (!value->has_value()) return absl::OkStatus();
    pb::RestoreJournal dead;
    if (!dead.ParseFromString((*value)->value)) {
      return absl::DataLossError("the restore journal of cluster '" + names_.cluster() +
                                 "' does not parse");
    }
    const int64_t age_ms = NowMs() - dead.alive_unix_ms();
    const bool gone_here = dead.host() == Hostname() && dead.pid() > 0 &&
                           kill(static_cast<pid_t>(dead.pid()), 0) != 0 && errno == ESRCH;
    if (!gone_here && age_ms < kJournalStaleMs) {
      return absl::FailedPreconditionError(
          absl::StrCat("another restore (of backup ", dead.backup(), ", process ", dead.pid(),
                       " on ", dead.host(), ") is writing cluster '", names_.cluster(), "' (alive ",
                       age_ms / 1000, " s ago); if it was killed, run this again in ",
                       (kJournalStaleMs - age_ms + 999) / 1000, " s"));
    }
    BN_LOG(WARNING) << "restore: a restore of backup " << dead.backup() << " (process "
                    << dead.pid() << " on " << dead.host()
                    << ") did not finish: removing what it began (" << dead.collections_size()
                    << " collections, " << dead.aliases_size() << " aliases)";
    absl::Status first = absl::OkStatus();
    for (const std::string& alias : dead.aliases()) {
      auto target = Retrying([&] { return metadata_->aliases().Get(alias); });
      const bool ours = target.ok() && target->has_value() &&
                        std::any_of(dead.collections().begin(), dead.collections().end(),
                                    [&](const pb::RestoreJournalCollection& c) {
                                      return c.name() == (*target)->value;
                                    });
      if (ours) {
        if (absl::Status s = Retrying([&] { return metadata_->aliases().Purge(alias); });
            !s.ok() && first.ok()) {
          first = s;
        }
      }
    }
    for (const pb::RestoreJournalCollection& c : dead.collections()) {
      auto record = Retrying([&] { return metadata_->collections().Get(c.name()); });
      pb::CollectionEntry entry;
      if (record.ok() && record->has_value() && entry.ParseFromString((*record)->value) &&
          entry.incarnation() == c.incarnation()) {
        if (absl::Status s = Retrying([&] { return metadata_->collections().Purge(c.name()); });
            !s.ok() && first.ok()) {
          first = s;
        }
      }
      if (absl::Status s = RemoveIncarnation(nats_.get(), metadata_.get(), names_, blobs_.get(),
                                             snapshot_blobs_.get(), c.name(), c.incarnation());
          !s.ok() && first.ok()) {
        first = s;
      }
    }
    if (!first.ok()) {
      return absl::Status(first.code(),
                          "removing what a killed restore wrote: " + std::string(first.message()));
    }
    return Retrying([&] { return meta_->Purge(kJournalKey); });
  }

  // Starts the journal (and its refresher); ALREADY_EXISTS -> FAILED_PRECONDITION when another
  // restore started meanwhile.
  absl::Status BeginJournal() {
    journal_.set_backup(manifest_.backup().name());
    journal_.set_host(Hostname());
    journal_.set_pid(getpid());
    journal_.set_alive_unix_ms(NowMs());
    auto created =
        Retrying([&] { return meta_->Create(kJournalKey, journal_.SerializeAsString()); });
    if (absl::IsAlreadyExists(created.status())) {
      return absl::FailedPreconditionError("another restore into cluster '" + names_.cluster() +
                                           "' started at the same time");
    }
    if (!created.ok()) return created.status();
    refresher_ = std::thread([this] {
      std::unique_lock<std::mutex> lock(journal_mutex_);
      while (!journal_done_) {
        journal_cv_.wait_for(lock, std::chrono::seconds(2));
        if (journal_done_) break;
        journal_.set_alive_unix_ms(NowMs());
        (void)meta_->Put(kJournalKey, journal_.SerializeAsString());
      }
    });
    return absl::OkStatus();
  }

  // Ends the journal: removed when nothing of this restore is left half-written (`clean`), kept
  // (for the next restore to clean up) otherwise.
  void EndJournal(bool clean) {
    {
      std::lock_guard<std::mutex> lock(journal_mutex_);
      journal_done_ = true;
    }
    journal_cv_.notify_all();
    if (refresher_.joinable()) refresher_.join();
    if (clean) {
      if (absl::Status s = Retrying([&] { return meta_->Purge(kJournalKey); }); !s.ok()) {
        BN_LOG(WARNING) << "restore: the journal was not removed (" << s
                        << "); the next restore removes it after " << kJournalStaleMs / 1000
                        << " s";
      }
    }
  }

  // FAILED_PRECONDITION unless the target has no collection and no alias.
  absl::Status CheckFresh() {
    for (nats::KeyValue* bucket : {&metadata_->collections(), &metadata_->aliases()}) {
      auto keys = Retrying([&] { return bucket->Keys(); });
      if (!keys.ok()) return keys.status();
      if (!keys->empty()) {
        std::sort(keys->begin(), keys->end());
        return absl::FailedPreconditionError(absl::StrCat(
            "cluster '", names_.cluster(), "' is not empty (it has ",
            bucket == &metadata_->collections() ? "collection '" : "alias '", keys->front(),
            "'); restore into a fresh cluster or under another --cluster-name, nothing was "
            "changed"));
      }
    }
    return absl::OkStatus();
  }

  absl::Status RestoreCollection(const pb::BackupCollectionRecord& record) {
    pb::CollectionEntry entry = record.entry();
    const std::string& name = entry.collection().name();
    entry.set_incarnation(NewIncarnation());
    entry.set_stream(names_.LogStream(name, entry.incarnation()));
    // A promotion in progress at the cut goes on in the restored cluster (its target's model is
    // in the backup): the replicas re-encode with it and the version flips when every shard is
    // ready, as in the source.
    const uint64_t target = entry.promotion_target();
    const bool target_restored =
        target != 0 && std::any_of(record.models().begin(), record.models().end(),
                                   [&](const pb::BackupModelFile& model) {
                                     return model.model().version() == target;
                                   });
    entry.set_promotion_target(target_restored ? target : 0);
    entry.set_promotion_start_unix(target_restored ? std::time(nullptr) : 0);
    entry.set_deleting_unix_ms(0);  // A delete marked at the cut did not happen in the backup.
    // The restoring build places shards its newest way (the target cluster runs it).
    entry.set_placement(kNewestPlacement);
    if (absl::Status s = Journal([&] {
          pb::RestoreJournalCollection* c = journal_.add_collections();
          c->set_name(name);
          c->set_incarnation(entry.incarnation());
        });
        !s.ok()) {
      return s;
    }
    nats::StreamConfig stream;
    stream.name = entry.stream();
    stream.subjects = {names_.LogSubjects(name, entry.incarnation())};
    stream.replicas = options_.stream_replicas;
    if (auto created = Retrying([&] { return nats_->EnsureStream(stream); }); !created.ok()) {
      return created.status();
    }
    Undo("log stream " + stream.name, [this, name = stream.name] {
      return Retrying([&] { return nats_->DeleteStream(name); });
    });
    uint64_t items = 0;
    for (const pb::BackupShardFile& shard : record.shards()) {
      auto restored = RestoreShard(entry, shard);
      if (!restored.ok()) return restored.status();
      items += *restored;
    }
    for (const pb::BackupModelFile& model : record.models()) {
      if (absl::Status s = RestoreModel(entry, model); !s.ok()) return s;
    }
    for (const pb::BackupDatasetFile& dataset : record.datasets()) {
      if (absl::Status s = RestoreDataset(entry, dataset); !s.ok()) return s;
    }
    for (pb::JobEntry job : record.jobs()) {
      job.set_incarnation(entry.incarnation());
      if (absl::Status s =
              CreateKey(&metadata_->jobs(), "job", job.job().id(), job.SerializeAsString());
          !s.ok()) {
        return s;
      }
    }
    // The record last: it is never visible without its log, snapshots and models.
    if (absl::Status s =
            CreateKey(&metadata_->collections(), "collection", name, entry.SerializeAsString());
        !s.ok()) {
      return s;
    }
    BN_LOG(INFO) << "restore: collection " << name << " (" << items << " items, "
                 << record.models_size() << " model versions, " << record.datasets_size()
                 << " datasets, " << record.jobs_size() << " jobs) as log " << entry.stream();
    // Test hook (ClusterBackupTest): die here, as a restore killed midway does.
    if (const char* kill_after = std::getenv("BN_TEST_RESTORE_KILL_AFTER");
        kill_after != nullptr && name == kill_after) {
      std::raise(SIGKILL);
    }
    return absl::OkStatus();
  }

  absl::Status RestoreAliases() {
    if (absl::Status s = Journal([&] {
          for (const auto& alias : manifest_.aliases()) journal_.add_aliases(alias.name());
        });
        !s.ok()) {
      return s;
    }
    for (const auto& alias : manifest_.aliases()) {
      if (absl::Status s =
              CreateKey(&metadata_->aliases(), "alias", alias.name(), alias.collection());
          !s.ok()) {
        return s;
      }
    }
    return absl::OkStatus();
  }

  // Removes what this restore wrote, newest first (after a failure). Returns the first error of
  // the removal (it goes on past it).
  absl::Status RollBack() {
    absl::Status first = absl::OkStatus();
    size_t failed = 0;
    for (auto it = undo_.rbegin(); it != undo_.rend(); ++it) {
      if (absl::Status s = it->second(); !s.ok() && !absl::IsNotFound(s)) {
        ++failed;
        BN_LOG(WARNING) << "restore: cannot remove " << it->first << ": " << s;
        if (first.ok()) first = absl::Status(s.code(), it->first + ": " + std::string(s.message()));
      }
    }
    BN_LOG(INFO) << "restore: removed " << undo_.size() - failed << " of the " << undo_.size()
                 << " things it had written";
    undo_.clear();
    return first;
  }

  void Stop() {
    if (metadata_ != nullptr) metadata_->Stop();
  }

 private:
  // Republishes the shard's items into the new log, then writes its snapshot at the last
  // republished sequence. Returns the number of items.
  absl::StatusOr<uint64_t> RestoreShard(const pb::CollectionEntry& entry,
                                        const pb::BackupShardFile& shard) {
    const std::string& name = entry.collection().name();
    const std::string path = dir_ + "/" + shard.file();
    const pb::BackupFile* listed = Listed(manifest_, shard.file());
    if (listed == nullptr) return absl::FailedPreconditionError("unlisted file " + shard.file());
    const std::string subject = names_.LogSubject(name, entry.incarnation(), shard.shard());
    const int64_t payload = nats_->max_payload();
    const size_t limit = payload > static_cast<int64_t>(2 * kMessageOverhead)
                             ? static_cast<size_t>(payload) - kMessageOverhead
                             : static_cast<size_t>(payload) / 2;
    pb::LogEntry message;
    message.set_incarnation(entry.incarnation());
    message.set_shard(shard.shard());
    size_t bytes = 0, count = 0, published = 0;
    uint64_t last = 0, items = 0;
    auto flush = [&]() -> absl::Status {
      if (count == 0) return absl::OkStatus();
      nats::PublishOptions publish;
      publish.message_id =
          absl::StrCat("restore.", Hex(entry.incarnation()), ".", shard.shard(), ".", published++);
      const std::string data = message.SerializeAsString();
      auto ack = Retrying([&] { return nats_->Publish(subject, data, publish); });
      if (!ack.ok()) return ack.status();
      last = std::max(last, ack->sequence);
      message.mutable_upsert()->clear_items();
      bytes = count = 0;
      return absl::OkStatus();
    };
    pb::SnapshotHeader header;
    absl::Status read = ReadSnapshotFile(path, *listed, &header, [&](pb::SnapshotItem item) {
      const size_t size = item.record().size() + 16;
      if (count >= kMaxItemsPerMessage || (count > 0 && bytes + size > limit)) {
        if (absl::Status s = flush(); !s.ok()) return s;
      }
      if (!message.mutable_upsert()->add_items()->ParseFromString(item.record())) {
        return absl::FailedPreconditionError("the backup is damaged: item '" + item.id() + "' of " +
                                             path + " does not parse");
      }
      bytes += size;
      ++count;
      ++items;
      return absl::OkStatus();
    });
    if (read.ok()) read = flush();
    if (!read.ok()) return read;
    if (items == 0) return items;  // An empty shard: no snapshot (its replicas start empty).
    // The snapshot: the same items and codes, at the new log's position.
    auto writer = snapshot_blobs_->NewWriter();
    std::string buffer;
    header.set_collection(name);
    header.set_incarnation(entry.incarnation());
    header.set_shard(shard.shard());
    header.set_log_position(last);
    AppendRecord(header.SerializeAsString(), &buffer);
    pb::SnapshotHeader ignored;
    read = ReadSnapshotFile(path, *listed, &ignored, [&](pb::SnapshotItem item) {
      AppendRecord(item.SerializeAsString(), &buffer);
      if (buffer.size() < (size_t{512} << 10)) return absl::OkStatus();
      absl::Status s = writer->Append(buffer);
      buffer.clear();
      return s;
    });
    if (read.ok()) read = writer->Append(buffer);
    if (!read.ok()) return read;
    auto ref = writer->Finish();
    if (!ref.ok()) return ref.status();
    UndoBlob(snapshot_blobs_.get(), "snapshot of shard " + std::to_string(shard.shard()), *ref);
    pb::SnapshotEntry snapshot;
    *snapshot.mutable_blob() = *ref;
    snapshot.set_log_position(last);
    snapshot.set_items(items);
    snapshot.set_code_version(header.code_version());
    snapshot.set_node("restore");
    snapshot.set_create_unix(std::time(nullptr));
    const std::string key = Names::SnapshotKey(name, entry.incarnation(), shard.shard());
    if (absl::Status s =
            CreateKey(&metadata_->snapshots(), "snapshot", key, snapshot.SerializeAsString());
        !s.ok()) {
      return s;
    }
    return items;
  }

  // Publishes the backup's file `file` as a blob (undone on a rollback).
  absl::StatusOr<pb::BlobRef> PublishFile(const std::string& file, const std::string& what) {
    const pb::BackupFile* listed = Listed(manifest_, file);
    if (listed == nullptr) return absl::FailedPreconditionError("unlisted file " + file);
    auto writer = blobs_->NewWriter();
    if (absl::Status s =
            ReadBackupFile(dir_ + "/" + file, listed->size(), listed->crc(),
                           [&](absl::string_view chunk) { return writer->Append(chunk); });
        !s.ok()) {
      return s;
    }
    auto ref = writer->Finish();
    if (ref.ok()) UndoBlob(blobs_.get(), what, *ref);
    return ref;
  }

  absl::Status RestoreModel(const pb::CollectionEntry& entry, const pb::BackupModelFile& model) {
    auto ref =
        PublishFile(model.file(), "model version " + std::to_string(model.model().version()));
    if (!ref.ok()) return ref.status();
    pb::ModelEntry out;
    *out.mutable_model() = model.model();
    *out.mutable_blob() = *ref;
    const std::string key =
        Names::ModelKey(entry.collection().name(), entry.incarnation(), model.model().version());
    return CreateKey(&metadata_->models(), "model", key, out.SerializeAsString());
  }

  absl::Status RestoreDataset(const pb::CollectionEntry& entry,
                              const pb::BackupDatasetFile& dataset) {
    auto ref = PublishFile(dataset.file(), "dataset " + dataset.dataset().name());
    if (!ref.ok()) return ref.status();
    pb::DatasetEntry out;
    *out.mutable_dataset() = dataset.dataset();
    *out.mutable_blob() = *ref;
    const std::string key =
        Names::DatasetKey(entry.collection().name(), entry.incarnation(), dataset.dataset().name());
    return CreateKey(&metadata_->datasets(), "dataset", key, out.SerializeAsString());
  }

  // Writes `key` in `bucket` and remembers to purge it on a rollback. Records and aliases are
  // created (it must not exist: the target is fresh); the keys under them are put (idempotent
  // when a retried call had succeeded).
  absl::Status CreateKey(nats::KeyValue* bucket, const std::string& what, const std::string& key,
                         const std::string& value) {
    const bool create = bucket == &metadata_->collections() || bucket == &metadata_->aliases();
    if (auto created =
            Retrying([&] { return create ? bucket->Create(key, value) : bucket->Put(key, value); });
        !created.ok()) {
      return absl::Status(created.status().code(),
                          what + " '" + key + "': " + std::string(created.status().message()));
    }
    Undo(what + " '" + key + "'",
         [bucket, key] { return Retrying([&] { return bucket->Purge(key); }); });
    return absl::OkStatus();
  }

  void UndoBlob(BlobChannel* channel, const std::string& what, const pb::BlobRef& ref) {
    // Message by message, never a purge (nats-io/nats-server#4196).
    Undo(what + " (blob " + ref.id() + ")",
         [channel, ref] { return Retrying([&] { return channel->Delete(ref); }); });
  }

  // Changes the journal and writes it before what it announces is written.
  absl::Status Journal(const std::function<void()>& change) {
    std::lock_guard<std::mutex> lock(journal_mutex_);
    change();
    journal_.set_alive_unix_ms(NowMs());
    return Retrying([&] { return meta_->Put(kJournalKey, journal_.SerializeAsString()); }).status();
  }

  static int64_t NowMs() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }

  static std::string Hostname() {
    char host[256] = {0};
    if (gethostname(host, sizeof(host) - 1) != 0) return "";
    return host;
  }

  void Undo(std::string what, std::function<absl::Status()> undo) {
    undo_.emplace_back(std::move(what), std::move(undo));
  }

  const ClusterOptions& options_;
  const Names names_;
  const std::string dir_;
  const pb::BackupManifest& manifest_;
  std::unique_ptr<nats::Connection> nats_;
  std::unique_ptr<Metadata> metadata_;
  std::unique_ptr<BlobChannel> blobs_;
  std::unique_ptr<BlobChannel> snapshot_blobs_;
  std::unique_ptr<nats::KeyValue> meta_;
  // The journal (key kJournalKey of the meta bucket) and the thread that keeps it alive.
  std::mutex journal_mutex_;
  std::condition_variable journal_cv_;
  bool journal_done_ = false;
  pb::RestoreJournal journal_;
  std::thread refresher_;
  // What RollBack() removes, in the order it was written.
  std::vector<std::pair<std::string, std::function<absl::Status()>>> undo_;
};

}  // namespace

absl::StatusOr<pb::BackupManifest> RestoreClusterBackup(const ClusterOptions& options,
                                                        const std::string& dir) {
  if (absl::Status s = ValidateToken("--cluster-name", options.cluster_name); !s.ok()) return s;
  auto manifest = ReadClusterBackup(dir);
  if (absl::IsDataLoss(manifest.status())) {
    return absl::FailedPreconditionError("the backup is damaged: " +
                                         std::string(manifest.status().message()));
  }
  if (!manifest.ok()) return manifest.status();
  if (manifest->protocol_version() != kProtocolVersion) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the backup was written with cluster protocol version ", manifest->protocol_version(),
        "; this bottleneckd speaks ", kProtocolVersion, ": restore it with a matching one"));
  }
  // Every file whole before anything is changed.
  for (const pb::BackupFile& file : manifest->files()) {
    if (absl::Status s = ReadBackupFile(dir + "/" + file.path(), file.size(), file.crc(),
                                        [](absl::string_view) { return absl::OkStatus(); });
        !s.ok()) {
      return s;
    }
  }
  for (const auto& record : manifest->collections()) {
    for (const auto& shard : record.shards()) {
      if (Listed(*manifest, shard.file()) == nullptr) {
        return absl::FailedPreconditionError("the backup is damaged: " + shard.file() +
                                             " is not listed in its manifest");
      }
    }
    std::vector<std::string> files;
    for (const auto& model : record.models()) files.push_back(model.file());
    for (const auto& dataset : record.datasets()) files.push_back(dataset.file());
    for (const std::string& file : files) {
      if (Listed(*manifest, file) == nullptr) {
        return absl::FailedPreconditionError("the backup is damaged: " + file +
                                             " is not listed in its manifest");
      }
    }
  }
  Restorer restorer(options, dir, *manifest);
  absl::Status s = restorer.Connect();
  if (s.ok()) s = restorer.RecoverDeadRestore();
  if (s.ok()) s = restorer.CheckFresh();
  if (s.ok()) s = restorer.BeginJournal();
  if (!s.ok()) {
    restorer.Stop();
    return s;
  }
  std::string at;
  for (int i = 0; s.ok() && i < manifest->collections_size(); ++i) {
    at = "collection '" + manifest->collections(i).entry().collection().name() + "'";
    s = restorer.RestoreCollection(manifest->collections(i));
  }
  if (s.ok()) {
    at = "the aliases";
    s = restorer.RestoreAliases();
  }
  if (!s.ok()) {
    // All or nothing: what was written is removed, so that the target is fresh again.
    const absl::Status removed = restorer.RollBack();
    restorer.EndJournal(/*clean=*/removed.ok());
    restorer.Stop();
    std::string message = "the restore failed at " + at + ": " + std::string(s.message());
    if (removed.ok()) {
      message += "; everything it had written was removed (the cluster is fresh again)";
    } else {
      message += "; removing what it had written failed too (" + std::string(removed.message()) +
                 "): delete the cluster's streams and buckets, or restore under another "
                 "--cluster-name";
    }
    return absl::Status(s.code(), message);
  }
  restorer.EndJournal(/*clean=*/true);
  restorer.Stop();
  return *manifest;
}

}  // namespace bn::cluster
