// Model versions as this node's router uses them (encoding queries, validating upserts): loaded
// from the collection's training workspace on this node (workspace.h), where they are installed
// from the blob stream on first use, and kept in memory (a few at a time).
//
// Thread safety: any thread.
// Errors: NOT_FOUND for an unknown version; those of the blob stream and the local store.
#ifndef BOTTLENECK_SERVER_CLUSTER_MODEL_CACHE_H_
#define BOTTLENECK_SERVER_CLUSTER_MODEL_CACHE_H_

#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <tuple>

#include "absl/status/statusor.h"
#include "bottleneck/cluster/internal.pb.h"
#include "server/cluster/context.h"

namespace bn {
struct ServingModel;
}

namespace bn::cluster {

class LocalState;

class ModelCache {
 public:
  ModelCache(const ClusterContext& context, LocalState* local, size_t capacity = 8)
      : context_(context), local_(local), capacity_(capacity) {}

  [[nodiscard]] absl::StatusOr<std::shared_ptr<const ServingModel>> Get(
      const bottleneck::cluster::CollectionEntry& entry, uint64_t version);

 private:
  using Key = std::tuple<std::string, uint64_t, uint64_t>;  // Collection, incarnation, version.

  const ClusterContext context_;
  LocalState* const local_;
  const size_t capacity_;
  std::mutex mutex_;  // Guards entries_ and serialises loads.
  std::list<std::pair<Key, std::shared_ptr<const ServingModel>>> entries_;  // Most recent first.
};

// The collection's training workspace on this node: a local collection (Names::LocalTraining)
// for its datasets, jobs and installed model versions, created on first use and recorded in the
// node's local state (so it is dropped with the collection). Returns its local name.
[[nodiscard]] absl::StatusOr<std::string> EnsureWorkspace(
    const ClusterContext& context, LocalState* local,
    const bottleneck::cluster::CollectionEntry& entry);

}  // namespace bn::cluster

#endif  // BOTTLENECK_SERVER_CLUSTER_MODEL_CACHE_H_
