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
  grpc::Status ForwardJob(grpc::ServerContext* context,
                          const bottleneck::cluster::ForwardJobRequest* request,
                          v1::Job* response) override;

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
