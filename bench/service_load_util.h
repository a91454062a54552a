// Helpers of bench_service_load (bench/service_load.cc): flags, a closed-loop load runner with
// latency percentiles, the synthetic Gaussian-mixture data of bench/index_bench.cc, and exact
// k-nearest neighbours for recall. Header-only: every bench/*.cc is its own executable.
//
// Thread safety: RunClosedLoop runs one Worker per client thread; each Worker is used by its own
// thread only. Everything else is single-threaded unless stated.
#ifndef BOTTLENECK_BENCH_SERVICE_LOAD_UTIL_H_
#define BOTTLENECK_BENCH_SERVICE_LOAD_UTIL_H_

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace bn {
namespace bench {

using Clock = std::chrono::steady_clock;

inline double SecondsSince(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// --name value or --name=value; a lone "--" ends the flags (the rest is kept in `rest`).
class Flags {
 public:
  Flags(int argc, char** argv, int first) {
    for (int i = first; i < argc; ++i) {
      std::string a = argv[i];
      if (a == "--") {
        for (++i; i < argc; ++i) rest_.push_back(argv[i]);
        break;
      }
      if (a.rfind("--", 0) != 0) continue;
      a = a.substr(2);
      if (auto eq = a.find('='); eq != std::string::npos) {
        kv_[a.substr(0, eq)] = a.substr(eq + 1);
      } else if (i + 1 < argc && std::string(argv[i + 1]).rfind("--", 0) != 0) {
        kv_[a] = argv[++i];
      } else {
        kv_[a] = "true";
      }
    }
  }
  std::string Str(const std::string& name, const std::string& fallback) const {
    auto it = kv_.find(name);
    return it == kv_.end() ? fallback : it->second;
  }
  int64_t Int(const std::string& name, int64_t fallback) const {
    auto it = kv_.find(name);
    return it == kv_.end() ? fallback : std::atoll(it->second.c_str());
  }
  double Double(const std::string& name, double fallback) const {
    auto it = kv_.find(name);
    return it == kv_.end() ? fallback : std::atof(it->second.c_str());
  }
  bool Has(const std::string& name) const { return kv_.count(name) > 0; }
  const std::vector<std::string>& rest() const { return rest_; }

 private:
  std::map<std::string, std::string> kv_;
  std::vector<std::string> rest_;
};

inline std::vector<std::string> SplitList(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  std::string part;
  while (std::getline(in, part, ',')) {
    if (!part.empty()) out.push_back(part);
  }
  return out;
}

// What one client thread accumulates inside the measurement window.
struct ThreadStats {
  std::vector<float> latency_us;
  int64_t errors = 0;
  int64_t hits = 0;   // recall numerator (search by code)
  int64_t total = 0;  // recall denominator
};

// One request; `seq` counts this thread's requests. Returns false on an RPC error. Updates
// stats->hits/total only when `record` is true (the request started inside the window).
using Worker = std::function<bool(int64_t seq, bool record, ThreadStats* stats)>;

struct LoadResult {
  int64_t requests = 0;
  int64_t errors = 0;
  double qps = 0, p50_ms = 0, p99_ms = 0, p999_ms = 0;
  double recall = -1;  // < 0: not measured
};

// Closed loop: `clients` threads, each issuing requests back to back through its own Worker
// (made by make_worker(thread) before the clock starts) for warmup_s, then measure_s. Requests
// that start inside the measurement window are counted; QPS = counted / measure_s.
inline LoadResult RunClosedLoop(int clients, double warmup_s, double measure_s,
                                const std::function<Worker(int)>& make_worker) {
  std::vector<Worker> workers;
  for (int i = 0; i < clients; ++i) workers.push_back(make_worker(i));
  std::vector<ThreadStats> stats(clients);
  const auto start = Clock::now() + std::chrono::milliseconds(50);
  const auto begin =
      start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(warmup_s));
  const auto end =
      begin + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(measure_s));
  std::vector<std::thread> threads;
  for (int i = 0; i < clients; ++i) {
    threads.emplace_back([&, i] {
      std::this_thread::sleep_until(start);
      ThreadStats& st = stats[i];
      st.latency_us.reserve(1 << 16);
      for (int64_t seq = i;; seq += clients) {
        const auto t0 = Clock::now();
        if (t0 >= end) break;
        const bool record = t0 >= begin;
        const bool ok = workers[i](seq, record, &st);
        if (!record) continue;
        st.latency_us.push_back(
            std::chrono::duration<float, std::micro>(Clock::now() - t0).count());
        if (!ok) ++st.errors;
      }
    });
  }
  for (auto& t : threads) t.join();
  LoadResult r;
  std::vector<float> all;
  int64_t hits = 0, total = 0;
  for (const auto& st : stats) {
    all.insert(all.end(), st.latency_us.begin(), st.latency_us.end());
    r.errors += st.errors;
    hits += st.hits;
    total += st.total;
  }
  r.requests = static_cast<int64_t>(all.size());
  if (all.empty()) return r;
  std::sort(all.begin(), all.end());
  auto pct = [&](double p) {
    size_t idx = static_cast<size_t>(p * static_cast<double>(all.size()));
    return all[std::min(all.size() - 1, idx)] / 1000.0;
  };
  r.qps = static_cast<double>(all.size()) / measure_s;
  r.p50_ms = pct(0.50);
  r.p99_ms = pct(0.99);
  r.p999_ms = pct(0.999);
  if (total > 0) r.recall = static_cast<double>(hits) / static_cast<double>(total);
  return r;
}

// The Gaussian mixture of bench/index_bench.cc (100 clusters, centres 3 N(0,1), points
// centre + N(0,1)), mapped to [0, 1] by v -> 0.5 + v / 40 (one affine map for every dimension,
// so neighbourhoods are unchanged; clamped, which practically never triggers) because the API
// takes float pixels in [0, 1]. Deterministic for a given (n, queries, dim, seed).
struct SyntheticData {
  int dim = 0;
  std::vector<float> base;     // n * dim
  std::vector<float> queries;  // queries * dim (not in base)
};

inline SyntheticData MakeSynthetic(int64_t n, int64_t queries, int dim, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> g(0, 1);
  std::vector<float> centers(100 * static_cast<size_t>(dim));
  for (float& c : centers) c = 3 * g(rng);
  auto fill = [&](std::vector<float>* out, int64_t rows) {
    out->resize(static_cast<size_t>(rows) * dim);
    for (int64_t i = 0; i < rows; ++i) {
      const float* c = &centers[(rng() % 100) * static_cast<size_t>(dim)];
      for (int j = 0; j < dim; ++j) {
        const float v = 0.5f + (c[j] + g(rng)) / 40.0f;
        (*out)[static_cast<size_t>(i) * dim + j] = std::min(1.0f, std::max(0.0f, v));
      }
    }
  };
  SyntheticData d;
  d.dim = dim;
  fill(&d.base, n);
  fill(&d.queries, queries);
  return d;
}

// Exact k nearest neighbours (squared L2) of each query among `n` base rows; two threads.
struct ExactNeighbors {
  std::vector<std::vector<uint32_t>> ids;  // per query, nearest first
  std::vector<float> kth;                  // per query, the k-th smallest distance
};

inline ExactNeighbors ComputeExact(const std::vector<float>& base, const std::vector<float>& q,
                                   int dim, int k) {
  const size_t n = base.size() / dim, nq = q.size() / dim;
  ExactNeighbors e;
  e.ids.resize(nq);
  e.kth.resize(nq);
  auto run = [&](size_t from, size_t to) {
    std::vector<std::pair<float, uint32_t>> best;
    for (size_t i = from; i < to; ++i) {
      best.clear();
      const float* x = &q[i * dim];
      for (size_t j = 0; j < n; ++j) {
        const float* y = &base[j * dim];
        float d = 0;
        for (int t = 0; t < dim; ++t) d += (x[t] - y[t]) * (x[t] - y[t]);
        if (best.size() < static_cast<size_t>(k) || d < best.front().first) {
          best.emplace_back(d, static_cast<uint32_t>(j));
          std::push_heap(best.begin(), best.end());
          if (best.size() > static_cast<size_t>(k)) {
            std::pop_heap(best.begin(), best.end());
            best.pop_back();
          }
        }
      }
      std::sort_heap(best.begin(), best.end());
      e.kth[i] = best.back().first;
      for (const auto& b : best) e.ids[i].push_back(b.second);
    }
  };
  std::thread other(run, 0, nq / 2);
  run(nq / 2, nq);
  other.join();
  return e;
}

// Recall@k, tie-aware: a returned neighbour counts when it is one of the exact k or its
// distance is within float rounding of the exact k-th distance.
inline int64_t RecallHits(const ExactNeighbors& e, size_t query, const std::vector<uint32_t>& ids,
                          const std::vector<float>& distances) {
  int64_t hits = 0;
  for (size_t i = 0; i < ids.size(); ++i) {
    const auto& ex = e.ids[query];
    const bool in = std::find(ex.begin(), ex.end(), ids[i]) != ex.end();
    hits += in || distances[i] <= e.kth[query] * (1 + 1e-4f) + 1e-6f;
  }
  return hits;
}

}  // namespace bench
}  // namespace bn

#endif  // BOTTLENECK_BENCH_SERVICE_LOAD_UTIL_H_
