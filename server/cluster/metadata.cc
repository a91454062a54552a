#include "server/cluster/metadata.h"

#include <algorithm>
#include <ctime>

#include "absl/strings/str_cat.h"
#include "engine/util/log.h"
#include "server/cluster/retry.h"

namespace bn::cluster {
namespace {

namespace pb = ::bottleneck::cluster;
using Clock = std::chrono::steady_clock;

// Every bucket holds only the latest value per key; heartbeats of departed nodes fade out.
absl::StatusOr<std::unique_ptr<nats::KeyValue>> OpenBucket(nats::Connection* connection,
                                                           const std::string& name, int replicas,
                                                           std::chrono::milliseconds ttl) {
  nats::KvConfig config;
  config.bucket = name;
  config.replicas = replicas;
  config.ttl = ttl;
  auto kv = connection->EnsureKeyValue(config);
  if (!kv.ok() && (kv.status().code() == absl::StatusCode::kUnavailable ||
                   kv.status().code() == absl::StatusCode::kInternal)) {
    return absl::Status(kv.status().code(),
                        absl::StrCat(kv.status().message(), " (bucket ", name, " with ", replicas,
                                     " replicas: does the NATS cluster have that many JetStream "
                                     "servers? see --stream-replicas)"));
  }
  return kv;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Metadata>> Metadata::Open(nats::Connection* connection,
                                                         const Names& names,
                                                         const Options& options) {
  std::unique_ptr<Metadata> metadata(new Metadata(connection, options));
  const int r = options.bucket_replicas;
  auto meta = Retrying([&] { return OpenBucket(connection, names.MetaBucket(), r, {}); });
  if (!meta.ok()) return meta.status();
  if (absl::Status s = Retrying([&] { return metadata->CheckProtocol(meta->get()); }); !s.ok()) {
    return s;
  }
  struct Bucket {
    std::string name;
    std::unique_ptr<nats::KeyValue>* slot;
    std::chrono::milliseconds ttl;
  };
  const std::vector<Bucket> buckets = {
      {names.CollectionsBucket(), &metadata->collections_, {}},
      {names.MembersBucket(), &metadata->members_, {}},
      // Heartbeats of nodes gone for good disappear after a while.
      {names.NodesBucket(), &metadata->nodes_, std::chrono::minutes(10)},
      {names.ModelsBucket(), &metadata->models_, {}},
      {names.SnapshotsBucket(), &metadata->snapshots_, {}},
      {names.DatasetsBucket(), &metadata->datasets_, {}},
      {names.JobsBucket(), &metadata->jobs_, {}},
      {names.AliasesBucket(), &metadata->aliases_, {}},
      {names.BackupsBucket(), &metadata->backups_, {}},
  };
  for (const Bucket& bucket : buckets) {
    auto kv = Retrying([&] { return OpenBucket(connection, bucket.name, r, bucket.ttl); });
    if (!kv.ok()) return kv.status();
    *bucket.slot = std::move(*kv);
  }
  Metadata* m = metadata.get();
  if (absl::Status s = m->StartWatch(m->collections_.get(),
                                     [m](const nats::KvEntry& e) { m->ApplyCollection(e); });
      !s.ok()) {
    return s;
  }
  if (absl::Status s =
          m->StartWatch(m->members_.get(), [m](const nats::KvEntry& e) { m->ApplyMember(e); });
      !s.ok()) {
    return s;
  }
  if (absl::Status s =
          m->StartWatch(m->nodes_.get(), [m](const nats::KvEntry& e) { m->ApplyNode(e); });
      !s.ok()) {
    return s;
  }
  return metadata;
}

absl::Status Metadata::CheckProtocol(nats::KeyValue* meta) {
  pb::ClusterInfo mine;
  mine.set_protocol_version(kProtocolVersion);
  mine.set_create_unix(std::time(nullptr));
  auto created = meta->Create("cluster", mine.SerializeAsString());
  if (created.ok()) return absl::OkStatus();
  if (created.status().code() != absl::StatusCode::kAlreadyExists) return created.status();
  auto stored = meta->Get("cluster");
  if (!stored.ok()) return stored.status();
  pb::ClusterInfo info;
  if (!stored->has_value() || !info.ParseFromString((*stored)->value)) {
    return absl::DataLossError("the cluster's protocol record is unreadable");
  }
  if (info.protocol_version() != kProtocolVersion) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the cluster runs protocol version ", info.protocol_version(),
        "; this bottleneckd speaks version ", kProtocolVersion,
        ": every node of a cluster must run a bottleneckd of the same protocol version"));
  }
  return absl::OkStatus();
}

absl::Status Metadata::StartWatch(nats::KeyValue* kv,
                                  std::function<void(const nats::KvEntry&)> apply) {
  auto watcher = Retrying([&] { return kv->Watch(">"); });
  if (!watcher.ok()) return watcher.status();
  auto watch = std::make_unique<Watch>();
  watch->watcher = std::move(*watcher);
  // The initial values first, on this thread, so that Open returns a complete view.
  const auto deadline = Clock::now() + std::chrono::seconds(30);
  while (true) {
    auto entry = watch->watcher->Next(std::chrono::milliseconds(500));
    if (!entry.ok()) return entry.status();
    if (!entry->has_value()) {
      if (Clock::now() > deadline) {
        return absl::DeadlineExceededError("reading bucket " + kv->bucket() + " took over 30 s");
      }
      continue;
    }
    if ((*entry)->key.empty()) break;  // Initial values done.
    std::lock_guard<std::mutex> lock(mutex_);
    apply(**entry);
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    ++generation_;
  }
  nats::KvWatcher* w = watch->watcher.get();
  watch->thread = std::thread([this, w, apply = std::move(apply)] {
    while (true) {
      auto entry = w->Next(std::chrono::milliseconds(1000));
      if (!entry.ok()) {
        if (entry.status().code() == absl::StatusCode::kCancelled) return;
        BN_LOG(WARNING) << "metadata watch: " << entry.status();
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        continue;
      }
      if (!entry->has_value() || (*entry)->key.empty()) continue;
      std::lock_guard<std::mutex> lock(mutex_);
      apply(**entry);
      ++generation_;
      changed_.notify_all();
    }
  });
  watches_.push_back(std::move(watch));
  return absl::OkStatus();
}

Metadata::~Metadata() { Stop(); }

void Metadata::Stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopped_) return;
    stopped_ = true;
    ++generation_;
  }
  changed_.notify_all();
  for (auto& watch : watches_) watch->watcher->Stop();
  for (auto& watch : watches_) {
    if (watch->thread.joinable()) watch->thread.join();
  }
}

void Metadata::ApplyCollection(const nats::KvEntry& entry) {
  auto it = collection_view_.find(entry.key);
  if (it != collection_view_.end() && it->second.revision >= entry.revision) return;  // Stale.
  if (entry.op != nats::KvEntry::Op::kPut) {
    collection_view_.erase(entry.key);
    deleted_collections_[entry.key] = entry.revision;
    return;
  }
  auto deleted = deleted_collections_.find(entry.key);
  if (deleted != deleted_collections_.end() && deleted->second >= entry.revision) return;
  CollectionView view;
  if (!view.entry.ParseFromString(entry.value)) {
    BN_LOG(WARNING) << "collection record " << entry.key << " does not parse; ignored";
    return;
  }
  view.revision = entry.revision;
  collection_view_[entry.key] = std::move(view);
}

void Metadata::ApplyMember(const nats::KvEntry& entry) {
  if (entry.op != nats::KvEntry::Op::kPut) {
    member_view_.erase(entry.key);
    return;
  }
  pb::MemberEntry member;
  if (member.ParseFromString(entry.value)) member_view_[entry.key] = member;
}

void Metadata::ApplyNode(const nats::KvEntry& entry) {
  if (entry.op != nats::KvEntry::Op::kPut) {
    node_view_.erase(entry.key);
    liveness_.Forget(entry.key);
    return;
  }
  pb::NodeEntry node;
  if (!node.ParseFromString(entry.value)) return;
  const auto now = Clock::now();
  auto it = node_view_.find(entry.key);
  if (it == node_view_.end()) {
    // First sight (e.g. the initial values at start): as old as the bucket's timestamp says.
    const int64_t wall_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                                std::chrono::system_clock::now().time_since_epoch())
                                .count();
    const auto limit = options_.lease + std::chrono::seconds(1);
    auto age = std::chrono::nanoseconds(std::max<int64_t>(0, wall_ns - entry.created_ns));
    if (age > limit) age = std::chrono::duration_cast<std::chrono::nanoseconds>(limit);
    liveness_.FirstSeen(entry.key, now - std::chrono::duration_cast<Clock::duration>(age), now);
  } else if (node.heartbeat() > it->second.heartbeat() ||
             node.start_unix() != it->second.start_unix()) {
    liveness_.Moved(entry.key, now);  // A new heartbeat (or a restarted node).
  }
  node_view_[entry.key] = std::move(node);
}

bool Metadata::LiveLocked(const std::string& node, Clock::time_point now, uint64_t* age_ms) const {
  Clock::duration age;
  const bool live = liveness_.Live(node, now, &age);
  *age_ms = std::chrono::duration_cast<std::chrono::milliseconds>(age).count();
  return live;
}

std::optional<Metadata::CollectionView> Metadata::Collection(const std::string& name) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = collection_view_.find(name);
  if (it == collection_view_.end()) return std::nullopt;
  return it->second;
}

std::vector<Metadata::CollectionView> Metadata::Collections() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<CollectionView> out;
  for (const auto& [name, view] : collection_view_) out.push_back(view);
  return out;
}

std::vector<std::string> Metadata::Members() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<std::string> out;
  for (const auto& [name, member] : member_view_) out.push_back(name);
  return out;
}

std::vector<Metadata::NodeView> Metadata::Nodes() const {
  std::lock_guard<std::mutex> lock(mutex_);
  const auto now = Clock::now();
  std::vector<NodeView> out;
  for (const auto& [id, heartbeat] : node_view_) {
    NodeView view;
    view.entry = heartbeat;
    view.live = LiveLocked(id, now, &view.age_ms);
    out.push_back(std::move(view));
  }
  return out;
}

std::optional<Metadata::NodeView> Metadata::Node(const std::string& id) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = node_view_.find(id);
  if (it == node_view_.end()) return std::nullopt;
  NodeView view;
  view.entry = it->second;
  view.live = LiveLocked(id, Clock::now(), &view.age_ms);
  return view;
}

uint64_t Metadata::generation() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return generation_;
}

uint64_t Metadata::WaitForChange(uint64_t seen, std::chrono::milliseconds timeout) const {
  std::unique_lock<std::mutex> lock(mutex_);
  changed_.wait_for(lock, timeout, [&] { return generation_ != seen || stopped_; });
  return generation_;
}

absl::StatusOr<std::optional<Metadata::CollectionView>> Metadata::ReadCollection(
    const std::string& name) {
  auto entry = collections_->Get(name);
  if (!entry.ok()) return entry.status();
  if (!entry->has_value()) return std::nullopt;
  CollectionView view;
  if (!view.entry.ParseFromString((*entry)->value)) {
    return absl::DataLossError("the record of collection '" + name + "' does not parse");
  }
  view.revision = (*entry)->revision;
  return view;
}

void Metadata::Remember(const CollectionView& view) {
  std::lock_guard<std::mutex> lock(mutex_);
  nats::KvEntry entry;
  entry.key = view.entry.collection().name();
  entry.value = view.entry.SerializeAsString();
  entry.revision = view.revision;
  ApplyCollection(entry);
  ++generation_;
  changed_.notify_all();
}

}  // namespace bn::cluster

namespace bn::cluster {

void Metadata::Forget(const std::string& name, uint64_t revision) {
  std::lock_guard<std::mutex> lock(mutex_);
  collection_view_.erase(name);
  uint64_t& deleted = deleted_collections_[name];
  deleted = std::max(deleted, revision);
  ++generation_;
  changed_.notify_all();
}

}  // namespace bn::cluster
