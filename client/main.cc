// bottleneck: command-line client for bottleneckd. See `bottleneck --help`.
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "grpc/health/v1/health.grpc.pb.h"

namespace {

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

const char kUsage[] =
    "bottleneck: command-line client for the Bottleneck retrieval service.\n"
    "\n"
    "usage: bottleneck [--server HOST:PORT] [--timeout SECONDS] COMMAND [args]\n"
    "\n"
    "global flags:\n"
    "  --server HOST:PORT   server address (default 127.0.0.1:50051, or $BOTTLENECK_SERVER)\n"
    "  --timeout SECONDS    deadline per call (default 10)\n"
    "\n"
    "commands available now:\n"
    "  health [SERVICE]     standard gRPC health check; exit 0 when SERVING\n"
    "\n"
    "planned commands (they exit with status 2 until implemented):\n"
    "  collections create|list|get|delete   manage collections\n"
    "  datasets upload|list|delete          upload IDX files, image folders or text corpora\n"
    "  train                                start a training job and watch its progress\n"
    "  jobs list|get|watch|cancel|resume    training jobs\n"
    "  models list|get|promote              model versions and zero-downtime promotion\n"
    "  items upsert|get|delete              items, in bulk with progress\n"
    "  search                               by image file, text or item id\n"
    "  encode | decode                      inputs to codes, codes to images or words\n"
    "  demo                                 the whole story on Fashion-MNIST\n";

struct Options {
  std::string server = "127.0.0.1:50051";
  double timeout_seconds = 10;
};

int Health(const Options& options, const std::vector<std::string>& args) {
  auto channel = grpc::CreateChannel(options.server, grpc::InsecureChannelCredentials());
  auto stub = grpc::health::v1::Health::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::milliseconds(static_cast<int64_t>(options.timeout_seconds * 1000)));
  grpc::health::v1::HealthCheckRequest request;
  if (!args.empty()) request.set_service(args[0]);
  grpc::health::v1::HealthCheckResponse response;
  grpc::Status status = stub->Check(&context, request, &response);
  if (!status.ok()) {
    std::fprintf(stderr, "bottleneck: health check of %s failed: %s (code %d)\n",
                 options.server.c_str(), status.error_message().c_str(),
                 static_cast<int>(status.error_code()));
    return kExitFailure;
  }
  const std::string name =
      grpc::health::v1::HealthCheckResponse::ServingStatus_Name(response.status());
  std::printf("%s %s\n", options.server.c_str(), name.c_str());
  return response.status() == grpc::health::v1::HealthCheckResponse::SERVING ? kExitOk
                                                                              : kExitFailure;
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  if (const char* env = std::getenv("BOTTLENECK_SERVER"); env != nullptr && *env != '\0') {
    options.server = env;
  }
  std::vector<std::string> rest;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (!rest.empty()) {
      rest.push_back(arg);
      continue;
    }
    if (arg == "-h" || arg == "--help" || arg == "help") {
      std::cout << kUsage;
      return kExitOk;
    }
    if ((arg == "--server" || arg == "--timeout") && i + 1 < argc) {
      std::string value = argv[++i];
      if (arg == "--server") {
        options.server = value;
      } else {
        try {
          options.timeout_seconds = std::stod(value);
        } catch (...) {
          std::cerr << "bottleneck: --timeout needs a number of seconds\n";
          return kExitUsage;
        }
      }
      continue;
    }
    if (arg.rfind("--", 0) == 0) {
      std::cerr << "bottleneck: unknown flag " << arg << " (see --help)\n";
      return kExitUsage;
    }
    rest.push_back(arg);
  }
  if (rest.empty()) {
    std::cerr << kUsage;
    return kExitUsage;
  }
  const std::string command = rest[0];
  const std::vector<std::string> args(rest.begin() + 1, rest.end());
  if (command == "health") return Health(options, args);
  std::cerr << "bottleneck: '" << command
            << "' is not available in this version yet (see --help)\n";
  return kExitUsage;
}
