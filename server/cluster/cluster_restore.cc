#include "server/cluster/cluster_restore.h"

#include <algorithm>
#include <ctime>
#include <random>

#include "absl/strings/str_cat.h"
#include "engine/util/log.h"
#include "server/cluster/backup_files.h"
#include "server/cluster/blob_channel.h"
#include "server/cluster/cluster_backups.h"
#include "server/cluster/metadata.h"
#include "server/cluster/nats_client.h"
#include "server/cluster/retry.h"

namespace bn::cluster {
namespace {

namespace pb = ::bottleneck::cluster;

constexpr size_t kMaxItemsPerMessage = 1000;
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
    entry.set_promotion_target(0);
    entry.set_promotion_start_unix(0);
    entry.set_deleting_unix_ms(0);  // A delete marked at the cut did not happen in the backup.
    // The restoring build places shards its newest way (the target cluster runs it).
    entry.set_placement(kNewestPlacement);
    nats::StreamConfig stream;
    stream.name = entry.stream();
    stream.subjects = {names_.LogSubjects(name, entry.incarnation())};
    stream.replicas = options_.stream_replicas;
    if (auto created = Retrying([&] { return nats_->EnsureStream(stream); }); !created.ok()) {
      return created.status();
    }
    uint64_t items = 0;
    for (const pb::BackupShardFile& shard : record.shards()) {
      auto restored = RestoreShard(entry, shard);
      if (!restored.ok()) return restored.status();
      items += *restored;
    }
    for (const pb::BackupModelFile& model : record.models()) {
      if (absl::Status s = RestoreModel(entry, model); !s.ok()) return s;
    }
    // The record last: it is never visible without its log, snapshots and models.
    if (auto put = Retrying(
            [&] { return metadata_->collections().Create(name, entry.SerializeAsString()); });
        !put.ok()) {
      return put.status();
    }
    BN_LOG(INFO) << "restore: collection " << name << " (" << items << " items, "
                 << record.models_size() << " model versions) as log " << entry.stream();
    return absl::OkStatus();
  }

  absl::Status RestoreAliases() {
    for (const auto& alias : manifest_.aliases()) {
      if (auto put = Retrying(
              [&] { return metadata_->aliases().Create(alias.name(), alias.collection()); });
          !put.ok()) {
        return put.status();
      }
    }
    return absl::OkStatus();
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
    pb::SnapshotEntry snapshot;
    *snapshot.mutable_blob() = *ref;
    snapshot.set_log_position(last);
    snapshot.set_items(items);
    snapshot.set_code_version(header.code_version());
    snapshot.set_node("restore");
    snapshot.set_create_unix(std::time(nullptr));
    const std::string key = Names::SnapshotKey(name, entry.incarnation(), shard.shard());
    if (auto put =
            Retrying([&] { return metadata_->snapshots().Put(key, snapshot.SerializeAsString()); });
        !put.ok()) {
      return put.status();
    }
    return items;
  }

  absl::Status RestoreModel(const pb::CollectionEntry& entry, const pb::BackupModelFile& model) {
    const pb::BackupFile* listed = Listed(manifest_, model.file());
    if (listed == nullptr) return absl::FailedPreconditionError("unlisted file " + model.file());
    auto writer = blobs_->NewWriter();
    if (absl::Status s =
            ReadBackupFile(dir_ + "/" + model.file(), listed->size(), listed->crc(),
                           [&](absl::string_view chunk) { return writer->Append(chunk); });
        !s.ok()) {
      return s;
    }
    auto ref = writer->Finish();
    if (!ref.ok()) return ref.status();
    pb::ModelEntry out;
    *out.mutable_model() = model.model();
    *out.mutable_blob() = *ref;
    const std::string key =
        Names::ModelKey(entry.collection().name(), entry.incarnation(), model.model().version());
    return Retrying([&] { return metadata_->models().Put(key, out.SerializeAsString()); }).status();
  }

  const ClusterOptions& options_;
  const Names names_;
  const std::string dir_;
  const pb::BackupManifest& manifest_;
  std::unique_ptr<nats::Connection> nats_;
  std::unique_ptr<Metadata> metadata_;
  std::unique_ptr<BlobChannel> blobs_;
  std::unique_ptr<BlobChannel> snapshot_blobs_;
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
    for (const auto& model : record.models()) {
      if (Listed(*manifest, model.file()) == nullptr) {
        return absl::FailedPreconditionError("the backup is damaged: " + model.file() +
                                             " is not listed in its manifest");
      }
    }
  }
  Restorer restorer(options, dir, *manifest);
  absl::Status s = restorer.Connect();
  if (s.ok()) s = restorer.CheckFresh();
  for (int i = 0; s.ok() && i < manifest->collections_size(); ++i) {
    s = restorer.RestoreCollection(manifest->collections(i));
  }
  if (s.ok()) s = restorer.RestoreAliases();
  restorer.Stop();
  if (!s.ok()) return s;
  return *manifest;
}

}  // namespace bn::cluster
