// Collections in cluster mode: their records live in the collections bucket, their logs are
// JetStream streams (one per incarnation, a subject per shard). Create/Get/List/Delete answer the
// v1 CollectionService from any node; statistics come from the replicas' heartbeats.
//
// Aliases (cluster_aliases.cc) live in the aliases bucket (alias -> collection name), with the
// single node's rules and statuses (server/core/collection_registry.h): an alias names a
// collection, never another alias nor a collection's name; a collection an alias points at cannot
// be deleted. Lookup() resolves them for item and query calls through a per-node cache whose
// entries are re-read from the bucket once older than kAliasCacheTtl (one request re-reads, the
// others meanwhile keep the cached target): a change made on another node is seen within that
// bound plus the re-read's time (while NATS answers; a failed re-read keeps the cached target for
// another TTL), and at once on the node that made it.
//
// Thread safety: any thread.
// Errors: INVALID_ARGUMENT (name, spec, shards, replicas); ALREADY_EXISTS; FAILED_PRECONDITION
// for an existing collection re-created with another shard count, or deleted while an alias
// points at it; NOT_FOUND; UNAVAILABLE when NATS cannot be reached; ABORTED when a SwitchAlias
// lost 8 races in a row to other changes of the alias (retry).
#ifndef BOTTLENECK_SERVER_CLUSTER_CLUSTER_COLLECTIONS_H_
#define BOTTLENECK_SERVER_CLUSTER_CLUSTER_COLLECTIONS_H_

#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "bottleneck/v1/collection.pb.h"
#include "server/cluster/context.h"
#include "server/cluster/metadata.h"
#include "server/cluster/nats_client.h"

namespace bn::cluster {

class ClusterCollections {
 public:
  explicit ClusterCollections(const ClusterContext& context) : context_(context) {}

  [[nodiscard]] absl::StatusOr<bottleneck::v1::Collection> Create(
      const bottleneck::v1::CreateCollectionRequest& request);
  [[nodiscard]] absl::StatusOr<bottleneck::v1::Collection> Describe(const std::string& name);
  [[nodiscard]] absl::StatusOr<bottleneck::v1::ListCollectionsResponse> List();
  // Removes the record (every node then drops its replicas), the log and the collection's models,
  // snapshots, datasets and jobs.
  [[nodiscard]] absl::Status Delete(const std::string& name);

  // The collection from this node's view: NOT_FOUND ("collection 'x' not found").
  [[nodiscard]] absl::StatusOr<Metadata::CollectionView> Find(const std::string& name) const;
  // Find(), where `name` may also be an alias: the one lookup of item writes and reads and of
  // queries (the calls the single node resolves aliases on). Callers that pass the collection on
  // (sub-requests, batches, pages) pass the view's name, so that one call never spans a switch.
  // NOT_FOUND names the alias when its collection is missing.
  [[nodiscard]] absl::StatusOr<Metadata::CollectionView> Lookup(const std::string& name);

  // --- Aliases (cluster_aliases.cc) ---
  static constexpr std::chrono::milliseconds kAliasCacheTtl{1000};
  // How long DeleteCollection's mark (CollectionEntry.deleting_unix_ms) keeps aliases off the
  // collection: far longer than a delete takes, so that only a mark whose deleter died expires.
  static constexpr std::chrono::seconds kDeletingMarkTtl{30};
  [[nodiscard]] absl::StatusOr<bottleneck::v1::Alias> CreateAlias(
      const bottleneck::v1::CreateAliasRequest& request);
  [[nodiscard]] absl::StatusOr<bottleneck::v1::Alias> SwitchAlias(
      const bottleneck::v1::SwitchAliasRequest& request);
  [[nodiscard]] absl::Status DeleteAlias(const std::string& name);
  [[nodiscard]] absl::StatusOr<bottleneck::v1::ListAliasesResponse> ListAliases();

 private:
  using Clock = std::chrono::steady_clock;
  bottleneck::v1::Collection DescribeView(const Metadata::CollectionView& view);
  // The collection `name` is an alias of (nullopt: not an alias), from the cache or the bucket.
  absl::StatusOr<std::optional<std::string>> AliasTarget(const std::string& name);
  // Records what the bucket said about alias `name` as of `as_of` (ignored if older than what the
  // cache has).
  void CacheAlias(const std::string& name, std::optional<std::string> target,
                  Clock::time_point as_of);
  // The newest placement scheme (names.h) every member implements, for a new collection.
  uint32_t SharedPlacement() const;
  // Whether DeleteCollection has marked `entry` and the mark is younger than kDeletingMarkTtl.
  static bool BeingDeleted(const bottleneck::cluster::CollectionEntry& entry);
  // DeleteCollection's mark: set on the record (conditioned on its revision, re-read on a race),
  // returning the marked record's revision; Unmark clears it again when the delete is refused.
  absl::StatusOr<uint64_t> MarkDeleting(const std::string& name, Metadata::CollectionView view);
  void Unmark(const std::string& name, uint64_t revision);
  // The aliases pointing at `collection`, read from the bucket.
  absl::StatusOr<std::vector<std::string>> AliasesOf(const std::string& collection);
  // Reads alias `name` from the bucket (nullopt: none).
  absl::StatusOr<std::optional<nats::KvEntry>> ReadAlias(const std::string& name);

  const ClusterContext context_;

  struct CachedAlias {
    std::optional<std::string> target;
    Clock::time_point as_of;  // When the read that returned it started.
    bool refreshing = false;  // A request is re-reading it.
  };
  std::mutex alias_mutex_;  // Guards alias_cache_.
  std::map<std::string, CachedAlias> alias_cache_;
};

}  // namespace bn::cluster

#endif  // BOTTLENECK_SERVER_CLUSTER_CLUSTER_COLLECTIONS_H_
