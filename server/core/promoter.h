// Zero-downtime promotion of a model version: every stored item is re-encoded with the new model
// into a new index on a background thread (through ItemIngest::Reencode, in batches under the
// collection's write lock), while searches keep using the serving version; then the serving state
// swaps atomically. The target is recorded in the collection record first, so a promotion
// interrupted by a shutdown or crash resumes at the next start.
//
// Thread safety: any thread. One promotion per collection at a time.
// Errors: InvalidArgument (version 0); NotFound (collection or version); FailedPrecondition
// (another version is being promoted, a classifier version, or a follower).
#ifndef BOTTLENECK_SERVER_CORE_PROMOTER_H_
#define BOTTLENECK_SERVER_CORE_PROMOTER_H_

#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "bottleneck/v1/collection.pb.h"

namespace bn {

class Store;
class CollectionRegistry;
class CollectionRuntime;
class ItemIngest;
struct PromotionState;
struct ServingModel;

class Promoter {
 public:
  // The pointers must outlive the promoter. Re-encoding threads run at `background_nice`.
  Promoter(Store* store, CollectionRegistry* registry, ItemIngest* ingest, int background_nice);
  ~Promoter();  // Shutdown().
  Promoter(const Promoter&) = delete;
  Promoter& operator=(const Promoter&) = delete;

  // Starts promoting `version` (or reports the running promotion of that same version); returns
  // its initial progress. Promoting the serving version is a no-op.
  [[nodiscard]] absl::StatusOr<bottleneck::v1::Promotion> Promote(const std::string& collection,
                                                                  uint64_t version);
  // Resumes the promotion recorded in the collection's record, if any (at start).
  [[nodiscard]] absl::Status Resume(const std::shared_ptr<CollectionRuntime>& runtime);
  // Stops the collection's promotion (the collection is being deleted).
  void Cancel(const CollectionRuntime& runtime);
  // Stops every promotion (each stays recorded and resumes on restart) and joins the threads.
  void Shutdown();

 private:
  absl::StatusOr<bottleneck::v1::Promotion> Start(const std::shared_ptr<CollectionRuntime>& runtime,
                                                  uint64_t version);
  absl::Status Launch(const std::shared_ptr<CollectionRuntime>& runtime,
                      std::shared_ptr<const ServingModel> model);
  void Run(const std::shared_ptr<CollectionRuntime>& runtime,
           const std::shared_ptr<PromotionState>& promotion);
  // Ends a promotion under the write lock: on success the new version serves.
  void Finish(CollectionRuntime* runtime, const std::shared_ptr<PromotionState>& promotion,
              absl::Status status);

  Store* const store_;
  CollectionRegistry* const registry_;
  ItemIngest* const ingest_;
  const int background_nice_;
  std::mutex mutex_;  // Guards threads_ and shut_down_.
  std::vector<std::thread> threads_;
  bool shut_down_ = false;
};

}  // namespace bn

#endif  // BOTTLENECK_SERVER_CORE_PROMOTER_H_
