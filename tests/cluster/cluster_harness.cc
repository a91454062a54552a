#include "tests/cluster/cluster_harness.h"

#include <signal.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "tests/integration/client_util.h"

namespace bn::testing {

namespace v1 = ::bottleneck::v1;

bool WaitFor(const std::function<bool()>& done, int seconds) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return done();
}

bool ClusterHarness::StartNats(std::string* error, int nats_servers) {
  std::filesystem::create_directories(dir_.Sub("nats"));
  return nats_.Start(dir_.Sub("nats"), nats_servers, error);
}

std::vector<std::string> ClusterHarness::NodeArgs(const std::string& id) const {
  std::vector<std::string> args = {"--cluster",           nats_.urls_joined(),
                                   "--node-id",           id,
                                   "--heartbeat-ms",      "200",
                                   "--node-lease-ms",     "1500",
                                   "--stream-replicas",   std::to_string(std::min(3, nats_.size())),
                                   "--inference-threads", "1"};
  return args;
}

bool ClusterHarness::StartNode(const std::string& id, const std::vector<std::string>& extra,
                               std::string* error) {
  extra_[id] = extra;
  std::vector<std::string> args = NodeArgs(id);
  args.insert(args.end(), extra.begin(), extra.end());
  auto process = ServerProcess::Start(DataDir(id), args, error);
  if (process == nullptr) return false;
  nodes_[id] = std::move(process);
  return true;
}

void ClusterHarness::KillNode(const std::string& id) {
  auto it = nodes_.find(id);
  if (it == nodes_.end()) return;
  it->second->SignalAndWait(SIGKILL, 10);
  nodes_.erase(it);
}

void ClusterHarness::StopNode(const std::string& id) {
  auto it = nodes_.find(id);
  if (it == nodes_.end()) return;
  it->second->SignalAndWait(SIGTERM, 30);
  nodes_.erase(it);
}

void ClusterHarness::WipeNode(const std::string& id) {
  std::error_code ec;
  std::filesystem::remove_all(DataDir(id), ec);
}

bool ClusterHarness::running(const std::string& id) const { return nodes_.count(id) > 0; }

pid_t ClusterHarness::Pid(const std::string& id) const {
  auto it = nodes_.find(id);
  return it == nodes_.end() ? -1 : it->second->pid();
}

std::string ClusterHarness::address(const std::string& id) const {
  auto it = nodes_.find(id);
  return it == nodes_.end() ? "" : it->second->address();
}

std::shared_ptr<grpc::Channel> ClusterHarness::Channel(const std::string& id) const {
  return grpc::CreateChannel(address(id), grpc::InsecureChannelCredentials());
}

std::string ClusterHarness::NodeStderr(const std::string& id) const {
  auto it = nodes_.find(id);
  return it == nodes_.end() ? "" : it->second->Stderr();
}

bool ClusterHarness::WaitForReady(const std::string& via, const std::string& collection,
                                  int replicas, uint64_t version, int seconds) {
  auto stub = v1::CollectionService::NewStub(Channel(via));
  return WaitFor(
      [&] {
        v1::GetCollectionRequest request;
        request.set_name(collection);
        v1::Collection response;
        grpc::Status status = stub->GetCollection(Ctx(5).get(), request, &response);
        last_seen_ = status.ok() ? response.cluster().DebugString() : status.error_message();
        if (!status.ok()) return false;
        if (response.cluster().shard_status_size() == 0) return false;
        for (const auto& shard : response.cluster().shard_status()) {
          int ready = 0;
          for (const auto& replica : shard.replicas()) {
            if (!replica.live() || replica.state() != "ready") continue;
            bool has = version == 0;
            for (uint64_t v : replica.ready_model_versions()) has = has || v == version;
            if (has) ++ready;
          }
          if (ready < replicas) return false;
        }
        return true;
      },
      seconds);
}

}  // namespace bn::testing
