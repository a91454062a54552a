// The metrics registry and its Prometheus text rendering, read back with a small parser of the
// exposition format written from the format's description (not from the renderer's code).
#include "server/metrics.h"

#include <cmath>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "bottleneck/v1/training.pb.h"
#include "gtest/gtest.h"
#include "server/config.h"
#include "server/metrics_collectors.h"
#include "server/rpc_observer.h"

namespace bn {
namespace {

struct ParsedSample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;
};

struct Parsed {
  std::map<std::string, std::string> help;  // name -> unescaped text
  std::map<std::string, std::string> type;
  std::vector<ParsedSample> samples;
  std::vector<std::string> errors;
};

double ParseValue(const std::string& text) {
  if (text == "+Inf") return INFINITY;
  if (text == "-Inf") return -INFINITY;
  if (text == "NaN") return NAN;
  size_t used = 0;
  double v = std::stod(text, &used);
  if (used != text.size()) throw std::invalid_argument(text);
  return v;
}

// The family a sample belongs to: histograms' samples carry _bucket/_sum/_count suffixes.
std::string FamilyOf(const std::string& sample, const std::map<std::string, std::string>& type) {
  for (const char* suffix : {"_bucket", "_sum", "_count"}) {
    const std::string s = suffix;
    if (sample.size() > s.size() && sample.compare(sample.size() - s.size(), s.size(), s) == 0) {
      const std::string base = sample.substr(0, sample.size() - s.size());
      auto it = type.find(base);
      if (it != type.end() && it->second == "histogram") return base;
    }
  }
  return sample;
}

Parsed ParseExposition(const std::string& text) {
  Parsed out;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) {
      out.errors.push_back("last line lacks a newline");
      break;
    }
    const std::string line = text.substr(pos, end - pos);
    pos = end + 1;
    if (line.rfind("# HELP ", 0) == 0 || line.rfind("# TYPE ", 0) == 0) {
      const std::string rest = line.substr(7);
      const size_t space = rest.find(' ');
      const std::string name = rest.substr(0, space);
      std::string value = space == std::string::npos ? "" : rest.substr(space + 1);
      if (line[2] == 'H') {
        std::string unescaped;
        for (size_t i = 0; i < value.size(); ++i) {
          if (value[i] == '\\' && i + 1 < value.size()) {
            unescaped += value[i + 1] == 'n' ? '\n' : value[i + 1];
            ++i;
          } else {
            unescaped += value[i];
          }
        }
        if (out.help.count(name)) out.errors.push_back("HELP twice: " + name);
        out.help[name] = unescaped;
      } else {
        if (out.type.count(name)) out.errors.push_back("TYPE twice: " + name);
        out.type[name] = value;
      }
      continue;
    }
    if (line.empty() || line[0] == '#') continue;
    ParsedSample sample;
    size_t i = 0;
    while (i < line.size() && line[i] != '{' && line[i] != ' ') sample.name += line[i++];
    if (i < line.size() && line[i] == '{') {
      ++i;
      while (i < line.size() && line[i] != '}') {
        std::string key;
        while (i < line.size() && line[i] != '=') key += line[i++];
        if (i + 1 >= line.size() || line[i + 1] != '"') {
          out.errors.push_back("bad label in: " + line);
          break;
        }
        i += 2;
        std::string value;
        while (i < line.size() && line[i] != '"') {
          if (line[i] == '\\' && i + 1 < line.size()) {
            const char next = line[i + 1];
            value += next == 'n' ? '\n' : next;
            i += 2;
          } else {
            value += line[i++];
          }
        }
        ++i;  // Closing quote.
        sample.labels[key] = value;
        if (i < line.size() && line[i] == ',') ++i;
      }
      ++i;  // '}'
    }
    if (i >= line.size() || line[i] != ' ') {
      out.errors.push_back("no value in: " + line);
      continue;
    }
    try {
      sample.value = ParseValue(line.substr(i + 1));
    } catch (const std::exception&) {
      out.errors.push_back("bad value in: " + line);
      continue;
    }
    const std::string family = FamilyOf(sample.name, out.type);
    if (!out.type.count(family)) out.errors.push_back("sample before its TYPE: " + line);
    out.samples.push_back(sample);
  }
  return out;
}

const ParsedSample* Find(const Parsed& parsed, const std::string& name,
                         const std::map<std::string, std::string>& labels) {
  for (const ParsedSample& s : parsed.samples) {
    if (s.name == name && s.labels == labels) return &s;
  }
  return nullptr;
}

TEST(MetricsRegistryTest, RendersCountersAndGaugesWithEscapedLabels) {
  MetricsRegistry registry;
  auto counter = registry.AddCounter("test_requests_total", "Requests.\nSecond line \\ done.",
                                     {"method", "code"});
  ASSERT_TRUE(counter.ok()) << counter.status();
  auto gauge = registry.AddGauge("test_temperature", "A gauge.", {});
  ASSERT_TRUE(gauge.ok());
  const std::string tricky = "a\"b\\c\nd";
  (*counter)->WithLabels({"Search", "OK"})->Increment();
  (*counter)->WithLabels({"Search", "OK"})->Increment(2);
  (*counter)->WithLabels({tricky, "NOT_FOUND"})->Increment();
  (*counter)->WithLabels({"Search", "OK"})->Increment(-5);  // Ignored: counters only go up.
  (*gauge)->WithLabels({})->Set(-1.5);
  (*gauge)->WithLabels({})->Add(0.25);

  const Parsed parsed = ParseExposition(registry.Render());
  EXPECT_TRUE(parsed.errors.empty()) << parsed.errors[0];
  EXPECT_EQ(parsed.type.at("test_requests_total"), "counter");
  EXPECT_EQ(parsed.type.at("test_temperature"), "gauge");
  EXPECT_EQ(parsed.help.at("test_requests_total"), "Requests.\nSecond line \\ done.");
  const ParsedSample* ok =
      Find(parsed, "test_requests_total", {{"method", "Search"}, {"code", "OK"}});
  ASSERT_NE(ok, nullptr);
  EXPECT_EQ(ok->value, 3);
  const ParsedSample* odd =
      Find(parsed, "test_requests_total", {{"method", tricky}, {"code", "NOT_FOUND"}});
  ASSERT_NE(odd, nullptr);
  EXPECT_EQ(odd->value, 1);
  const ParsedSample* temp = Find(parsed, "test_temperature", {});
  ASSERT_NE(temp, nullptr);
  EXPECT_EQ(temp->value, -1.25);
}

TEST(MetricsRegistryTest, HistogramBucketsAreCumulativeAndMatchTheObservations) {
  MetricsRegistry registry;
  const std::vector<double> bounds = {0.1, 0.5, 1, 2.5};
  auto family = registry.AddHistogram("test_latency_seconds", "Latency.", {"method"}, bounds);
  ASSERT_TRUE(family.ok()) << family.status();
  Histogram* h = (*family)->WithLabels({"Get"});
  const std::vector<double> values = {0.05, 0.1, 0.3, 0.7, 1.0, 2.0, 3.0, 100.0, NAN};
  for (double v : values) h->Observe(v);

  const Parsed parsed = ParseExposition(registry.Render());
  ASSERT_TRUE(parsed.errors.empty()) << parsed.errors[0];
  EXPECT_EQ(parsed.type.at("test_latency_seconds"), "histogram");
  // Expected cumulative counts, computed here from the values (NaN is not counted).
  double sum = 0;
  int count = 0;
  for (double v : values) {
    if (std::isnan(v)) continue;
    sum += v;
    ++count;
  }
  for (double bound : bounds) {
    int expected = 0;
    for (double v : values) expected += (!std::isnan(v) && v <= bound) ? 1 : 0;
    char le[32];
    std::snprintf(le, sizeof(le), "%g", bound);
    const ParsedSample* bucket =
        Find(parsed, "test_latency_seconds_bucket", {{"method", "Get"}, {"le", le}});
    ASSERT_NE(bucket, nullptr) << "le=" << le;
    EXPECT_EQ(bucket->value, expected) << "le=" << le;
  }
  const ParsedSample* inf =
      Find(parsed, "test_latency_seconds_bucket", {{"method", "Get"}, {"le", "+Inf"}});
  ASSERT_NE(inf, nullptr);
  EXPECT_EQ(inf->value, count);
  const ParsedSample* total = Find(parsed, "test_latency_seconds_count", {{"method", "Get"}});
  ASSERT_NE(total, nullptr);
  EXPECT_EQ(total->value, count);
  const ParsedSample* s = Find(parsed, "test_latency_seconds_sum", {{"method", "Get"}});
  ASSERT_NE(s, nullptr);
  EXPECT_DOUBLE_EQ(s->value, sum);
}

TEST(MetricsRegistryTest, RejectsBadNamesDuplicatesAndBounds) {
  MetricsRegistry registry;
  EXPECT_FALSE(registry.AddCounter("9starts_with_digit", "", {}).ok());
  EXPECT_FALSE(registry.AddCounter("has-dash", "", {}).ok());
  EXPECT_FALSE(registry.AddCounter("ok_name", "", {"__reserved"}).ok());
  EXPECT_FALSE(registry.AddCounter("ok_name", "", {"a", "a"}).ok());
  EXPECT_TRUE(registry.AddCounter("ok_name", "", {"a"}).ok());
  EXPECT_EQ(registry.AddGauge("ok_name", "", {}).status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_FALSE(registry.AddHistogram("h1", "", {"le"}, {1}).ok());
  EXPECT_FALSE(registry.AddHistogram("h2", "", {}, {}).ok());
  EXPECT_FALSE(registry.AddHistogram("h3", "", {}, {1, 1}).ok());
  EXPECT_FALSE(registry.AddHistogram("h4", "", {}, {1, INFINITY}).ok());
  auto family = registry.AddCounter("labelled", "", {"a", "b"});
  ASSERT_TRUE(family.ok());
  EXPECT_EQ((*family)->WithLabels({"only one"}), nullptr);
  EXPECT_EQ((*family)->WithLabels({"x", "y"}), (*family)->WithLabels({"x", "y"}));
}

TEST(MetricsRegistryTest, FormatsValuesSoTheyParseBack) {
  for (double v : {0.0, 1.0, -2.0, 0.1, 0.005, 1e-9, 123456789.0, 1.0 / 3, 9007199254740993.0}) {
    const std::string text = metrics_internal::FormatValue(v);
    EXPECT_EQ(std::stod(text), v) << text;
  }
  EXPECT_EQ(metrics_internal::FormatValue(0.005), "0.005");
  EXPECT_EQ(metrics_internal::FormatValue(42), "42");
  EXPECT_EQ(metrics_internal::FormatValue(INFINITY), "+Inf");
  EXPECT_EQ(metrics_internal::FormatValue(-INFINITY), "-Inf");
  EXPECT_EQ(metrics_internal::FormatValue(NAN), "NaN");
}

TEST(MetricsRegistryTest, CollectorsAddFamiliesAtRenderTime) {
  MetricsRegistry registry;
  int calls = 0;
  registry.AddCollector([&calls](std::vector<CollectedFamily>* out) {
    ++calls;
    CollectedFamily family;
    family.name = "test_items";
    family.help = "Items.";
    family.samples.push_back({{{"collection", "a"}}, 3});
    family.samples.push_back({{{"collection", "b"}}, static_cast<double>(calls)});
    family.samples.push_back({{{"bad-label", "x"}}, 1});  // Dropped.
    out->push_back(family);
    CollectedFamily bad;
    bad.name = "bad name";  // Dropped.
    out->push_back(bad);
  });
  registry.Render();
  const Parsed parsed = ParseExposition(registry.Render());
  ASSERT_TRUE(parsed.errors.empty()) << parsed.errors[0];
  EXPECT_EQ(calls, 2);
  ASSERT_EQ(parsed.samples.size(), 2u);
  EXPECT_EQ(Find(parsed, "test_items", {{"collection", "a"}})->value, 3);
  EXPECT_EQ(Find(parsed, "test_items", {{"collection", "b"}})->value, 2);
  EXPECT_EQ(parsed.type.count("bad name"), 0u);
}

TEST(MetricsRegistryTest, ConcurrentUpdatesAreAllCounted) {
  MetricsRegistry registry;
  auto counter = registry.AddCounter("test_total", "", {"worker"});
  auto histogram = registry.AddHistogram("test_seconds", "", {}, {0.5});
  ASSERT_TRUE(counter.ok() && histogram.ok());
  constexpr int kThreads = 4;
  constexpr int kPerThread = 20000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        // Children are looked up every time, half shared and half per thread.
        (*counter)->WithLabels({i % 2 == 0 ? "shared" : std::to_string(t)})->Increment();
        (*histogram)->WithLabels({})->Observe(i % 2 == 0 ? 0.25 : 1.0);
      }
    });
  }
  // Renders concurrently with the updates.
  for (int i = 0; i < 20; ++i) {
    EXPECT_TRUE(ParseExposition(registry.Render()).errors.empty());
  }
  for (auto& thread : threads) thread.join();
  const Parsed parsed = ParseExposition(registry.Render());
  EXPECT_EQ(Find(parsed, "test_total", {{"worker", "shared"}})->value, kThreads * kPerThread / 2);
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_EQ(Find(parsed, "test_total", {{"worker", std::to_string(t)}})->value, kPerThread / 2);
  }
  EXPECT_EQ(Find(parsed, "test_seconds_count", {})->value, kThreads * kPerThread);
  EXPECT_EQ(Find(parsed, "test_seconds_bucket", {{"le", "0.5"}})->value, kThreads * kPerThread / 2);
  EXPECT_DOUBLE_EQ(Find(parsed, "test_seconds_sum", {})->value,
                   kThreads * kPerThread / 2 * (0.25 + 1.0));
}

TEST(RpcObserverTest, CountsPerMethodAndCode) {
  MetricsRegistry registry;
  auto observer = RpcObserver::Create(&registry);
  ASSERT_TRUE(observer.ok()) << observer.status();
  (*observer)->Record("/bottleneck.v1.QueryService/Search", grpc::StatusCode::OK, 0.002);
  (*observer)->Record("/bottleneck.v1.QueryService/Search", grpc::StatusCode::OK, 0.004);
  (*observer)->Record("/bottleneck.v1.QueryService/Search", grpc::StatusCode::NOT_FOUND, 0.001);
  const Parsed parsed = ParseExposition(registry.Render());
  ASSERT_TRUE(parsed.errors.empty()) << parsed.errors[0];
  const std::map<std::string, std::string> search = {{"service", "bottleneck.v1.QueryService"},
                                                     {"method", "Search"}};
  auto with_code = [&](const char* code) {
    auto labels = search;
    labels["code"] = code;
    return labels;
  };
  EXPECT_EQ(Find(parsed, "bottleneck_rpc_requests_total", with_code("OK"))->value, 2);
  EXPECT_EQ(Find(parsed, "bottleneck_rpc_requests_total", with_code("NOT_FOUND"))->value, 1);
  EXPECT_EQ(Find(parsed, "bottleneck_rpc_latency_seconds_count", search)->value, 3);
  EXPECT_DOUBLE_EQ(Find(parsed, "bottleneck_rpc_latency_seconds_sum", search)->value, 0.007);
  // Registering twice in one registry fails.
  EXPECT_FALSE(RpcObserver::Create(&registry).ok());
}

TEST(RpcObserverTest, RequestIdsAndCodeNames) {
  const std::string id = NewRequestId();
  EXPECT_EQ(id.size(), 16u);
  EXPECT_TRUE(ValidRequestId(id));
  EXPECT_NE(NewRequestId(), id);
  EXPECT_TRUE(ValidRequestId("req-1.a:b_C"));
  EXPECT_FALSE(ValidRequestId(""));
  EXPECT_FALSE(ValidRequestId("has space"));
  EXPECT_FALSE(ValidRequestId("line\nbreak"));
  EXPECT_FALSE(ValidRequestId(std::string(65, 'a')));
  EXPECT_STREQ(StatusCodeName(grpc::StatusCode::OK), "OK");
  EXPECT_STREQ(StatusCodeName(grpc::StatusCode::NOT_FOUND), "NOT_FOUND");
  EXPECT_STREQ(StatusCodeName(grpc::StatusCode::UNAUTHENTICATED), "UNAUTHENTICATED");
  EXPECT_STREQ(StatusCodeName(static_cast<grpc::StatusCode>(99)), "UNKNOWN");
}

TEST(MetricsCollectorsTest, JobProgressRatioCoversPhasesEpochsAndSteps) {
  bottleneck::v1::JobProgress p;
  EXPECT_EQ(JobProgressRatio(p), 0);
  p.set_phase_count(4);
  p.set_phase_index(3);  // Two phases done.
  p.set_epochs(10);
  p.set_epoch(6);  // Five epochs of this phase done...
  p.set_steps_per_epoch(100);
  p.set_step(50);  // ... and half of the sixth.
  EXPECT_DOUBLE_EQ(JobProgressRatio(p), (2 + 5.5 / 10) / 4);
  p.set_phase_index(4);
  p.set_epoch(10);
  p.set_step(100);
  EXPECT_DOUBLE_EQ(JobProgressRatio(p), 1.0);
}

TEST(MetricsCollectorsTest, ProcessMemoryIsReported) {
  MetricsRegistry registry;
  AddProcessCollector(&registry);
  const Parsed parsed = ParseExposition(registry.Render());
  ASSERT_TRUE(parsed.errors.empty()) << parsed.errors[0];
  const ParsedSample* rss = Find(parsed, "process_resident_memory_bytes", {});
  const ParsedSample* vms = Find(parsed, "process_virtual_memory_bytes", {});
  ASSERT_NE(rss, nullptr);
  ASSERT_NE(vms, nullptr);
  EXPECT_GT(rss->value, 0);
  EXPECT_GE(vms->value, rss->value);
  // The kernel's own report in /proc/self/status (kB), read right after, agrees within a few MiB.
  std::ifstream status("/proc/self/status");
  std::string line;
  double vm_rss_bytes = -1;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) vm_rss_bytes = std::stod(line.substr(6)) * 1024;
  }
  ASSERT_GT(vm_rss_bytes, 0);
  EXPECT_NEAR(rss->value, vm_rss_bytes, 4 << 20);
  EXPECT_GT(Find(parsed, "process_open_fds", {})->value, 0);
  EXPECT_GE(Find(parsed, "bottleneck_uptime_seconds", {})->value, 0);
}

TEST(MetricsConfigTest, MetricsAndLogFormatFlagsAreParsedAndValidated) {
  auto config =
      ParseServerFlags({"bottleneckd", "--metrics-listen=0.0.0.0:9464", "--log-format", "json"});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->metrics_listen, "0.0.0.0:9464");
  EXPECT_EQ(config->log_format, "json");
  EXPECT_TRUE(ValidateServerConfig(*config).ok());
  auto defaults = ParseServerFlags({"bottleneckd"});
  ASSERT_TRUE(defaults.ok());
  EXPECT_EQ(defaults->metrics_listen, "");  // Off by default.
  EXPECT_EQ(defaults->log_format, "text");
  for (const std::vector<std::string>& bad :
       {std::vector<std::string>{"bottleneckd", "--metrics-listen", "9464"},
        std::vector<std::string>{"bottleneckd", "--metrics-listen", "host:99999"},
        std::vector<std::string>{"bottleneckd", "--log-format", "xml"}}) {
    auto parsed = ParseServerFlags(bad);
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(ValidateServerConfig(*parsed).code(), absl::StatusCode::kInvalidArgument) << bad[2];
  }
}

}  // namespace
}  // namespace bn
