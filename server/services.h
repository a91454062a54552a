// The gRPC layer: one class per v1 service. Each handler authorises the caller, makes one call
// into a part of the core (server/core/core.h) and converts its status once (status_util.h).
// No exception crosses a handler (the core and the engine return Status), and nothing here
// holds state of its own.
#ifndef BOTTLENECK_SERVER_SERVICES_H_
#define BOTTLENECK_SERVER_SERVICES_H_

#include "bottleneck/v1/collection.grpc.pb.h"
#include "bottleneck/v1/item.grpc.pb.h"
#include "bottleneck/v1/model.grpc.pb.h"
#include "bottleneck/v1/query.grpc.pb.h"
#include "bottleneck/v1/training.grpc.pb.h"
#include "server/admission.h"
#include "server/auth.h"
#include "server/core/core.h"
#include "server/worker_pool.h"

namespace bn {

namespace v1 = ::bottleneck::v1;

// Services hold non-owning pointers to the Core (or its parts), Authenticator and Admission, which
// outlive them.
class CollectionServiceImpl final : public v1::CollectionService::Service {
 public:
  CollectionServiceImpl(Core* core, const Authenticator* auth) : core_(core), auth_(auth) {}
  grpc::Status CreateCollection(grpc::ServerContext* context,
                                const v1::CreateCollectionRequest* request,
                                v1::Collection* response) override;
  grpc::Status GetCollection(grpc::ServerContext* context, const v1::GetCollectionRequest* request,
                             v1::Collection* response) override;
  grpc::Status ListCollections(grpc::ServerContext* context,
                               const v1::ListCollectionsRequest* request,
                               v1::ListCollectionsResponse* response) override;
  grpc::Status DeleteCollection(grpc::ServerContext* context,
                                const v1::DeleteCollectionRequest* request,
                                v1::DeleteCollectionResponse* response) override;
  grpc::Status CreateBackup(grpc::ServerContext* context, const v1::CreateBackupRequest* request,
                            v1::Backup* response) override;
  grpc::Status ListBackups(grpc::ServerContext* context, const v1::ListBackupsRequest* request,
                           v1::ListBackupsResponse* response) override;
  grpc::Status DeleteBackup(grpc::ServerContext* context, const v1::DeleteBackupRequest* request,
                            v1::DeleteBackupResponse* response) override;
  grpc::Status CreateAlias(grpc::ServerContext* context, const v1::CreateAliasRequest* request,
                           v1::Alias* response) override;
  grpc::Status SwitchAlias(grpc::ServerContext* context, const v1::SwitchAliasRequest* request,
                           v1::Alias* response) override;
  grpc::Status DeleteAlias(grpc::ServerContext* context, const v1::DeleteAliasRequest* request,
                           v1::DeleteAliasResponse* response) override;
  grpc::Status ListAliases(grpc::ServerContext* context, const v1::ListAliasesRequest* request,
                           v1::ListAliasesResponse* response) override;

 private:
  Core* core_;
  const Authenticator* auth_;
};

class TrainingServiceImpl final : public v1::TrainingService::Service {
 public:
  TrainingServiceImpl(Core* core, const Authenticator* auth, Admission* admission)
      : datasets_(&core->datasets()), jobs_(&core->jobs()), auth_(auth), admission_(admission) {}
  grpc::Status UploadDataset(grpc::ServerContext* context,
                             grpc::ServerReader<v1::UploadDatasetRequest>* reader,
                             v1::Dataset* response) override;
  grpc::Status GetDataset(grpc::ServerContext* context, const v1::GetDatasetRequest* request,
                          v1::Dataset* response) override;
  grpc::Status ListDatasets(grpc::ServerContext* context, const v1::ListDatasetsRequest* request,
                            v1::ListDatasetsResponse* response) override;
  grpc::Status DeleteDataset(grpc::ServerContext* context, const v1::DeleteDatasetRequest* request,
                             v1::DeleteDatasetResponse* response) override;
  grpc::Status StartTraining(grpc::ServerContext* context, const v1::StartTrainingRequest* request,
                             v1::Job* response) override;
  grpc::Status GetJob(grpc::ServerContext* context, const v1::GetJobRequest* request,
                      v1::Job* response) override;
  grpc::Status ListJobs(grpc::ServerContext* context, const v1::ListJobsRequest* request,
                        v1::ListJobsResponse* response) override;
  grpc::Status CancelJob(grpc::ServerContext* context, const v1::CancelJobRequest* request,
                         v1::Job* response) override;
  grpc::Status ResumeJob(grpc::ServerContext* context, const v1::ResumeJobRequest* request,
                         v1::Job* response) override;
  grpc::Status WatchJob(grpc::ServerContext* context, const v1::WatchJobRequest* request,
                        grpc::ServerWriter<v1::JobProgress>* writer) override;

 private:
  DatasetCatalog* datasets_;
  JobManager* jobs_;
  const Authenticator* auth_;
  Admission* admission_;
};

class ModelServiceImpl final : public v1::ModelService::Service {
 public:
  ModelServiceImpl(Core* core, const Authenticator* auth)
      : registry_(&core->collections()), promoter_(&core->promoter()), auth_(auth) {}
  grpc::Status ListModels(grpc::ServerContext* context, const v1::ListModelsRequest* request,
                          v1::ListModelsResponse* response) override;
  grpc::Status GetModel(grpc::ServerContext* context, const v1::GetModelRequest* request,
                        v1::Model* response) override;
  grpc::Status PromoteModel(grpc::ServerContext* context, const v1::PromoteModelRequest* request,
                            v1::Promotion* response) override;

 private:
  CollectionRegistry* registry_;
  Promoter* promoter_;
  const Authenticator* auth_;
};

class ItemServiceImpl final : public v1::ItemService::Service {
 public:
  // Writes run on `ingest` (lower priority threads), reads on the calling thread.
  ItemServiceImpl(Core* core, const Authenticator* auth, Admission* admission, WorkerPool* ingest)
      : items_(&core->ingest()),
        queries_(&core->queries()),
        auth_(auth),
        admission_(admission),
        ingest_(ingest) {}
  grpc::Status Upsert(grpc::ServerContext* context, const v1::UpsertRequest* request,
                      v1::UpsertResponse* response) override;
  grpc::Status StreamUpsert(grpc::ServerContext* context,
                            grpc::ServerReader<v1::UpsertRequest>* reader,
                            v1::UpsertResponse* response) override;
  grpc::Status GetItem(grpc::ServerContext* context, const v1::GetItemRequest* request,
                       v1::GetItemResponse* response) override;
  grpc::Status DeleteItems(grpc::ServerContext* context, const v1::DeleteItemsRequest* request,
                           v1::DeleteItemsResponse* response) override;
  grpc::Status ListItems(grpc::ServerContext* context, const v1::ListItemsRequest* request,
                         v1::ListItemsResponse* response) override;
  grpc::Status CountItems(grpc::ServerContext* context, const v1::CountItemsRequest* request,
                          v1::CountItemsResponse* response) override;

 private:
  ItemIngest* items_;
  const QueryEngine* queries_;
  const Authenticator* auth_;
  Admission* admission_;
  WorkerPool* ingest_;
};

class QueryServiceImpl final : public v1::QueryService::Service {
 public:
  QueryServiceImpl(Core* core, const Authenticator* auth, Admission* admission)
      : queries_(&core->queries()), auth_(auth), admission_(admission) {}
  grpc::Status Search(grpc::ServerContext* context, const v1::SearchRequest* request,
                      v1::SearchResponse* response) override;
  grpc::Status Encode(grpc::ServerContext* context, const v1::EncodeRequest* request,
                      v1::EncodeResponse* response) override;
  grpc::Status Decode(grpc::ServerContext* context, const v1::DecodeRequest* request,
                      v1::DecodeResponse* response) override;
  grpc::Status Classify(grpc::ServerContext* context, const v1::ClassifyRequest* request,
                        v1::ClassifyResponse* response) override;
  grpc::Status SearchBatch(grpc::ServerContext* context, const v1::SearchBatchRequest* request,
                           v1::SearchBatchResponse* response) override;

 private:
  const QueryEngine* queries_;
  const Authenticator* auth_;
  Admission* admission_;
};

}  // namespace bn

#endif  // BOTTLENECK_SERVER_SERVICES_H_
