#include "server/cluster/cluster_services.h"

#include "server/cluster/cluster_collections.h"
#include "server/status_util.h"

namespace bn::cluster {
namespace {

template <typename T, typename Call>
grpc::Status Unary(const Authenticator* auth, grpc::ServerContext* context, Role role, T* response,
                   Call call) {
  if (grpc::Status s = auth->Authorize(*context, role); !s.ok()) return s;
  auto result = call();
  if (!result.ok()) return ToGrpc(result.status());
  *response = std::move(*result);
  return grpc::Status::OK;
}

template <typename Call>
grpc::Status UnaryStatus(const Authenticator* auth, grpc::ServerContext* context, Role role,
                         Call call) {
  if (grpc::Status s = auth->Authorize(*context, role); !s.ok()) return s;
  return ToGrpc(call());
}

grpc::Status SingleNode() {
  return grpc::Status(grpc::StatusCode::UNIMPLEMENTED,
                      "this bottleneckd runs as a single node; ClusterService needs cluster mode "
                      "(bottleneckd --cluster NATS_URLS)");
}

}  // namespace

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

void AddClusterServices(ClusterNode* node, const Authenticator* auth, Admission*, bool separate,
                        std::vector<std::unique_ptr<grpc::Service>>* query,
                        std::vector<std::unique_ptr<grpc::Service>>* training) {
  query->push_back(std::make_unique<ClusterCollectionService>(node, auth));
  query->push_back(std::make_unique<ClusterServiceImpl>(node, auth));
  if (separate) {
    training->push_back(std::make_unique<ClusterCollectionService>(node, auth));
    training->push_back(std::make_unique<ClusterServiceImpl>(node, auth));
  }
}

}  // namespace bn::cluster
