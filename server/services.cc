#include "server/services.h"

#include "server/rpc_call.h"
#include "server/status_util.h"

namespace bn {

// --- CollectionService ---

grpc::Status CollectionServiceImpl::CreateCollection(grpc::ServerContext* context,
                                                     const v1::CreateCollectionRequest* request,
                                                     v1::Collection* response) {
  return Unary(auth_, context, Role::kAdmin, response,
               [&] { return core_->collections().Create(*request); });
}

grpc::Status CollectionServiceImpl::GetCollection(grpc::ServerContext* context,
                                                  const v1::GetCollectionRequest* request,
                                                  v1::Collection* response) {
  return Unary(auth_, context, Role::kQuery, response,
               [&] { return core_->collections().Describe(request->name()); });
}

grpc::Status CollectionServiceImpl::ListCollections(grpc::ServerContext* context,
                                                    const v1::ListCollectionsRequest*,
                                                    v1::ListCollectionsResponse* response) {
  return Unary(auth_, context, Role::kQuery, response, [&] { return core_->collections().List(); });
}

grpc::Status CollectionServiceImpl::DeleteCollection(grpc::ServerContext* context,
                                                     const v1::DeleteCollectionRequest* request,
                                                     v1::DeleteCollectionResponse*) {
  return UnaryStatus(auth_, context, Role::kAdmin,
                     [&] { return core_->DeleteCollection(request->name()); });
}

grpc::Status CollectionServiceImpl::CreateBackup(grpc::ServerContext* context,
                                                 const v1::CreateBackupRequest* request,
                                                 v1::Backup* response) {
  return Unary(auth_, context, Role::kAdmin, response,
               [&] { return core_->backups().Create(*request); });
}

grpc::Status CollectionServiceImpl::ListBackups(grpc::ServerContext* context,
                                                const v1::ListBackupsRequest*,
                                                v1::ListBackupsResponse* response) {
  return Unary(auth_, context, Role::kAdmin, response, [&] { return core_->backups().List(); });
}

grpc::Status CollectionServiceImpl::DeleteBackup(grpc::ServerContext* context,
                                                 const v1::DeleteBackupRequest* request,
                                                 v1::DeleteBackupResponse* response) {
  return Unary(auth_, context, Role::kAdmin, response,
               [&] { return core_->backups().Delete(*request); });
}

grpc::Status CollectionServiceImpl::CreateAlias(grpc::ServerContext* context,
                                                const v1::CreateAliasRequest* request,
                                                v1::Alias* response) {
  return Unary(auth_, context, Role::kAdmin, response,
               [&] { return core_->collections().CreateAlias(*request); });
}

grpc::Status CollectionServiceImpl::SwitchAlias(grpc::ServerContext* context,
                                                const v1::SwitchAliasRequest* request,
                                                v1::Alias* response) {
  return Unary(auth_, context, Role::kAdmin, response,
               [&] { return core_->collections().SwitchAlias(*request); });
}

grpc::Status CollectionServiceImpl::DeleteAlias(grpc::ServerContext* context,
                                                const v1::DeleteAliasRequest* request,
                                                v1::DeleteAliasResponse*) {
  return UnaryStatus(auth_, context, Role::kAdmin,
                     [&] { return core_->collections().DeleteAlias(request->name()); });
}

grpc::Status CollectionServiceImpl::ListAliases(grpc::ServerContext* context,
                                                const v1::ListAliasesRequest*,
                                                v1::ListAliasesResponse* response) {
  return Unary(auth_, context, Role::kQuery, response,
               [&] { return core_->collections().ListAliases(); });
}

// --- TrainingService ---

grpc::Status TrainingServiceImpl::UploadDataset(
    grpc::ServerContext* context, grpc::ServerReader<v1::UploadDatasetRequest>* reader,
    v1::Dataset* response) {
  if (grpc::Status s = auth_->Authorize(*context, Role::kAdmin); !s.ok()) return s;
  auto ticket = admission_->Admit(Admission::Kind::kUpload);
  if (!ticket.ok()) return ToGrpc(ticket.status());
  auto upload = datasets_->BeginUpload();
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

grpc::Status TrainingServiceImpl::GetDataset(grpc::ServerContext* context,
                                             const v1::GetDatasetRequest* request,
                                             v1::Dataset* response) {
  return Unary(auth_, context, Role::kAdmin, response,
               [&] { return datasets_->Get(request->collection(), request->dataset()); });
}

grpc::Status TrainingServiceImpl::ListDatasets(grpc::ServerContext* context,
                                               const v1::ListDatasetsRequest* request,
                                               v1::ListDatasetsResponse* response) {
  return Unary(auth_, context, Role::kAdmin, response,
               [&] { return datasets_->List(request->collection()); });
}

grpc::Status TrainingServiceImpl::DeleteDataset(grpc::ServerContext* context,
                                                const v1::DeleteDatasetRequest* request,
                                                v1::DeleteDatasetResponse*) {
  return UnaryStatus(auth_, context, Role::kAdmin,
                     [&] { return datasets_->Delete(request->collection(), request->dataset()); });
}

grpc::Status TrainingServiceImpl::StartTraining(grpc::ServerContext* context,
                                                const v1::StartTrainingRequest* request,
                                                v1::Job* response) {
  return Unary(auth_, context, Role::kAdmin, response, [&] { return jobs_->Start(*request); });
}

grpc::Status TrainingServiceImpl::GetJob(grpc::ServerContext* context,
                                         const v1::GetJobRequest* request, v1::Job* response) {
  return Unary(auth_, context, Role::kAdmin, response,
               [&] { return jobs_->Get(request->job_id()); });
}

grpc::Status TrainingServiceImpl::ListJobs(grpc::ServerContext* context,
                                           const v1::ListJobsRequest* request,
                                           v1::ListJobsResponse* response) {
  return Unary(auth_, context, Role::kAdmin, response,
               [&] { return jobs_->List(request->collection()); });
}

grpc::Status TrainingServiceImpl::CancelJob(grpc::ServerContext* context,
                                            const v1::CancelJobRequest* request,
                                            v1::Job* response) {
  return Unary(auth_, context, Role::kAdmin, response,
               [&] { return jobs_->Cancel(request->job_id()); });
}

grpc::Status TrainingServiceImpl::ResumeJob(grpc::ServerContext* context,
                                            const v1::ResumeJobRequest* request,
                                            v1::Job* response) {
  return Unary(auth_, context, Role::kAdmin, response,
               [&] { return jobs_->Resume(request->job_id()); });
}

grpc::Status TrainingServiceImpl::WatchJob(grpc::ServerContext* context,
                                           const v1::WatchJobRequest* request,
                                           grpc::ServerWriter<v1::JobProgress>* writer) {
  if (grpc::Status s = auth_->Authorize(*context, Role::kAdmin); !s.ok()) return s;
  absl::Status s = jobs_->Watch(request->job_id(), [&](const v1::JobProgress& progress) {
    return !context->IsCancelled() && writer->Write(progress);
  });
  if (s.code() == absl::StatusCode::kCancelled) {
    return grpc::Status(grpc::StatusCode::CANCELLED, "watch cancelled");
  }
  return ToGrpc(s);
}

// --- ModelService ---

grpc::Status ModelServiceImpl::ListModels(grpc::ServerContext* context,
                                          const v1::ListModelsRequest* request,
                                          v1::ListModelsResponse* response) {
  return Unary(auth_, context, Role::kQuery, response,
               [&] { return registry_->ListModels(request->collection()); });
}

grpc::Status ModelServiceImpl::GetModel(grpc::ServerContext* context,
                                        const v1::GetModelRequest* request, v1::Model* response) {
  return Unary(auth_, context, Role::kQuery, response,
               [&] { return registry_->GetModel(request->collection(), request->version()); });
}

grpc::Status ModelServiceImpl::PromoteModel(grpc::ServerContext* context,
                                            const v1::PromoteModelRequest* request,
                                            v1::Promotion* response) {
  return Unary(auth_, context, Role::kAdmin, response,
               [&] { return promoter_->Promote(request->collection(), request->version()); });
}

// --- ItemService ---

grpc::Status ItemServiceImpl::Upsert(grpc::ServerContext* context, const v1::UpsertRequest* request,
                                     v1::UpsertResponse* response) {
  return Admitted(auth_, admission_, Admission::Kind::kWrite, context, Role::kAdmin, response,
                  [&] { return ingest_->Run([&] { return items_->Upsert(*request); }); });
}

grpc::Status ItemServiceImpl::StreamUpsert(grpc::ServerContext* context,
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
    auto result = ingest_->Run([&] { return items_->Upsert(message); });
    if (!result.ok()) {
      return ToGrpc(
          absl::Status(result.status().code(), std::string(result.status().message()) + " (" +
                                                   std::to_string(response->upserted()) +
                                                   " items of earlier messages were written)"));
    }
    response->set_upserted(response->upserted() + result->upserted());
    response->set_pending(response->pending() + result->pending());
    response->set_serving_model_version(result->serving_model_version());
  }
  return grpc::Status::OK;
}

grpc::Status ItemServiceImpl::GetItem(grpc::ServerContext* context,
                                      const v1::GetItemRequest* request,
                                      v1::GetItemResponse* response) {
  return Unary(auth_, context, Role::kQuery, response, [&] { return queries_->GetItem(*request); });
}

grpc::Status ItemServiceImpl::DeleteItems(grpc::ServerContext* context,
                                          const v1::DeleteItemsRequest* request,
                                          v1::DeleteItemsResponse* response) {
  return Admitted(auth_, admission_, Admission::Kind::kWrite, context, Role::kAdmin, response,
                  [&] { return ingest_->Run([&] { return items_->Delete(*request); }); });
}

grpc::Status ItemServiceImpl::ListItems(grpc::ServerContext* context,
                                        const v1::ListItemsRequest* request,
                                        v1::ListItemsResponse* response) {
  return Unary(auth_, context, Role::kQuery, response,
               [&] { return queries_->ListItems(*request); });
}

grpc::Status ItemServiceImpl::CountItems(grpc::ServerContext* context,
                                         const v1::CountItemsRequest* request,
                                         v1::CountItemsResponse* response) {
  return Unary(auth_, context, Role::kQuery, response,
               [&] { return queries_->CountItems(*request); });
}

// --- QueryService ---

grpc::Status QueryServiceImpl::Search(grpc::ServerContext* context,
                                      const v1::SearchRequest* request,
                                      v1::SearchResponse* response) {
  return Admitted(auth_, admission_, Admission::Kind::kQuery, context, Role::kQuery, response,
                  [&] { return queries_->Search(*request); });
}

grpc::Status QueryServiceImpl::Encode(grpc::ServerContext* context,
                                      const v1::EncodeRequest* request,
                                      v1::EncodeResponse* response) {
  return Admitted(auth_, admission_, Admission::Kind::kQuery, context, Role::kQuery, response,
                  [&] { return queries_->Encode(*request); });
}

grpc::Status QueryServiceImpl::Decode(grpc::ServerContext* context,
                                      const v1::DecodeRequest* request,
                                      v1::DecodeResponse* response) {
  return Admitted(auth_, admission_, Admission::Kind::kQuery, context, Role::kQuery, response,
                  [&] { return queries_->Decode(*request); });
}

grpc::Status QueryServiceImpl::Classify(grpc::ServerContext* context,
                                        const v1::ClassifyRequest* request,
                                        v1::ClassifyResponse* response) {
  return Admitted(auth_, admission_, Admission::Kind::kQuery, context, Role::kQuery, response,
                  [&] { return queries_->Classify(*request); });
}

grpc::Status QueryServiceImpl::SearchBatch(grpc::ServerContext* context,
                                           const v1::SearchBatchRequest* request,
                                           v1::SearchBatchResponse* response) {
  return Admitted(auth_, admission_, Admission::Kind::kQuery, context, Role::kQuery, response,
                  [&] { return queries_->SearchBatch(*request); });
}

}  // namespace bn
