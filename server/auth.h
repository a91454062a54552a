// Bearer-token authentication with two roles.
//
// Tokens come from files given to bottleneckd (--admin-token-file, --query-token-file): one token
// per line, blank lines and lines starting with '#' ignored, surrounding whitespace trimmed.
// Clients send the metadata "authorization: Bearer <token>".
//   query: QueryService, health, and the read-only methods of CollectionService/ModelService.
//   admin: everything.
// With no token files, authentication is off and every caller is admin (the local default).
// Tokens are compared in constant time for a given token length and are never logged.
//
// Thread safety: immutable after Load; Authorize may be called concurrently.
#ifndef BOTTLENECK_SERVER_AUTH_H_
#define BOTTLENECK_SERVER_AUTH_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace bn {

enum class Role { kQuery = 1, kAdmin = 2 };

class Authenticator {
 public:
  // InvalidArgument when a file cannot be read or holds no token, or a token contains
  // characters outside printable ASCII.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<Authenticator>> Load(
      const std::string& admin_token_file, const std::string& query_token_file);
  // Authentication off.
  static std::unique_ptr<Authenticator> Disabled();

  bool enabled() const { return !admin_tokens_.empty() || !query_tokens_.empty(); }

  // OK when the caller holds `required` (admin satisfies query). UNAUTHENTICATED for a missing,
  // malformed or unknown token; PERMISSION_DENIED for a query token on an admin method.
  grpc::Status Authorize(const grpc::ServerContext& context, Role required) const;

  // Exposed for tests: constant-time equality (time depends only on the lengths).
  static bool ConstantTimeEquals(const std::string& a, const std::string& b);

 private:
  Authenticator() = default;
  std::vector<std::string> admin_tokens_;
  std::vector<std::string> query_tokens_;
};

}  // namespace bn

#endif  // BOTTLENECK_SERVER_AUTH_H_
