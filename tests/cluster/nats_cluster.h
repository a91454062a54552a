// Runs real nats-server processes (Debian's nats-server, JetStream on) for tests: one server, or
// a cluster of three on loopback ports with their stores in a temporary directory.
#ifndef BOTTLENECK_TESTS_CLUSTER_NATS_CLUSTER_H_
#define BOTTLENECK_TESTS_CLUSTER_NATS_CLUSTER_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "server/cluster/nats_client.h"

namespace bn::testing {

// A free TCP port on 127.0.0.1 (bound and released; another process could take it meanwhile).
int FreePort();

class NatsCluster {
 public:
  // Starts `size` servers (1: standalone with JetStream; more: a JetStream cluster) under `dir`
  // and waits until JetStream answers on every one (up to 30 s). On failure returns false and
  // fills `error` with the servers' logs. `jetstream` false: plain NATS (no JetStream), size 1.
  bool Start(const std::string& dir, int size, std::string* error, bool jetstream = true);
  ~NatsCluster();  // SIGKILLs every server still running.

  // More options of each server's jetstream block, e.g. "max_file_store: 4MB"; used by Start and
  // by every Restart (so a restart can change them).
  void set_jetstream_options(std::string options) { jetstream_options_ = std::move(options); }

  int size() const { return static_cast<int>(servers_.size()); }
  // "nats://127.0.0.1:PORT" of server i, and of all of them joined by commas.
  std::string url(int i) const;
  std::vector<std::string> urls() const;
  std::string urls_joined() const;
  // A client connection to any of the servers (nats::Connection::Connect's errors).
  absl::StatusOr<std::unique_ptr<nats::Connection>> Connect() const;

  // SIGKILLs server i (its store stays); Restart starts it again with the same configuration
  // and waits until it accepts connections.
  void Kill(int i);
  bool Restart(int i, std::string* error);
  bool running(int i) const { return servers_[i].pid > 0; }
  std::string Log(int i) const;
  // The names of the streams that start with `prefix`, asked through any running server (empty
  // when none answers).
  std::vector<std::string> StreamNames(const std::string& prefix) const;
  // The index of the server leading the first stream whose name starts with `prefix`, asked
  // through any running server; -1 when none answers or no such stream exists.
  int StreamLeader(const std::string& prefix) const;

 private:
  struct Server {
    int port = 0;
    int route_port = 0;
    std::string config;
    std::string log;
    pid_t pid = -1;
  };
  void WriteConfig(int i) const;
  bool Launch(int i, std::string* error);
  bool WaitForJetStream(std::string* error);

  std::vector<Server> servers_;
  std::string dir_;
  bool jetstream_ = true;
  std::string routes_;
  std::string jetstream_options_;
};

}  // namespace bn::testing

#endif  // BOTTLENECK_TESTS_CLUSTER_NATS_CLUSTER_H_
