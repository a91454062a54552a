#include "server/core/dataset_catalog.h"

#include <google/protobuf/util/time_util.h>

#include <algorithm>
#include <map>

#include "engine/store/blob_store.h"
#include "engine/train/progress.h"
#include "engine/util/log.h"
#include "server/core/collection_registry.h"
#include "server/core/inputs.h"
#include "server/core/runtime.h"
#include "server/core/specs.h"
#include "server/core/trainer.h"
#include "server/core/validation.h"

namespace bn {

namespace v1 = ::bottleneck::v1;
using google::protobuf::util::TimeUtil;

namespace {

constexpr size_t kMaxLabelBytes = 256;

absl::Status DatasetNotFound(const std::string& dataset) {
  return absl::NotFoundError("dataset '" + dataset + "' not found");
}

// A dataset's metadata lives at batch index 0, written when its upload completes.
absl::StatusOr<v1::Dataset> ReadMeta(BlobStore& blobs, const std::string& collection,
                                     const std::string& dataset) {
  std::string blob;
  bool found = false;
  absl::Status s = blobs.ScanDataset(collection, dataset, [&](uint64_t index, absl::string_view b) {
    if (index == 0) {
      blob = std::string(b);
      found = true;
    }
    return false;  // Index 0 comes first if it exists.
  });
  if (!s.ok()) return s;
  if (!found) return DatasetNotFound(dataset);
  v1::Dataset meta;
  if (!meta.ParseFromString(blob)) return absl::DataLossError("malformed dataset record");
  return meta;
}

}  // namespace

class DatasetCatalog::UploadImpl final : public DatasetCatalog::Upload {
 public:
  explicit UploadImpl(DatasetCatalog* catalog) : catalog_(catalog), blobs_(catalog->store_) {}
  ~UploadImpl() override {
    if (!started_) return;
    if (!committed_) {
      if (absl::Status s = blobs_.DeleteDataset(collection_, dataset_); !s.ok()) {
        BN_LOG(WARNING) << "cannot remove an unfinished upload of " << collection_ << "/"
                        << dataset_ << ": " << s;
      }
    }
    std::lock_guard<std::mutex> lock(catalog_->mutex_);
    catalog_->uploading_.erase(collection_ + "/" + dataset_);
  }

  absl::Status Append(const v1::UploadDatasetRequest& message) override {
    if (!started_) {
      if (absl::Status s = Start(message); !s.ok()) return s;
    } else if ((!message.collection().empty() && message.collection() != collection_) ||
               (!message.dataset().empty() && message.dataset() != dataset_)) {
      return absl::InvalidArgumentError("collection and dataset must not change within a stream");
    }
    if (message.examples().empty()) return absl::OkStatus();
    if (absl::Status s = CheckLimits(message.examples_size()); !s.ok()) return s;
    for (int i = 0; i < message.examples_size(); ++i) {
      const v1::Example& example = message.examples(i);
      const std::string at = "examples[" + std::to_string(count_ + i) + "]: ";
      if (absl::Status s = ValidateInput(runtime_->spec(), example.input(), true); !s.ok()) {
        return absl::InvalidArgumentError(at + std::string(s.message()));
      }
      if (example.label().size() > kMaxLabelBytes) {
        return absl::InvalidArgumentError(at + "label must be at most 256 bytes");
      }
      if (!example.label().empty()) ++labelled_;
    }
    v1::UploadDatasetRequest batch;
    *batch.mutable_examples() = message.examples();
    const std::string blob = batch.SerializeAsString();
    if (absl::Status s = blobs_.PutDatasetBatch(collection_, dataset_, ++batches_, blob); !s.ok()) {
      return s;
    }
    count_ += message.examples_size();
    bytes_ += blob.size();
    return absl::OkStatus();
  }

  absl::StatusOr<v1::Dataset> Commit() override {
    if (!started_) return absl::InvalidArgumentError("the stream named no collection or dataset");
    if (count_ == 0) return absl::InvalidArgumentError("the dataset has no examples");
    v1::Dataset meta;
    meta.set_collection(collection_);
    meta.set_name(dataset_);
    meta.set_example_count(count_);
    meta.set_labelled_count(labelled_);
    meta.set_bytes(bytes_);
    *meta.mutable_create_time() = TimeUtil::GetCurrentTime();
    if (absl::Status s = blobs_.PutDatasetBatch(collection_, dataset_, 0, meta.SerializeAsString());
        !s.ok()) {
      return s;
    }
    committed_ = true;
    BN_LOG(INFO) << "dataset " << collection_ << "/" << dataset_ << ": " << count_
                 << " examples uploaded";
    return meta;
  }

 private:
  absl::Status Start(const v1::UploadDatasetRequest& message) {
    if (absl::Status s = ValidateName("dataset", message.dataset()); !s.ok()) return s;
    auto runtime = catalog_->registry_->Find(message.collection());
    if (!runtime.ok()) return runtime.status();
    runtime_ = *runtime;
    collection_ = message.collection();
    dataset_ = message.dataset();
    {
      std::lock_guard<std::mutex> lock(catalog_->mutex_);
      if (!catalog_->uploading_.insert(collection_ + "/" + dataset_).second) {
        return absl::AlreadyExistsError("dataset '" + dataset_ + "' is being uploaded");
      }
    }
    started_ = true;
    auto existing = ReadMeta(blobs_, collection_, dataset_);
    if (existing.ok()) {
      committed_ = true;  // Never delete the existing dataset on the way out.
      return absl::AlreadyExistsError("dataset '" + dataset_ + "' already exists");
    }
    if (existing.status().code() != absl::StatusCode::kNotFound) return existing.status();
    return blobs_.DeleteDataset(collection_, dataset_);  // Leftovers of a crashed upload.
  }

  // What a training job will hold in memory: examples x input size x 4 bytes.
  absl::Status CheckLimits(int more) const {
    const Limits& limits = catalog_->limits_;
    if (count_ + more > limits.max_examples) {
      return absl::ResourceExhaustedError("datasets are limited to " +
                                          std::to_string(limits.max_examples) + " examples");
    }
    const uint64_t example_bytes = static_cast<uint64_t>(InputSize(runtime_->spec())) * 4;
    if ((count_ + more) * example_bytes > limits.max_bytes) {
      return absl::ResourceExhaustedError(
          "datasets are limited to " + std::to_string(limits.max_bytes >> 20) + " MiB in memory (" +
          std::to_string(limits.max_bytes / std::max<uint64_t>(example_bytes, 1)) +
          " examples of this collection; --max-dataset-mib)");
    }
    return absl::OkStatus();
  }

  DatasetCatalog* const catalog_;
  BlobStore blobs_;
  std::shared_ptr<CollectionRuntime> runtime_;
  std::string collection_, dataset_;
  bool started_ = false, committed_ = false;
  uint64_t count_ = 0, labelled_ = 0, bytes_ = 0, batches_ = 0;
};

DatasetCatalog::DatasetCatalog(Store* store, const CollectionRegistry* registry, Limits limits)
    : store_(store), registry_(registry), limits_(limits) {}

std::unique_ptr<DatasetCatalog::Upload> DatasetCatalog::BeginUpload() {
  return std::make_unique<UploadImpl>(this);
}

absl::StatusOr<v1::Dataset> DatasetCatalog::Get(const std::string& collection,
                                                const std::string& dataset) const {
  auto runtime = registry_->Find(collection);
  if (!runtime.ok()) return runtime.status();
  if (absl::Status s = ValidateName("dataset", dataset); !s.ok()) return s;
  BlobStore blobs(store_);
  return ReadMeta(blobs, collection, dataset);
}

absl::StatusOr<v1::ListDatasetsResponse> DatasetCatalog::List(const std::string& collection) const {
  auto runtime = registry_->Find(collection);
  if (!runtime.ok()) return runtime.status();
  BlobStore blobs(store_);
  auto names = blobs.ListDatasets(collection);
  if (!names.ok()) return names.status();
  v1::ListDatasetsResponse response;
  for (const std::string& name : *names) {
    auto meta = ReadMeta(blobs, collection, name);
    if (meta.status().code() == absl::StatusCode::kNotFound) continue;  // Upload in progress.
    if (!meta.ok()) return meta.status();
    *response.add_datasets() = *meta;
  }
  return response;
}

absl::Status DatasetCatalog::Delete(const std::string& collection, const std::string& dataset) {
  auto meta = Get(collection, dataset);
  if (!meta.ok()) return meta.status();
  return BlobStore(store_).DeleteDataset(collection, dataset);
}

absl::Status DatasetCatalog::Load(const v1::Job& job, const v1::CollectionSpec& spec,
                                  const CancellationFlag& cancel, LabelledMatrix* all,
                                  std::unique_ptr<TextPipeline>* text) const {
  std::vector<v1::Example> examples;
  absl::Status parse = absl::OkStatus();
  absl::Status s = BlobStore(store_).ScanDataset(
      job.collection(), job.dataset(), [&](uint64_t index, absl::string_view blob) {
        if (index == 0) return true;  // The dataset's metadata.
        v1::UploadDatasetRequest batch;
        if (!batch.ParseFromString(std::string(blob))) {
          parse = absl::DataLossError("malformed dataset batch");
          return false;
        }
        for (v1::Example& example : *batch.mutable_examples()) {
          examples.push_back(std::move(example));
        }
        return !cancel.cancelled();
      });
  if (!s.ok()) return s;
  if (!parse.ok()) return parse;
  if (spec.has_document()) {
    std::vector<const v1::Document*> corpus;
    for (const v1::Example& example : examples) corpus.push_back(&example.input().document());
    auto learned =
        TextPipeline::Learn(corpus, spec.document().vocabulary_size(), job.spec().text());
    if (!learned.ok()) return learned.status();
    *text = std::move(*learned);
    all->x.cols = (*text)->vocabulary_size();
  } else {
    all->x.cols = InputSize(spec);
  }
  std::map<std::string, int> label_ids;
  bool any_unlabelled = false;
  int64_t skipped = 0;
  for (const v1::Example& example : examples) {
    const size_t before = all->x.data.size();
    s = InputToVector(spec, text->get(), example.input(), &all->x.data);
    if (!s.ok()) {
      // Documents with no word of the learned vocabulary carry nothing to learn from.
      if (spec.has_document() && s.code() == absl::StatusCode::kInvalidArgument) {
        all->x.data.resize(before);
        ++skipped;
        continue;
      }
      return s;
    }
    if (example.label().empty()) {
      any_unlabelled = true;
      all->labels.push_back(-1);
    } else {
      auto [it, inserted] = label_ids.emplace(example.label(), static_cast<int>(label_ids.size()));
      all->labels.push_back(it->second);
    }
  }
  if (skipped > 0) {
    BN_LOG(INFO) << "job " << job.id() << ": " << skipped
                 << " documents have no word of the vocabulary and were skipped";
  }
  all->x.rows = all->x.cols == 0 ? 0 : static_cast<int64_t>(all->x.data.size()) / all->x.cols;
  if (any_unlabelled) {
    all->labels.assign(all->labels.size(), -1);
  } else {
    all->label_names.resize(label_ids.size());
    for (const auto& [name, id] : label_ids) all->label_names[id] = name;
  }
  return absl::OkStatus();
}

}  // namespace bn
