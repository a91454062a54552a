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
    } else if (!message.vocabulary_words().empty()) {
      return absl::InvalidArgumentError("vocabulary_words must be sent in the first message only");
    } else if (message.skip_invalid() && !skip_invalid_) {
      return absl::InvalidArgumentError("skip_invalid must be set in the first message");
    }
    v1::UploadDatasetRequest batch;
    for (int i = 0; i < message.examples_size(); ++i) {
      const v1::Example& example = message.examples(i);
      const uint64_t index = received_ + i;
      if (absl::Status s = Check(example); !s.ok()) {
        const std::string reason =
            "examples[" + std::to_string(index) + "]: " + std::string(s.message());
        if (!skip_invalid_) return absl::InvalidArgumentError(reason);
        if (skipped_.size() < kSkippedReasons) {
          v1::SkippedExample* skipped = skipped_.Add();
          skipped->set_index(index);
          skipped->set_reason(reason);
        }
        ++skipped_count_;
        continue;
      }
      Accept(example);
      *batch.add_examples() = example;
    }
    received_ += message.examples_size();
    if (batch.examples().empty()) return absl::OkStatus();
    if (absl::Status s = CheckLimits(batch.examples_size()); !s.ok()) return s;
    const std::string blob = batch.SerializeAsString();
    if (absl::Status s = blobs_.PutDatasetBatch(collection_, dataset_, ++batches_, blob); !s.ok()) {
      return s;
    }
    count_ += batch.examples_size();
    bytes_ += blob.size();
    return absl::OkStatus();
  }

  absl::StatusOr<v1::Dataset> Commit() override {
    if (!started_) return absl::InvalidArgumentError("the stream named no collection or dataset");
    if (count_ == 0) {
      if (skipped_count_ == 0) return absl::InvalidArgumentError("the dataset has no examples");
      return absl::InvalidArgumentError("every example was invalid (" +
                                        std::to_string(skipped_count_) +
                                        " skipped); the first: " + skipped_[0].reason());
    }
    v1::Dataset meta;
    meta.set_collection(collection_);
    meta.set_name(dataset_);
    meta.set_example_count(count_);
    meta.set_labelled_count(labelled_);
    meta.set_bytes(bytes_);
    *meta.mutable_create_time() = TimeUtil::GetCurrentTime();
    meta.set_skipped_count(skipped_count_);
    *meta.mutable_skipped() = skipped_;
    meta.set_vocabulary_word_count(vocabulary_words_);
    if (absl::Status s = blobs_.PutDatasetBatch(collection_, dataset_, 0, meta.SerializeAsString());
        !s.ok()) {
      return s;
    }
    committed_ = true;
    BN_LOG(INFO) << "dataset " << collection_ << "/" << dataset_ << ": " << count_
                 << " examples uploaded" << (skipped_count_ > 0 ? ", " : "")
                 << (skipped_count_ > 0 ? std::to_string(skipped_count_) + " skipped" : "");
    return meta;
  }

 private:
  absl::Status Start(const v1::UploadDatasetRequest& message) {
    if (absl::Status s = ValidateName("dataset", message.dataset()); !s.ok()) return s;
    auto runtime = catalog_->registry_->Find(message.collection());
    if (!runtime.ok()) return runtime.status();
    if (absl::Status s = catalog_->store_->CheckWrite(); !s.ok()) return s;  // Disk full.
    const v1::CollectionSpec& spec = (*runtime)->spec();
    // The vocabulary is checked before anything is registered or written.
    google::protobuf::RepeatedPtrField<std::string> vocabulary = message.vocabulary_words();
    if (!vocabulary.empty()) {
      if (!spec.has_document()) {
        return absl::InvalidArgumentError("vocabulary_words apply to document collections");
      }
      if (absl::Status s = NormalizeVocabularyList("vocabulary_words",
                                                   spec.document().vocabulary_size(), &vocabulary);
          !s.ok()) {
        return s;
      }
    }
    runtime_ = *runtime;
    collection_ = message.collection();
    dataset_ = message.dataset();
    skip_invalid_ = message.skip_invalid();
    supplied_vocabulary_ =
        !vocabulary.empty() || (spec.has_document() && !spec.document().vocabulary_words().empty());
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
    // Leftovers of a crashed upload.
    if (absl::Status s = blobs_.DeleteDataset(collection_, dataset_); !s.ok()) return s;
    if (vocabulary.empty()) return absl::OkStatus();
    v1::UploadDatasetRequest batch;
    *batch.mutable_vocabulary_words() = std::move(vocabulary);
    const std::string blob = batch.SerializeAsString();
    if (absl::Status s = blobs_.PutDatasetBatch(collection_, dataset_, ++batches_, blob); !s.ok()) {
      return s;
    }
    vocabulary_words_ = static_cast<uint32_t>(batch.vocabulary_words_size());
    bytes_ += blob.size();
    return absl::OkStatus();
  }

  // Whether the example may join the dataset: it fits the collection, its label is short, and
  // (without a supplied vocabulary) it does not mix word ids with texts or words.
  absl::Status Check(const v1::Example& example) const {
    if (absl::Status s = ValidateInput(runtime_->spec(), example.input(), true); !s.ok()) return s;
    if (example.label().size() > kMaxLabelBytes) {
      return absl::InvalidArgumentError("label must be at most 256 bytes");
    }
    if (!supplied_vocabulary_ && example.input().has_document()) {
      const bool ids = example.input().document().has_word_ids();
      if ((ids && has_words_) || (!ids && has_ids_)) {
        return absl::InvalidArgumentError(
            std::string(ids ? "word_ids after text or words documents"
                            : "a text or words document after word_ids") +
            ": a dataset mixing them needs a vocabulary to map the ids onto; send "
            "UploadDatasetRequest.vocabulary_words in the first message, or create the collection "
            "with DocumentGeometry.vocabulary_words");
      }
    }
    return absl::OkStatus();
  }

  void Accept(const v1::Example& example) {
    if (!example.label().empty()) ++labelled_;
    if (example.input().has_document()) {
      (example.input().document().has_word_ids() ? has_ids_ : has_words_) = true;
    }
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
  bool skip_invalid_ = false, supplied_vocabulary_ = false;
  bool has_ids_ = false, has_words_ = false;  // Kinds of the accepted documents.
  uint64_t count_ = 0, labelled_ = 0, bytes_ = 0, batches_ = 0;
  uint64_t received_ = 0, skipped_count_ = 0;
  uint32_t vocabulary_words_ = 0;
  google::protobuf::RepeatedPtrField<v1::SkippedExample> skipped_;
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
  std::vector<std::string> vocabulary;  // Uploaded with the dataset, if it was.
  absl::Status parse = absl::OkStatus();
  absl::Status s = BlobStore(store_).ScanDataset(
      job.collection(), job.dataset(), [&](uint64_t index, absl::string_view blob) {
        if (index == 0) return true;  // The dataset's metadata.
        v1::UploadDatasetRequest batch;
        if (!batch.ParseFromString(std::string(blob))) {
          parse = absl::DataLossError("malformed dataset batch");
          return false;
        }
        if (!batch.vocabulary_words().empty()) {
          vocabulary.assign(batch.vocabulary_words().begin(), batch.vocabulary_words().end());
        }
        for (v1::Example& example : *batch.mutable_examples()) {
          examples.push_back(std::move(example));
        }
        return !cancel.cancelled();
      });
  if (!s.ok()) return s;
  if (!parse.ok()) return parse;
  if (spec.has_document()) {
    if (*text == nullptr) {
      std::vector<const v1::Document*> corpus;
      for (const v1::Example& example : examples) corpus.push_back(&example.input().document());
      auto learned = TextPipeline::Learn(corpus, spec.document(), job.spec().text(), vocabulary);
      if (!learned.ok()) return learned.status();
      *text = std::move(*learned);
    }
    all->x.cols = (*text)->vocabulary_size();
  } else {
    all->x.cols = InputSize(spec);
  }
  std::map<std::string, int> label_ids;
  bool any_unlabelled = false;
  int64_t skipped = 0;
  for (const v1::Example& example : examples) {
    const size_t before = all->x.data.size();
    float length = 0;
    if (spec.has_document()) {
      // Validated at upload; the pipeline converts (and measures the document's length).
      s = (*text)->ToVector(example.input().document(), &all->x.data, &length);
    } else {
      s = InputToVector(spec, nullptr, example.input(), &all->x.data);
    }
    if (!s.ok()) {
      // Documents with no word of the vocabulary carry nothing to learn from.
      if (spec.has_document() && s.code() == absl::StatusCode::kInvalidArgument) {
        all->x.data.resize(before);
        ++skipped;
        continue;
      }
      return s;
    }
    if (spec.has_document()) all->lengths.push_back(length);
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
