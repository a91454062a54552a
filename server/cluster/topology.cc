#include "server/cluster/topology.h"

#include <algorithm>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "server/cluster/names.h"

namespace bn::cluster {

bool ReplicaInfo::ReadyAt(uint64_t version) const {
  if (!live || (report.state() != kReady && report.state() != kLeaving)) return false;
  if (version == 0) return true;
  const auto& versions = report.ready_versions();
  return std::find(versions.begin(), versions.end(), version) != versions.end();
}

std::vector<ShardTopology> Topology(const Metadata& metadata,
                                    const bottleneck::cluster::CollectionEntry& entry) {
  const std::string& name = entry.collection().name();
  const std::vector<std::string> members = metadata.Members();
  std::vector<ShardTopology> shards(entry.shards());
  const auto placement = PlaceShards(name, entry.incarnation(), entry.shards(), entry.replicas(),
                                     entry.placement(), members);
  for (uint32_t s = 0; s < entry.shards(); ++s) {
    shards[s].shard = s;
    shards[s].placement = (*placement)[s];
  }
  for (const Metadata::NodeView& node : metadata.Nodes()) {
    for (const auto& report : node.entry.replicas()) {
      if (report.collection() != name || report.incarnation() != entry.incarnation() ||
          report.shard() >= entry.shards()) {
        continue;
      }
      ReplicaInfo info;
      info.node = node.entry.node();
      info.address = node.entry.address();
      info.live = node.live;
      info.protocol_version = node.entry.protocol_version();
      info.report = report;
      shards[report.shard()].replicas.push_back(std::move(info));
    }
  }
  return shards;
}

std::vector<ReplicaInfo> Candidates(const ShardTopology& shard, uint64_t version,
                                    const std::string& self) {
  static thread_local std::mt19937 random(std::random_device{}());
  std::vector<ReplicaInfo> out;
  for (const ReplicaInfo& replica : shard.replicas) {
    if (replica.protocol_version != kProtocolVersion || !replica.ReadyAt(version)) continue;
    out.push_back(replica);
  }
  std::shuffle(out.begin(), out.end(), random);
  std::stable_partition(out.begin(), out.end(),
                        [&](const ReplicaInfo& r) { return r.node == self; });
  return out;
}

absl::Status NoReplica(const std::string& collection, const ShardTopology& shard,
                       uint64_t version) {
  std::vector<std::string> others;
  for (const ReplicaInfo& replica : shard.replicas) {
    if (replica.live && replica.protocol_version != kProtocolVersion) {
      others.push_back(absl::StrCat(replica.node, " (protocol ", replica.protocol_version, ")"));
    }
  }
  if (!others.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "shard ", shard.shard, " of collection '", collection, "' is served only by nodes of ",
        "another cluster protocol version: ", absl::StrJoin(others, ", "), "; this node speaks ",
        kProtocolVersion));
  }
  std::vector<std::string> states;
  for (const ReplicaInfo& replica : shard.replicas) {
    states.push_back(
        absl::StrCat(replica.node, " ", replica.live ? replica.report.state() : "down"));
  }
  return absl::UnavailableError(absl::StrCat(
      "shard ", shard.shard, " of collection '", collection, "' has no live ready replica",
      version != 0 ? absl::StrCat(" with model v", version) : "", " (placed on ",
      shard.placement.empty() ? "no node" : absl::StrJoin(shard.placement, ", "),
      states.empty() ? "" : "; replicas: " + absl::StrJoin(states, ", "), ")"));
}

bottleneck::v1::ShardStatus ToShardStatus(const ShardTopology& shard) {
  bottleneck::v1::ShardStatus out;
  out.set_shard(shard.shard);
  for (const auto& node : shard.placement) out.add_placement(node);
  for (const ReplicaInfo& replica : shard.replicas) {
    auto* r = out.add_replicas();
    r->set_node(replica.node);
    r->set_state(replica.report.state());
    r->set_live(replica.live);
    r->set_applied_sequence(replica.report.applied_sequence());
    r->set_item_count(replica.report.item_count());
    for (uint64_t v : replica.report.ready_versions()) r->add_ready_model_versions(v);
    r->set_promotion_items_done(replica.report.promotion_done());
    r->set_promotion_items_total(replica.report.promotion_total());
  }
  return out;
}

}  // namespace bn::cluster
