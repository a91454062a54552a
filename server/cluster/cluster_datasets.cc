// ClusterTraining's datasets: uploads (chunked into the blob store), listing, deletion and the
// import of a collection's datasets (the jobs are in cluster_training.cc).
#include <algorithm>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "engine/store/blob_store.h"
#include "engine/util/log.h"
#include "server/cluster/blob_channel.h"
#include "server/cluster/cluster_collections.h"
#include "server/cluster/cluster_models.h"
#include "server/cluster/cluster_training.h"
#include "server/cluster/local_state.h"
#include "server/cluster/metadata.h"
#include "server/cluster/model_cache.h"
#include "server/cluster/nats_client.h"
#include "server/cluster/peers.h"
#include "server/core/core.h"
#include "server/core/model_record.h"
#include "server/core/validation.h"

namespace bn::cluster {
namespace {

namespace pb = ::bottleneck::cluster;
namespace v1 = ::bottleneck::v1;

constexpr size_t kBlobBuffer = size_t{1} << 20;

absl::Status DatasetNotFound(const std::string& collection, const std::string& dataset) {
  return absl::NotFoundError("dataset '" + dataset + "' of collection '" + collection +
                             "' not found");
}

}  // namespace

class ClusterTraining::UploadImpl final : public ClusterTraining::Upload {
 public:
  explicit UploadImpl(ClusterTraining* training) : training_(training) {}
  ~UploadImpl() override = default;  // An uncommitted local upload and blob delete themselves.

  absl::Status Append(const v1::UploadDatasetRequest& message) override {
    if (local_ == nullptr) {
      if (absl::Status s = Begin(message); !s.ok()) return s;
    } else if (!message.collection().empty() && message.collection() != collection_) {
      return absl::InvalidArgumentError("collection must not change within the upload stream");
    }
    v1::UploadDatasetRequest local = message;
    local.set_collection(workspace_);
    if (absl::Status s = local_->Append(local); !s.ok()) return s;
    v1::UploadDatasetRequest stored = message;
    stored.set_collection(collection_);
    AppendRecord(stored.SerializeAsString(), &buffer_);
    if (buffer_.size() >= kBlobBuffer) {
      if (absl::Status s = writer_->Append(buffer_); !s.ok()) return s;
      buffer_.clear();
    }
    return absl::OkStatus();
  }

  absl::StatusOr<v1::Dataset> Commit() override {
    if (local_ == nullptr) {
      return absl::InvalidArgumentError("the stream named no collection or dataset");
    }
    auto dataset = local_->Commit();
    if (!dataset.ok()) return dataset.status();
    const ClusterContext& context = training_->context_;
    absl::Status s = writer_->Append(buffer_);
    auto ref = s.ok() ? writer_->Finish() : absl::StatusOr<pb::BlobRef>(s);
    if (!ref.ok()) {
      (void)context.core->datasets().Delete(workspace_, dataset->name());
      return ref.status();
    }
    dataset->set_collection(collection_);
    pb::DatasetEntry entry;
    *entry.mutable_dataset() = *dataset;
    *entry.mutable_blob() = *ref;
    auto created = context.metadata->datasets().Create(
        Names::DatasetKey(collection_, incarnation_, dataset->name()), entry.SerializeAsString());
    if (!created.ok()) {
      (void)context.core->datasets().Delete(workspace_, dataset->name());
      (void)context.blobs->Delete(*ref);
      if (created.status().code() == absl::StatusCode::kAlreadyExists) {
        return absl::AlreadyExistsError("dataset '" + dataset->name() + "' of collection '" +
                                        collection_ + "' already exists");
      }
      return created.status();
    }
    if (auto local = training_->local_->Get(workspace_)) {
      (*local->mutable_dataset_blobs())[dataset->name()] = ref->id();
      (void)training_->local_->Put(workspace_, *local);
    }
    return *dataset;
  }

 private:
  absl::Status Begin(const v1::UploadDatasetRequest& first) {
    const ClusterContext& context = training_->context_;
    auto view = training_->collections_->Find(first.collection());
    if (!view.ok()) return view.status();
    if (absl::Status s = ValidateName("dataset", first.dataset()); !s.ok()) return s;
    collection_ = first.collection();
    incarnation_ = view->entry.incarnation();
    auto existing = context.metadata->datasets().Get(
        Names::DatasetKey(collection_, incarnation_, first.dataset()));
    if (!existing.ok()) return existing.status();
    if (existing->has_value()) {
      return absl::AlreadyExistsError("dataset '" + first.dataset() + "' of collection '" +
                                      collection_ + "' already exists");
    }
    auto workspace = EnsureWorkspace(context, training_->local_, view->entry);
    if (!workspace.ok()) return workspace.status();
    workspace_ = *workspace;
    local_ = context.core->datasets().BeginUpload();
    writer_ = context.blobs->NewWriter();
    return absl::OkStatus();
  }

  ClusterTraining* const training_;
  std::string collection_;
  uint64_t incarnation_ = 0;
  std::string workspace_;
  std::unique_ptr<DatasetCatalog::Upload> local_;
  std::unique_ptr<BlobChannel::Writer> writer_;
  std::string buffer_;
};

std::unique_ptr<ClusterTraining::Upload> ClusterTraining::BeginUpload() {
  return std::make_unique<UploadImpl>(this);
}

absl::StatusOr<v1::Dataset> ClusterTraining::GetDataset(const std::string& collection,
                                                        const std::string& dataset) {
  auto view = collections_->Find(collection);
  if (!view.ok()) return view.status();
  if (absl::Status s = ValidateName("dataset", dataset); !s.ok()) return s;
  auto value = context_.metadata->datasets().Get(
      Names::DatasetKey(collection, view->entry.incarnation(), dataset));
  if (!value.ok()) return value.status();
  pb::DatasetEntry entry;
  if (!value->has_value() || !entry.ParseFromString((*value)->value)) {
    return DatasetNotFound(collection, dataset);
  }
  return entry.dataset();
}

absl::StatusOr<v1::ListDatasetsResponse> ClusterTraining::ListDatasets(
    const std::string& collection) {
  auto view = collections_->Find(collection);
  if (!view.ok()) return view.status();
  auto keys = context_.metadata->datasets().Keys();
  if (!keys.ok()) return keys.status();
  std::sort(keys->begin(), keys->end());
  const std::string prefix = Names::DatasetKeyPrefix(collection, view->entry.incarnation());
  v1::ListDatasetsResponse response;
  for (const std::string& key : *keys) {
    if (!absl::StartsWith(key, prefix)) continue;
    auto value = context_.metadata->datasets().Get(key);
    pb::DatasetEntry entry;
    if (value.ok() && value->has_value() && entry.ParseFromString((*value)->value)) {
      *response.add_datasets() = entry.dataset();
    }
  }
  return response;
}

absl::Status ClusterTraining::DeleteDataset(const std::string& collection,
                                            const std::string& dataset) {
  auto view = collections_->Find(collection);
  if (!view.ok()) return view.status();
  if (absl::Status s = ValidateName("dataset", dataset); !s.ok()) return s;
  const std::string key = Names::DatasetKey(collection, view->entry.incarnation(), dataset);
  auto value = context_.metadata->datasets().Get(key);
  if (!value.ok()) return value.status();
  pb::DatasetEntry entry;
  if (!value->has_value() || !entry.ParseFromString((*value)->value)) {
    return DatasetNotFound(collection, dataset);
  }
  if (absl::Status s = context_.metadata->datasets().Purge(key); !s.ok()) return s;
  (void)context_.blobs->Delete(entry.blob());
  (void)context_.core->datasets().Delete(Names::LocalTraining(collection), dataset);
  return absl::OkStatus();
}

absl::Status ClusterTraining::ImportDataset(const pb::CollectionEntry& entry,
                                            const std::string& workspace,
                                            const std::string& dataset) {
  auto value = context_.metadata->datasets().Get(
      Names::DatasetKey(entry.collection().name(), entry.incarnation(), dataset));
  if (!value.ok()) return value.status();
  pb::DatasetEntry stored;
  if (!value->has_value() || !stored.ParseFromString((*value)->value)) {
    return DatasetNotFound(entry.collection().name(), dataset);
  }
  auto local = local_->Get(workspace);
  if (local.has_value()) {
    auto it = local->dataset_blobs().find(dataset);
    if (it != local->dataset_blobs().end() && it->second == stored.blob().id() &&
        context_.core->datasets().Get(workspace, dataset).ok()) {
      return absl::OkStatus();  // This node has it.
    }
  }
  (void)context_.core->datasets().Delete(workspace, dataset);
  BN_LOG(INFO) << "importing dataset " << entry.collection().name() << "/" << dataset << " ("
               << stored.blob().size() << " bytes) for training on this node";
  auto upload = context_.core->datasets().BeginUpload();
  RecordReader reader;
  absl::Status s = context_.blobs->Read(stored.blob(), [&](absl::string_view chunk) {
    return reader.Feed(chunk, [&](absl::string_view record) {
      v1::UploadDatasetRequest message;
      if (!message.ParseFromString(std::string(record))) {
        return absl::DataLossError("a stored upload message does not parse");
      }
      message.set_collection(workspace);
      return upload->Append(message);
    });
  });
  if (s.ok()) s = reader.Finish();
  if (!s.ok()) return s;
  if (auto committed = upload->Commit(); !committed.ok()) return committed.status();
  if (local.has_value()) {
    (*local->mutable_dataset_blobs())[dataset] = stored.blob().id();
    (void)local_->Put(workspace, *local);
  }
  return absl::OkStatus();
}

}  // namespace bn::cluster
