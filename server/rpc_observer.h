// Per-RPC metrics, request ids and access logs for every gRPC method, as a server interceptor
// (no handler changes).
//
// For each call it
//  - takes the request id from the client's "x-request-id" metadata when it is 1..64 characters
//    of [A-Za-z0-9._:-], or generates 16 random hex digits, and returns it in the response's
//    initial metadata ("x-request-id");
//  - sets it as the handler thread's request id (ThreadRequestId in engine/util/log.h) from the
//    arrival of the call's metadata until its status is sent, so the handler's BN_LOG lines carry
//    request_id=...;
//  - when the status is sent, counts bottleneck_rpc_requests_total{service,method,code}, observes
//    bottleneck_rpc_latency_seconds{service,method} (from the call's arrival to its status;
//    streaming calls count once) and writes an access line at INFO (health checks at DEBUG):
//    msg="rpc" request_id=.. method=/pkg.Service/Method peer=.. code=OK latency_ms=1.234. Calls
//    that end without a status being sent (the client went away) count as CANCELLED.
// Nothing else from the metadata (tokens) is read or logged.
//
// Thread safety: RpcObserver is shared by every call and endpoint; it must outlive the gRPC
// servers built with its factories.
#ifndef BOTTLENECK_SERVER_RPC_OBSERVER_H_
#define BOTTLENECK_SERVER_RPC_OBSERVER_H_

#include <grpcpp/support/server_interceptor.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <shared_mutex>
#include <string>

#include "absl/status/statusor.h"
#include "server/metrics.h"

namespace bn {

class RpcObserver {
 public:
  // Registers the two RPC families in `registry` (which must outlive this object).
  // Errors: AlreadyExists when they are registered already.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<RpcObserver>> Create(
      MetricsRegistry* registry);

  // A factory for ServerBuilder::experimental().SetInterceptorCreators; one per builder.
  std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> NewFactory();

  // The series of one method ("/pkg.Service/Method"): its latency histogram and its counters
  // per status code, created on first use. Valid as long as this object.
  class MethodSeries {
   public:
    void Record(grpc::StatusCode code, double seconds);

   private:
    friend class RpcObserver;
    static constexpr int kCodes = 17;  // OK .. UNAUTHENTICATED.
    CounterFamily* requests = nullptr;
    std::string service;
    std::string method;
    Histogram* latency = nullptr;
    std::array<std::atomic<Counter*>, kCodes + 1> by_code{};  // Last: codes out of range.
  };
  // Looks `full_method` up under a shared lock (creating it once).
  MethodSeries* Series(const std::string& full_method);
  // The same through a per-thread cache keyed by the address of gRPC's method name (stable for
  // a server's lifetime): no lock once a thread has seen the method.
  MethodSeries* SeriesCached(const char* method_name);

  // Records one finished call. `full_method` is "/pkg.Service/Method".
  void Record(const std::string& full_method, grpc::StatusCode code, double seconds) {
    Series(full_method)->Record(code, seconds);
  }

 private:
  RpcObserver(CounterFamily* requests, HistogramFamily* latency);
  CounterFamily* const requests_;
  HistogramFamily* const latency_;
  const uint64_t id_;  // Unique per process: keys the per-thread caches.
  std::shared_mutex mutex_;
  std::map<std::string, std::unique_ptr<MethodSeries>> series_;
};

// "OK", "CANCELLED", ... "UNAUTHENTICATED"; "UNKNOWN" for values outside the enum.
const char* StatusCodeName(grpc::StatusCode code);
// A new random request id: 16 lowercase hex digits.
std::string NewRequestId();
// Whether a client-supplied request id is acceptable (1..64 of [A-Za-z0-9._:-]).
bool ValidRequestId(const std::string& id);

}  // namespace bn

#endif  // BOTTLENECK_SERVER_RPC_OBSERVER_H_
