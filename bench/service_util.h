// Helpers shared by the gRPC benchmarks (bench/service_*.cc): command-line flags, call deadlines
// and failing fast on an RPC error. Header-only: every bench/*.cc is its own executable.
// Single-threaded use unless stated; Ctx may be called from any thread.
#ifndef BOTTLENECK_BENCH_SERVICE_UTIL_H_
#define BOTTLENECK_BENCH_SERVICE_UTIL_H_

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

namespace bn {
namespace bench {

// The value after `--name`, or `fallback` when the flag is absent.
inline std::string Flag(int argc, char** argv, const std::string& name,
                        const std::string& fallback) {
  for (int i = 1; i + 1 < argc; ++i) {
    if (argv[i] == "--" + name) return argv[i + 1];
  }
  return fallback;
}

// Whether `--name` is on the command line.
inline bool Has(int argc, char** argv, const std::string& name) {
  for (int i = 1; i < argc; ++i) {
    if (argv[i] == "--" + name) return true;
  }
  return false;
}

// A client context whose deadline is `seconds` from now.
inline std::unique_ptr<grpc::ClientContext> Ctx(int seconds = 600) {
  auto c = std::make_unique<grpc::ClientContext>();
  c->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(seconds));
  return c;
}

// Ends the benchmark (exit code 1) with the call's status when it failed.
inline void Check(const grpc::Status& s, const std::string& what) {
  if (!s.ok()) {
    std::fprintf(stderr, "%s failed: %s\n", what.c_str(), s.error_message().c_str());
    std::exit(1);
  }
}

}  // namespace bench
}  // namespace bn

#endif  // BOTTLENECK_BENCH_SERVICE_UTIL_H_
