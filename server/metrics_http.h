// The HTTP endpoint of bottleneckd's metrics (--metrics-listen), on cpp-httplib:
//   GET /metrics  the Prometheus text format 0.0.4 (Content-Type text/plain; version=0.0.4)
//   GET /healthz  200 "ok" while `healthy()` is true, 503 "unavailable" otherwise
// Anything else is 404; request bodies are refused. Two worker threads serve requests.
//
// Thread safety: Stop and the accessors may be called from any thread; the callbacks run on the
// worker threads, concurrently, until Stop returns.
#ifndef BOTTLENECK_SERVER_METRICS_HTTP_H_
#define BOTTLENECK_SERVER_METRICS_HTTP_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace bn {

class MetricsHttpServer {
 public:
  // Binds `address` ("HOST:PORT", "[V6]:PORT"; port 0 picks a free port) and starts serving.
  // Errors: InvalidArgument for a malformed address, Unavailable when it cannot be bound.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<MetricsHttpServer>> Start(
      const std::string& address, std::function<std::string()> render,
      std::function<bool()> healthy);
  ~MetricsHttpServer();  // Stop().
  MetricsHttpServer(const MetricsHttpServer&) = delete;
  MetricsHttpServer& operator=(const MetricsHttpServer&) = delete;

  // The bound address with the chosen port, e.g. "127.0.0.1:9464".
  const std::string& address() const { return address_; }
  int port() const { return port_; }

  // Stops accepting, waits for requests in progress, joins the threads. Idempotent.
  void Stop();

  struct Impl;

 private:
  explicit MetricsHttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  std::string address_;
  int port_ = 0;
};

}  // namespace bn

#endif  // BOTTLENECK_SERVER_METRICS_HTTP_H_
