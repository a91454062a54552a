#include "server/cluster/cluster_services.h"

#include <algorithm>
#include <chrono>

#include "server/cluster/cluster_backups.h"
#include "server/cluster/cluster_collections.h"
#include "server/cluster/cluster_items.h"
#include "server/cluster/cluster_models.h"
#include "server/cluster/cluster_queries.h"
#include "server/cluster/cluster_training.h"
#include "server/cluster/shard_server.h"
#include "server/rpc_call.h"
#include "server/status_util.h"

namespace bn::cluster {
namespace {

// The caller's deadline, at most `cap` from now (a request without one gets `cap`).
std::chrono::system_clock::time_point Deadline(
    const grpc::ServerContext& context, std::chrono::seconds cap = std::chrono::seconds(30)) {
  const auto limit = std::chrono::system_clock::now() + cap;
  return std::min(limit, context.deadline());
}

grpc::Status SingleNode() {
  return grpc::Status(grpc::StatusCode::UNIMPLEMENTED,
                      "this bottleneckd runs as a single node; ClusterService needs cluster mode "
                      "(bottleneckd --cluster NATS_URLS)");
}

}  // namespace

grpc::Status ClusterCollectionService::CreateBackup(grpc::ServerContext* context,
                                                    const v1::CreateBackupRequest* request,
                                                    v1::Backup* response) {
  return Unary(auth_, context, Role::kAdmin, response,
               [&] { return node_->backups().Create(*request); });
}

grpc::Status ClusterCollectionService::ListBackups(grpc::ServerContext* context,
                                                   const v1::ListBackupsRequest*,
                                                   v1::ListBackupsResponse* response) {
  return Unary(auth_, context, Role::kAdmin, response, [&] { return node_->backups().List(); });
}

grpc::Status ClusterCollectionService::DeleteBackup(grpc::ServerContext* context,
                                                    const v1::DeleteBackupRequest* request,
                                                    v1::DeleteBackupResponse* response) {
  return Unary(auth_, context, Role::kAdmin, response,
               [&] { return node_->backups().Delete(*request); });
}

grpc::Status ClusterCollectionService::CreateAlias(grpc::ServerContext* context,
                                                   const v1::CreateAliasRequest* request,
                                                   v1::Alias* response) {
  return Unary(auth_, context, Role::kAdmin, response,
               [&] { return node_->collections().CreateAlias(*request); });
}

grpc::Status ClusterCollectionService::SwitchAlias(grpc::ServerContext* context,
                                                   const v1::SwitchAliasRequest* request,
                                                   v1::Alias* response) {
  return Unary(auth_, context, Role::kAdmin, response,
               [&] { return node_->collections().SwitchAlias(*request); });
}

grpc::Status ClusterCollectionService::DeleteAlias(grpc::ServerContext* context,
                                                   const v1::DeleteAliasRequest* request,
                                                   v1::DeleteAliasResponse*) {
  return UnaryStatus(auth_, context, Role::kAdmin,
                     [&] { return node_->collections().DeleteAlias(request->name()); });
}

grpc::Status ClusterCollectionService::ListAliases(grpc::ServerContext* context,
                                                   const v1::ListAliasesRequest*,
                                                   v1::ListAliasesResponse* response) {
  return Unary(auth_, context, Role::kQuery, response,
               [&] { return node_->collections().ListAliases(); });
}

grpc::Status ClusterCollectionService::CreateCollection(grpc::ServerContext* context,
                                                        const v1::CreateCollectionRequest* request,
                                                        v1::Collection* response) {
  return Unary(auth_, context, Role::kAdmin, response,
               [&] { return node_->collections().Create(*request); });
}

grpc::Status ClusterCollectionService::GetCollection(grpc::ServerContext* context,
                                                     const v1::GetCollectionRequest* request,
                                                     v1::Collection* response) {
  return Unary(auth_, context, Role::kQuery, response,
               [&] { return node_->collections().Describe(request->name()); });
}

grpc::Status ClusterCollectionService::ListCollections(grpc::ServerContext* context,
                                                       const v1::ListCollectionsRequest*,
                                                       v1::ListCollectionsResponse* response) {
  return Unary(auth_, context, Role::kQuery, response, [&] { return node_->collections().List(); });
}

grpc::Status ClusterCollectionService::DeleteCollection(grpc::ServerContext* context,
                                                        const v1::DeleteCollectionRequest* request,
                                                        v1::DeleteCollectionResponse*) {
  return UnaryStatus(auth_, context, Role::kAdmin,
                     [&] { return node_->collections().Delete(request->name()); });
}

// --- ItemService ---

grpc::Status ClusterItemService::Upsert(grpc::ServerContext* context,
                                        const v1::UpsertRequest* request,
                                        v1::UpsertResponse* response) {
  return Admitted(auth_, admission_, Admission::Kind::kWrite, context, Role::kAdmin, response,
                  [&] { return node_->items().Upsert(*request); });
}

grpc::Status ClusterItemService::StreamUpsert(grpc::ServerContext* context,
                                              grpc::ServerReader<v1::UpsertRequest>* reader,
                                              v1::UpsertResponse* response) {
  if (grpc::Status s = auth_->Authorize(*context, Role::kAdmin); !s.ok()) return s;
  auto ticket = admission_->Admit(Admission::Kind::kWrite);
  if (!ticket.ok()) return ToGrpc(ticket.status());
  v1::UpsertRequest message;
  std::string collection;
  while (reader->Read(&message)) {
    if (collection.empty()) collection = message.collection();
    if (!message.collection().empty() && message.collection() != collection) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          "collection must not change within a stream; " +
                              std::to_string(response->upserted()) + " items were written");
    }
    message.set_collection(collection);
    auto result = node_->items().Upsert(message);
    if (!result.ok()) {
      return ToGrpc(
          absl::Status(result.status().code(), std::string(result.status().message()) + " (" +
                                                   std::to_string(response->upserted()) +
                                                   " items of earlier messages were written)"));
    }
    response->set_upserted(response->upserted() + result->upserted());
    response->set_pending(response->pending() + result->pending());
    response->set_serving_model_version(result->serving_model_version());
    response->set_sequence(std::max(response->sequence(), result->sequence()));
  }
  return grpc::Status::OK;
}

grpc::Status ClusterItemService::GetItem(grpc::ServerContext* context,
                                         const v1::GetItemRequest* request,
                                         v1::GetItemResponse* response) {
  return Unary(auth_, context, Role::kQuery, response,
               [&] { return node_->items().GetItem(*request, Deadline(*context)); });
}

grpc::Status ClusterItemService::ListItems(grpc::ServerContext* context,
                                           const v1::ListItemsRequest* request,
                                           v1::ListItemsResponse* response) {
  return Unary(auth_, context, Role::kQuery, response,
               [&] { return node_->queries().ListItems(*request, Deadline(*context)); });
}

grpc::Status ClusterItemService::CountItems(grpc::ServerContext* context,
                                            const v1::CountItemsRequest* request,
                                            v1::CountItemsResponse* response) {
  return Unary(auth_, context, Role::kQuery, response,
               [&] { return node_->queries().CountItems(*request, Deadline(*context)); });
}

grpc::Status ClusterItemService::DeleteItems(grpc::ServerContext* context,
                                             const v1::DeleteItemsRequest* request,
                                             v1::DeleteItemsResponse* response) {
  return Admitted(auth_, admission_, Admission::Kind::kWrite, context, Role::kAdmin, response,
                  [&] { return node_->items().Delete(*request, Deadline(*context)); });
}

// --- ShardService (node to node) ---

grpc::Status ShardServiceImpl::SearchShard(grpc::ServerContext* context,
                                           const bottleneck::cluster::SearchShardRequest* request,
                                           bottleneck::cluster::SearchShardResponse* response) {
  return Unary(auth_, context, Role::kAdmin, response,
               [&] { return node_->shard_server().Search(*request, Deadline(*context)); });
}

grpc::Status ShardServiceImpl::GetShardItems(
    grpc::ServerContext* context, const bottleneck::cluster::GetShardItemsRequest* request,
    bottleneck::cluster::GetShardItemsResponse* response) {
  return Unary(auth_, context, Role::kAdmin, response,
               [&] { return node_->shard_server().GetItems(*request, Deadline(*context)); });
}

grpc::Status ShardServiceImpl::ListShardItems(
    grpc::ServerContext* context, const bottleneck::cluster::ListShardItemsRequest* request,
    bottleneck::cluster::ListShardItemsResponse* response) {
  return Unary(auth_, context, Role::kAdmin, response,
               [&] { return node_->shard_server().List(*request, Deadline(*context)); });
}

grpc::Status ShardServiceImpl::ForwardJob(grpc::ServerContext* context,
                                          const bottleneck::cluster::ForwardJobRequest* request,
                                          v1::Job* response) {
  return Unary(auth_, context, Role::kAdmin, response,
               [&] { return node_->training().HandleForward(*request); });
}

grpc::Status ShardServiceImpl::BackupShard(grpc::ServerContext* context,
                                           const bottleneck::cluster::BackupShardRequest* request,
                                           bottleneck::cluster::BackupShardResponse* response) {
  return Unary(auth_, context, Role::kAdmin, response, [&] {
    return node_->backups().HandleShard(*request, Deadline(*context, std::chrono::seconds(300)));
  });
}

// --- ModelService ---

grpc::Status ClusterModelService::ListModels(grpc::ServerContext* context,
                                             const v1::ListModelsRequest* request,
                                             v1::ListModelsResponse* response) {
  return Unary(auth_, context, Role::kQuery, response,
               [&] { return node_->model_versions().List(request->collection()); });
}

grpc::Status ClusterModelService::GetModel(grpc::ServerContext* context,
                                           const v1::GetModelRequest* request,
                                           v1::Model* response) {
  return Unary(auth_, context, Role::kQuery, response, [&] {
    return node_->model_versions().Get(request->collection(), request->version());
  });
}

grpc::Status ClusterModelService::PromoteModel(grpc::ServerContext* context,
                                               const v1::PromoteModelRequest* request,
                                               v1::Promotion* response) {
  return Unary(auth_, context, Role::kAdmin, response, [&] {
    return node_->model_versions().Promote(request->collection(), request->version());
  });
}

// --- QueryService ---

grpc::Status ClusterQueryService::Search(grpc::ServerContext* context,
                                         const v1::SearchRequest* request,
                                         v1::SearchResponse* response) {
  return Admitted(auth_, admission_, Admission::Kind::kQuery, context, Role::kQuery, response,
                  [&] { return node_->queries().Search(*request, Deadline(*context)); });
}

grpc::Status ClusterQueryService::SearchBatch(grpc::ServerContext* context,
                                              const v1::SearchBatchRequest* request,
                                              v1::SearchBatchResponse* response) {
  return Admitted(auth_, admission_, Admission::Kind::kQuery, context, Role::kQuery, response,
                  [&] { return node_->queries().SearchBatch(*request, Deadline(*context)); });
}

grpc::Status ClusterQueryService::Encode(grpc::ServerContext* context,
                                         const v1::EncodeRequest* request,
                                         v1::EncodeResponse* response) {
  return Admitted(auth_, admission_, Admission::Kind::kQuery, context, Role::kQuery, response,
                  [&] { return node_->queries().Encode(*request); });
}

grpc::Status ClusterQueryService::Decode(grpc::ServerContext* context,
                                         const v1::DecodeRequest* request,
                                         v1::DecodeResponse* response) {
  return Admitted(auth_, admission_, Admission::Kind::kQuery, context, Role::kQuery, response,
                  [&] { return node_->queries().Decode(*request); });
}

grpc::Status ClusterQueryService::Classify(grpc::ServerContext* context,
                                           const v1::ClassifyRequest* request,
                                           v1::ClassifyResponse* response) {
  return Admitted(auth_, admission_, Admission::Kind::kQuery, context, Role::kQuery, response,
                  [&] { return node_->queries().Classify(*request); });
}

// --- TrainingService ---

grpc::Status ClusterTrainingService::UploadDataset(
    grpc::ServerContext* context, grpc::ServerReader<v1::UploadDatasetRequest>* reader,
    v1::Dataset* response) {
  if (grpc::Status s = auth_->Authorize(*context, Role::kAdmin); !s.ok()) return s;
  auto ticket = admission_->Admit(Admission::Kind::kUpload);
  if (!ticket.ok()) return ToGrpc(ticket.status());
  auto upload = node_->training().BeginUpload();
  v1::UploadDatasetRequest message;
  while (reader->Read(&message)) {
    if (absl::Status s = upload->Append(message); !s.ok()) return ToGrpc(s);
  }
  if (context->IsCancelled()) return grpc::Status(grpc::StatusCode::CANCELLED, "client cancelled");
  auto dataset = upload->Commit();
  if (!dataset.ok()) return ToGrpc(dataset.status());
  *response = std::move(*dataset);
  return grpc::Status::OK;
}

grpc::Status ClusterTrainingService::GetDataset(grpc::ServerContext* context,
                                                const v1::GetDatasetRequest* request,
                                                v1::Dataset* response) {
  return Unary(auth_, context, Role::kAdmin, response, [&] {
    return node_->training().GetDataset(request->collection(), request->dataset());
  });
}

grpc::Status ClusterTrainingService::ListDatasets(grpc::ServerContext* context,
                                                  const v1::ListDatasetsRequest* request,
                                                  v1::ListDatasetsResponse* response) {
  return Unary(auth_, context, Role::kAdmin, response,
               [&] { return node_->training().ListDatasets(request->collection()); });
}

grpc::Status ClusterTrainingService::DeleteDataset(grpc::ServerContext* context,
                                                   const v1::DeleteDatasetRequest* request,
                                                   v1::DeleteDatasetResponse*) {
  return UnaryStatus(auth_, context, Role::kAdmin, [&] {
    return node_->training().DeleteDataset(request->collection(), request->dataset());
  });
}

grpc::Status ClusterTrainingService::StartTraining(grpc::ServerContext* context,
                                                   const v1::StartTrainingRequest* request,
                                                   v1::Job* response) {
  return Unary(auth_, context, Role::kAdmin, response,
               [&] { return node_->training().StartTraining(*request); });
}

grpc::Status ClusterTrainingService::GetJob(grpc::ServerContext* context,
                                            const v1::GetJobRequest* request, v1::Job* response) {
  return Unary(auth_, context, Role::kAdmin, response,
               [&] { return node_->training().GetJob(request->job_id()); });
}

grpc::Status ClusterTrainingService::ListJobs(grpc::ServerContext* context,
                                              const v1::ListJobsRequest* request,
                                              v1::ListJobsResponse* response) {
  return Unary(auth_, context, Role::kAdmin, response,
               [&] { return node_->training().ListJobs(request->collection()); });
}

grpc::Status ClusterTrainingService::CancelJob(grpc::ServerContext* context,
                                               const v1::CancelJobRequest* request,
                                               v1::Job* response) {
  return Unary(auth_, context, Role::kAdmin, response,
               [&] { return node_->training().CancelJob(request->job_id(), Deadline(*context)); });
}

grpc::Status ClusterTrainingService::ResumeJob(grpc::ServerContext* context,
                                               const v1::ResumeJobRequest* request,
                                               v1::Job* response) {
  return Unary(auth_, context, Role::kAdmin, response,
               [&] { return node_->training().ResumeJob(request->job_id(), Deadline(*context)); });
}

grpc::Status ClusterTrainingService::WatchJob(grpc::ServerContext* context,
                                              const v1::WatchJobRequest* request,
                                              grpc::ServerWriter<v1::JobProgress>* writer) {
  if (grpc::Status s = auth_->Authorize(*context, Role::kAdmin); !s.ok()) return s;
  absl::Status s = node_->training().WatchJob(request->job_id(), [&](const v1::JobProgress& p) {
    return !context->IsCancelled() && writer->Write(p);
  });
  if (s.code() == absl::StatusCode::kCancelled) {
    return grpc::Status(grpc::StatusCode::CANCELLED, "watch cancelled");
  }
  return ToGrpc(s);
}

// --- ClusterService ---

grpc::Status ClusterServiceImpl::GetCluster(grpc::ServerContext* context,
                                            const v1::GetClusterRequest*, v1::Cluster* response) {
  if (node_ == nullptr) return SingleNode();
  return Unary(auth_, context, Role::kQuery, response, [&] { return node_->Describe(); });
}

grpc::Status ClusterServiceImpl::RemoveNode(grpc::ServerContext* context,
                                            const v1::RemoveNodeRequest* request,
                                            v1::RemoveNodeResponse*) {
  if (node_ == nullptr) return SingleNode();
  return UnaryStatus(auth_, context, Role::kAdmin,
                     [&] { return node_->RemoveNode(request->node()); });
}

void AddClusterServices(ClusterNode* node, const Authenticator* auth, Admission* admission,
                        bool separate, std::vector<std::unique_ptr<grpc::Service>>* query,
                        std::vector<std::unique_ptr<grpc::Service>>* training) {
  query->push_back(std::make_unique<ClusterQueryService>(node, auth, admission));
  query->push_back(std::make_unique<ClusterCollectionService>(node, auth));
  query->push_back(std::make_unique<ClusterModelService>(node, auth));
  query->push_back(std::make_unique<ClusterServiceImpl>(node, auth));
  query->push_back(std::make_unique<ShardServiceImpl>(node, auth));
  training->push_back(std::make_unique<ClusterItemService>(node, auth, admission));
  training->push_back(std::make_unique<ClusterTrainingService>(node, auth, admission));
  if (separate) {
    training->push_back(std::make_unique<ClusterCollectionService>(node, auth));
    training->push_back(std::make_unique<ClusterModelService>(node, auth));
    training->push_back(std::make_unique<ClusterServiceImpl>(node, auth));
  }
}

}  // namespace bn::cluster
