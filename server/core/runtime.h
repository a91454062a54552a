// In-memory state of the collections a server serves. The store is the source of truth; this
// is what is derived from it (loaded models, HNSW indexes) plus coordination (write locks,
// promotion progress).
#ifndef BOTTLENECK_SERVER_CORE_RUNTIME_H_
#define BOTTLENECK_SERVER_CORE_RUNTIME_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "bottleneck/v1/collection.pb.h"
#include "bottleneck/v1/model.pb.h"
#include "engine/index/serving_index.h"
#include "engine/model/model.h"
#include "server/core/attribute_table.h"
#include "server/core/encode_batcher.h"
#include "server/core/neighbour_cache.h"
#include "server/core/text_pipeline.h"

namespace bn {

// A loaded model version. Immutable; shared by searches, ingest and promotion.
struct ServingModel {
  uint64_t version = 0;
  bottleneck::v1::Model meta;
  std::unique_ptr<Model> model;
  std::unique_ptr<TextPipeline> text;      // Document collections only.
  std::unique_ptr<EncodeBatcher> batcher;  // Merges concurrent single-item encodes.
};

// What a collection serves: a model and the index over its codes. Swapped atomically.
struct ServingState {
  std::shared_ptr<const ServingModel> model;
  std::shared_ptr<ServingIndex> index;
  // Change counter covered by the last snapshot saved or loaded (~0: none yet).
  mutable std::atomic<uint64_t> snapshot_counter{~uint64_t{0}};
};

// A running promotion: the target model and the index being filled.
struct PromotionState {
  std::shared_ptr<const ServingModel> model;
  std::shared_ptr<ServingIndex> index;
  std::atomic<uint64_t> items_done{0};
  std::atomic<uint64_t> items_total{0};
  std::atomic<bool> cancelled{false};
  int64_t start_unix_seconds = 0;
};

// What Classify keeps between calls (CollectionRegistry::Classifier): the newest classifier
// version among versions 1..scanned (model versions are numbered 1, 2, ... and never removed, so
// a later call only looks at versions past `scanned`), and the classifier version loaded last.
struct ClassifierCache {
  std::mutex mutex;  // Guards the fields below (held while a version loads).
  uint64_t scanned = 0;
  uint64_t newest = 0;  // 0: none among them.
  std::shared_ptr<const ServingModel> loaded;
};

class CollectionRuntime {
 public:
  // `neighbour_cache_items` bounds neighbours() (0 disables it).
  CollectionRuntime(std::string name, bottleneck::v1::Collection record,
                    size_t neighbour_cache_items)
      : name_(std::move(name)),
        spec_(record.spec()),
        record_(std::move(record)),
        neighbours_(neighbour_cache_items),
        attributes_(name_,
                    {spec_.indexed_metadata_keys().begin(), spec_.indexed_metadata_keys().end()},
                    {spec_.numeric_metadata_keys().begin(), spec_.numeric_metadata_keys().end()}) {}

  const std::string& name() const { return name_; }

  // The stored collection record (spec, create time, serving version). Thread-safe copy.
  bottleneck::v1::Collection record() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return record_;
  }
  void set_record(bottleneck::v1::Collection record) {
    std::lock_guard<std::mutex> lock(mutex_);
    record_ = std::move(record);
  }
  const bottleneck::v1::CollectionSpec& spec() const { return spec_; }  // Fixed at creation.

  std::shared_ptr<const ServingState> serving() const { return std::atomic_load(&serving_); }
  void set_serving(std::shared_ptr<const ServingState> state) {
    std::atomic_store(&serving_, std::move(state));
  }
  std::shared_ptr<PromotionState> promotion() const { return std::atomic_load(&promotion_); }
  void set_promotion(std::shared_ptr<PromotionState> state) {
    std::atomic_store(&promotion_, std::move(state));
  }

  // Serialises writes (item batches, promotion batches, the serving swap) so that the store and
  // the indexes see them in the same order.
  std::mutex& write_mutex() { return write_mutex_; }

  // The heads (id, label, metadata) of items that searches returned; see neighbour_cache.h for
  // who must invalidate it. A cache of what the store holds, hence usable through a const runtime.
  NeighbourCache& neighbours() const { return neighbours_; }
  // Every item's label and metadata, for filters (attribute_table.h). Invalidated wherever
  // neighbours() is.
  AttributeTable& attributes() const { return attributes_; }

  // Classify's classifier versions (a cache of what the store holds, like neighbours()).
  ClassifierCache& classifiers() const { return classifiers_; }

 private:
  const std::string name_;
  const bottleneck::v1::CollectionSpec spec_;
  mutable std::mutex mutex_;
  bottleneck::v1::Collection record_;
  std::shared_ptr<const ServingState> serving_;
  std::shared_ptr<PromotionState> promotion_;
  std::mutex write_mutex_;
  mutable NeighbourCache neighbours_;
  mutable ClassifierCache classifiers_;
  mutable AttributeTable attributes_;
};

}  // namespace bn

#endif  // BOTTLENECK_SERVER_CORE_RUNTIME_H_
