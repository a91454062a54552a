#include "server/rpc_observer.h"

#include <grpcpp/server_context.h>

#include <chrono>
#include <cstdio>
#include <random>
#include <unordered_map>
#include <utility>

#include "engine/util/log.h"

namespace bn {
namespace {

using grpc::experimental::InterceptionHookPoints;

constexpr char kRequestIdKey[] = "x-request-id";

// Splits "/pkg.Service/Method" into ("pkg.Service", "Method").
void SplitMethod(const std::string& full, std::string* service, std::string* method) {
  const size_t slash = full.rfind('/');
  if (full.empty() || full[0] != '/' || slash == 0 || slash == std::string::npos) {
    *service = "unknown";
    *method = full.empty() ? "unknown" : full;
    return;
  }
  *service = full.substr(1, slash - 1);
  *method = full.substr(slash + 1);
}

class ObservingInterceptor : public grpc::experimental::Interceptor {
 public:
  ObservingInterceptor(RpcObserver* observer, grpc::experimental::ServerRpcInfo* info)
      : series_(observer->SeriesCached(info->method())),
        info_(info),
        method_(info->method() != nullptr ? info->method() : ""),
        start_(std::chrono::steady_clock::now()) {}

  ~ObservingInterceptor() override {
    // No status was sent (the client cancelled or went away before the handler finished).
    if (!finished_) Finish(grpc::StatusCode::CANCELLED);
  }

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::POST_RECV_INITIAL_METADATA)) {
      if (auto* metadata = methods->GetRecvInitialMetadata(); metadata != nullptr) {
        auto it = metadata->find(kRequestIdKey);
        if (it != metadata->end()) {
          std::string given(it->second.data(), it->second.size());
          if (ValidRequestId(given)) request_id_ = std::move(given);
        }
      }
      if (request_id_.empty()) request_id_ = NewRequestId();
      if (auto* context = info_->server_context(); context != nullptr) peer_ = context->peer();
      // The sync server runs the handler on this thread right after these hooks.
      SetThreadRequestId(request_id_);
    }
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_INITIAL_METADATA)) {
      if (auto* metadata = methods->GetSendInitialMetadata(); metadata != nullptr) {
        if (request_id_.empty()) request_id_ = NewRequestId();
        metadata->emplace(kRequestIdKey, request_id_);
      }
    }
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_STATUS)) {
      Finish(methods->GetSendStatus().error_code());
      if (ThreadRequestId() == request_id_) SetThreadRequestId("");
    }
    methods->Proceed();
  }

 private:
  void Finish(grpc::StatusCode code) {
    finished_ = true;
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    series_->Record(code, seconds);
    char latency[32];
    std::snprintf(latency, sizeof(latency), "%.3f", seconds * 1e3);
    ScopedRequestId scoped(request_id_);
    const char* code_name = StatusCodeName(code);
    if (method_.rfind("/grpc.health.", 0) == 0) {
      BN_LOG_WITH(
          DEBUG,
          {{"method", method_}, {"peer", peer_}, {"code", code_name}, {"latency_ms", latency}})
          << "rpc";
    } else {
      BN_LOG_WITH(
          INFO,
          {{"method", method_}, {"peer", peer_}, {"code", code_name}, {"latency_ms", latency}})
          << "rpc";
    }
  }

  RpcObserver::MethodSeries* const series_;
  grpc::experimental::ServerRpcInfo* const info_;
  const std::string method_;
  const std::chrono::steady_clock::time_point start_;
  std::string request_id_;
  std::string peer_;
  bool finished_ = false;
};

class ObservingFactory : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit ObservingFactory(RpcObserver* observer) : observer_(observer) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    return new ObservingInterceptor(observer_, info);
  }

 private:
  RpcObserver* const observer_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<RpcObserver>> RpcObserver::Create(MetricsRegistry* registry) {
  auto requests = registry->AddCounter(
      "bottleneck_rpc_requests_total",
      "gRPC calls finished, by service, method and status code (streams count once).",
      {"service", "method", "code"});
  if (!requests.ok()) return requests.status();
  auto latency =
      registry->AddHistogram("bottleneck_rpc_latency_seconds",
                             "gRPC call latency from arrival to status, by service and method.",
                             {"service", "method"}, DefaultLatencyBuckets());
  if (!latency.ok()) return latency.status();
  return std::unique_ptr<RpcObserver>(new RpcObserver(*requests, *latency));
}

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> RpcObserver::NewFactory() {
  return std::make_unique<ObservingFactory>(this);
}

RpcObserver::RpcObserver(CounterFamily* requests, HistogramFamily* latency)
    : requests_(requests), latency_(latency), id_([] {
        static std::atomic<uint64_t> next{1};
        return next.fetch_add(1);
      }()) {}

RpcObserver::MethodSeries* RpcObserver::Series(const std::string& full_method) {
  {
    std::shared_lock<std::shared_mutex> lock(mutex_);
    auto it = series_.find(full_method);
    if (it != series_.end()) return it->second.get();
  }
  std::unique_lock<std::shared_mutex> lock(mutex_);
  auto& series = series_[full_method];
  if (series == nullptr) {
    series = std::make_unique<MethodSeries>();
    series->requests = requests_;
    SplitMethod(full_method, &series->service, &series->method);
    series->latency = latency_->WithLabels({series->service, series->method});
  }
  return series.get();
}

RpcObserver::MethodSeries* RpcObserver::SeriesCached(const char* method_name) {
  if (method_name == nullptr) return Series("");
  // Entries of destroyed observers stay behind (a few per server ever started on the thread);
  // the observer id keeps them from being found by a later observer at the same address.
  thread_local std::unordered_map<uint64_t, std::unordered_map<const char*, MethodSeries*>> cache;
  auto& mine = cache[id_];
  auto it = mine.find(method_name);
  if (it != mine.end()) return it->second;
  MethodSeries* series = Series(method_name);
  mine.emplace(method_name, series);
  return series;
}

void RpcObserver::MethodSeries::Record(grpc::StatusCode code, double seconds) {
  const int raw = static_cast<int>(code);
  const int index = raw >= 0 && raw < kCodes ? raw : kCodes;
  Counter* counter = by_code[index].load(std::memory_order_acquire);
  if (counter == nullptr) {
    // Racing threads get the same child from the family; the store is idempotent.
    counter = requests->WithLabels({service, method, StatusCodeName(code)});
    by_code[index].store(counter, std::memory_order_release);
  }
  counter->Increment();
  latency->Observe(seconds);
}

const char* StatusCodeName(grpc::StatusCode code) {
  static const char* const kNames[] = {"OK",
                                       "CANCELLED",
                                       "UNKNOWN",
                                       "INVALID_ARGUMENT",
                                       "DEADLINE_EXCEEDED",
                                       "NOT_FOUND",
                                       "ALREADY_EXISTS",
                                       "PERMISSION_DENIED",
                                       "RESOURCE_EXHAUSTED",
                                       "FAILED_PRECONDITION",
                                       "ABORTED",
                                       "OUT_OF_RANGE",
                                       "UNIMPLEMENTED",
                                       "INTERNAL",
                                       "UNAVAILABLE",
                                       "DATA_LOSS",
                                       "UNAUTHENTICATED"};
  const int index = static_cast<int>(code);
  if (index < 0 || index >= static_cast<int>(sizeof(kNames) / sizeof(kNames[0]))) return "UNKNOWN";
  return kNames[index];
}

std::string NewRequestId() {
  thread_local std::mt19937_64 engine{std::random_device{}()};
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(engine()));
  return buf;
}

bool ValidRequestId(const std::string& id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == ':' || c == '-';
    if (!ok) return false;
  }
  return true;
}

}  // namespace bn
