#include "tests/cluster/nats_cluster.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <nats/nats.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "server/cluster/nats_client.h"

namespace bn::testing {
namespace {

// The value of the first `"key":"..."` in a JSON text (enough for JetStream API replies).
std::string JsonString(const std::string& json, const std::string& key, size_t from = 0) {
  const std::string needle = "\"" + key + "\":\"";
  const size_t at = json.find(needle, from);
  if (at == std::string::npos) return "";
  const size_t start = at + needle.size();
  const size_t end = json.find('"', start);
  return end == std::string::npos ? "" : json.substr(start, end - start);
}

// A request on an open connection; "" on failure.
std::string Request(natsConnection* connection, const std::string& subject,
                    const std::string& body) {
  natsMsg* reply = nullptr;
  if (natsConnection_RequestString(&reply, connection, subject.c_str(), body.c_str(), 2000) !=
      NATS_OK) {
    return "";
  }
  std::string out(natsMsg_GetData(reply), natsMsg_GetDataLength(reply));
  natsMsg_Destroy(reply);
  return out;
}

bool PortAccepts(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool ok = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  close(fd);
  return ok;
}

}  // namespace

int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = 0;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return -1;
  }
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

bool NatsCluster::Start(const std::string& dir, int size, std::string* error, bool jetstream) {
  servers_.resize(size);
  dir_ = dir;
  jetstream_ = jetstream;
  // Released ports can come back from the next bind (a CI run once got the same port as one
  // server's client and route port): draw until every port of the cluster is distinct.
  std::set<int> taken;
  const auto distinct_port = [&taken] {
    int port = FreePort();
    for (int tries = 0; tries < 100 && (port <= 0 || taken.count(port) > 0); ++tries) {
      port = FreePort();
    }
    taken.insert(port);
    return port;
  };
  for (Server& server : servers_) {
    server.port = distinct_port();
    server.route_port = distinct_port();
  }
  routes_.clear();
  for (const Server& server : servers_) {
    if (!routes_.empty()) routes_ += ", ";
    routes_ += "nats-route://127.0.0.1:" + std::to_string(server.route_port);
  }
  for (int i = 0; i < size; ++i) {
    Server& server = servers_[i];
    const std::string name = "n" + std::to_string(i);
    server.config = dir + "/" + name + ".conf";
    server.log = dir + "/" + name + ".log";
    WriteConfig(i);
  }
  for (int i = 0; i < size; ++i) {
    if (!Launch(i, error)) return false;
  }
  return !jetstream || WaitForJetStream(error);
}

void NatsCluster::WriteConfig(int i) const {
  const Server& server = servers_[i];
  const std::string name = "n" + std::to_string(i);
  std::ofstream out(server.config, std::ios::trunc);
  out << "server_name: " << name << "\n"
      << "listen: 127.0.0.1:" << server.port << "\n"
      << "max_payload: 8MB\n";
  if (jetstream_) {
    out << "jetstream { store_dir: \"" << dir_ << "/" << name << "-store\"";
    if (!jetstream_options_.empty()) out << ", " << jetstream_options_;
    out << " }\n";
  }
  if (size() > 1) {
    out << "cluster { name: c, listen: 127.0.0.1:" << server.route_port << ", routes: [" << routes_
        << "] }\n";
  }
}

bool NatsCluster::Launch(int i, std::string* error) {
  Server& server = servers_[i];
  pid_t pid = fork();
  if (pid == 0) {
    int log = open(server.log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (log >= 0) {
      dup2(log, STDOUT_FILENO);
      dup2(log, STDERR_FILENO);
    }
    execl(BN_NATS_SERVER, BN_NATS_SERVER, "-c", server.config.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  server.pid = pid;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  while (std::chrono::steady_clock::now() < deadline) {
    if (PortAccepts(server.port)) return true;
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == pid) {
      server.pid = -1;
      *error = "nats-server " + std::to_string(i) + " exited:\n" + Log(i);
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  *error = "nats-server " + std::to_string(i) + " did not listen:\n" + Log(i);
  return false;
}

bool NatsCluster::WaitForJetStream(std::string* error) {
  // Each server must answer JetStream requests (a cluster first elects its meta leader).
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  std::string last;
  for (int i = 0; i < size(); ++i) {
    while (true) {
      nats::ConnectOptions options;
      options.servers = {url(i)};
      options.request_timeout = std::chrono::milliseconds(1000);
      auto connection = nats::Connection::Connect(options);
      if (connection.ok()) break;
      last = std::string(connection.status().message());
      if (std::chrono::steady_clock::now() > deadline) {
        *error = "JetStream did not answer on " + url(i) + ": " + last + "\n" + Log(i);
        return false;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  return true;
}

absl::StatusOr<std::unique_ptr<nats::Connection>> NatsCluster::Connect() const {
  nats::ConnectOptions options;
  options.servers = urls();
  return nats::Connection::Connect(options);
}

NatsCluster::~NatsCluster() {
  for (int i = 0; i < size(); ++i) Kill(i);
}

std::string NatsCluster::url(int i) const {
  return "nats://127.0.0.1:" + std::to_string(servers_[i].port);
}

std::vector<std::string> NatsCluster::urls() const {
  std::vector<std::string> out;
  for (int i = 0; i < size(); ++i) out.push_back(url(i));
  return out;
}

std::string NatsCluster::urls_joined() const {
  std::string out;
  for (int i = 0; i < size(); ++i) out += (i > 0 ? "," : "") + url(i);
  return out;
}

void NatsCluster::Kill(int i) {
  Server& server = servers_[i];
  if (server.pid <= 0) return;
  kill(server.pid, SIGKILL);
  int status = 0;
  waitpid(server.pid, &status, 0);
  server.pid = -1;
}

bool NatsCluster::Restart(int i, std::string* error) {
  Kill(i);
  WriteConfig(i);
  return Launch(i, error);
}

std::vector<std::string> NatsCluster::StreamNames(const std::string& prefix) const {
  std::vector<std::string> out;
  for (int i = 0; i < size(); ++i) {
    if (!running(i)) continue;
    natsConnection* connection = nullptr;
    if (natsConnection_ConnectTo(&connection, url(i).c_str()) != NATS_OK) continue;
    // The first page of names (up to 1024), enough for tests.
    const std::string names = Request(connection, "$JS.API.STREAM.NAMES", "{}");
    natsConnection_Destroy(connection);
    for (size_t at = names.find('"'); at != std::string::npos;) {
      const size_t end = names.find('"', at + 1);
      if (end == std::string::npos) break;
      const std::string word = names.substr(at + 1, end - at - 1);
      if (word.rfind(prefix, 0) == 0) out.push_back(word);
      at = names.find('"', end + 1);
    }
    return out;
  }
  return out;
}

int NatsCluster::StreamLeader(const std::string& prefix) const {
  for (int i = 0; i < size(); ++i) {
    if (!running(i)) continue;
    natsConnection* connection = nullptr;
    if (natsConnection_ConnectTo(&connection, url(i).c_str()) != NATS_OK) continue;
    // Stream names (the first page, enough for tests), then the matching stream's leader.
    const std::string names = Request(connection, "$JS.API.STREAM.NAMES", "{}");
    std::string stream;
    for (size_t at = names.find('"'); at != std::string::npos && stream.empty();) {
      const size_t end = names.find('"', at + 1);
      if (end == std::string::npos) break;
      const std::string word = names.substr(at + 1, end - at - 1);
      if (word.rfind(prefix, 0) == 0) stream = word;
      at = names.find('"', end + 1);
    }
    std::string leader;
    if (!stream.empty()) {
      const std::string info = Request(connection, "$JS.API.STREAM.INFO." + stream, "");
      leader = JsonString(info, "leader", info.find("\"cluster\""));
    }
    natsConnection_Destroy(connection);
    if (stream.empty() || leader.size() < 2 || leader[0] != 'n') return -1;
    return std::atoi(leader.c_str() + 1);
  }
  return -1;
}

std::string NatsCluster::Log(int i) const {
  std::ifstream in(servers_[i].log);
  std::ostringstream out;
  out << in.rdbuf();
  std::string text = out.str();
  constexpr size_t kTail = 4000;
  return text.size() > kTail ? text.substr(text.size() - kTail) : text;
}

}  // namespace bn::testing
