// Model versions in cluster mode: their records in the models bucket (the ModelRecord itself on
// the blob stream), listing, promotion, and the flip of a collection's serving version.
//
// Promotion: PromoteModel records the target in the collection's record. Every replica of every
// shard then encodes its items with the target into an index held next to the serving one
// (shard_versions.h) and reports it ready. Flip() (run by every node, every second; the
// record's revision makes it happen once) switches the collection's serving version when every
// shard has a ready replica at the target and none of its live placed replicas is still
// building: from then on routers name the new version in their fan-out requests, and a replica
// that was down builds it before it is asked for it. Searches never mix versions because every
// shard request names one.
//
// Thread safety: any thread.
// Errors: NOT_FOUND (collection, version), INVALID_ARGUMENT (version 0), FAILED_PRECONDITION
// (another version is being promoted, or the version is a classifier, which cannot serve the
// index: QueryService.Classify serves it), UNAVAILABLE (NATS).
#ifndef BOTTLENECK_SERVER_CLUSTER_CLUSTER_MODELS_H_
#define BOTTLENECK_SERVER_CLUSTER_CLUSTER_MODELS_H_

#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "bottleneck/cluster/internal.pb.h"
#include "bottleneck/v1/model.pb.h"
#include "server/cluster/context.h"
#include "server/core/model_record.h"

namespace bn::cluster {

class ClusterCollections;

class ClusterModels {
 public:
  ClusterModels(const ClusterContext& context, ClusterCollections* collections)
      : context_(context), collections_(collections) {}

  [[nodiscard]] absl::StatusOr<bottleneck::v1::ListModelsResponse> List(
      const std::string& collection);
  [[nodiscard]] absl::StatusOr<bottleneck::v1::Model> Get(const std::string& collection,
                                                          uint64_t version);
  [[nodiscard]] absl::StatusOr<bottleneck::v1::Promotion> Promote(const std::string& collection,
                                                                  uint64_t version);
  // Stores `record` (a training job's result) as the collection's next version: reserves the
  // number, puts the record on the blob stream and the entry in the bucket. Returns the version
  // (record->meta's collection and version are set).
  [[nodiscard]] absl::StatusOr<uint64_t> Publish(const bottleneck::cluster::CollectionEntry& entry,
                                                 ModelRecord* record);
  // Flips the serving version of collections whose promotion every shard has ready.
  void Flip();
  // The collection's newest classifier version (0: none), as the single node's
  // CollectionRegistry::Classifier picks it. Versions only grow, so after a first scan of the
  // bucket a call reads the entry of the version after the last one seen (one bucket read); a
  // full scan, at most every 30 s, also finds a version published past a number a failed
  // publish left unused.
  [[nodiscard]] absl::StatusOr<uint64_t> NewestClassifier(
      const bottleneck::cluster::CollectionEntry& entry);

 private:
  // What NewestClassifier saw of one collection (incarnation).
  struct ClassifierScan {
    uint64_t scanned = 0;  // Versions 1..scanned were looked at.
    uint64_t newest = 0;   // The newest classifier among them (0: none).
    std::chrono::steady_clock::time_point full_scan;
  };

  absl::StatusOr<std::vector<bottleneck::cluster::ModelEntry>> Entries(
      const bottleneck::cluster::CollectionEntry& entry);

  const ClusterContext context_;
  ClusterCollections* const collections_;
  std::mutex classifiers_mutex_;  // Guards classifiers_ (not held while reading the bucket).
  std::map<std::pair<std::string, uint64_t>, ClassifierScan> classifiers_;  // By name, incarnation.
};

}  // namespace bn::cluster

#endif  // BOTTLENECK_SERVER_CLUSTER_CLUSTER_MODELS_H_
