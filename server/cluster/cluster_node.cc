#include "server/cluster/cluster_node.h"

#include <algorithm>
#include <ctime>

#include "absl/strings/str_cat.h"
#include "engine/util/log.h"
#include "server/cluster/blob_channel.h"
#include "server/cluster/blob_collector.h"
#include "server/cluster/cluster_backups.h"
#include "server/cluster/cluster_collections.h"
#include "server/cluster/cluster_items.h"
#include "server/cluster/cluster_models.h"
#include "server/cluster/cluster_queries.h"
#include "server/cluster/cluster_training.h"
#include "server/cluster/local_state.h"
#include "server/cluster/metadata.h"
#include "server/cluster/model_cache.h"
#include "server/cluster/nats_client.h"
#include "server/cluster/peers.h"
#include "server/cluster/replica_manager.h"
#include "server/cluster/retry.h"
#include "server/cluster/shard_server.h"
#include "server/core/core.h"

namespace bn::cluster {
namespace {

namespace v1 = ::bottleneck::v1;
namespace pb = ::bottleneck::cluster;
using Clock = std::chrono::steady_clock;

constexpr char kVersion[] = "0.1.0";

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

ClusterNode::ClusterNode(const ClusterOptions& options)
    : options_(options), names_(options.cluster_name) {}

absl::StatusOr<std::unique_ptr<ClusterNode>> ClusterNode::Open(const ClusterOptions& options,
                                                               Core* core, Store* store) {
  if (absl::Status s = ValidateToken("--node-id", options.node_id); !s.ok()) return s;
  if (absl::Status s = ValidateToken("--cluster-name", options.cluster_name); !s.ok()) return s;
  std::unique_ptr<ClusterNode> node(new ClusterNode(options));
  auto connection =
      nats::Connection::Connect(NatsConnectOptions(options, "bottleneckd " + options.node_id));
  if (!connection.ok()) return connection.status();
  node->nats_ = std::move(*connection);
  Metadata::Options metadata;
  metadata.node = options.node_id;
  metadata.bucket_replicas = options.stream_replicas;
  metadata.lease = options.lease;
  metadata.heartbeat = options.heartbeat;
  auto opened = Metadata::Open(node->nats_.get(), node->names_, metadata);
  if (!opened.ok()) return opened.status();
  node->metadata_ = std::move(*opened);
  node->blobs_ = std::make_unique<BlobChannel>(node->nats_.get(), node->names_);
  node->snapshot_blobs_ = std::make_unique<BlobChannel>(
      node->nats_.get(), node->names_, size_t{1} << 20, BlobChannel::Kind::kSnapshots);
  for (BlobChannel* channel : {node->blobs_.get(), node->snapshot_blobs_.get()}) {
    if (absl::Status s = Retrying([&] { return channel->EnsureStream(options.stream_replicas); });
        !s.ok()) {
      return s;
    }
  }

  ClusterContext& context = node->context_;
  context.options = &node->options_;
  context.names = &node->names_;
  context.nats = node->nats_.get();
  context.metadata = node->metadata_.get();
  context.blobs = node->blobs_.get();
  context.snapshot_blobs = node->snapshot_blobs_.get();
  context.core = core;
  context.store = store;
  auto local = LocalState::Load(options.data_dir);
  if (!local.ok()) return local.status();
  node->local_ = std::move(*local);
  // Each part keeps a copy of the context: build them in dependency order.
  node->replicas_ = std::make_unique<ReplicaManager>(context, node->local_.get());
  if (options.blob_gc_grace.count() > 0) {
    node->collector_ = std::make_unique<BlobCollector>(
        context, options.blob_gc_grace,
        std::max(std::chrono::seconds(1),
                 std::min(options.blob_gc_grace / 2, std::chrono::seconds(600))));
  }
  context.replicas = node->replicas_.get();
  node->shard_server_ = std::make_unique<ShardServer>(context);
  node->peers_ = std::make_unique<Peers>(node->options_, node->shard_server_.get());
  context.peers = node->peers_.get();
  node->collections_ = std::make_unique<ClusterCollections>(context);
  node->models_ = std::make_unique<ModelCache>(context, node->local_.get());
  node->items_ =
      std::make_unique<ClusterItems>(context, node->collections_.get(), node->models_.get());
  node->model_versions_ = std::make_unique<ClusterModels>(context, node->collections_.get());
  node->queries_ = std::make_unique<ClusterQueries>(
      context, node->collections_.get(), node->model_versions_.get(), node->models_.get());
  node->training_ = std::make_unique<ClusterTraining>(
      context, node->local_.get(), node->collections_.get(), node->model_versions_.get());
  node->backups_ = std::make_unique<ClusterBackups>(context, core->backups().backup_dir());
  return node;
}

ClusterNode::~ClusterNode() { Shutdown(); }

absl::Status ClusterNode::WaitForPreviousInstance() {
  // A heartbeat of this node id still moving means another process runs with it; one that stops
  // moving is this node's previous life (killed or restarted).
  auto first = metadata_->Node(options_.node_id);
  if (!first.has_value() || !first->live) return absl::OkStatus();
  const uint64_t counter = first->entry.heartbeat();
  const auto deadline = Clock::now() + options_.lease + options_.heartbeat * 2;
  while (Clock::now() < deadline) {
    std::this_thread::sleep_for(options_.heartbeat / 2);
    auto now = metadata_->Node(options_.node_id);
    if (!now.has_value() || !now->live) return absl::OkStatus();
    if (now->entry.heartbeat() != counter) {
      return absl::FailedPreconditionError(absl::StrCat(
          "node id '", options_.node_id, "' is already live in cluster '", options_.cluster_name,
          "' (at ", now->entry.address(), "): give every node its own --node-id"));
    }
    if (now->age_ms > static_cast<uint64_t>(options_.heartbeat.count()) * 3) {
      return absl::OkStatus();
    }
  }
  return absl::OkStatus();
}

absl::Status ClusterNode::Start(const std::string& address) {
  if (absl::Status s = WaitForPreviousInstance(); !s.ok()) return s;
  address_ = address;
  start_ns_ = NowNs();
  // Membership: shards are placed on members (until RemoveNode).
  auto member = Retrying([&] { return metadata_->members().Get(options_.node_id); });
  if (!member.ok()) return member.status();
  if (!member->has_value()) {
    pb::MemberEntry entry;
    entry.set_node(options_.node_id);
    entry.set_join_unix(std::time(nullptr));
    if (auto put = Retrying(
            [&] { return metadata_->members().Put(options_.node_id, entry.SerializeAsString()); });
        !put.ok()) {
      return put.status();
    }
    BN_LOG(INFO) << "node " << options_.node_id << " joined cluster " << options_.cluster_name;
  }
  if (absl::Status s = Retrying([&] { return PutHeartbeat(); }); !s.ok()) return s;
  heartbeat_thread_ = std::thread([this] { HeartbeatLoop(); });
  if (absl::Status s = replicas_->Start(); !s.ok()) return s;
  training_->Start();
  if (collector_ != nullptr) collector_->Start();
  BN_LOG(INFO) << "cluster " << options_.cluster_name << ": node " << options_.node_id << " at "
               << address_ << " (NATS " << nats_->connected_url() << ")";
  return absl::OkStatus();
}

absl::Status ClusterNode::PutHeartbeat() {
  pb::NodeEntry entry;
  entry.set_node(options_.node_id);
  entry.set_address(address_);
  entry.set_protocol_version(kProtocolVersion);
  entry.set_placement(kNewestPlacement);
  entry.set_checks_log_trim(true);
  entry.set_version(kVersion);
  entry.set_training(options_.training);
  entry.set_start_unix(start_ns_);
  entry.set_heartbeat(++heartbeat_);
  if (replicas_ != nullptr) {
    for (auto& report : replicas_->Reports()) *entry.add_replicas() = std::move(report);
  }
  return metadata_->nodes().Put(options_.node_id, entry.SerializeAsString()).status();
}

void ClusterNode::HeartbeatLoop() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (!stopped_) {
    stop_cv_.wait_for(lock, options_.heartbeat);
    if (stopped_) break;
    lock.unlock();
    if (absl::Status s = PutHeartbeat(); !s.ok()) {
      BN_LOG(WARNING) << "heartbeat not sent: " << s;
    }
    model_versions_->Flip();  // Promotions whose every shard is ready.
    lock.lock();
  }
}

void ClusterNode::Shutdown() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopped_) return;
    stopped_ = true;
  }
  stop_cv_.notify_all();
  if (heartbeat_thread_.joinable()) heartbeat_thread_.join();
  if (training_ != nullptr) training_->Stop();
  if (collector_ != nullptr) collector_->Stop();
  if (replicas_ != nullptr) replicas_->Stop();
  if (metadata_ != nullptr) metadata_->Stop();
}

absl::StatusOr<v1::Cluster> ClusterNode::Describe() const {
  v1::Cluster out;
  out.set_name(options_.cluster_name);
  out.set_protocol_version(kProtocolVersion);
  out.set_node(options_.node_id);
  const std::vector<std::string> members = metadata_->Members();
  std::vector<Metadata::NodeView> nodes = metadata_->Nodes();
  for (const std::string& member : members) {
    auto it = std::find_if(nodes.begin(), nodes.end(),
                           [&](const Metadata::NodeView& n) { return n.entry.node() == member; });
    v1::ClusterNode* node = out.add_nodes();
    node->set_id(member);
    if (it == nodes.end()) continue;  // A member with no heartbeat in the bucket.
    node->set_address(it->entry.address());
    node->set_live(it->live);
    node->set_training(it->entry.training());
    node->set_version(it->entry.version());
    node->set_protocol_version(it->entry.protocol_version());
    node->set_heartbeat_age_ms(it->age_ms);
  }
  return out;
}

absl::Status ClusterNode::RemoveNode(const std::string& node) {
  if (absl::Status s = ValidateToken("node", node); !s.ok()) return s;
  auto member = metadata_->members().Get(node);
  if (!member.ok()) return member.status();
  if (!member->has_value()) return absl::NotFoundError("node '" + node + "' is not a member");
  if (auto view = metadata_->Node(node); view.has_value() && view->live) {
    return absl::FailedPreconditionError("node '" + node +
                                         "' is live: stop it before removing it from the cluster");
  }
  if (absl::Status s = metadata_->members().Delete(node); !s.ok()) return s;
  BN_LOG(INFO) << "node " << node << " removed from cluster " << options_.cluster_name
               << ": its shards move to the remaining members";
  return absl::OkStatus();
}

}  // namespace bn::cluster
