// The one place where absl::Status becomes grpc::Status.
#ifndef BOTTLENECK_SERVER_STATUS_UTIL_H_
#define BOTTLENECK_SERVER_STATUS_UTIL_H_

#include <grpcpp/grpcpp.h>

#include "absl/status/status.h"

namespace bn {

// Same code (the numeric values of absl and gRPC codes agree), same message.
inline grpc::Status ToGrpc(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

}  // namespace bn

#endif  // BOTTLENECK_SERVER_STATUS_UTIL_H_
