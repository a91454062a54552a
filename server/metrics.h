// A small metrics registry rendering the Prometheus text exposition format 0.0.4.
//
//   MetricsRegistry registry;
//   CounterFamily* requests = *registry.AddCounter("app_requests_total", "Requests.", {"code"});
//   requests->WithLabels({"OK"})->Increment();
//   std::string text = registry.Render();  // What GET /metrics serves.
//
// Three kinds of instruments live in the registry: counters (monotonic), gauges (set/add) and
// histograms (fixed upper bounds; `_bucket{le=...}` cumulative counts, `_sum`, `_count`). Each
// belongs to a family with fixed label names; WithLabels returns the child for one tuple of
// label values, created on first use and alive as long as the registry. Values that are only
// known when scraped (collection sizes, process memory) come from collectors: callbacks run by
// Render that return whole families of samples.
//
// Thread safety: everything may be called concurrently. Increment/Set/Add/Observe are lock-free
// (atomics). WithLabels takes a shared lock for a lookup (exclusive only to create a child);
// callers on a hot path may keep the returned pointer. Render runs the collectors on the calling
// thread, outside the registry's locks.
#ifndef BOTTLENECK_SERVER_METRICS_H_
#define BOTTLENECK_SERVER_METRICS_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace bn {

class Counter {
 public:
  // `delta` must be >= 0 (negative values are ignored: counters never go down).
  void Increment(double delta = 1);
  double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

class Gauge {
 public:
  void Set(double value) { value_.store(value, std::memory_order_relaxed); }
  void Add(double delta);
  double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

class Histogram {
 public:
  // `bounds`: strictly increasing finite upper bounds; the +Inf bucket is implicit.
  explicit Histogram(std::vector<double> bounds);
  // Counts `value` in the first bucket whose bound is >= value (NaN is ignored).
  void Observe(double value);

  struct Snapshot {
    std::vector<double> bounds;
    std::vector<uint64_t> cumulative;  // One per bound, then the +Inf bucket (== count).
    double sum = 0;
    uint64_t count = 0;
  };
  // Consistent per bucket; under concurrent Observe calls, sum may lag the counts slightly.
  Snapshot Read() const;

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> counts_;  // bounds_.size() + 1 buckets.
  std::atomic<double> sum_{0};
};

// Upper bounds for RPC latencies in seconds: 0.5 ms .. 60 s.
std::vector<double> DefaultLatencyBuckets();

enum class MetricType { kCounter, kGauge, kHistogram };

// The instruments of one metric name, one per tuple of label values.
template <typename T>
class MetricFamily {
 public:
  MetricFamily(std::vector<std::string> label_names, std::function<std::unique_ptr<T>()> make)
      : label_names_(std::move(label_names)), make_(std::move(make)) {}
  MetricFamily(const MetricFamily&) = delete;
  MetricFamily& operator=(const MetricFamily&) = delete;

  // The child for `values` (one per label name, in order), created on first use. Returns null
  // when the number of values differs from the number of label names. Never invalidated.
  T* WithLabels(const std::vector<std::string>& values) {
    if (values.size() != label_names_.size()) return nullptr;
    {
      std::shared_lock<std::shared_mutex> lock(mutex_);
      auto it = children_.find(values);
      if (it != children_.end()) return it->second.get();
    }
    std::unique_lock<std::shared_mutex> lock(mutex_);
    auto& child = children_[values];
    if (child == nullptr) child = make_();
    return child.get();
  }

  const std::vector<std::string>& label_names() const { return label_names_; }

  // Calls fn(values, child) for every child, in label order, under the shared lock.
  void ForEach(const std::function<void(const std::vector<std::string>&, const T&)>& fn) const {
    std::shared_lock<std::shared_mutex> lock(mutex_);
    for (const auto& [values, child] : children_) fn(values, *child);
  }

 private:
  const std::vector<std::string> label_names_;
  const std::function<std::unique_ptr<T>()> make_;
  mutable std::shared_mutex mutex_;
  std::map<std::vector<std::string>, std::unique_ptr<T>> children_;
};

using CounterFamily = MetricFamily<Counter>;
using GaugeFamily = MetricFamily<Gauge>;
using HistogramFamily = MetricFamily<Histogram>;

// A family produced at scrape time by a collector (counters and gauges only).
struct CollectedFamily {
  std::string name;
  std::string help;
  MetricType type = MetricType::kGauge;
  struct Sample {
    std::vector<std::pair<std::string, std::string>> labels;  // (name, value) pairs.
    double value = 0;
  };
  std::vector<Sample> samples;
};

class MetricsRegistry {
 public:
  MetricsRegistry() = default;
  MetricsRegistry(const MetricsRegistry&) = delete;
  MetricsRegistry& operator=(const MetricsRegistry&) = delete;

  // Registers a family. Names match [a-zA-Z_:][a-zA-Z0-9_:]*, label names
  // [a-zA-Z_][a-zA-Z0-9_]* and do not start with "__" (histograms may not use "le").
  // Errors: InvalidArgument for a bad name, label name or bounds; AlreadyExists for a name
  // registered before. The family lives as long as the registry.
  [[nodiscard]] absl::StatusOr<CounterFamily*> AddCounter(const std::string& name,
                                                          const std::string& help,
                                                          std::vector<std::string> label_names);
  [[nodiscard]] absl::StatusOr<GaugeFamily*> AddGauge(const std::string& name,
                                                      const std::string& help,
                                                      std::vector<std::string> label_names);
  [[nodiscard]] absl::StatusOr<HistogramFamily*> AddHistogram(const std::string& name,
                                                              const std::string& help,
                                                              std::vector<std::string> label_names,
                                                              std::vector<double> bounds);

  // A collector appends families to *out when Render runs. Their names must not clash with
  // registered ones or each other; families or samples with invalid names are dropped.
  // Collectors must not call back into this registry's Add* or Render.
  using Collector = std::function<void(std::vector<CollectedFamily>* out)>;
  void AddCollector(Collector collector);

  // Every family (registered ones sorted by name, then the collected ones in collector order)
  // in the text format 0.0.4: "# HELP", "# TYPE", then one line per sample. Families without a
  // child render their HELP/TYPE lines only.
  std::string Render() const;

 private:
  struct Entry {
    std::string help;
    MetricType type;
    std::unique_ptr<CounterFamily> counter;
    std::unique_ptr<GaugeFamily> gauge;
    std::unique_ptr<HistogramFamily> histogram;
  };
  absl::Status CheckNew(const std::string& name, const std::vector<std::string>& labels) const;

  mutable std::mutex mutex_;
  std::map<std::string, Entry> entries_;
  std::vector<Collector> collectors_;
};

namespace metrics_internal {
// Exposed for tests.
bool ValidMetricName(const std::string& name);
bool ValidLabelName(const std::string& name);
// Label values: '\\' -> "\\\\", '"' -> "\\\"", newline -> "\\n".
std::string EscapeLabelValue(const std::string& value);
// Sample values and bounds: shortest text that parses back to the same double; "+Inf", "-Inf",
// "NaN".
std::string FormatValue(double value);
}  // namespace metrics_internal

}  // namespace bn

#endif  // BOTTLENECK_SERVER_METRICS_H_
