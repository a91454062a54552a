#include "server/cluster/replica_manager.h"

#include <algorithm>
#include <set>

#include "engine/util/log.h"
#include "server/cluster/local_state.h"
#include "server/cluster/log_trimmer.h"
#include "server/cluster/metadata.h"
#include "server/cluster/shard_replica.h"
#include "server/cluster/topology.h"
#include "server/core/core.h"

namespace bn::cluster {
namespace {

namespace pb = ::bottleneck::cluster;
using Clock = std::chrono::steady_clock;

}  // namespace

ReplicaManager::ReplicaManager(const ClusterContext& context, LocalState* local)
    : context_(context), local_(local) {
  if (context_.options->log_trim) trimmer_ = std::make_unique<LogTrimmer>(context_);
}

ReplicaManager::~ReplicaManager() { Stop(); }

absl::Status ReplicaManager::Start() {
  Reconcile();
  if (trimmer_ != nullptr) trimmer_->Start();
  thread_ = std::thread([this] { Run(); });
  return absl::OkStatus();
}

void ReplicaManager::Stop() {
  std::map<std::string, std::shared_ptr<ShardReplica>> replicas;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopped_) return;
    stopped_ = true;
    replicas.swap(replicas_);
  }
  if (thread_.joinable()) thread_.join();
  if (trimmer_ != nullptr) trimmer_->Stop();
  for (auto& [name, replica] : replicas) replica->Stop();
}

void ReplicaManager::Run() {
  uint64_t seen = context_.metadata->generation();
  while (true) {
    seen = context_.metadata->WaitForChange(seen, std::chrono::milliseconds(1000));
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (stopped_) return;
    }
    Reconcile();
  }
}

void ReplicaManager::Reconcile() {
  const std::string& self = context_.options->node_id;
  const std::vector<std::string> members = context_.metadata->Members();
  std::map<std::string, Metadata::CollectionView> collections;
  for (auto& view : context_.metadata->Collections()) {
    collections[view.entry.collection().name()] = std::move(view);
  }
  struct Want {
    const pb::CollectionEntry* entry;
    uint32_t shard;
  };
  std::map<std::string, Want> desired;
  for (const auto& [name, view] : collections) {
    const auto placed = PlaceShards(name, view.entry.incarnation(), view.entry.shards(),
                                    view.entry.replicas(), view.entry.placement(), members);
    for (uint32_t s = 0; s < view.entry.shards(); ++s) {
      const std::vector<std::string>& placement = (*placed)[s];
      if (std::find(placement.begin(), placement.end(), self) != placement.end()) {
        desired[Names::LocalShard(name, s)] = Want{&view.entry, s};
      }
    }
  }

  std::vector<std::shared_ptr<ShardReplica>> to_drop;
  std::vector<std::shared_ptr<ShardReplica>> to_start;
  std::set<std::string> replaced;  // Lost replicas: dropped now, started afresh next time.
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopped_) return;
    for (auto it = replicas_.begin(); it != replicas_.end();) {
      const std::shared_ptr<ShardReplica>& replica = it->second;
      if (replica->lost()) {
        BN_LOG(WARNING) << "shard " << it->first << ": the log was trimmed past it; replacing it";
        to_drop.push_back(replica);
        replaced.insert(it->first);
        snapshot_due_.erase(it->first);
        it = replicas_.erase(it);
        continue;
      }
      auto view = collections.find(replica->collection());
      if (view == collections.end() || view->second.entry.incarnation() != replica->incarnation()) {
        to_drop.push_back(replica);  // Deleted (or created again): its data is garbage.
        snapshot_due_.erase(it->first);
        it = replicas_.erase(it);
        continue;
      }
      const pb::CollectionEntry& entry = view->second.entry;
      replica->UpdateEntry(entry);
      if (desired.count(it->first) > 0) {
        replica->SetLeaving(false);
        ++it;
        continue;
      }
      // Placed elsewhere now: serve until every node it is placed on has it ready.
      replica->SetLeaving(true);
      const auto topology = Topology(*context_.metadata, entry);
      const ShardTopology& shard = topology[replica->shard()];
      const bool handed_over =
          std::all_of(shard.placement.begin(), shard.placement.end(), [&](const std::string& node) {
            return std::any_of(
                shard.replicas.begin(), shard.replicas.end(), [&](const ReplicaInfo& r) {
                  return r.node == node && r.node != self && r.ReadyAt(entry.serving_version());
                });
          });
      if (handed_over && !shard.placement.empty()) {
        BN_LOG(INFO) << "shard " << it->first << " handed over to its new replicas";
        to_drop.push_back(replica);
        snapshot_due_.erase(it->first);
        it = replicas_.erase(it);
        continue;
      }
      ++it;
    }
    for (const auto& [name, want] : desired) {
      if (replicas_.count(name) > 0 || replaced.count(name) > 0) continue;
      auto replica = std::make_shared<ShardReplica>(context_, local_, *want.entry, want.shard);
      replicas_[name] = replica;
      snapshot_due_[name] = Clock::now() + context_.options->snapshot_interval;
      to_start.push_back(replica);
    }
  }
  for (auto& replica : to_start) {
    BN_LOG(INFO) << "serving shard " << replica->shard() << " of collection "
                 << replica->collection();
    replica->Start();
  }
  for (auto& replica : to_drop) replica->Drop();

  // Local shard collections that no replica uses (a collection deleted while this node was down,
  // a shard moved away before a restart) are dropped; training workspaces of live collections
  // stay.
  std::set<std::string> running;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (const auto& [name, replica] : replicas_) running.insert(name);
  }
  for (const auto& [name, local] : local_->All()) {
    if (running.count(name) > 0) continue;
    auto view = collections.find(local.collection());
    if (local.training() && view != collections.end() &&
        view->second.entry.incarnation() == local.incarnation()) {
      continue;
    }
    if (absl::Status s = context_.core->DeleteCollection(name);
        !s.ok() && s.code() != absl::StatusCode::kNotFound) {
      BN_LOG(WARNING) << "local collection " << name << " not deleted: " << s;
      continue;
    }
    (void)local_->Erase(name);
    BN_LOG(INFO) << "dropped local collection " << name << " (no longer served here)";
  }

  // Snapshots: the shard's live ready replica with the smallest node id writes them.
  const auto now = Clock::now();
  std::lock_guard<std::mutex> lock(mutex_);
  for (const auto& [name, replica] : replicas_) {
    auto due = snapshot_due_.find(name);
    if (due == snapshot_due_.end() || now < due->second || !replica->ready()) continue;
    due->second = now + context_.options->snapshot_interval;
    auto view = collections.find(replica->collection());
    if (view == collections.end()) continue;
    const auto topology = Topology(*context_.metadata, view->second.entry);
    std::string writer;
    for (const ReplicaInfo& r : topology[replica->shard()].replicas) {
      if (r.ReadyAt(0) && (writer.empty() || r.node < writer)) writer = r.node;
    }
    if (writer != self) continue;
    if (replica->applied() > replica->snapshot_position()) replica->RequestSnapshot();
    // The trim uses the snapshots already written (this round's come into the next one).
    if (replica->shard() == 0 && trimmer_ != nullptr) trimmer_->Request(view->second.entry);
  }
}

std::shared_ptr<ShardReplica> ReplicaManager::Find(const std::string& collection,
                                                   uint64_t incarnation, uint32_t shard) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = replicas_.find(Names::LocalShard(collection, shard));
  if (it == replicas_.end() || it->second->incarnation() != incarnation) return nullptr;
  return it->second;
}

std::vector<pb::ReplicaReport> ReplicaManager::Reports() const {
  std::vector<std::shared_ptr<ShardReplica>> replicas;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (const auto& [name, replica] : replicas_) replicas.push_back(replica);
  }
  std::vector<pb::ReplicaReport> out;
  for (const auto& replica : replicas) out.push_back(replica->Report());
  return out;
}

}  // namespace bn::cluster
