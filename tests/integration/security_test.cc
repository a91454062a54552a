// Token roles and TLS against the real server.
#include <sys/wait.h>

#include <fstream>
#include <sstream>

#include "bottleneck/v1/collection.grpc.pb.h"
#include "bottleneck/v1/query.grpc.pb.h"
#include "bottleneck/v1/training.grpc.pb.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"
#include "tests/integration/server_process.h"
#include "tests/util/temp_dir.h"

namespace bn::testing {
namespace {

namespace v1 = ::bottleneck::v1;

grpc::StatusCode ListWith(const std::shared_ptr<grpc::Channel>& channel, const std::string& token) {
  auto stub = v1::CollectionService::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  if (!token.empty()) context.AddMetadata("authorization", "Bearer " + token);
  v1::ListCollectionsResponse response;
  return stub->ListCollections(&context, {}, &response).error_code();
}

grpc::StatusCode CreateWith(const std::shared_ptr<grpc::Channel>& channel, const std::string& token,
                            const std::string& name) {
  auto stub = v1::CollectionService::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  if (!token.empty()) context.AddMetadata("authorization", "Bearer " + token);
  v1::CreateCollectionRequest request;
  request.set_name(name);
  request.mutable_spec()->mutable_image()->set_height(8);
  request.mutable_spec()->mutable_image()->set_width(8);
  request.mutable_spec()->mutable_image()->set_channels(1);
  v1::Collection response;
  return stub->CreateCollection(&context, request, &response).error_code();
}

TEST(SecurityTest, TokenRolesAreEnforcedAndNeverLogged) {
  TempDir dir;
  std::ofstream(dir.Sub("admin")) << "admin-secret-123\n";
  std::ofstream(dir.Sub("query")) << "query-secret-456\n";
  std::string error;
  auto server = ServerProcess::Start(
      dir.Sub("data"),
      {"--admin-token-file", dir.Sub("admin"), "--query-token-file", dir.Sub("query")}, &error);
  ASSERT_NE(server, nullptr) << error;
  auto channel = server->Channel();
  EXPECT_EQ(ListWith(channel, ""), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(ListWith(channel, "wrong"), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(ListWith(channel, "query-secret-456"), grpc::StatusCode::OK);
  EXPECT_EQ(ListWith(channel, "admin-secret-123"), grpc::StatusCode::OK);
  EXPECT_EQ(CreateWith(channel, "query-secret-456", "q"), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(CreateWith(channel, "", "q"), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(CreateWith(channel, "admin-secret-123", "a"), grpc::StatusCode::OK);
  // A query token cannot read datasets or start training either.
  {
    auto stub = v1::TrainingService::NewStub(channel);
    grpc::ClientContext context;
    context.AddMetadata("authorization", "Bearer query-secret-456");
    v1::ListDatasetsRequest request;
    request.set_collection("a");
    v1::ListDatasetsResponse response;
    EXPECT_EQ(stub->ListDatasets(&context, request, &response).error_code(),
              grpc::StatusCode::PERMISSION_DENIED);
  }
  // Backups are the admin's: a query token cannot delete one (checked before the name).
  {
    auto stub = v1::CollectionService::NewStub(channel);
    grpc::ClientContext context;
    context.AddMetadata("authorization", "Bearer query-secret-456");
    v1::DeleteBackupRequest request;
    request.set_name("nightly");
    v1::DeleteBackupResponse response;
    EXPECT_EQ(stub->DeleteBackup(&context, request, &response).error_code(),
              grpc::StatusCode::PERMISSION_DENIED);
  }
  // Health stays open for probes.
  {
    auto stub = grpc::health::v1::Health::NewStub(channel);
    grpc::ClientContext context;
    grpc::health::v1::HealthCheckResponse response;
    EXPECT_TRUE(stub->Check(&context, {}, &response).ok());
  }
  const std::string log = server->Stderr();
  EXPECT_EQ(log.find("admin-secret-123"), std::string::npos);
  EXPECT_EQ(log.find("query-secret-456"), std::string::npos);
}

TEST(SecurityTest, ServesTlsWithTheGivenCertificate) {
  TempDir dir;
  std::string output;
  int status =
      RunProgram({"/usr/bin/openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                  dir.Sub("key.pem"), "-out", dir.Sub("cert.pem"), "-days", "1", "-subj",
                  "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"},
                 &output);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << output;
  std::string error;
  auto server = ServerProcess::Start(
      dir.Sub("data"), {"--tls-cert", dir.Sub("cert.pem"), "--tls-key", dir.Sub("key.pem")},
      &error);
  ASSERT_NE(server, nullptr) << error;
  std::ifstream in(dir.Sub("cert.pem"));
  std::stringstream cert;
  cert << in.rdbuf();
  grpc::SslCredentialsOptions options;
  options.pem_root_certs = cert.str();
  auto secure = grpc::CreateChannel(server->address(), grpc::SslCredentials(options));
  EXPECT_EQ(ListWith(secure, ""), grpc::StatusCode::OK);
  // A plaintext client cannot talk to a TLS server.
  EXPECT_EQ(ListWith(server->Channel(), ""), grpc::StatusCode::UNAVAILABLE);
}

}  // namespace
}  // namespace bn::testing
