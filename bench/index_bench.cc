// Index benchmarks: our HnswIndex adapter side by side with raw hnswlib 0.6.2 on the same data,
// recall@10 against exact search, queries/s at several ef (one thread), insert rate, Hamming
// search on 256-bit codes, snapshot save/load and rebuild time through ServingIndex, memory per
// item. Results and commands: bench/RESULTS-index.md.
//
//   bench_index_bench [--fashion] [--fashion-pca30] [--synthetic=N] [--hamming=N] [--store=N]
//   [--queries=Q]
//                     [--ef_construction=E] [--M=M] [--distance-isa=avx512f|avx2|none]

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "engine/data/idx.h"
#include "engine/eval/metrics.h"
#include "engine/index/distance.h"
#include "engine/index/hnsw_index.h"
#include "engine/index/serving_index.h"
#include "engine/model/pca.h"
#include "engine/store/collection_store.h"
#include "engine/util/log.h"

// hnswlib 0.6.2's headers define non-inline globals (SIMD function pointers, cpuid helpers), so a
// second translation unit including them clashes at link time with engine/index/hnsw_index.cc.
// The raw-hnswlib baseline therefore gets its own copy inside an unnamed namespace; every system
// header it includes is included first so that its include guards keep them out of the namespace.
#include <assert.h>
#include <cpuid.h>
#include <immintrin.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <x86intrin.h>

#include <atomic>
#include <cassert>
#include <deque>
#include <fstream>
#include <iostream>
#include <list>
#include <mutex>
#include <queue>
#include <stdexcept>
#include <unordered_map>
#include <unordered_set>
namespace {
#include "hnswlib/hnswlib.h"
}  // namespace

namespace bn {
namespace {

using Clock = std::chrono::steady_clock;
double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

struct Data {
  uint32_t dim = 0;
  Metric metric = Metric::kL2;
  std::vector<std::string> base, queries;  // Codes in the store's byte format.
};

// Rows of a matrix as code bytes (float32).
std::vector<std::string> RowsAsCodes(const FloatMatrix& m) {
  std::vector<std::string> out;
  for (int64_t i = 0; i < m.rows; ++i) {
    out.emplace_back(reinterpret_cast<const char*>(m.row(i)), m.cols * sizeof(float));
  }
  return out;
}

// Gaussian mixture: 100 clusters in `dim` dimensions.
std::vector<std::vector<float>> Mixture(size_t n, uint32_t dim, std::mt19937* rng) {
  std::normal_distribution<float> g(0, 1);
  std::vector<std::vector<float>> centers(100, std::vector<float>(dim));
  for (auto& c : centers)
    for (float& x : c) x = 3 * g(*rng);
  std::vector<std::vector<float>> out(n, std::vector<float>(dim));
  for (auto& v : out) {
    const auto& c = centers[(*rng)() % centers.size()];
    for (uint32_t j = 0; j < dim; ++j) v[j] = c[j] + g(*rng);
  }
  return out;
}

std::string FloatBytes(const std::vector<float>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float));
}

// Sign bits of `bits` random projections (a binary code with real neighbourhood structure).
std::vector<std::string> SignCodes(const std::vector<std::vector<float>>& vs, uint32_t bits,
                                   std::mt19937* rng) {
  std::normal_distribution<float> g(0, 1);
  const uint32_t dim = vs[0].size();
  std::vector<float> proj(size_t{bits} * dim);
  for (float& x : proj) x = g(*rng);
  std::vector<std::string> out;
  for (const auto& v : vs) {
    std::string code(bits / 8, '\0');
    for (uint32_t b = 0; b < bits; ++b) {
      float dot = 0;
      for (uint32_t j = 0; j < dim; ++j) dot += proj[size_t{b} * dim + j] * v[j];
      if (dot > 0) code[b / 8] |= static_cast<char>(1 << (b % 8));
    }
    out.push_back(std::move(code));
  }
  return out;
}

// Tie-aware recall: returned results closer than or as close as the exact k-th neighbour.
double Recall(const std::vector<std::vector<Neighbor>>& exact,
              const std::vector<std::vector<std::pair<float, uint64_t>>>& got, size_t k) {
  size_t hits = 0, total = 0;
  for (size_t q = 0; q < exact.size(); ++q) {
    const float kth = exact[q].back().distance;
    for (const auto& r : got[q]) hits += r.first <= kth * (1 + 1e-5f) + 1e-6f;
    total += std::min(k, exact[q].size());
  }
  return double(hits) / total;
}

void CompareWithRaw(const char* name, const Data& d, const IndexConfig& config, size_t k) {
  const size_t n = d.base.size();
  std::printf("\n== %s: n=%zu dim=%u metric=%s M=%u ef_construction=%u queries=%zu\n", name, n,
              d.dim, MetricName(config.metric), config.M, config.ef_construction, d.queries.size());
  // Ours, one thread.
  auto ours = HnswIndex::Create(config);
  if (!ours.ok()) return;
  auto t = Clock::now();
  for (size_t i = 0; i < n; ++i) {
    if (!(*ours)->Upsert(i, d.base[i]).ok()) std::abort();
  }
  const double ours_build = Seconds(t);
  // Raw hnswlib on the same bytes (L2 only; codes are the same floats).
  std::unique_ptr<hnswlib::SpaceInterface<float>> space;
  std::unique_ptr<hnswlib::HierarchicalNSW<float>> raw;
  double raw_build = 0;
  if (config.metric == Metric::kL2) {
    space = std::make_unique<hnswlib::L2Space>(d.dim);
    raw = std::make_unique<hnswlib::HierarchicalNSW<float>>(space.get(), n, config.M,
                                                            config.ef_construction, config.seed);
    t = Clock::now();
    for (size_t i = 0; i < n; ++i) raw->addPoint(d.base[i].data(), i);
    raw_build = Seconds(t);
  }
  std::printf("insert (1 thread): ours %.0f items/s (%.1f s)", n / ours_build, ours_build);
  if (raw) std::printf(", raw hnswlib %.0f items/s (%.1f s)", n / raw_build, raw_build);
  std::printf("\nmemory: %.1f MB, %.0f bytes/item (vector %zu bytes)\n",
              (*ours)->MemoryBytes() / 1e6, double((*ours)->MemoryBytes()) / n, CodeBytes(config));
  // Exact ground truth.
  std::vector<std::vector<Neighbor>> exact(d.queries.size());
  t = Clock::now();
  for (size_t q = 0; q < d.queries.size(); ++q) exact[q] = *(*ours)->SearchExact(d.queries[q], k);
  std::printf("exact scan: %.1f queries/s\n", d.queries.size() / Seconds(t));
  std::printf("%6s %10s %12s %10s %12s %9s\n", "ef", "recall", "ours q/s", "raw recall", "raw q/s",
              "overhead");
  for (size_t ef : {10, 20, 40, 80, 160, 320}) {
    std::vector<std::vector<std::pair<float, uint64_t>>> got(d.queries.size());
    double best_ours = 1e30, best_raw = 1e30;
    for (int rep = 0; rep < 2; ++rep) {  // Best of two passes (shared machine).
      t = Clock::now();
      for (size_t q = 0; q < d.queries.size(); ++q) {
        auto r = (*ours)->Search(d.queries[q], k, ef);
        got[q].clear();
        for (auto& nb : *r) got[q].push_back({nb.distance, nb.item_no});
      }
      best_ours = std::min(best_ours, Seconds(t));
    }
    const double recall = Recall(exact, got, k);
    double raw_recall = 0;
    if (raw) {
      raw->setEf(ef);
      std::vector<std::vector<std::pair<float, uint64_t>>> raw_got(d.queries.size());
      for (int rep = 0; rep < 2; ++rep) {
        t = Clock::now();
        for (size_t q = 0; q < d.queries.size(); ++q) {
          auto pq = raw->searchKnn(d.queries[q].data(), k);
          raw_got[q].clear();
          while (!pq.empty()) {
            raw_got[q].push_back(pq.top());
            pq.pop();
          }
        }
        best_raw = std::min(best_raw, Seconds(t));
      }
      raw_recall = Recall(exact, raw_got, k);
      std::printf("%6zu %10.4f %12.0f %10.4f %12.0f %8.1f%%\n", ef, recall,
                  d.queries.size() / best_ours, raw_recall, d.queries.size() / best_raw,
                  100 * (best_ours / best_raw - 1));
    } else {
      std::printf("%6zu %10.4f %12.0f %10s %12s %9s\n", ef, recall, d.queries.size() / best_ours,
                  "-", "-", "-");
    }
  }
}

// Store -> ServingIndex: rebuild from codes, snapshot save, snapshot load.
void StoreCycle(size_t n, uint32_t dim, const IndexConfig& config) {
  std::printf("\n== store + ServingIndex cycle: n=%zu dim=%u\n", n, dim);
  char tmpl[] = "/tmp/bn-index-bench-XXXXXX";
  const std::string dir = mkdtemp(tmpl);
  StoreOptions so;
  so.sync_writes = false;  // Bulk load.
  auto store = Store::Open(dir + "/data", so);
  if (!store.ok()) return;
  CollectionStore cs(store->get());
  if (!cs.PutCollection("bench", "").ok()) return;
  std::mt19937 rng(5);
  auto vs = Mixture(n, dim, &rng);
  auto t = Clock::now();
  for (size_t start = 0; start < n; start += 1000) {
    ItemBatch b;
    for (size_t i = start; i < std::min(n, start + 1000); ++i) {
      b.Upsert("item-" + std::to_string(i), "r", {{1, FloatBytes(vs[i])}});
    }
    if (!cs.Write("bench", b).ok()) std::abort();
  }
  std::printf("store bulk write (batches of 1000, no sync): %.0f items/s\n", n / Seconds(t));
  t = Clock::now();
  auto si = OpenServingIndex(store->get(), "bench", 1, config, dir + "/snapshots");
  if (!si.ok()) return;
  std::printf("rebuild from store (UpsertBatch, 1 thread): %.2f s (%zu items)\n", Seconds(t),
              (*si)->index().size());
  t = Clock::now();
  if (!(*si)->SaveSnapshot().ok()) return;
  std::printf("snapshot save (serialize + CRC + fsync + rename): %.2f s\n", Seconds(t));
  si->reset();
  t = Clock::now();
  auto loaded = OpenServingIndex(store->get(), "bench", 1, config, dir + "/snapshots");
  if (!loaded.ok()) return;
  std::printf("snapshot load (read + CRC + hnswlib load + catch-up): %.2f s, from_snapshot=%d\n",
              Seconds(t), (*loaded)->open_report().from_snapshot);
  auto size = cs.ApproximateSize("bench");
  if (size.ok()) {
    std::printf("store estimate: items %.1f MB, codes %.1f MB; index %.1f MB\n",
                size->items_bytes / 1e6, size->codes_bytes / 1e6,
                (*loaded)->index().MemoryBytes() / 1e6);
  }
  loaded->reset();
  store->reset();
  std::string cmd = "rm -rf '" + dir + "'";
  if (std::system(cmd.c_str()) != 0) std::printf("cleanup failed\n");
}

}  // namespace
}  // namespace bn

int main(int argc, char** argv) {
  using namespace bn;
  SetMinLogLevel(LogLevel::kError);
  bool fashion = false, fashion_pca30 = false;
  size_t synthetic = 0, hamming = 0, store_n = 0, queries = 1000;
  uint32_t ef_construction = 200, M = 16;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto val = [&](const char* p) { return std::stoull(a.substr(std::strlen(p))); };
    if (a == "--fashion")
      fashion = true;
    else if (a == "--fashion-pca30")
      fashion_pca30 = true;
    else if (a.rfind("--synthetic=", 0) == 0)
      synthetic = val("--synthetic=");
    else if (a.rfind("--hamming=", 0) == 0)
      hamming = val("--hamming=");
    else if (a.rfind("--store=", 0) == 0)
      store_n = val("--store=");
    else if (a.rfind("--queries=", 0) == 0)
      queries = val("--queries=");
    else if (a.rfind("--ef_construction=", 0) == 0)
      ef_construction = val("--ef_construction=");
    else if (a.rfind("--M=", 0) == 0)
      M = val("--M=");
    else if (a.rfind("--distance-isa=", 0) == 0) {
      // Our index's distance kernel family (engine/index/distance.h); raw hnswlib keeps its own.
      const std::string isa = a.substr(std::strlen("--distance-isa="));
      if (!SetFastDistanceIsaForTesting(isa.c_str())) {
        std::fprintf(stderr, "this CPU cannot run --distance-isa=%s\n", isa.c_str());
        return 2;
      }
    }
  }
  std::printf("distance kernels: %s\n", FastDistanceIsa());
  IndexConfig config;
  config.M = M;
  config.ef_construction = ef_construction;
  if (fashion) {
    auto train = LoadFashionMnist(BN_FASHION_MNIST_DIR, DatasetSplit::kTrain);
    auto test = LoadFashionMnist(BN_FASHION_MNIST_DIR, DatasetSplit::kTest, queries);
    if (!train.ok() || !test.ok()) return 1;
    Data d;
    d.dim = static_cast<uint32_t>(train->images.cols);
    d.base = RowsAsCodes(train->images);
    d.queries = RowsAsCodes(test->images);
    config.dim = d.dim;
    config.initial_capacity = d.base.size();
    CompareWithRaw("Fashion-MNIST raw 784-d, L2", d, config, 10);
  }
  if (fashion_pca30) {
    // 30-d codes: PCA-30 fitted on the 60k training images (the linear baseline's codes).
    auto train = LoadFashionMnist(BN_FASHION_MNIST_DIR, DatasetSplit::kTrain);
    auto test = LoadFashionMnist(BN_FASHION_MNIST_DIR, DatasetSplit::kTest, queries);
    if (!train.ok() || !test.ok()) return 1;
    auto pca = FitPca(train->images, 30);
    if (!pca.ok()) return 1;
    auto base = EncodeAll(**pca, train->images);
    auto query_codes = EncodeAll(**pca, test->images);
    if (!base.ok() || !query_codes.ok()) return 1;
    Data d;
    d.dim = 30;
    d.base = RowsAsCodes(*base);
    d.queries = RowsAsCodes(*query_codes);
    config.dim = 30;
    config.initial_capacity = d.base.size();
    CompareWithRaw("Fashion-MNIST PCA-30 codes, L2", d, config, 10);
  }
  if (synthetic > 0) {
    std::mt19937 rng(1);
    auto vs = Mixture(synthetic + queries, 32, &rng);
    Data d;
    d.dim = 32;
    for (size_t i = 0; i < vs.size(); ++i) {
      (i < synthetic ? d.base : d.queries).push_back(FloatBytes(vs[i]));
    }
    config.dim = 32;
    config.initial_capacity = synthetic;
    CompareWithRaw("synthetic 32-d Gaussian mixture, L2", d, config, 10);
  }
  if (hamming > 0) {
    std::mt19937 rng(2);
    auto vs = Mixture(hamming + queries, 32, &rng);
    auto codes = SignCodes(vs, 256, &rng);
    Data d;
    d.dim = 256;
    d.metric = Metric::kHamming;
    for (size_t i = 0; i < codes.size(); ++i) {
      (i < hamming ? d.base : d.queries).push_back(codes[i]);
    }
    config.metric = Metric::kHamming;
    config.dim = 256;
    config.initial_capacity = hamming;
    CompareWithRaw("256-bit sign-projection codes, Hamming", d, config, 10);
    config.metric = Metric::kL2;
  }
  if (store_n > 0) {
    config.dim = 32;
    config.metric = Metric::kL2;
    config.initial_capacity = 1024;
    StoreCycle(store_n, 32, config);
  }
  return 0;
}
