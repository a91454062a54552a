#include "server/auth.h"

#include <fstream>

#include "absl/strings/ascii.h"

namespace bn {
namespace {

absl::Status ReadTokens(const std::string& path, std::vector<std::string>* tokens) {
  if (path.empty()) return absl::OkStatus();
  std::ifstream in(path);
  if (!in) return absl::InvalidArgumentError("cannot read token file '" + path + "'");
  std::string line;
  while (std::getline(in, line)) {
    std::string token(absl::StripAsciiWhitespace(line));
    if (token.empty() || token[0] == '#') continue;
    for (char c : token) {
      if (c < 0x21 || c > 0x7e) {
        return absl::InvalidArgumentError("token file '" + path +
                                          "' holds a token with non-printable characters");
      }
    }
    tokens->push_back(token);
  }
  if (tokens->empty()) {
    return absl::InvalidArgumentError("token file '" + path + "' holds no token");
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<Authenticator>> Authenticator::Load(
    const std::string& admin_token_file, const std::string& query_token_file) {
  std::unique_ptr<Authenticator> auth(new Authenticator());
  if (absl::Status s = ReadTokens(admin_token_file, &auth->admin_tokens_); !s.ok()) return s;
  if (absl::Status s = ReadTokens(query_token_file, &auth->query_tokens_); !s.ok()) return s;
  if (!query_token_file.empty() && admin_token_file.empty()) {
    return absl::InvalidArgumentError(
        "--query-token-file needs --admin-token-file too (otherwise nobody could administer)");
  }
  return auth;
}

std::unique_ptr<Authenticator> Authenticator::Disabled() {
  return std::unique_ptr<Authenticator>(new Authenticator());
}

bool Authenticator::ConstantTimeEquals(const std::string& a, const std::string& b) {
  // Every byte of `b` is visited whatever `a` holds; differences accumulate without branches.
  unsigned diff = static_cast<unsigned>(a.size() ^ b.size());
  for (size_t i = 0; i < b.size(); ++i) {
    const unsigned char ca = a.empty() ? 0 : static_cast<unsigned char>(a[i % a.size()]);
    diff |= ca ^ static_cast<unsigned char>(b[i]);
  }
  return diff == 0;
}

grpc::Status Authenticator::Authorize(const grpc::ServerContext& context, Role required) const {
  if (!enabled()) return grpc::Status::OK;
  const auto& metadata = context.client_metadata();
  auto it = metadata.find("authorization");
  if (it == metadata.end()) {
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                        "missing 'authorization: Bearer <token>' metadata");
  }
  const std::string value(it->second.data(), it->second.size());
  constexpr char kPrefix[] = "Bearer ";
  if (value.rfind(kPrefix, 0) != 0) {
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                        "authorization metadata must be 'Bearer <token>'");
  }
  const std::string token = value.substr(sizeof(kPrefix) - 1);
  bool admin = false;
  bool query = false;
  for (const std::string& t : admin_tokens_) admin |= ConstantTimeEquals(token, t);
  for (const std::string& t : query_tokens_) query |= ConstantTimeEquals(token, t);
  if (admin) return grpc::Status::OK;
  if (!query) return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "unknown token");
  if (required == Role::kAdmin) {
    return grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                        "this method needs an admin token; a query token was given");
  }
  return grpc::Status::OK;
}

}  // namespace bn
