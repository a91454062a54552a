// The gRPC layer of cluster mode: the v1 services answered by a ClusterNode (any node answers
// any request), the ClusterService, and the node-to-node ShardService. As server/services.h:
// each handler authorises, admits, makes one call and converts its status once.
#ifndef BOTTLENECK_SERVER_CLUSTER_CLUSTER_SERVICES_H_
#define BOTTLENECK_SERVER_CLUSTER_CLUSTER_SERVICES_H_

#include <memory>
#include <vector>

#include "bottleneck/cluster/internal.grpc.pb.h"
#include "bottleneck/v1/cluster.grpc.pb.h"
#include "bottleneck/v1/collection.grpc.pb.h"
#include "bottleneck/v1/item.grpc.pb.h"
#include "bottleneck/v1/model.grpc.pb.h"
#include "bottleneck/v1/query.grpc.pb.h"
#include "bottleneck/v1/training.grpc.pb.h"
#include "server/admission.h"
#include "server/auth.h"
#include "server/cluster/cluster_node.h"

namespace bn::cluster {

namespace v1 = ::bottleneck::v1;

class ClusterCollectionService final : public v1::CollectionService::Service {
 public:
  ClusterCollectionService(ClusterNode* node, const Authenticator* auth)
      : node_(node), auth_(auth) {}
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
  // Backups: ClusterBackups (cluster_backups.h), on the backups in this node's --backup-dir.
  grpc::Status CreateBackup(grpc::ServerContext* context, const v1::CreateBackupRequest* request,
                            v1::Backup* response) override;
  grpc::Status ListBackups(grpc::ServerContext* context, const v1::ListBackupsRequest* request,
                           v1::ListBackupsResponse* response) override;
  grpc::Status DeleteBackup(grpc::ServerContext* context, const v1::DeleteBackupRequest* request,
                            v1::DeleteBackupResponse* response) override;
  // Aliases: ClusterCollections (cluster_aliases.cc), with the single node's statuses.
  grpc::Status CreateAlias(grpc::ServerContext* context, const v1::CreateAliasRequest* request,
                           v1::Alias* response) override;
  grpc::Status SwitchAlias(grpc::ServerContext* context, const v1::SwitchAliasRequest* request,
                           v1::Alias* response) override;
  grpc::Status DeleteAlias(grpc::ServerContext* context, const v1::DeleteAliasRequest* request,
                           v1::DeleteAliasResponse* response) override;
  grpc::Status ListAliases(grpc::ServerContext* context, const v1::ListAliasesRequest* request,
                           v1::ListAliasesResponse* response) override;

 private:
  ClusterNode* node_;
  const Authenticator* auth_;
};

class ClusterItemService final : public v1::ItemService::Service {
 public:
  ClusterItemService(ClusterNode* node, const Authenticator* auth, Admission* admission)
      : node_(node), auth_(auth), admission_(admission) {}
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
  ClusterNode* node_;
  const Authenticator* auth_;
  Admission* admission_;
};

class ClusterModelService final : public v1::ModelService::Service {
 public:
  ClusterModelService(ClusterNode* node, const Authenticator* auth) : node_(node), auth_(auth) {}
  grpc::Status ListModels(grpc::ServerContext* context, const v1::ListModelsRequest* request,
                          v1::ListModelsResponse* response) override;
  grpc::Status GetModel(grpc::ServerContext* context, const v1::GetModelRequest* request,
                        v1::Model* response) override;
  grpc::Status PromoteModel(grpc::ServerContext* context, const v1::PromoteModelRequest* request,
                            v1::Promotion* response) override;

 private:
  ClusterNode* node_;
  const Authenticator* auth_;
};

class ClusterQueryService final : public v1::QueryService::Service {
 public:
  ClusterQueryService(ClusterNode* node, const Authenticator* auth, Admission* admission)
      : node_(node), auth_(auth), admission_(admission) {}
  grpc::Status Search(grpc::ServerContext* context, const v1::SearchRequest* request,
                      v1::SearchResponse* response) override;
  grpc::Status SearchBatch(grpc::ServerContext* context, const v1::SearchBatchRequest* request,
                           v1::SearchBatchResponse* response) override;
  grpc::Status Encode(grpc::ServerContext* context, const v1::EncodeRequest* request,
                      v1::EncodeResponse* response) override;
  grpc::Status Decode(grpc::ServerContext* context, const v1::DecodeRequest* request,
                      v1::DecodeResponse* response) override;
  grpc::Status Classify(grpc::ServerContext* context, const v1::ClassifyRequest* request,
                        v1::ClassifyResponse* response) override;

 private:
  ClusterNode* node_;
  const Authenticator* auth_;
  Admission* admission_;
};

class ClusterTrainingService final : public v1::TrainingService::Service {
 public:
  ClusterTrainingService(ClusterNode* node, const Authenticator* auth, Admission* admission)
      : node_(node), auth_(auth), admission_(admission) {}
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
  ClusterNode* node_;
  const Authenticator* auth_;
  Admission* admission_;
};

// Node to node (admin role: nodes send the first admin token when tokens are configured).
class ShardServiceImpl final : public bottleneck::cluster::ShardService::Service {
 public:
  ShardServiceImpl(ClusterNode* node, const Authenticator* auth) : node_(node), auth_(auth) {}
  grpc::Status SearchShard(grpc::ServerContext* context,
                           const bottleneck::cluster::SearchShardRequest* request,
                           bottleneck::cluster::SearchShardResponse* response) override;
  grpc::Status GetShardItems(grpc::ServerContext* context,
                             const bottleneck::cluster::GetShardItemsRequest* request,
                             bottleneck::cluster::GetShardItemsResponse* response) override;
  grpc::Status ListShardItems(grpc::ServerContext* context,
                              const bottleneck::cluster::ListShardItemsRequest* request,
                              bottleneck::cluster::ListShardItemsResponse* response) override;
  grpc::Status ForwardJob(grpc::ServerContext* context,
                          const bottleneck::cluster::ForwardJobRequest* request,
                          v1::Job* response) override;
  grpc::Status BackupShard(grpc::ServerContext* context,
                           const bottleneck::cluster::BackupShardRequest* request,
                           bottleneck::cluster::BackupShardResponse* response) override;

 private:
  ClusterNode* node_;
  const Authenticator* auth_;
};

// GetCluster needs a query token, RemoveNode an admin token. `node` null: a single-node server,
// which answers UNIMPLEMENTED.
class ClusterServiceImpl final : public v1::ClusterService::Service {
 public:
  ClusterServiceImpl(ClusterNode* node, const Authenticator* auth) : node_(node), auth_(auth) {}
  grpc::Status GetCluster(grpc::ServerContext* context, const v1::GetClusterRequest* request,
                          v1::Cluster* response) override;
  grpc::Status RemoveNode(grpc::ServerContext* context, const v1::RemoveNodeRequest* request,
                          v1::RemoveNodeResponse* response) override;

 private:
  ClusterNode* node_;
  const Authenticator* auth_;
};

// The services of a cluster node's endpoints, as for a single node: the query endpoint's go to
// `query`; the training/admin endpoint's to `training`, which is `query` itself when both share
// an address (`separate` false); a separate training endpoint also gets the collection, model
// and cluster services.
void AddClusterServices(ClusterNode* node, const Authenticator* auth, Admission* admission,
                        bool separate, std::vector<std::unique_ptr<grpc::Service>>* query,
                        std::vector<std::unique_ptr<grpc::Service>>* training);

}  // namespace bn::cluster

#endif  // BOTTLENECK_SERVER_CLUSTER_CLUSTER_SERVICES_H_
