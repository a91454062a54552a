// Core: TrainingService datasets (client-streaming upload, get, list, delete).
#include <google/protobuf/util/time_util.h>

#include <algorithm>
#include <set>

#include "engine/util/log.h"
#include "server/core/core.h"
#include "server/core/core_impl.h"
#include "server/core/inputs.h"
#include "server/core/specs.h"
#include "server/validation.h"

namespace bn {

namespace v1 = ::bottleneck::v1;
using google::protobuf::util::TimeUtil;

namespace {

// A dataset's metadata lives at batch index 0, written when its upload completes.
absl::StatusOr<std::string> ReadDatasetMeta(BlobStore& blobs, const std::string& collection,
                                            const std::string& dataset) {
  std::string meta;
  bool found = false;
  absl::Status s =
      blobs.ScanDataset(collection, dataset, [&](uint64_t index, absl::string_view blob) {
        if (index == 0) {
          meta = std::string(blob);
          found = true;
        }
        return false;  // Index 0 comes first if it exists.
      });
  if (!s.ok()) return s;
  if (!found) return absl::NotFoundError("dataset '" + dataset + "' not found");
  return meta;
}

class Upload final : public Core::DatasetUpload {
 public:
  explicit Upload(Core::Impl* impl) : impl_(impl) {}
  ~Upload() override {
    if (!committed_ && started_) {
      if (absl::Status s = impl_->blobs.DeleteDataset(collection_, dataset_); !s.ok()) {
        BN_LOG(WARNING) << "cannot remove an unfinished upload of " << collection_ << "/"
                        << dataset_ << ": " << s;
      }
    }
    if (started_) {
      std::lock_guard<std::mutex> lock(impl_->uploads_mutex);
      impl_->uploads.erase(collection_ + "/" + dataset_);
    }
  }

  absl::Status Append(const v1::UploadDatasetRequest& message) override {
    if (!started_) {
      if (absl::Status s = Start(message); !s.ok()) return s;
    } else if ((!message.collection().empty() && message.collection() != collection_) ||
               (!message.dataset().empty() && message.dataset() != dataset_)) {
      return absl::InvalidArgumentError("collection and dataset must not change within a stream");
    }
    if (message.examples().empty()) return absl::OkStatus();
    if (count_ + message.examples_size() > impl_->options.max_dataset_examples) {
      return absl::ResourceExhaustedError("datasets are limited to " +
                                          std::to_string(impl_->options.max_dataset_examples) +
                                          " examples");
    }
    // What a training job will hold in memory: examples x input size x 4 bytes.
    const uint64_t example_bytes = static_cast<uint64_t>(InputSize(runtime_->spec())) * 4;
    if ((count_ + message.examples_size()) * example_bytes > impl_->options.max_dataset_bytes) {
      return absl::ResourceExhaustedError(
          "datasets are limited to " + std::to_string(impl_->options.max_dataset_bytes >> 20) +
          " MiB in memory (" +
          std::to_string(impl_->options.max_dataset_bytes / std::max<uint64_t>(example_bytes, 1)) +
          " examples of this collection; --max-dataset-mib)");
    }
    for (int i = 0; i < message.examples_size(); ++i) {
      const v1::Example& example = message.examples(i);
      if (absl::Status s = ValidateInput(runtime_->spec(), example.input(), true); !s.ok()) {
        return absl::InvalidArgumentError("examples[" + std::to_string(count_ + i) +
                                          "]: " + std::string(s.message()));
      }
      if (example.label().size() > 256) {
        return absl::InvalidArgumentError("examples[" + std::to_string(count_ + i) +
                                          "]: label must be at most 256 bytes");
      }
      if (!example.label().empty()) ++labelled_;
    }
    v1::UploadDatasetRequest batch;
    *batch.mutable_examples() = message.examples();
    const std::string blob = batch.SerializeAsString();
    if (absl::Status s = impl_->blobs.PutDatasetBatch(collection_, dataset_, ++batches_, blob);
        !s.ok()) {
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
    if (absl::Status s =
            impl_->blobs.PutDatasetBatch(collection_, dataset_, 0, meta.SerializeAsString());
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
    auto runtime = impl_->Find(message.collection());
    if (!runtime.ok()) return runtime.status();
    runtime_ = *runtime;
    collection_ = message.collection();
    dataset_ = message.dataset();
    {
      std::lock_guard<std::mutex> lock(impl_->uploads_mutex);
      if (!impl_->uploads.insert(collection_ + "/" + dataset_).second) {
        return absl::AlreadyExistsError("dataset '" + dataset_ + "' is being uploaded");
      }
    }
    started_ = true;
    auto existing = ReadDatasetMeta(impl_->blobs, collection_, dataset_);
    if (existing.ok()) {
      committed_ = true;  // Never delete the existing dataset on the way out.
      return absl::AlreadyExistsError("dataset '" + dataset_ + "' already exists");
    }
    if (existing.status().code() != absl::StatusCode::kNotFound) return existing.status();
    // Leftovers of an upload interrupted by a crash.
    return impl_->blobs.DeleteDataset(collection_, dataset_);
  }

  Core::Impl* impl_;
  std::shared_ptr<CollectionRuntime> runtime_;
  std::string collection_, dataset_;
  bool started_ = false, committed_ = false;
  uint64_t count_ = 0, labelled_ = 0, bytes_ = 0, batches_ = 0;
};

absl::Status DatasetNotFound(const std::string& dataset) {
  return absl::NotFoundError("dataset '" + dataset + "' not found");
}

}  // namespace

std::unique_ptr<Core::DatasetUpload> Core::BeginUpload() {
  return std::make_unique<Upload>(impl_.get());
}

absl::StatusOr<v1::Dataset> Core::GetDataset(const std::string& collection,
                                             const std::string& dataset) {
  auto runtime = impl_->Find(collection);
  if (!runtime.ok()) return runtime.status();
  if (absl::Status s = ValidateName("dataset", dataset); !s.ok()) return s;
  auto blob = ReadDatasetMeta(impl_->blobs, collection, dataset);
  if (!blob.ok()) {
    return blob.status().code() == absl::StatusCode::kNotFound ? DatasetNotFound(dataset)
                                                               : blob.status();
  }
  v1::Dataset meta;
  if (!meta.ParseFromString(*blob)) return absl::DataLossError("malformed dataset record");
  return meta;
}

absl::StatusOr<v1::ListDatasetsResponse> Core::ListDatasets(const std::string& collection) {
  auto runtime = impl_->Find(collection);
  if (!runtime.ok()) return runtime.status();
  v1::ListDatasetsResponse response;
  auto names = impl_->blobs.ListDatasets(collection);
  if (!names.ok()) return names.status();
  for (const std::string& name : *names) {
    auto blob = ReadDatasetMeta(impl_->blobs, collection, name);
    if (blob.status().code() == absl::StatusCode::kNotFound) continue;  // Upload in progress.
    if (!blob.ok()) return blob.status();
    v1::Dataset meta;
    if (!meta.ParseFromString(*blob)) return absl::DataLossError("malformed dataset record");
    *response.add_datasets() = meta;
  }
  return response;
}

absl::Status Core::DeleteDataset(const std::string& collection, const std::string& dataset) {
  auto meta = GetDataset(collection, dataset);
  if (!meta.ok()) return meta.status();
  return impl_->blobs.DeleteDataset(collection, dataset);
}

}  // namespace bn
