// The shape of every unary RPC handler (server/services.cc, server/cluster/cluster_services.cc):
// authorise the caller, optionally take an admission slot, run the core call, convert its status
// once (status_util.h). Header-only templates; thread-safe as the calls they wrap.
#ifndef BOTTLENECK_SERVER_RPC_CALL_H_
#define BOTTLENECK_SERVER_RPC_CALL_H_

#include <grpcpp/grpcpp.h>

#include <utility>

#include "server/admission.h"
#include "server/auth.h"
#include "server/status_util.h"

namespace bn {

// Runs `call` (returning absl::StatusOr<T>) after authorisation and stores its value.
template <typename T, typename Call>
grpc::Status Unary(const Authenticator* auth, grpc::ServerContext* context, Role role, T* response,
                   Call call) {
  if (grpc::Status s = auth->Authorize(*context, role); !s.ok()) return s;
  auto result = call();
  if (!result.ok()) return ToGrpc(result.status());
  *response = std::move(*result);
  return grpc::Status::OK;
}

// Unary() after taking an admission slot of `kind` (held until the call returns).
template <typename T, typename Call>
grpc::Status Admitted(const Authenticator* auth, Admission* admission, Admission::Kind kind,
                      grpc::ServerContext* context, Role role, T* response, Call call) {
  if (grpc::Status s = auth->Authorize(*context, role); !s.ok()) return s;
  auto ticket = admission->Admit(kind);
  if (!ticket.ok()) return ToGrpc(ticket.status());
  auto result = call();
  if (!result.ok()) return ToGrpc(result.status());
  *response = std::move(*result);
  return grpc::Status::OK;
}

// Runs `call` (returning absl::Status) after authorisation.
template <typename Call>
grpc::Status UnaryStatus(const Authenticator* auth, grpc::ServerContext* context, Role role,
                         Call call) {
  if (grpc::Status s = auth->Authorize(*context, role); !s.ok()) return s;
  return ToGrpc(call());
}

}  // namespace bn

#endif  // BOTTLENECK_SERVER_RPC_CALL_H_
