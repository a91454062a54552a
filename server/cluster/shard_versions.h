// Keeps a shard replica's model versions in step with its collection (CollectionEntry's
// serving_version and promotion_target), on a thread of its own:
//   - the serving version: installed (its ModelRecord fetched from the blob stream into the local
//     store), every local item re-encoded with it into a new index, then served locally;
//   - a promotion target: the same re-encoding into an index that is held, complete, next to the
//     serving one (upserts are encoded with both meanwhile), until the collection's serving
//     version flips to it; then it is swapped in.
// Searches name the version they want (For()), so a replica answers for the serving version and
// a complete target alike, and the flip never mixes versions across shards.
//
// Thread safety: every method may be called from any thread.
#ifndef BOTTLENECK_SERVER_CLUSTER_SHARD_VERSIONS_H_
#define BOTTLENECK_SERVER_CLUSTER_SHARD_VERSIONS_H_

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "server/cluster/context.h"

namespace bn {
class CollectionRuntime;
class ServingIndex;
struct ServingModel;
struct PromotionState;
}  // namespace bn

namespace bn::cluster {

// Installs model `version` of a collection into the local store under `local_name` (no-op when
// there), from the models bucket and the blob stream. NOT_FOUND for an unknown version.
[[nodiscard]] absl::Status InstallModel(const ClusterContext& context,
                                        const std::string& collection, uint64_t incarnation,
                                        uint64_t version, const std::string& local_name);

class ShardVersions {
 public:
  ShardVersions(const ClusterContext& context, std::string collection, uint64_t incarnation,
                std::string local_name);
  ~ShardVersions();  // Stop().

  // Starts the thread over the prepared local collection.
  void Start(std::shared_ptr<CollectionRuntime> runtime);
  void Stop();
  // The collection's versions changed.
  void Update(uint64_t serving, uint64_t target);

  // Versions a search may name here: the local serving one and a complete promotion's.
  std::vector<uint64_t> ReadyVersions() const;
  struct Searchable {
    std::shared_ptr<const ServingModel> model;
    std::shared_ptr<ServingIndex> index;
  };
  // FAILED_PRECONDITION (naming what this replica has) when `version` is not ready here.
  [[nodiscard]] absl::StatusOr<Searchable> For(uint64_t version) const;
  // A running promotion: its version, items re-encoded and total (all 0 when none).
  void Progress(uint64_t* version, uint64_t* done, uint64_t* total) const;

 private:
  void Run();
  // Re-encodes the local items with `version` into a promotion index. True when complete.
  bool Reencode(uint64_t version);
  void Swap(const std::shared_ptr<PromotionState>& promotion);
  void CancelPromotion();

  const ClusterContext context_;
  const std::string collection_;
  const uint64_t incarnation_;
  const std::string local_;
  std::shared_ptr<CollectionRuntime> runtime_;

  mutable std::mutex mutex_;
  std::condition_variable changed_;
  uint64_t serving_ = 0;
  uint64_t target_ = 0;
  bool stopped_ = false;
  // The promotion whose index is complete (held until the flip); 0: none.
  std::atomic<uint64_t> complete_{0};
  std::thread thread_;
};

}  // namespace bn::cluster

#endif  // BOTTLENECK_SERVER_CLUSTER_SHARD_VERSIONS_H_
