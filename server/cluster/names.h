// Names and placement in cluster mode: which shard an item belongs to, which nodes a shard is
// placed on, and the names of the NATS streams, subjects, buckets and consumers and of a node's
// local collections. Pure functions of their arguments, the same on every node and every version
// of the protocol (changing any of them is a protocol change, see kProtocolVersion).
#ifndef BOTTLENECK_SERVER_CLUSTER_NAMES_H_
#define BOTTLENECK_SERVER_CLUSTER_NAMES_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace bn::cluster {

// The version of the cluster's formats and rules (internal.proto, these names, the hash): every
// node of a cluster runs the same one.
inline constexpr uint32_t kProtocolVersion = 1;

inline constexpr uint32_t kMaxShards = 256;
inline constexpr uint32_t kMaxReplicas = 16;
// Collection names are shorter in cluster mode: local collection names add a suffix ("__s255").
inline constexpr size_t kMaxClusterCollectionName = 58;

// The shard of an item: FNV-1a 64 of its id, modulo `shards`.
uint32_t ShardOf(absl::string_view id, uint32_t shards);

// How a collection's shards are placed (CollectionEntry.placement).
enum class PlacementScheme : uint32_t {
  // Each shard on the `replicas` members with the highest rendezvous hash of (collection,
  // incarnation, shard, node). Adding or removing a member moves only the shards whose
  // placement includes it, but members can hold very different numbers of shards (4 shards on
  // 4 nodes were measured as 3, 0, 1, 0).
  kRendezvous = 0,
  // Rendezvous placement, then the fewest replica moves that give every member its share of
  // the collection's replicas within one (each move to the best-ranked member below its
  // share). Adding a member moves somewhat more replicas than rendezvous placement alone.
  kBalanced = 1,
};
constexpr uint32_t kNewestPlacement = static_cast<uint32_t>(PlacementScheme::kBalanced);

// The nodes each shard of a collection is placed on (one list per shard, best first; fewer
// than `replicas` when there are fewer members). Every node computes the same from the same
// members. Unknown schemes are placed as kRendezvous.
// Cached (shared, immutable) per collection, scheme and membership. Thread-safe.
using ShardPlacement = std::vector<std::vector<std::string>>;
std::shared_ptr<const ShardPlacement> PlaceShards(absl::string_view collection,
                                                  uint64_t incarnation, uint32_t shards,
                                                  uint32_t replicas, uint32_t scheme,
                                                  const std::vector<std::string>& members);

// InvalidArgument unless `value` is 1-64 characters of [A-Za-z0-9_-] (node ids, cluster names:
// they become parts of NATS subjects and names).
absl::Status ValidateToken(absl::string_view field, absl::string_view value);
// A node id from a host name: characters outside [A-Za-z0-9_-] become '-', at most 64.
std::string NodeIdFromHostname(absl::string_view hostname);

class Names {
 public:
  explicit Names(std::string cluster) : cluster_(std::move(cluster)) {}
  const std::string& cluster() const { return cluster_; }

  // Key-value buckets.
  std::string MetaBucket() const { return cluster_ + "_meta"; }
  std::string CollectionsBucket() const { return cluster_ + "_collections"; }
  std::string MembersBucket() const { return cluster_ + "_members"; }
  std::string NodesBucket() const { return cluster_ + "_nodes"; }
  std::string ModelsBucket() const { return cluster_ + "_models"; }
  std::string SnapshotsBucket() const { return cluster_ + "_snapshots"; }
  std::string DatasetsBucket() const { return cluster_ + "_datasets"; }
  std::string JobsBucket() const { return cluster_ + "_jobs"; }
  // Collection aliases: key = alias, value = the collection's name (cluster_aliases.cc).
  std::string AliasesBucket() const { return cluster_ + "_aliases"; }
  // Backups: key <node>.<name>, value = the v1.Backup (its node's --backup-dir holds it).
  std::string BackupsBucket() const { return cluster_ + "_backups"; }

  // Blobs (models, snapshots, datasets): one stream, a subject per blob.
  std::string BlobStream() const { return cluster_ + "_BLOBS"; }
  std::string BlobSubjects() const { return cluster_ + ".blob.*"; }
  std::string BlobSubject(absl::string_view id) const;
  // Shard snapshots: a stream of their own. Snapshots are replaced (their blobs deleted) every
  // few seconds to minutes. nats-server 2.9.10 loses older messages of a stream whose subjects
  // are purged while its servers are killed and restarted (nats-io/nats-server#4196;
  // NatsClusterTest.OldMessageSurvivesServerKillsWhileAnotherStreamIsPurged). Blobs are now
  // deleted message by message (BlobChannel::Delete), and models and datasets still keep off
  // this busy stream.
  std::string SnapshotStream() const { return cluster_ + "_SNAPSHOTS"; }
  std::string SnapshotSubjects() const { return cluster_ + ".snap.*"; }
  std::string SnapshotSubject(absl::string_view id) const;

  // A collection's log: one stream per incarnation, a subject per shard.
  std::string LogStream(absl::string_view collection, uint64_t incarnation) const;
  std::string LogSubjects(absl::string_view collection, uint64_t incarnation) const;
  std::string LogSubject(absl::string_view collection, uint64_t incarnation, uint32_t shard) const;
  // The durable consumer through which `node` replicates `shard`.
  static std::string ReplicaConsumer(absl::string_view node, uint32_t shard);

  // Keys of the per-collection buckets.
  static std::string ModelKey(absl::string_view collection, uint64_t incarnation, uint64_t version);
  static std::string ModelKeyPrefix(absl::string_view collection, uint64_t incarnation);
  // The collection's LogTrimEntry, in the snapshots bucket next to its shards' snapshots.
  static std::string LogTrimKey(absl::string_view collection, uint64_t incarnation);
  static std::string SnapshotKey(absl::string_view collection, uint64_t incarnation,
                                 uint32_t shard);
  static std::string DatasetKey(absl::string_view collection, uint64_t incarnation,
                                absl::string_view dataset);
  static std::string DatasetKeyPrefix(absl::string_view collection, uint64_t incarnation);

  // A node's local collections: a shard's items, or the collection's training workspace.
  static std::string LocalShard(absl::string_view collection, uint32_t shard);
  static std::string LocalTraining(absl::string_view collection);

 private:
  std::string cluster_;
};

std::string Hex(uint64_t value);

}  // namespace bn::cluster

#endif  // BOTTLENECK_SERVER_CLUSTER_NAMES_H_
