// Training datasets of a collection: streamed uploads (validated example by example, visible
// only once committed), listing, deletion, and reading a dataset back as a training matrix.
//
// Storage: the dataset's metadata (v1::Dataset) at batch index 0, then one stored
// UploadDatasetRequest per batch: a first one holding only the vocabulary when the upload
// brought one, then the accepted examples of each message.
//
// Uploads of document datasets follow the vocabulary rules of common.proto's DocumentGeometry:
// the vocabulary (first message only) must fit the collection, and without a supplied
// vocabulary (the dataset's or the collection's) the first example that would mix word ids
// with texts or words is refused. With skip_invalid, examples that fail validation are left out
// and reported (the first kSkippedReasons of them) instead of failing the upload.
//
// Thread safety: any thread. One upload per (collection, dataset) name at a time.
// Errors: InvalidArgument (names, vocabularies, examples that do not fit the collection);
// NotFound; AlreadyExists (name taken or being uploaded); ResourceExhausted past the size
// limits.
#ifndef BOTTLENECK_SERVER_CORE_DATASET_CATALOG_H_
#define BOTTLENECK_SERVER_CORE_DATASET_CATALOG_H_

#include <cstdint>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "absl/status/statusor.h"
#include "bottleneck/v1/training.pb.h"

namespace bn {

class Store;
class CollectionRegistry;
class CancellationFlag;
class TextPipeline;
struct LabelledMatrix;

class DatasetCatalog {
 public:
  static constexpr int kSkippedReasons = 10;  // Dataset.skipped holds at most this many.

  struct Limits {
    uint64_t max_examples = 1000000;
    uint64_t max_bytes = uint64_t{4} << 30;  // Examples x input size x 4 (a job's matrix).
  };

  // An upload in progress. Append validates and writes each message's examples; Commit makes
  // the dataset visible; destroying an uncommitted upload deletes what it wrote.
  class Upload {
   public:
    virtual ~Upload() = default;
    [[nodiscard]] virtual absl::Status Append(
        const bottleneck::v1::UploadDatasetRequest& message) = 0;
    [[nodiscard]] virtual absl::StatusOr<bottleneck::v1::Dataset> Commit() = 0;
  };

  // `store` and `registry` must outlive the catalog and its uploads.
  DatasetCatalog(Store* store, const CollectionRegistry* registry, Limits limits);

  std::unique_ptr<Upload> BeginUpload();
  [[nodiscard]] absl::StatusOr<bottleneck::v1::Dataset> Get(const std::string& collection,
                                                            const std::string& dataset) const;
  [[nodiscard]] absl::StatusOr<bottleneck::v1::ListDatasetsResponse> List(
      const std::string& collection) const;
  [[nodiscard]] absl::Status Delete(const std::string& collection, const std::string& dataset);

  // Reads the dataset of `job` into `all` (labels mapped to small integers, or all -1 when any
  // example is unlabelled). Document collections first make the model version's text pipeline
  // (`*text`, TextPipeline::Learn with the dataset's vocabulary if it has one) from the
  // examples, unless `*text` is set on entry (a classifier keeps its encoder version's pipeline):
  // then the documents go through that one. Documents with no word of the pipeline's vocabulary
  // are skipped, and each kept row's document length (its counted words) goes to all->lengths.
  // Cancelled on cancel.
  [[nodiscard]] absl::Status Load(const bottleneck::v1::Job& job,
                                  const bottleneck::v1::CollectionSpec& spec,
                                  const CancellationFlag& cancel, LabelledMatrix* all,
                                  std::unique_ptr<TextPipeline>* text) const;

 private:
  class UploadImpl;

  Store* const store_;
  const CollectionRegistry* const registry_;
  const Limits limits_;
  std::mutex mutex_;                 // Guards uploading_.
  std::set<std::string> uploading_;  // "collection/dataset"
};

}  // namespace bn

#endif  // BOTTLENECK_SERVER_CORE_DATASET_CATALOG_H_
