#include "server/cluster/peers.h"

#include <grpcpp/grpcpp.h>

#include "server/cluster/shard_server.h"

namespace bn::cluster {

namespace pb = ::bottleneck::cluster;

absl::Status FromGrpc(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
}

Peers::Peers(const ClusterOptions& options, const ShardServer* local)
    : options_(options), local_(local) {
  if (options.peer_tls) {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = options.peer_tls_roots;
    credentials_ = grpc::SslCredentials(ssl);
  } else {
    credentials_ = grpc::InsecureChannelCredentials();
  }
}

pb::ShardService::Stub* Peers::Stub(const std::string& address) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto& stub = stubs_[address];
  if (stub == nullptr) {
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(64 << 20);
    stub = pb::ShardService::NewStub(grpc::CreateCustomChannel(address, credentials_, args));
  }
  return stub.get();
}

std::unique_ptr<grpc::ClientContext> Peers::Context(Deadline deadline) const {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(deadline);
  if (!options_.peer_token.empty()) {
    context->AddMetadata("authorization", "Bearer " + options_.peer_token);
  }
  return context;
}

void Peers::SearchAsync(const std::string& node, const std::string& address,
                        const pb::SearchShardRequest& request, Deadline deadline, SearchDone done) {
  if (node == options_.node_id) {
    done(local_->Search(request, deadline));
    return;
  }
  struct Call {
    std::unique_ptr<grpc::ClientContext> context;
    pb::SearchShardRequest request;
    pb::SearchShardResponse response;
    SearchDone done;
  };
  auto call = std::make_shared<Call>();
  call->context = Context(deadline);
  call->request = request;
  call->done = std::move(done);
  Stub(address)->async()->SearchShard(call->context.get(), &call->request, &call->response,
                                      [call](grpc::Status status) {
                                        if (status.ok()) {
                                          call->done(std::move(call->response));
                                        } else {
                                          call->done(FromGrpc(status));
                                        }
                                      });
}

absl::StatusOr<pb::GetShardItemsResponse> Peers::GetItems(const std::string& node,
                                                          const std::string& address,
                                                          const pb::GetShardItemsRequest& request,
                                                          Deadline deadline) {
  if (node == options_.node_id) return local_->GetItems(request, deadline);
  auto context = Context(deadline);
  pb::GetShardItemsResponse response;
  grpc::Status status = Stub(address)->GetShardItems(context.get(), request, &response);
  if (!status.ok()) return FromGrpc(status);
  return response;
}

absl::StatusOr<pb::ListShardItemsResponse> Peers::ListItems(
    const std::string& node, const std::string& address, const pb::ListShardItemsRequest& request,
    Deadline deadline) {
  if (node == options_.node_id) return local_->List(request, deadline);
  auto context = Context(deadline);
  pb::ListShardItemsResponse response;
  grpc::Status status = Stub(address)->ListShardItems(context.get(), request, &response);
  if (!status.ok()) return FromGrpc(status);
  return response;
}

absl::StatusOr<bottleneck::v1::Job> Peers::ForwardJob(const std::string& address,
                                                      const pb::ForwardJobRequest& request,
                                                      Deadline deadline) {
  auto context = Context(deadline);
  bottleneck::v1::Job response;
  grpc::Status status = Stub(address)->ForwardJob(context.get(), request, &response);
  if (!status.ok()) return FromGrpc(status);
  return response;
}

}  // namespace bn::cluster
