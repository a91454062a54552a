#include "tests/integration/server_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

namespace bn::testing {
namespace {

std::vector<char*> ToArgv(std::vector<std::string>& args) {
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  return argv;
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

}  // namespace

std::unique_ptr<ServerProcess> ServerProcess::Start(const std::string& data_dir,
                                                    const std::vector<std::string>& extra_args,
                                                    std::string* error) {
  // Background work at the test runner's own priority: the default SCHED_IDLE lets a training
  // job stall while other tests (ctest -j) keep the CPU busy, and these tests check behaviour,
  // not CPU shares. A test of the priorities passes them again in extra_args (the last wins).
  std::vector<std::string> args = {BN_BOTTLENECKD,
                                   "--listen",
                                   "127.0.0.1:0",
                                   "--data-dir",
                                   data_dir,
                                   "--training-nice",
                                   "0",
                                   "--ingest-nice",
                                   "0",
                                   "--background-nice",
                                   "0"};
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  auto process = std::unique_ptr<ServerProcess>(new ServerProcess());
  static std::atomic<int> counter{0};
  process->stderr_path_ =
      data_dir + ".stderr." + std::to_string(getpid()) + "." + std::to_string(counter++);
  int out_pipe[2];
  if (pipe(out_pipe) != 0) {
    *error = "pipe failed";
    return nullptr;
  }
  pid_t pid = fork();
  if (pid == 0) {
    dup2(out_pipe[1], STDOUT_FILENO);
    int err = open(process->stderr_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (err >= 0) dup2(err, STDERR_FILENO);
    close(out_pipe[0]);
    auto argv = ToArgv(args);
    execv(argv[0], argv.data());
    _exit(127);
  }
  close(out_pipe[1]);
  process->pid_ = pid;

  std::string line;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  bool found = false;
  while (!found && std::chrono::steady_clock::now() < deadline) {
    pollfd fd{out_pipe[0], POLLIN, 0};
    if (poll(&fd, 1, 200) <= 0) continue;
    char c;
    ssize_t n = read(out_pipe[0], &c, 1);
    if (n <= 0) break;  // The process exited (or closed stdout).
    if (c != '\n') {
      line.push_back(c);
      continue;
    }
    if (line.find("listening on ") != std::string::npos) {
      found = true;
    } else {
      line.clear();
    }
  }
  close(out_pipe[0]);
  if (!found) {
    int status = process->SignalAndWait(SIGKILL, 10);
    *error = "bottleneckd did not start (wait status " + std::to_string(status) + "); stderr:\n" +
             process->Stderr();
    process->pid_ = -1;
    return nullptr;
  }
  process->banner_ = line;
  size_t start = line.find("listening on ") + std::string("listening on ").size();
  size_t end = line.find_first_of(" ,;", start);
  process->address_ = line.substr(start, end - start);
  return process;
}

ServerProcess::~ServerProcess() {
  if (pid_ > 0) SignalAndWait(SIGKILL, 10);
  if (!stderr_path_.empty()) unlink(stderr_path_.c_str());
}

std::shared_ptr<grpc::Channel> ServerProcess::Channel() const {
  return grpc::CreateChannel(address_, grpc::InsecureChannelCredentials());
}

int ServerProcess::SignalAndWait(int signal, int timeout_seconds) {
  if (pid_ <= 0) return -1;
  kill(pid_, signal);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_seconds);
  int status = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    pid_t r = waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      pid_ = -1;
      return status;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  kill(pid_, SIGKILL);
  waitpid(pid_, &status, 0);
  pid_ = -1;
  return -1;
}

std::string ServerProcess::Stderr() const { return ReadAll(stderr_path_); }

int RunProgram(const std::vector<std::string>& argv_in, std::string* output) {
  std::vector<std::string> args = argv_in;
  int out_pipe[2];
  if (pipe(out_pipe) != 0) return -1;
  pid_t pid = fork();
  if (pid == 0) {
    dup2(out_pipe[1], STDOUT_FILENO);
    dup2(out_pipe[1], STDERR_FILENO);
    close(out_pipe[0]);
    auto argv = ToArgv(args);
    execv(argv[0], argv.data());
    _exit(127);
  }
  close(out_pipe[1]);
  // Bounded: a program still running after 60 s is killed and reported as -1.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  char buffer[4096];
  bool timed_out = false;
  while (true) {
    if (std::chrono::steady_clock::now() > deadline) {
      timed_out = true;
      kill(pid, SIGKILL);
      break;
    }
    pollfd fd{out_pipe[0], POLLIN, 0};
    if (poll(&fd, 1, 200) <= 0) continue;
    ssize_t n = read(out_pipe[0], buffer, sizeof(buffer));
    if (n <= 0) break;
    output->append(buffer, n);
  }
  close(out_pipe[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  return timed_out ? -1 : status;
}

}  // namespace bn::testing
