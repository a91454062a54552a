// bottleneckd configuration: command-line flags and an optional config file.
#ifndef BOTTLENECK_SERVER_CONFIG_H_
#define BOTTLENECK_SERVER_CONFIG_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace bn {

struct ServerConfig {
  // Address of the query endpoint (QueryService, read-only Collection/Model methods, health).
  std::string listen = "127.0.0.1:50051";
  // Address of the training/admin endpoint. Empty: the same address as `listen`, which then
  // serves every service.
  std::string training_listen;
  std::string data_dir = "./data";
  bool training_enabled = true;  // false: a query replica.
  int inference_threads = 0;     // 0: number of cores.
  int training_threads = 0;      // 0: number of cores.
  int max_concurrent_jobs = 1;
  int grpc_max_threads = 0;   // 0: gRPC's default.
  std::string tls_cert_file;  // PEM; TLS is on when both cert and key are given.
  std::string tls_key_file;
  std::string admin_token_file;  // One token per line; empty lines and '#' comments ignored.
  std::string query_token_file;
  std::string log_level = "info";
  bool sync_writes = true;             // Sync the WAL per acknowledged write batch.
  int snapshot_interval_seconds = 60;  // Index snapshots of changed collections.
  bool show_help = false;
  bool show_version = false;
};

// Parses argv (argv[0] is skipped). Flags take "--name=value" or "--name value"; booleans also
// take "--name" / "--no-name". "--config FILE" reads "name = value" lines (with '#' comments)
// before the other flags, which override it. Errors: InvalidArgument naming the flag or line.
[[nodiscard]] absl::StatusOr<ServerConfig> ParseServerFlags(const std::vector<std::string>& args);

// Checks values (addresses, thread counts, TLS files given in pairs). InvalidArgument otherwise.
[[nodiscard]] absl::Status ValidateServerConfig(const ServerConfig& config);

// The --help text.
std::string ServerUsage();

}  // namespace bn

#endif  // BOTTLENECK_SERVER_CONFIG_H_
