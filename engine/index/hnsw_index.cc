// hnswlib is included only here (its headers define per-translation-unit SIMD function pointers).
#include "engine/index/hnsw_index.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <mutex>
#include <new>
#include <queue>
#include <shared_mutex>
#include <stdexcept>
#include <thread>

#include "engine/index/distance.h"
#include "engine/index/hnsw_body.h"
#include "engine/util/background.h"
#include "hnswlib/hnswlib.h"

namespace bn {
namespace {

// Vectors inside hnswlib's node storage follow the layer-0 links (4 * (2M + 1) bytes), so they are
// only 4-byte aligned: words are loaded with memcpy (an unaligned load, no undefined behaviour).
inline uint64_t LoadWord(const void* base, size_t i) {
  uint64_t w;
  std::memcpy(&w, static_cast<const char*>(base) + 8 * i, sizeof(w));
  return w;
}

__attribute__((target("popcnt"))) float HammingPopcnt(const void* a, const void* b,
                                                      const void* param) {
  const size_t words = *static_cast<const size_t*>(param);
  uint64_t bits = 0;
  for (size_t i = 0; i < words; ++i) bits += __builtin_popcountll(LoadWord(a, i) ^ LoadWord(b, i));
  return static_cast<float>(bits);
}

float HammingGeneric(const void* a, const void* b, const void* param) {
  const size_t words = *static_cast<const size_t*>(param);
  uint64_t bits = 0;
  for (size_t i = 0; i < words; ++i) bits += __builtin_popcountll(LoadWord(a, i) ^ LoadWord(b, i));
  return static_cast<float>(bits);
}

// Hamming distance over packed codes of `words` 64-bit words.
class HammingSpace : public hnswlib::SpaceInterface<float> {
 public:
  explicit HammingSpace(size_t words) : words_(words) {
    func_ = __builtin_cpu_supports("popcnt") ? HammingPopcnt : HammingGeneric;
  }
  size_t get_data_size() override { return words_ * sizeof(uint64_t); }
  hnswlib::DISTFUNC<float> get_dist_func() override { return func_; }
  void* get_dist_func_param() override { return &words_; }

 private:
  size_t words_;
  hnswlib::DISTFUNC<float> func_;
};

// hnswlib's float spaces with the CPU's widest distance kernel (engine/index/distance.h) in place
// of hnswlib's build-time one, when the CPU has one. The stored layout is hnswlib's: only the
// function that compares two vectors changes.
template <typename Base>
class FastSpace : public Base {
 public:
  FastSpace(size_t dim, DistanceFn fast) : Base(dim), fast_(fast) {}
  hnswlib::DISTFUNC<float> get_dist_func() override {
    return fast_ != nullptr ? fast_ : Base::get_dist_func();
  }

 private:
  DistanceFn fast_;
};

// hnswlib's space constructors write global SIMD function pointers: construct one at a time.
std::mutex& SpaceMutex() {
  static std::mutex mu;
  return mu;
}

std::unique_ptr<hnswlib::SpaceInterface<float>> MakeSpace(const IndexConfig& c) {
  std::lock_guard<std::mutex> lock(SpaceMutex());
  switch (c.metric) {
    case Metric::kL2:
      return std::make_unique<FastSpace<hnswlib::L2Space>>(c.dim, FastL2Squared());
    case Metric::kInnerProduct:
    case Metric::kCosine:
      return std::make_unique<FastSpace<hnswlib::InnerProductSpace>>(c.dim,
                                                                     FastInnerProductDistance());
    case Metric::kHamming:
      return std::make_unique<HammingSpace>((c.dim + 63) / 64);
  }
  return nullptr;
}

absl::Status FromException(const char* what, const std::exception& e) {
  if (dynamic_cast<const std::bad_alloc*>(&e) != nullptr) {
    return absl::ResourceExhaustedError(std::string(what) + ": out of memory");
  }
  return absl::InternalError(std::string(what) + ": " + e.what());
}

// A memory-backed file for hnswlib's path-based saveIndex/loadIndex.
class MemFile {
 public:
  MemFile() : fd_(memfd_create("bn-hnsw", MFD_CLOEXEC)) {}
  ~MemFile() {
    if (fd_ >= 0) close(fd_);
  }
  bool ok() const { return fd_ >= 0; }
  std::string path() const { return "/proc/self/fd/" + std::to_string(fd_); }
  bool ReadAll(std::string* out) const {
    off_t size = lseek(fd_, 0, SEEK_END);
    if (size < 0) return false;
    out->resize(size);
    size_t done = 0;
    while (done < out->size()) {
      ssize_t n = pread(fd_, &(*out)[done], out->size() - done, done);
      if (n <= 0) return false;
      done += n;
    }
    return true;
  }
  bool WriteAll(absl::string_view data) const {
    size_t done = 0;
    while (done < data.size()) {
      ssize_t n = pwrite(fd_, data.data() + done, data.size() - done, done);
      if (n <= 0) return false;
      done += n;
    }
    return true;
  }

 private:
  int fd_;
};

// Greedy descent (hnswlib's searchKnn and addPoint) from `*cur` through levels `from` down to
// `to` + 1: `*cur` becomes the closest node found at level `to` + 1. False on a link outside
// the graph.
bool Descend(const hnswlib::HierarchicalNSW<float>& h, const void* q, int from, int to,
             hnswlib::tableint* cur) {
  float cur_dist = h.fstdistfunc_(q, h.getDataByInternalId(*cur), h.dist_func_param_);
  for (int level = from; level > to; --level) {
    bool changed = true;
    while (changed) {
      changed = false;
      const unsigned int* data = h.get_linklist(*cur, level);
      const int size = h.getListCount(const_cast<unsigned int*>(data));
      const hnswlib::tableint* links = reinterpret_cast<const hnswlib::tableint*>(data + 1);
      for (int i = 0; i < size; ++i) {
        const hnswlib::tableint cand = links[i];
        if (cand >= h.cur_element_count) return false;
        const float d = h.fstdistfunc_(q, h.getDataByInternalId(cand), h.dist_func_param_);
        if (d < cur_dist) {
          cur_dist = d;
          *cur = cand;
          changed = true;
        }
      }
    }
  }
  return true;
}

// (distance, internal id); a max-heap on distance with CompareLess, a min-heap with CompareMore.
using Scored = std::pair<float, hnswlib::tableint>;
struct CompareLess {
  bool operator()(const Scored& a, const Scored& b) const { return a.first < b.first; }
};
struct CompareMore {
  bool operator()(const Scored& a, const Scored& b) const { return a.first > b.first; }
};

// The nodes one search has visited, as a bitset owned by the calling thread: 1 bit per node
// (128 KiB for 1M nodes, which stays in L2, where hnswlib's 16-bit tags take 2 MiB), and cleared
// after each search through the list of words it touched. Reusable across indexes and searches on
// the same thread; not reentrant.
class VisitedBits {
 public:
  // This thread's set, empty, with room for ids < n. Clear() before the next ForThisThread().
  static VisitedBits& ForThisThread(size_t n) {
    thread_local VisitedBits bits;
    if (bits.words_.size() < (n + 63) / 64) bits.words_.resize((n + 63) / 64, 0);
    return bits;
  }
  void Prefetch(uint32_t id) const { __builtin_prefetch(&words_[id >> 6]); }
  // True when `id` was already in the set; adds it.
  bool TestAndSet(uint32_t id) {
    uint64_t& word = words_[id >> 6];
    const uint64_t bit = uint64_t{1} << (id & 63);
    if (word & bit) return true;
    if (word == 0) touched_.push_back(id >> 6);
    word |= bit;
    return false;
  }
  void Clear() {
    for (uint32_t w : touched_) words_[w] = 0;
    touched_.clear();
  }

 private:
  std::vector<uint64_t> words_;
  std::vector<uint32_t> touched_;
};

// The `ef` closest (distance, id) pairs seen so far: a max-heap on distance whose root is the
// search's bound. Once full, a closer pair replaces the root with one sift-down (a push and a pop
// of std::priority_queue sift twice).
class ClosestSet {
 public:
  explicit ClosestSet(size_t ef) : ef_(ef) { heap_.reserve(ef); }
  size_t size() const { return heap_.size(); }
  bool full() const { return heap_.size() >= ef_; }
  float bound() const { return heap_.front().first; }  // Requires size() > 0.
  // Adds `s`; when full, `s` must be closer than bound() and replaces the farthest pair.
  void Add(const Scored& s) {
    if (!full()) {
      heap_.push_back(s);
      std::push_heap(heap_.begin(), heap_.end(), CompareLess());
      return;
    }
    const size_t n = heap_.size();
    size_t i = 0;
    for (;;) {
      size_t child = 2 * i + 1;
      if (child >= n) break;
      if (child + 1 < n && heap_[child + 1].first > heap_[child].first) ++child;
      if (heap_[child].first <= s.first) break;
      heap_[i] = heap_[child];
      i = child;
    }
    heap_[i] = s;
  }
  std::vector<Scored>& pairs() { return heap_; }

 private:
  const size_t ef_;
  std::vector<Scored> heap_;
};

// hnswlib's searchBaseLayerST (the same visiting order, stopping rule and treatment of deleted
// nodes), rearranged for memory-level parallelism, which bounds the search at 1M codes: a node's
// links are checked against the visited set and the unvisited neighbours' vectors prefetched all
// at once before any distance is computed (hnswlib prefetches one neighbour ahead), and the link
// list of each node that enters the candidate queue is prefetched when it enters. Visited nodes are
// a per-thread bitset instead of hnswlib's pooled 16-bit tags.
//
// Fills `out` with at most `ef` (distance, id) pairs in no particular order. False on a link
// outside the graph.
template <bool kHasDeletions>
bool SearchLayer0(const hnswlib::HierarchicalNSW<float>& h, hnswlib::tableint entry, const void* q,
                  size_t ef, std::vector<Scored>* out) {
  VisitedBits& visited = VisitedBits::ForThisThread(h.cur_element_count);
  struct ClearOnExit {
    VisitedBits& bits;
    ~ClearOnExit() { bits.Clear(); }
  } clear_on_exit{visited};
  const char* const nodes = h.data_level0_memory_;
  const size_t stride = h.size_data_per_element_;
  const size_t data_offset = h.offsetData_;
  auto data_of = [&](hnswlib::tableint id) { return nodes + size_t{id} * stride + data_offset; };
  // Prefetch spans: a node's vector is only 4-byte aligned, so 128 bytes can cover three lines.
  const size_t data_bytes = std::min<size_t>(h.data_size_, 256);
  const size_t list_bytes = std::min<size_t>(h.size_links_level0_, 256);
  auto prefetch = [](const char* p, size_t bytes) {
    for (size_t b = 0; b < bytes; b += 64) __builtin_prefetch(p + b);
    __builtin_prefetch(p + bytes - 1);
  };

  std::vector<Scored> candidate_storage;
  candidate_storage.reserve(4 * ef);
  ClosestSet top(ef);
  std::priority_queue<Scored, std::vector<Scored>, CompareMore> candidates(
      CompareMore(), std::move(candidate_storage));
  float bound = std::numeric_limits<float>::max();
  if (!kHasDeletions || !h.isMarkedDeleted(entry)) {
    bound = h.fstdistfunc_(q, data_of(entry), h.dist_func_param_);
    top.Add({bound, entry});
  }
  candidates.emplace(bound, entry);
  visited.TestAndSet(entry);

  std::vector<hnswlib::tableint> fresh(h.maxM0_);
  while (!candidates.empty()) {
    const Scored current = candidates.top();
    if (current.first > bound && (top.full() || !kHasDeletions)) break;
    candidates.pop();
    const unsigned int* list = h.get_linklist0(current.second);
    const size_t size = h.getListCount(const_cast<unsigned int*>(list));
    if (size > h.maxM0_) return false;
    const hnswlib::tableint* links = reinterpret_cast<const hnswlib::tableint*>(list + 1);
    for (size_t j = 0; j < size; ++j) {
      if (links[j] < h.cur_element_count) visited.Prefetch(links[j]);
    }
    size_t n = 0;
    for (size_t j = 0; j < size; ++j) {
      const hnswlib::tableint id = links[j];
      if (id >= h.cur_element_count) return false;
      if (visited.TestAndSet(id)) continue;
      fresh[n++] = id;
      prefetch(data_of(id), data_bytes);
    }
    for (size_t j = 0; j < n; ++j) {
      const hnswlib::tableint id = fresh[j];
      const float d = h.fstdistfunc_(q, data_of(id), h.dist_func_param_);
      if (!top.full() || d < bound) {
        candidates.emplace(d, id);
        prefetch(nodes + size_t{id} * stride, list_bytes);  // Likely expanded soon.
        if (!kHasDeletions || !h.isMarkedDeleted(id)) top.Add({d, id});
        if (top.size() > 0) bound = top.bound();
      }
    }
  }
  out->swap(top.pairs());
  return true;
}

}  // namespace

const char* MetricName(Metric metric) {
  switch (metric) {
    case Metric::kL2:
      return "l2";
    case Metric::kInnerProduct:
      return "inner_product";
    case Metric::kCosine:
      return "cosine";
    case Metric::kHamming:
      return "hamming";
  }
  return "unknown";
}

size_t CodeBytes(const IndexConfig& config) {
  return config.metric == Metric::kHamming ? (config.dim + 7) / 8 : 4 * size_t{config.dim};
}

absl::Status ValidateIndexConfig(const IndexConfig& c) {
  if (c.metric != Metric::kL2 && c.metric != Metric::kInnerProduct && c.metric != Metric::kCosine &&
      c.metric != Metric::kHamming) {
    return absl::InvalidArgumentError("unknown metric");
  }
  if (c.dim == 0 || c.dim > (1u << 20)) return absl::InvalidArgumentError("dim must be 1..2^20");
  if (c.M < 2 || c.M > 1000) return absl::InvalidArgumentError("M must be 2..1000");
  if (c.ef_construction == 0) return absl::InvalidArgumentError("ef_construction must be > 0");
  if (c.initial_capacity == 0 || c.initial_capacity > (uint64_t{1} << 32) - 2) {
    return absl::InvalidArgumentError("initial_capacity must be 1..2^32-2");
  }
  return absl::OkStatus();
}

struct HnswIndex::Impl {
  std::unique_ptr<hnswlib::SpaceInterface<float>> space;
  std::unique_ptr<hnswlib::HierarchicalNSW<float>> hnsw;
  size_t data_bytes = 0;  // Internal vector size (padded for Hamming).
  // Lock order: write_mu, then mu. Mutators hold write_mu throughout and mu exclusively while
  // they change the graph; Compact builds the new graph holding mu shared (searches continue).
  std::mutex write_mu;
  mutable std::shared_mutex mu;

  // Converts a code to the internal representation (normalised / padded).
  void Prepare(const IndexConfig& c, absl::string_view code, std::vector<uint64_t>* buf) const {
    buf->assign((data_bytes + 7) / 8, 0);
    std::memcpy(buf->data(), code.data(), code.size());
    if (c.metric == Metric::kCosine) {
      float* v = reinterpret_cast<float*>(buf->data());
      double norm = 0;
      for (uint32_t i = 0; i < c.dim; ++i) norm += double{v[i]} * v[i];
      if (norm > 0) {
        const float inv = static_cast<float>(1.0 / std::sqrt(norm));
        for (uint32_t i = 0; i < c.dim; ++i) v[i] *= inv;
      }
    }
  }

  // Grows capacity (exclusive lock held) so that `extra` new nodes fit.
  void EnsureCapacity(size_t extra) {
    const size_t need = hnsw->cur_element_count + extra;
    if (need <= hnsw->max_elements_) return;
    hnsw->resizeIndex(std::max(need, hnsw->max_elements_ * 2));
  }

  // An insert is hnswlib's addPoint split in two phases, so that searches wait only for the
  // second, short one. Plan (write_mu held, mu SHARED): the new node's level and, for each level
  // it joins, its candidate neighbours from hnswlib's construction search; it only reads the
  // graph. Link (write_mu held, mu EXCLUSIVE): allocate the node and connect it (hnswlib's
  // mutuallyConnectNewElement, which prunes the neighbours' lists). write_mu keeps other writers
  // out in between, so the graph Link changes is the graph Plan read. The result is what addPoint
  // computes: its search at level l reads only level-l lists, which the links made at the levels
  // above do not touch, and its next entry point (the closest neighbour kept) is the closest
  // candidate, which the pruning heuristic always keeps.
  using Candidates = std::priority_queue<std::pair<float, hnswlib::tableint>,
                                         std::vector<std::pair<float, hnswlib::tableint>>,
                                         hnswlib::HierarchicalNSW<float>::CompareByFirst>;
  struct InsertPlan {
    int level = 0;                       // The new node's top level.
    int max_level = -1;                  // The graph's top level when planned (-1: empty graph).
    std::vector<Candidates> neighbours;  // [level], levels 0..min(level, max_level).
  };

  void Plan(const void* q, InsertPlan* plan) {
    auto& h = *hnsw;
    plan->level = h.getRandomLevel(h.mult_);
    plan->max_level = h.maxlevel_;
    plan->neighbours.clear();
    if (plan->max_level < 0) return;
    const hnswlib::tableint entry = h.enterpoint_node_;
    hnswlib::tableint cur = entry;
    // Greedy descent through the levels above the new node's.
    if (!Descend(h, q, plan->max_level, plan->level, &cur)) {
      throw std::runtime_error("corrupt HNSW link");
    }
    const bool entry_deleted = h.isMarkedDeleted(entry);
    const int top = std::min(plan->level, plan->max_level);
    plan->neighbours.resize(top + 1);
    for (int level = top; level >= 0; --level) {
      Candidates found = h.searchBaseLayer(cur, q, level);
      if (entry_deleted) {
        found.emplace(h.fstdistfunc_(q, h.getDataByInternalId(entry), h.dist_func_param_), entry);
        if (found.size() > h.ef_construction_) found.pop();
      }
      if (!found.empty()) {
        Candidates closest = found;
        while (closest.size() > 1) closest.pop();
        cur = closest.top().second;
      }
      plan->neighbours[level] = std::move(found);
    }
  }

  // Adds `label`'s node as planned. An existing node of the label is marked deleted and its label
  // mapped to the new node (hnswlib's loadIndex maps a label to its last node, so snapshots keep
  // this); capacity must have been ensured.
  void Link(const void* q, uint64_t label, InsertPlan* plan) {
    auto& h = *hnsw;
    if (h.cur_element_count >= h.max_elements_) {
      throw std::runtime_error("The number of elements exceeds the specified limit");
    }
    if (auto it = h.label_lookup_.find(label); it != h.label_lookup_.end()) {
      if (!h.isMarkedDeleted(it->second)) h.markDeletedInternal(it->second);
      h.label_lookup_.erase(it);
    }
    const hnswlib::tableint id = static_cast<hnswlib::tableint>(h.cur_element_count);
    char* links = nullptr;
    if (plan->level > 0) {
      links = static_cast<char*>(std::calloc(h.size_links_per_element_ * plan->level + 1, 1));
      if (links == nullptr) throw std::bad_alloc();
    }
    std::memset(h.data_level0_memory_ + id * h.size_data_per_element_ + h.offsetLevel0_, 0,
                h.size_data_per_element_);
    hnswlib::labeltype external = label;
    std::memcpy(h.getExternalLabeLp(id), &external, sizeof(external));
    std::memcpy(h.getDataByInternalId(id), q, h.data_size_);
    h.linkLists_[id] = links;
    h.element_levels_[id] = plan->level;
    h.cur_element_count++;
    h.label_lookup_[label] = id;
    for (int level = static_cast<int>(plan->neighbours.size()) - 1; level >= 0; --level) {
      if (plan->neighbours[level].empty()) continue;
      h.mutuallyConnectNewElement(q, id, plan->neighbours[level], level, false);
    }
    if (plan->level > plan->max_level) {
      h.enterpoint_node_ = id;
      h.maxlevel_ = plan->level;
    }
  }

  // Plan under a shared lock, link under an exclusive one (write_mu held by the caller).
  void Insert(const void* q, uint64_t label, InsertPlan* plan) {
    {
      std::shared_lock<std::shared_mutex> read(mu);
      Plan(q, plan);
    }
    std::unique_lock<std::shared_mutex> lock(mu);
    Link(q, label, plan);
  }
};

HnswIndex::HnswIndex(const IndexConfig& config, std::unique_ptr<Impl> impl)
    : config_(config), impl_(std::move(impl)) {}
HnswIndex::~HnswIndex() = default;

absl::StatusOr<std::unique_ptr<HnswIndex>> HnswIndex::Create(const IndexConfig& config) {
  if (absl::Status s = ValidateIndexConfig(config); !s.ok()) return s;
  auto impl = std::make_unique<Impl>();
  try {
    impl->space = MakeSpace(config);
    impl->data_bytes = impl->space->get_data_size();
    impl->hnsw = std::make_unique<hnswlib::HierarchicalNSW<float>>(
        impl->space.get(), config.initial_capacity, config.M, config.ef_construction, config.seed);
  } catch (const std::exception& e) {
    return FromException("creating HNSW index", e);
  }
  return std::unique_ptr<HnswIndex>(new HnswIndex(config, std::move(impl)));
}

absl::StatusOr<std::unique_ptr<HnswIndex>> HnswIndex::Deserialize(const IndexConfig& config,
                                                                  absl::string_view body) {
  if (absl::Status s = ValidateIndexConfig(config); !s.ok()) return s;
  auto impl = std::make_unique<Impl>();
  try {
    impl->space = MakeSpace(config);
  } catch (const std::exception& e) {
    return FromException("creating HNSW space", e);
  }
  impl->data_bytes = impl->space->get_data_size();
  HnswBodyShape shape;
  if (std::string bad = ValidateHnswBody(body, impl->data_bytes, &shape); !bad.empty()) {
    return absl::DataLossError("malformed HNSW index body: " + bad);
  }
  // The saved capacity is only an allocation size: cap it (growth doubles on demand), so that a
  // body cannot make us allocate far more than its nodes need.
  const size_t capacity = std::max<size_t>(
      {shape.count, size_t{1},
       std::min<size_t>(shape.max_elements,
                        std::max<size_t>(2 * shape.count, config.initial_capacity))});
  MemFile file;
  if (!file.ok() || !file.WriteAll(body)) return absl::InternalError("memfd write failed");
  try {
    impl->hnsw = std::make_unique<hnswlib::HierarchicalNSW<float>>(impl->space.get(), file.path(),
                                                                   false, capacity);
  } catch (const std::exception& e) {
    return absl::DataLossError(std::string("loading HNSW index: ") + e.what());
  }
  auto& h = *impl->hnsw;
  // A label may have older nodes, all deleted (an upsert of an existing label adds a node); its
  // live node, if any, must be the one the label maps to, so no two live nodes share a label.
  for (hnswlib::tableint i = 0; i < h.cur_element_count; ++i) {
    if (h.isMarkedDeleted(i)) continue;
    auto it = h.label_lookup_.find(h.getExternalLabel(i));
    if (it == h.label_lookup_.end() || it->second != i) {
      return absl::DataLossError("malformed HNSW index body: duplicate labels");
    }
  }
  // hnswlib 0.6.2's loading constructor leaves num_deleted_ uninitialised before loadIndex adds
  // the deleted nodes to it: recount.
  h.num_deleted_ = 0;
  for (hnswlib::tableint i = 0; i < h.cur_element_count; ++i) {
    if (h.isMarkedDeleted(i)) ++h.num_deleted_;
  }
  if (h.size_data_per_element_ != h.size_links_level0_ + impl->data_bytes + sizeof(size_t)) {
    return absl::DataLossError("HNSW index body has a different vector size");
  }
  IndexConfig loaded = config;
  loaded.M = static_cast<uint32_t>(h.M_);
  loaded.ef_construction = static_cast<uint32_t>(h.ef_construction_);
  return std::unique_ptr<HnswIndex>(new HnswIndex(loaded, std::move(impl)));
}

absl::Status HnswIndex::Upsert(uint64_t label, absl::string_view code) {
  return UpsertBatch({label}, {code});
}

absl::Status HnswIndex::UpsertBatch(const std::vector<uint64_t>& labels,
                                    const std::vector<absl::string_view>& codes) {
  if (labels.size() != codes.size()) {
    return absl::InvalidArgumentError("labels and codes differ in length");
  }
  for (absl::string_view code : codes) {
    if (code.size() != CodeBytes(config_)) {
      return absl::InvalidArgumentError("code has " + std::to_string(code.size()) +
                                        " bytes, expected " + std::to_string(CodeBytes(config_)));
    }
  }
  std::lock_guard<std::mutex> write_lock(impl_->write_mu);
  {
    std::unique_lock<std::shared_mutex> lock(impl_->mu);
    try {
      impl_->EnsureCapacity(labels.size());
    } catch (const std::exception& e) {
      return FromException("HNSW resize", e);
    }
  }
  std::vector<uint64_t> buf;
  Impl::InsertPlan plan;
  for (size_t i = 0; i < labels.size(); ++i) {
    impl_->Prepare(config_, codes[i], &buf);
    try {
      impl_->Insert(buf.data(), labels[i], &plan);
    } catch (const std::exception& e) {
      return FromException("HNSW insert", e);
    }
    BackgroundYield();  // One insert (~0.2 ms) is a unit of background work.
  }
  return absl::OkStatus();
}

absl::StatusOr<bool> HnswIndex::Delete(uint64_t label) {
  std::lock_guard<std::mutex> write_lock(impl_->write_mu);
  std::unique_lock<std::shared_mutex> lock(impl_->mu);
  auto& h = *impl_->hnsw;
  auto it = h.label_lookup_.find(label);
  if (it == h.label_lookup_.end() || h.isMarkedDeleted(it->second)) return false;
  try {
    h.markDelete(label);
  } catch (const std::exception& e) {
    return FromException("HNSW delete", e);
  }
  return true;
}

absl::Status HnswIndex::Compact() {
  std::lock_guard<std::mutex> write_lock(impl_->write_mu);
  std::shared_lock<std::shared_mutex> read_lock(impl_->mu);
  auto& old = *impl_->hnsw;
  try {
    const size_t live = old.cur_element_count - old.num_deleted_;
    auto fresh = std::make_unique<hnswlib::HierarchicalNSW<float>>(
        impl_->space.get(), std::max<size_t>(live, config_.initial_capacity), config_.M,
        config_.ef_construction, config_.seed);
    for (hnswlib::tableint i = 0; i < old.cur_element_count; ++i) {
      if (old.isMarkedDeleted(i)) continue;
      fresh->addPoint(old.getDataByInternalId(i), old.getExternalLabel(i));
    }
    read_lock.unlock();
    std::unique_lock<std::shared_mutex> lock(impl_->mu);
    impl_->hnsw = std::move(fresh);
  } catch (const std::exception& e) {
    return FromException("HNSW compaction", e);
  }
  return absl::OkStatus();
}

absl::Status HnswIndex::SwapContents(HnswIndex* other) {
  if (other == this) return absl::OkStatus();
  if (other->config_.metric != config_.metric || other->config_.dim != config_.dim) {
    return absl::InvalidArgumentError("cannot swap indexes of different metric or dim");
  }
  // Lock both indexes' write_mu then mu, in address order (no deadlock with a reverse swap).
  HnswIndex* first = this < other ? this : other;
  HnswIndex* second = this < other ? other : this;
  std::lock_guard<std::mutex> w1(first->impl_->write_mu);
  std::lock_guard<std::mutex> w2(second->impl_->write_mu);
  std::unique_lock<std::shared_mutex> a(first->impl_->mu);
  std::unique_lock<std::shared_mutex> b(second->impl_->mu);
  std::swap(impl_->space, other->impl_->space);
  std::swap(impl_->hnsw, other->impl_->hnsw);
  return absl::OkStatus();
}

absl::StatusOr<std::vector<Neighbor>> HnswIndex::Search(absl::string_view query, size_t k,
                                                        size_t ef) const {
  return SearchWith(query, k, ef, /*hnswlib_base_layer=*/false);
}

absl::StatusOr<std::vector<Neighbor>> HnswIndex::SearchWithHnswlibForTesting(
    absl::string_view query, size_t k, size_t ef) const {
  return SearchWith(query, k, ef, /*hnswlib_base_layer=*/true);
}

absl::StatusOr<std::vector<Neighbor>> HnswIndex::SearchWith(absl::string_view query, size_t k,
                                                            size_t ef,
                                                            bool hnswlib_base_layer) const {
  if (k == 0) return absl::InvalidArgumentError("k must be > 0");
  if (query.size() != CodeBytes(config_)) {
    return absl::InvalidArgumentError("query has " + std::to_string(query.size()) +
                                      " bytes, expected " + std::to_string(CodeBytes(config_)));
  }
  if (ef == 0) ef = config_.default_ef;
  ef = std::max(ef, k);
  std::vector<uint64_t> buf;
  impl_->Prepare(config_, query, &buf);
  const void* q = buf.data();
  std::vector<Neighbor> out;
  std::shared_lock<std::shared_mutex> lock(impl_->mu);
  const auto& h = *impl_->hnsw;
  if (h.cur_element_count == h.num_deleted_) return out;
  try {
    // Greedy descent through the upper layers, then the base layer with a per-query ef.
    hnswlib::tableint cur = h.enterpoint_node_;
    if (!Descend(h, q, h.maxlevel_, 0, &cur)) return absl::InternalError("corrupt HNSW link");
    std::vector<Scored> found;
    if (hnswlib_base_layer) {
      auto top = h.num_deleted_ ? h.searchBaseLayerST<true, false>(cur, q, ef)
                                : h.searchBaseLayerST<false, false>(cur, q, ef);
      for (; !top.empty(); top.pop()) found.push_back(top.top());
    } else if (!(h.num_deleted_ ? SearchLayer0<true>(h, cur, q, ef, &found)
                                : SearchLayer0<false>(h, cur, q, ef, &found))) {
      return absl::InternalError("corrupt HNSW link");
    }
    const size_t keep = std::min(k, found.size());
    std::partial_sort(found.begin(), found.begin() + keep, found.end(), CompareLess());
    out.resize(keep);
    for (size_t i = 0; i < keep; ++i) {
      out[i] = Neighbor{h.getExternalLabel(found[i].second), found[i].first};
    }
  } catch (const std::exception& e) {
    return FromException("HNSW search", e);
  }
  return out;
}

absl::StatusOr<std::vector<Neighbor>> HnswIndex::SearchExact(absl::string_view query,
                                                             size_t k) const {
  if (k == 0) return absl::InvalidArgumentError("k must be > 0");
  if (query.size() != CodeBytes(config_)) {
    return absl::InvalidArgumentError("query has " + std::to_string(query.size()) +
                                      " bytes, expected " + std::to_string(CodeBytes(config_)));
  }
  std::vector<uint64_t> buf;
  impl_->Prepare(config_, query, &buf);
  auto worse = [](const Neighbor& a, const Neighbor& b) {
    return a.distance < b.distance || (a.distance == b.distance && a.label < b.label);
  };
  // Max-heap on (distance, label): top is the worst kept neighbour.
  std::priority_queue<Neighbor, std::vector<Neighbor>, decltype(worse)> heap(worse);
  std::shared_lock<std::shared_mutex> lock(impl_->mu);
  const auto& h = *impl_->hnsw;
  for (hnswlib::tableint i = 0; i < h.cur_element_count; ++i) {
    if (h.isMarkedDeleted(i)) continue;
    Neighbor n{h.getExternalLabel(i),
               h.fstdistfunc_(buf.data(), h.getDataByInternalId(i), h.dist_func_param_)};
    if (heap.size() < k) {
      heap.push(n);
    } else if (worse(n, heap.top())) {
      heap.pop();
      heap.push(n);
    }
  }
  std::vector<Neighbor> out(heap.size());
  for (size_t i = out.size(); i-- > 0;) {
    out[i] = heap.top();
    heap.pop();
  }
  return out;
}

bool HnswIndex::Contains(uint64_t label) const {
  std::shared_lock<std::shared_mutex> lock(impl_->mu);
  const auto& h = *impl_->hnsw;
  auto it = h.label_lookup_.find(label);
  return it != h.label_lookup_.end() && !h.isMarkedDeleted(it->second);
}

size_t HnswIndex::size() const {
  std::shared_lock<std::shared_mutex> lock(impl_->mu);
  return impl_->hnsw->cur_element_count - impl_->hnsw->num_deleted_;
}

size_t HnswIndex::deleted_count() const {
  std::shared_lock<std::shared_mutex> lock(impl_->mu);
  return impl_->hnsw->num_deleted_;
}

size_t HnswIndex::capacity() const {
  std::shared_lock<std::shared_mutex> lock(impl_->mu);
  return impl_->hnsw->max_elements_;
}

size_t HnswIndex::MemoryBytes() const {
  std::shared_lock<std::shared_mutex> lock(impl_->mu);
  const auto& h = *impl_->hnsw;
  size_t bytes = h.max_elements_ * h.size_data_per_element_;  // level 0 + vectors
  bytes += h.max_elements_ * (sizeof(char*) + sizeof(int) + sizeof(std::mutex));
  for (size_t i = 0; i < h.cur_element_count; ++i) {
    if (h.element_levels_[i] > 0) bytes += h.size_links_per_element_ * h.element_levels_[i];
  }
  bytes += hnswlib::HierarchicalNSW<float>::max_update_element_locks * sizeof(std::mutex);
  // unordered_map node (key, value, next pointer, cached hash) + bucket pointer.
  bytes += h.label_lookup_.size() * (sizeof(uint64_t) + 4 * sizeof(void*)) +
           h.label_lookup_.bucket_count() * sizeof(void*);
  bytes += h.max_elements_ * sizeof(hnswlib::vl_type);  // one visited list
  return bytes;
}

absl::Status HnswIndex::Serialize(std::string* out) const {
  MemFile file;
  if (!file.ok()) return absl::InternalError("memfd_create failed");
  std::shared_lock<std::shared_mutex> lock(impl_->mu);
  try {
    impl_->hnsw->saveIndex(file.path());
  } catch (const std::exception& e) {
    return FromException("saving HNSW index", e);
  }
  if (!file.ReadAll(out)) return absl::InternalError("reading memfd failed");
  return absl::OkStatus();
}

}  // namespace bn
