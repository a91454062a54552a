// bottleneckd: see --help.
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "engine/index/serving_index.h"
#include "engine/store/store.h"
#include "engine/util/log.h"
#include "server/config.h"
#include "server/core/backups.h"
#include "server/server.h"

namespace {
constexpr int kExitUsage = 2;
constexpr int kExitStartup = 1;
constexpr auto kShutdownGrace = std::chrono::seconds(10);

// bottleneckd --check DIR: the store (checksums, a full scan), then the index snapshots.
int CheckDataDirectory(const std::string& dir) {
  std::string report;
  const absl::Status store = bn::Store::Check(dir, &report);
  std::cout << report;
  if (!store.ok()) std::cout << "store: " << store.message() << "\n";
  std::error_code ec;
  const std::filesystem::path index = std::filesystem::path(dir) / "index";
  int snapshots = 0, damaged = 0;
  for (const auto& entry : std::filesystem::directory_iterator(index, ec)) {
    if (entry.path().extension() != ".hnsw") continue;
    ++snapshots;
    if (absl::Status s = bn::CheckSnapshotFile(entry.path().string()); !s.ok()) {
      ++damaged;
      std::cout << "index snapshot damaged (rebuilt from the store at the next start): "
                << s.message() << "\n";
    }
  }
  std::cout << "index snapshots: " << snapshots << " checked, " << damaged << " damaged\n"
            << "data directory " << dir << ": " << (store.ok() ? "store intact" : "STORE DAMAGED")
            << "\n";
  return store.ok() ? 0 : 1;
}
}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv, argv + argc);
  auto config = bn::ParseServerFlags(args);
  if (!config.ok()) {
    std::cerr << "bottleneckd: " << config.status().message() << "\n";
    return kExitUsage;
  }
  if (config->show_help) {
    std::cout << bn::ServerUsage();
    return 0;
  }
  if (config->show_version) {
    std::cout << "bottleneckd 0.1.0 (API bottleneck.v1)\n";
    return 0;
  }
  if (!config->check_dir.empty()) return CheckDataDirectory(config->check_dir);
  if (absl::Status s = bn::ValidateServerConfig(*config); !s.ok()) {
    std::cerr << "bottleneckd: " << s.message() << "\n";
    return kExitUsage;
  }
  bn::LogLevel level = bn::LogLevel::kInfo;
  (void)bn::ParseLogLevel(config->log_level, &level);
  bn::SetMinLogLevel(level);
  // Debian's absl keeps absl::Mutex deadlock detection on (a graph update per lock acquisition);
  // gRPC takes those locks on every call. It is a debugging aid: off in the server.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  bn::LogFormat format = bn::LogFormat::kText;
  (void)bn::ParseLogFormat(config->log_format, &format);
  bn::SetLogFormat(format);

  // Inference threads: the default OpenMP team size of every thread (gRPC handlers, the encoder
  // and ingest threads, promotion); training jobs set their own size on their own threads
  // (--training-threads). libgomp reads OMP_NUM_THREADS once, in its constructor, before main:
  // setting it here would change nothing (measured: the encoder thread ran 2-thread teams whose
  // idle worker spun, 83 % of the server's CPU at 16 concurrent searches by image). So the
  // server re-executes itself once with the variable set.
  if (config->inference_threads > 0) {
    const std::string want = std::to_string(config->inference_threads);
    const char* have = getenv("OMP_NUM_THREADS");
    if (have == nullptr || want != have) {
      setenv("OMP_NUM_THREADS", want.c_str(), 1);
      // The binary's own path (not /proc/self/exe, which would rename the process "exe").
      char self[4096];
      const ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
      if (n > 0) {
        self[n] = '\0';
        execv(self, argv);
      }
      std::cerr << "bottleneckd: warning: cannot re-execute to apply --inference-threads ("
                << std::strerror(errno) << "); OpenMP uses its default team size\n";
    }
  }

  // --restore with --cluster: a one-shot into a fresh cluster (the nodes are started afterwards).
  if (!config->restore.empty() && !config->cluster.empty()) {
    auto restored = bn::RestoreClusterBackup(*config);
    if (!restored.ok()) {
      std::cerr << "bottleneckd: cannot restore " << config->restore << ": "
                << restored.status().message() << "\n";
      return kExitStartup;
    }
    std::printf("bottleneckd: %s\n", restored->c_str());
    return 0;
  }
  // --restore: before anything opens the data directory (after the re-execution above, so once).
  if (!config->restore.empty()) {
    if (absl::Status s = bn::RestoreBackup(config->restore, config->data_dir); !s.ok()) {
      std::cerr << "bottleneckd: cannot restore " << config->restore << ": " << s.message() << "\n";
      return kExitStartup;
    }
    std::printf("bottleneckd: restored backup %s into %s\n", config->restore.c_str(),
                config->data_dir.c_str());
    std::fflush(stdout);
  }

  // Block the shutdown signals in every thread (gRPC's inherit this mask); main waits for them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  auto server = bn::Server::Start(*config);
  if (!server.ok()) {
    std::cerr << "bottleneckd: cannot start: " << server.status().message() << "\n";
    return kExitStartup;
  }
  std::printf("bottleneckd listening on %s, data in %s\n", (*server)->DescribeEndpoints().c_str(),
              config->data_dir.c_str());
  std::fflush(stdout);

  int received = 0;
  sigwait(&signals, &received);
  BN_LOG(INFO) << "received " << (received == SIGINT ? "SIGINT" : "SIGTERM")
               << ", shutting down (grace " << kShutdownGrace.count() << " s)";
  (*server)->Shutdown(kShutdownGrace);
  return 0;
}
