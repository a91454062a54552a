// CollectionRegistry::Classifier: which classifier version a Classify uses, loaded once. Model
// versions are numbered 1, 2, ... by AddModel and never removed, so after a first scan of the
// versions a call only probes the version after the last one seen (on a follower too, whose
// store catches up with the primary's).
#include "engine/store/blob_store.h"
#include "server/core/collection_registry.h"
#include "server/core/model_record.h"
#include "server/core/runtime.h"

namespace bn {

namespace v1 = ::bottleneck::v1;

namespace {

// Whether the stored record `blob` is a classifier version.
absl::StatusOr<bool> IsClassifier(const std::string& blob) {
  auto record = DecodeModelRecord(blob);
  if (!record.ok()) return record.status();
  return record->meta.spec().has_classifier();
}

}  // namespace

absl::Status CheckClassifier(const std::string& collection, const ServingModel& sm) {
  if (!sm.meta.spec().has_classifier()) {
    return absl::FailedPreconditionError("model version " + std::to_string(sm.version) +
                                         " of collection '" + collection +
                                         "' is not a classifier (ModelSpec.classifier)");
  }
  if (sm.model->kind() != ModelKind::kClassifier ||
      sm.meta.class_labels_size() != sm.model->code_size()) {
    return absl::DataLossError("classifier version " + std::to_string(sm.version) +
                               " does not match its stored labels");
  }
  return absl::OkStatus();
}

absl::Status CollectionRegistry::ScanForClassifiers(const std::string& collection,
                                                    ClassifierCache* cache) const {
  BlobStore blobs(store_);
  if (cache->scanned == 0) {  // First use: the newest classifier among all versions.
    auto versions = blobs.ListModelVersions(collection);
    if (!versions.ok()) return versions.status();
    for (auto it = versions->rbegin(); it != versions->rend() && cache->newest == 0; ++it) {
      auto blob = blobs.GetModel(collection, *it);
      if (!blob.ok()) return blob.status();
      auto classifier = IsClassifier(*blob);
      if (!classifier.ok()) return classifier.status();
      if (*classifier) cache->newest = *it;
    }
    if (!versions->empty()) cache->scanned = versions->back();
    return absl::OkStatus();
  }
  for (uint64_t v = cache->scanned + 1;; ++v) {
    auto blob = blobs.GetModel(collection, v);
    if (blob.status().code() == absl::StatusCode::kNotFound) return absl::OkStatus();
    if (!blob.ok()) return blob.status();
    auto classifier = IsClassifier(*blob);
    if (!classifier.ok()) return classifier.status();
    if (*classifier) cache->newest = v;
    cache->scanned = v;
  }
}

absl::StatusOr<std::shared_ptr<const ServingModel>> CollectionRegistry::Classifier(
    const CollectionRuntime& runtime, uint64_t version) const {
  ClassifierCache& cache = runtime.classifiers();
  std::lock_guard<std::mutex> lock(cache.mutex);
  if (version == 0) {
    if (absl::Status s = ScanForClassifiers(runtime.name(), &cache); !s.ok()) return s;
    if (cache.newest == 0) {
      return absl::FailedPreconditionError(
          "collection '" + runtime.name() +
          "' has no classifier version yet: train one (ModelSpec.classifier)");
    }
    version = cache.newest;
  }
  if (cache.loaded != nullptr && cache.loaded->version == version) return cache.loaded;
  auto model = LoadModel(runtime.name(), version);
  if (!model.ok()) return model.status();
  if (absl::Status s = CheckClassifier(runtime.name(), **model); !s.ok()) return s;
  cache.loaded = *model;
  return cache.loaded;
}

}  // namespace bn
