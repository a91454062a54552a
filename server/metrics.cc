#include "server/metrics.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace bn {
namespace {

void AtomicAdd(std::atomic<double>* target, double delta) {
  double current = target->load(std::memory_order_relaxed);
  while (!target->compare_exchange_weak(current, current + delta, std::memory_order_relaxed)) {
  }
}

// HELP text: '\\' -> "\\\\", newline -> "\\n".
std::string EscapeHelp(const std::string& help) {
  std::string out;
  for (char c : help) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

const char* TypeName(MetricType type) {
  switch (type) {
    case MetricType::kCounter:
      return "counter";
    case MetricType::kGauge:
      return "gauge";
    case MetricType::kHistogram:
      return "histogram";
  }
  return "untyped";
}

void AppendHeader(const std::string& name, const std::string& help, MetricType type,
                  std::string* out) {
  *out += "# HELP " + name + " " + EscapeHelp(help) + "\n";
  *out += "# TYPE " + name + " " + TypeName(type) + "\n";
}

// name{a="x",b="y"} value
void AppendSample(const std::string& name, const std::vector<std::string>& label_names,
                  const std::vector<std::string>& label_values, const char* extra_name,
                  const std::string& extra_value, double value, std::string* out) {
  *out += name;
  const bool has_extra = extra_name != nullptr;
  if (!label_names.empty() || has_extra) {
    *out += '{';
    for (size_t i = 0; i < label_names.size(); ++i) {
      if (i > 0) *out += ',';
      *out += label_names[i] + "=\"" + metrics_internal::EscapeLabelValue(label_values[i]) + "\"";
    }
    if (has_extra) {
      if (!label_names.empty()) *out += ',';
      *out += std::string(extra_name) + "=\"" + extra_value + "\"";
    }
    *out += '}';
  }
  *out += ' ' + metrics_internal::FormatValue(value) + '\n';
}

}  // namespace

void Counter::Increment(double delta) {
  if (!(delta >= 0)) return;
  AtomicAdd(&value_, delta);
}

void Gauge::Add(double delta) { AtomicAdd(&value_, delta); }

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), counts_(new std::atomic<uint64_t>[bounds_.size() + 1]) {
  for (size_t i = 0; i <= bounds_.size(); ++i) counts_[i].store(0, std::memory_order_relaxed);
}

void Histogram::Observe(double value) {
  if (std::isnan(value)) return;
  const size_t bucket = std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin();
  counts_[bucket].fetch_add(1, std::memory_order_relaxed);
  AtomicAdd(&sum_, value);
}

Histogram::Snapshot Histogram::Read() const {
  Snapshot snapshot;
  snapshot.bounds = bounds_;
  uint64_t running = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    running += counts_[i].load(std::memory_order_relaxed);
    snapshot.cumulative.push_back(running);
  }
  snapshot.count = running;
  snapshot.sum = sum_.load(std::memory_order_relaxed);
  return snapshot;
}

std::vector<double> DefaultLatencyBuckets() {
  return {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
}

namespace metrics_internal {

bool ValidMetricName(const std::string& name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
    if (!alpha && !(i > 0 && c >= '0' && c <= '9')) return false;
  }
  return true;
}

bool ValidLabelName(const std::string& name) {
  if (name.empty() || name.rfind("__", 0) == 0) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    if (!alpha && !(i > 0 && c >= '0' && c <= '9')) return false;
  }
  return true;
}

std::string EscapeLabelValue(const std::string& value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string FormatValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  char buf[32];
  for (int precision = 1; precision <= 17; ++precision) {
    std::snprintf(buf, sizeof(buf), "%.*g", precision, value);
    if (std::strtod(buf, nullptr) == value) break;
  }
  return buf;
}

}  // namespace metrics_internal

absl::Status MetricsRegistry::CheckNew(const std::string& name,
                                       const std::vector<std::string>& labels) const {
  if (!metrics_internal::ValidMetricName(name)) {
    return absl::InvalidArgumentError("invalid metric name '" + name + "'");
  }
  for (size_t i = 0; i < labels.size(); ++i) {
    if (!metrics_internal::ValidLabelName(labels[i])) {
      return absl::InvalidArgumentError("metric " + name + ": invalid label name '" + labels[i] +
                                        "'");
    }
    for (size_t j = 0; j < i; ++j) {
      if (labels[j] == labels[i]) {
        return absl::InvalidArgumentError("metric " + name + ": label '" + labels[i] +
                                          "' given twice");
      }
    }
  }
  if (entries_.count(name) > 0) {
    return absl::AlreadyExistsError("metric " + name + " is registered already");
  }
  return absl::OkStatus();
}

absl::StatusOr<CounterFamily*> MetricsRegistry::AddCounter(const std::string& name,
                                                           const std::string& help,
                                                           std::vector<std::string> label_names) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (absl::Status s = CheckNew(name, label_names); !s.ok()) return s;
  Entry& entry = entries_[name];
  entry.help = help;
  entry.type = MetricType::kCounter;
  entry.counter = std::make_unique<CounterFamily>(std::move(label_names),
                                                  [] { return std::make_unique<Counter>(); });
  return entry.counter.get();
}

absl::StatusOr<GaugeFamily*> MetricsRegistry::AddGauge(const std::string& name,
                                                       const std::string& help,
                                                       std::vector<std::string> label_names) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (absl::Status s = CheckNew(name, label_names); !s.ok()) return s;
  Entry& entry = entries_[name];
  entry.help = help;
  entry.type = MetricType::kGauge;
  entry.gauge = std::make_unique<GaugeFamily>(std::move(label_names),
                                              [] { return std::make_unique<Gauge>(); });
  return entry.gauge.get();
}

absl::StatusOr<HistogramFamily*> MetricsRegistry::AddHistogram(const std::string& name,
                                                               const std::string& help,
                                                               std::vector<std::string> label_names,
                                                               std::vector<double> bounds) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (absl::Status s = CheckNew(name, label_names); !s.ok()) return s;
  if (std::find(label_names.begin(), label_names.end(), "le") != label_names.end()) {
    return absl::InvalidArgumentError("histogram " + name + " may not use the label 'le'");
  }
  if (bounds.empty()) return absl::InvalidArgumentError("histogram " + name + " needs bounds");
  for (size_t i = 0; i < bounds.size(); ++i) {
    if (!std::isfinite(bounds[i]) || (i > 0 && !(bounds[i] > bounds[i - 1]))) {
      return absl::InvalidArgumentError("histogram " + name +
                                        ": bounds must be finite and strictly increasing");
    }
  }
  Entry& entry = entries_[name];
  entry.help = help;
  entry.type = MetricType::kHistogram;
  entry.histogram = std::make_unique<HistogramFamily>(
      std::move(label_names), [bounds] { return std::make_unique<Histogram>(bounds); });
  return entry.histogram.get();
}

void MetricsRegistry::AddCollector(Collector collector) {
  std::lock_guard<std::mutex> lock(mutex_);
  collectors_.push_back(std::move(collector));
}

std::string MetricsRegistry::Render() const {
  std::string out;
  std::vector<Collector> collectors;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    collectors = collectors_;
    for (const auto& [name, entry] : entries_) {
      AppendHeader(name, entry.help, entry.type, &out);
      if (entry.counter != nullptr) {
        const auto& labels = entry.counter->label_names();
        entry.counter->ForEach([&](const std::vector<std::string>& values, const Counter& c) {
          AppendSample(name, labels, values, nullptr, "", c.Value(), &out);
        });
      } else if (entry.gauge != nullptr) {
        const auto& labels = entry.gauge->label_names();
        entry.gauge->ForEach([&](const std::vector<std::string>& values, const Gauge& g) {
          AppendSample(name, labels, values, nullptr, "", g.Value(), &out);
        });
      } else if (entry.histogram != nullptr) {
        const auto& labels = entry.histogram->label_names();
        entry.histogram->ForEach([&](const std::vector<std::string>& values, const Histogram& h) {
          const Histogram::Snapshot s = h.Read();
          for (size_t i = 0; i < s.cumulative.size(); ++i) {
            const std::string le =
                i < s.bounds.size() ? metrics_internal::FormatValue(s.bounds[i]) : "+Inf";
            AppendSample(name + "_bucket", labels, values, "le", le,
                         static_cast<double>(s.cumulative[i]), &out);
          }
          AppendSample(name + "_sum", labels, values, nullptr, "", s.sum, &out);
          AppendSample(name + "_count", labels, values, nullptr, "", static_cast<double>(s.count),
                       &out);
        });
      }
    }
  }
  // Collectors run outside the lock: they may be slow (they read the store).
  std::vector<CollectedFamily> collected;
  for (const Collector& collector : collectors) collector(&collected);
  for (const CollectedFamily& family : collected) {
    if (!metrics_internal::ValidMetricName(family.name) || family.type == MetricType::kHistogram) {
      continue;
    }
    AppendHeader(family.name, family.help, family.type, &out);
    for (const CollectedFamily::Sample& sample : family.samples) {
      std::vector<std::string> names;
      std::vector<std::string> values;
      bool valid = true;
      for (const auto& [label, value] : sample.labels) {
        valid &= metrics_internal::ValidLabelName(label);
        names.push_back(label);
        values.push_back(value);
      }
      if (valid) AppendSample(family.name, names, values, nullptr, "", sample.value, &out);
    }
  }
  return out;
}

}  // namespace bn
