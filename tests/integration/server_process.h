// Runs the real bottleneckd as a child process for integration tests.
#ifndef BOTTLENECK_TESTS_INTEGRATION_SERVER_PROCESS_H_
#define BOTTLENECK_TESTS_INTEGRATION_SERVER_PROCESS_H_

#include <grpcpp/grpcpp.h>
#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

namespace bn::testing {

class ServerProcess {
 public:
  // Starts BN_BOTTLENECKD with `--listen 127.0.0.1:0 --data-dir data_dir --training-nice 0
  // --ingest-nice 0 --background-nice 0` plus `extra_args` (which may override those), and
  // waits (up to 60 s) for its "listening on" line. On failure returns null and fills `error`
  // with the exit status and the server's stderr.
  static std::unique_ptr<ServerProcess> Start(const std::string& data_dir,
                                              const std::vector<std::string>& extra_args,
                                              std::string* error);
  ~ServerProcess();  // SIGKILLs the process if still running.

  // The first endpoint's address, e.g. "127.0.0.1:40123".
  const std::string& address() const { return address_; }
  // The whole "listening on ..." line.
  const std::string& banner() const { return banner_; }
  pid_t pid() const { return pid_; }
  std::shared_ptr<grpc::Channel> Channel() const;

  // Sends `signal` and waits up to `timeout_seconds` for exit. Returns the raw wait status, or
  // -1 on timeout (the process is then killed).
  int SignalAndWait(int signal, int timeout_seconds);
  // Contents of the server's stderr so far.
  std::string Stderr() const;

 private:
  pid_t pid_ = -1;
  std::string address_;
  std::string banner_;
  std::string stderr_path_;
};

// Runs a program to completion: returns the raw wait status; output collects stdout+stderr.
int RunProgram(const std::vector<std::string>& argv, std::string* output);

}  // namespace bn::testing

#endif  // BOTTLENECK_TESTS_INTEGRATION_SERVER_PROCESS_H_
