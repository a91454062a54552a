// bottleneck: command-line client for bottleneckd. See `bottleneck --help`.
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "client/cli.h"
#include "grpc/health/v1/health.grpc.pb.h"

namespace {

using bn::cli::kExitFailure;
using bn::cli::kExitOk;
using bn::cli::kExitUsage;

const char kUsage[] =
    "bottleneck: command-line client for the Bottleneck retrieval service.\n"
    "\n"
    "usage: bottleneck [global flags] COMMAND [args]   (run a command without args for its usage)\n"
    "\n"
    "global flags:\n"
    "  --server HOST:PORT   server address (default 127.0.0.1:50051, or $BOTTLENECK_SERVER)\n"
    "  --timeout SECONDS    deadline per call (default 30)\n"
    "  --token-file FILE    bearer token (or $BOTTLENECK_TOKEN)\n"
    "  --tls-ca FILE        use TLS, trusting this CA certificate (PEM)\n"
    "  --json               machine-readable output (stable): stdout carries one JSON object\n"
    "                       per line, the last being the result (a v1 message; see the README)\n"
    "\n"
    "commands:\n"
    "  health [SERVICE]                      standard gRPC health check; exit 0 when SERVING\n"
    "  collections create|list|get|delete    manage collections\n"
    "  datasets upload|list|delete           upload IDX files, image folders, text corpora or\n"
    "                                        bag-of-words files (--bow, --vocab)\n"
    "  train COLLECTION DATASET ...          start a training job (an auto-encoder, PCA, LSA or a\n"
    "                                        classifier) and watch its progress\n"
    "  jobs list|get|watch|cancel|resume     training jobs\n"
    "  models list|get|promote               model versions and zero-downtime promotion\n"
    "  items upsert|get|delete|list|count    items, in bulk with progress; by --filter EXPR\n"
    "  search COLLECTION ...                 by image file, text or item id [--filter EXPR]\n"
    "                                        (--votes: the neighbours' labels)\n"
    "  encode | decode                       inputs to codes, codes to images or words\n"
    "  classify COLLECTION ...               top labels by a classifier version\n"
    "  backups create|list|delete|restore    online backups of the whole store (restore: the\n"
    "                                        server-side command to run)\n"
    "  aliases create|switch|delete|list     collection aliases, switched atomically\n"
    "  demo                                  Fashion-MNIST end to end, with plots\n";

using Options = bn::cli::GlobalOptions;

int Health(bn::cli::Client& client, const std::vector<std::string>& args) {
  const Options& options = client.options();
  auto stub = grpc::health::v1::Health::NewStub(client.channel());
  auto context = client.Context();
  grpc::health::v1::HealthCheckRequest request;
  if (!args.empty()) request.set_service(args[0]);
  grpc::health::v1::HealthCheckResponse response;
  grpc::Status status = stub->Check(context.get(), request, &response);
  if (!status.ok()) return bn::cli::Fail("health check of " + options.server, status);
  const std::string name =
      grpc::health::v1::HealthCheckResponse::ServingStatus_Name(response.status());
  if (options.json) {
    bn::cli::PrintJson(response);
  } else {
    std::printf("%s %s\n", options.server.c_str(), name.c_str());
  }
  return response.status() == grpc::health::v1::HealthCheckResponse::SERVING ? kExitOk
                                                                             : kExitFailure;
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  if (const char* env = std::getenv("BOTTLENECK_SERVER"); env != nullptr && *env != '\0') {
    options.server = env;
  }
  if (const char* env = std::getenv("BOTTLENECK_TOKEN"); env != nullptr && *env != '\0') {
    options.token = env;
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
    if (arg == "--json") {
      options.json = true;
      continue;
    }
    if ((arg == "--server" || arg == "--timeout" || arg == "--token-file" || arg == "--tls-ca") &&
        i + 1 < argc) {
      std::string value = argv[++i];
      if (arg == "--server") {
        options.server = value;
      } else if (arg == "--tls-ca") {
        options.tls_ca = value;
        std::string pem;  // Read once here so that an unreadable file is a usage error.
        if (!bn::cli::ReadFile(value, &pem)) return kExitUsage;
      } else if (arg == "--token-file") {
        std::string token;
        if (!bn::cli::ReadFile(value, &token)) return kExitUsage;
        while (!token.empty() &&
               (token.back() == '\n' || token.back() == '\r' || token.back() == ' ')) {
          token.pop_back();
        }
        options.token = token;
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
  bn::cli::SetJsonOutput(options.json);
  const std::string command = rest[0];
  const std::vector<std::string> args(rest.begin() + 1, rest.end());
  if (command == "health") {
    bn::cli::Client client(options);
    return Health(client, args);
  }
  using Command = int (*)(bn::cli::Client&, const std::vector<std::string>&);
  static const std::map<std::string, Command> kCommands = {{"collections", bn::cli::Collections},
                                                           {"datasets", bn::cli::Datasets},
                                                           {"train", bn::cli::Train},
                                                           {"jobs", bn::cli::Jobs},
                                                           {"models", bn::cli::Models},
                                                           {"items", bn::cli::Items},
                                                           {"search", bn::cli::Search},
                                                           {"encode", bn::cli::Encode},
                                                           {"decode", bn::cli::Decode},
                                                           {"classify", bn::cli::Classify},
                                                           {"demo", bn::cli::Demo},
                                                           {"backups", bn::cli::Backups},
                                                           {"aliases", bn::cli::Aliases}};
  if (auto it = kCommands.find(command); it != kCommands.end()) {
    bn::cli::Client client(options);
    return it->second(client, args);
  }
  std::cerr << "bottleneck: '" << command
            << "' is not available in this version yet (see --help)\n";
  return kExitUsage;
}
