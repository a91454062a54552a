// The bottleneckd process: opens the store, builds the gRPC servers for the query endpoint and
// the training/admin endpoint (one server when they share an address), and shuts them down.
#ifndef BOTTLENECK_SERVER_SERVER_H_
#define BOTTLENECK_SERVER_SERVER_H_

#include <chrono>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "server/config.h"

namespace bn {

class Server {
 public:
  // Validates the config, opens the store under config.data_dir and starts listening.
  // Errors: InvalidArgument (bad config), PermissionDenied / Unavailable / FailedPrecondition
  // from the store, Unavailable when an address cannot be bound (e.g. the port is in use).
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<Server>> Start(const ServerConfig& config);
  ~Server();  // Shuts down (if not yet) with no grace period.
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Bound addresses, with port 0 resolved to the chosen port.
  const std::string& query_address() const;
  const std::string& training_address() const;  // Empty when training is disabled.
  // The metrics endpoint's address ("HOST:PORT", port resolved); empty when --metrics-listen is
  // not set.
  const std::string& metrics_address() const;
  // One line per endpoint, e.g. "127.0.0.1:50051 (query, training)".
  std::string DescribeEndpoints() const;

  // Blocks until Shutdown() has completed.
  void Wait();
  // Stops accepting new RPCs, lets running ones finish for up to `grace`, cancels the rest, then
  // closes the store. Safe to call from any thread, more than once.
  void Shutdown(std::chrono::milliseconds grace);

  struct Impl;

 private:
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// bottleneckd --cluster URLS --restore DIR: restores the cluster backup DIR into the fresh
// cluster the flags name, then returns a one-line summary (cluster_restore.h's errors).
[[nodiscard]] absl::StatusOr<std::string> RestoreClusterBackup(const ServerConfig& config);

}  // namespace bn

#endif  // BOTTLENECK_SERVER_SERVER_H_
