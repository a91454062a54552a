// The foundation's end-to-end contract: bottleneckd starts on a loopback port, answers the
// standard health check as SERVING, lists the five v1 services by reflection, answers methods
// that are not implemented yet with UNIMPLEMENTED, and exits cleanly on SIGTERM.
#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <set>

#include "bottleneck/v1/collection.grpc.pb.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpc/reflection/v1alpha/reflection.grpc.pb.h"
#include "gtest/gtest.h"
#include "tests/integration/server_process.h"
#include "tests/util/temp_dir.h"

namespace bn::testing {
namespace {

using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;

std::set<std::string> ListServices(const std::shared_ptr<grpc::Channel>& channel) {
  auto stub = grpc::reflection::v1alpha::ServerReflection::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  auto stream = stub->ServerReflectionInfo(&context);
  grpc::reflection::v1alpha::ServerReflectionRequest request;
  request.set_list_services("");
  EXPECT_TRUE(stream->Write(request));
  stream->WritesDone();
  grpc::reflection::v1alpha::ServerReflectionResponse response;
  std::set<std::string> names;
  while (stream->Read(&response)) {
    for (const auto& service : response.list_services_response().service()) {
      names.insert(service.name());
    }
  }
  EXPECT_TRUE(stream->Finish().ok());
  return names;
}

HealthCheckResponse::ServingStatus Health(const std::shared_ptr<grpc::Channel>& channel,
                                          grpc::Status* status) {
  auto stub = grpc::health::v1::Health::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  HealthCheckRequest request;
  HealthCheckResponse response;
  *status = stub->Check(&context, request, &response);
  return response.status();
}

TEST(StartupTest, ServesHealthAndReflectionAndExitsCleanlyOnSigterm) {
  TempDir dir;
  std::string error;
  auto server = ServerProcess::Start(dir.Sub("data"), {}, &error);
  ASSERT_NE(server, nullptr) << error;
  auto channel = server->Channel();

  grpc::Status status;
  EXPECT_EQ(Health(channel, &status), HealthCheckResponse::SERVING);
  EXPECT_TRUE(status.ok()) << status.error_message();

  const std::set<std::string> services = ListServices(channel);
  for (const char* name : {"bottleneck.v1.CollectionService", "bottleneck.v1.TrainingService",
                           "bottleneck.v1.ModelService", "bottleneck.v1.ItemService",
                           "bottleneck.v1.QueryService", "grpc.health.v1.Health"}) {
    EXPECT_EQ(services.count(name), 1u) << name << " not listed by reflection";
  }

  // The CLI's health command agrees.
  std::string output;
  int cli = RunProgram({BN_CLI, "--server", server->address(), "health"}, &output);
  EXPECT_TRUE(WIFEXITED(cli) && WEXITSTATUS(cli) == 0) << output;
  EXPECT_NE(output.find("SERVING"), std::string::npos) << output;

  int wait_status = server->SignalAndWait(SIGTERM, 30);
  ASSERT_NE(wait_status, -1) << "bottleneckd did not exit within 30 s of SIGTERM";
  EXPECT_TRUE(WIFEXITED(wait_status)) << "wait status " << wait_status;
  EXPECT_EQ(WEXITSTATUS(wait_status), 0) << server->Stderr();
  EXPECT_NE(server->Stderr().find("shut down"), std::string::npos) << server->Stderr();
}

// bottleneckd --check DIR verifies a stopped server's data directory offline; damage is covered
// by tests/engine/store/store_check_test.cc.
TEST(StartupTest, CheckVerifiesAStoppedServersDataDirectory) {
  TempDir dir;
  std::string output;
  int status = RunProgram({BN_BOTTLENECKD, "--check", dir.Sub("none")}, &output);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 1) << output;
  EXPECT_NE(output.find("no database"), std::string::npos) << output;
  std::string error;
  auto server = ServerProcess::Start(dir.Sub("data"), {}, &error);
  ASSERT_NE(server, nullptr) << error;
  ASSERT_NE(server->SignalAndWait(SIGTERM, 30), -1);
  status = RunProgram({BN_BOTTLENECKD, "--check", dir.Sub("data")}, &output);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << output;
  EXPECT_NE(output.find("sst checksums: ok"), std::string::npos) << output;
  EXPECT_NE(output.find("store intact"), std::string::npos) << output;
}

TEST(StartupTest, SeparateTrainingEndpointServesOnlyItsServices) {
  TempDir dir;
  std::string error;
  auto server = ServerProcess::Start(dir.Sub("data"), {"--training-listen", "127.0.0.1:0"}, &error);
  ASSERT_NE(server, nullptr) << error;
  // The banner names two endpoints; the first is the query endpoint.
  EXPECT_NE(server->banner().find("(query)"), std::string::npos) << server->banner();
  EXPECT_NE(server->banner().find("(training)"), std::string::npos) << server->banner();
  const std::set<std::string> services = ListServices(server->Channel());
  EXPECT_EQ(services.count("bottleneck.v1.QueryService"), 1u);
  EXPECT_EQ(services.count("bottleneck.v1.TrainingService"), 0u);
  EXPECT_EQ(services.count("bottleneck.v1.ItemService"), 0u);
}

TEST(StartupTest, QueryReplicaHasNoTrainingService) {
  TempDir dir;
  std::string error;
  auto server = ServerProcess::Start(dir.Sub("data"), {"--no-training"}, &error);
  ASSERT_NE(server, nullptr) << error;
  const std::set<std::string> services = ListServices(server->Channel());
  EXPECT_EQ(services.count("bottleneck.v1.QueryService"), 1u);
  EXPECT_EQ(services.count("bottleneck.v1.TrainingService"), 0u);
}

TEST(StartupTest, PortInUseIsAClearStartupError) {
  TempDir dir;
  std::string error;
  auto first = ServerProcess::Start(dir.Sub("a"), {}, &error);
  ASSERT_NE(first, nullptr) << error;
  std::string output;
  int status = RunProgram(
      {BN_BOTTLENECKD, "--listen", first->address(), "--data-dir", dir.Sub("b")}, &output);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_NE(WEXITSTATUS(status), 0);
  EXPECT_NE(output.find("cannot listen on " + first->address()), std::string::npos) << output;
}

TEST(StartupTest, UnwritableDataDirIsAClearStartupError) {
  TempDir dir;
  {
    FILE* f = std::fopen(dir.Sub("file").c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::fclose(f);
  }
  std::string output;
  int status = RunProgram(
      {BN_BOTTLENECKD, "--listen", "127.0.0.1:0", "--data-dir", dir.Sub("file/data")}, &output);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 1);
  EXPECT_NE(output.find("cannot create data directory"), std::string::npos) << output;
}

TEST(StartupTest, BadFlagsExitWithUsageStatus) {
  std::string output;
  int status = RunProgram({BN_BOTTLENECKD, "--listen", "nonsense"}, &output);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 2);
  EXPECT_NE(output.find("--listen needs HOST:PORT"), std::string::npos) << output;
}

}  // namespace
}  // namespace bn::testing
