// A cluster on loopback for integration tests: a 3-server NATS JetStream cluster and several
// bottleneckd processes in cluster mode, each with its own data directory.
#ifndef BOTTLENECK_TESTS_CLUSTER_CLUSTER_HARNESS_H_
#define BOTTLENECK_TESTS_CLUSTER_CLUSTER_HARNESS_H_

#include <grpcpp/grpcpp.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "bottleneck/v1/cluster.grpc.pb.h"
#include "bottleneck/v1/collection.grpc.pb.h"
#include "tests/cluster/nats_cluster.h"
#include "tests/integration/server_process.h"
#include "tests/util/temp_dir.h"

namespace bn::testing {

class ClusterHarness {
 public:
  // Starts the NATS cluster (3 servers unless `nats_servers` says otherwise).
  bool StartNats(std::string* error, int nats_servers = 3);
  // Starts bottleneckd node `id` (data in <dir>/<id>) with fast heartbeats (200 ms, lease 1.5 s)
  // plus `extra` flags; waits for its "listening on" line.
  bool StartNode(const std::string& id, const std::vector<std::string>& extra, std::string* error);
  // SIGKILLs the node (its data directory stays).
  void KillNode(const std::string& id);
  // SIGTERM and wait (a clean stop).
  void StopNode(const std::string& id);
  void WipeNode(const std::string& id);  // Removes its data directory (the node must be down).
  bool running(const std::string& id) const;
  // The node's process id (-1 when it is not running), e.g. to SIGSTOP it.
  pid_t Pid(const std::string& id) const;

  std::string address(const std::string& id) const;
  std::shared_ptr<grpc::Channel> Channel(const std::string& id) const;
  std::string DataDir(const std::string& id) const { return dir_.Sub(id); }
  std::string NodeStderr(const std::string& id) const;
  NatsCluster& nats() { return nats_; }
  const std::string& dir() const { return dir_.path(); }
  std::vector<std::string> NodeArgs(const std::string& id) const;

  // Waits (up to `seconds`) until every shard of `collection`, asked through node `via`, has
  // `replicas` live replicas that are ready (at `version` when non-zero).
  bool WaitForReady(const std::string& via, const std::string& collection, int replicas,
                    uint64_t version = 0, int seconds = 60);
  // What the last WaitForReady saw (for failure messages).
  const std::string& last_seen() const { return last_seen_; }

 private:
  TempDir dir_;
  NatsCluster nats_;
  std::map<std::string, std::unique_ptr<ServerProcess>> nodes_;
  std::map<std::string, std::vector<std::string>> extra_;
  std::string last_seen_;
};

// Polls `done` every 100 ms for up to `seconds`.
bool WaitFor(const std::function<bool()>& done, int seconds);

}  // namespace bn::testing

#endif  // BOTTLENECK_TESTS_CLUSTER_CLUSTER_HARNESS_H_
