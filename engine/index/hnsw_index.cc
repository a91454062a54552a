#include "engine/index/hnsw_index.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>
#include <queue>
#include <shared_mutex>
#include <stdexcept>

#include "engine/index/hnsw_body.h"
#include "engine/index/hnsw_save.h"
#include "engine/index/hnsw_search.h"
#include "engine/index/hnsw_spaces.h"
#include "engine/index/mem_file.h"
#include "engine/util/background.h"
#include "hnswlib/hnswlib.h"

// The HNSW index over hnswlib 0.6.2. hnswlib's headers define non-inline globals, so this is the
// only translation unit of the engine that includes them (with hnsw_spaces.h and hnsw_search.h).
//
// Codes: Hamming codes are padded internally to 64-bit words (popcount over words); cosine
// vectors are normalised on insert and on query.
//
// Upsert / delete / space reuse: Upsert of a new item number adds a node. Upsert of an existing
// item number (live or deleted) marks its old node deleted and adds a new node that the item number
// then maps to (cheaper than hnswlib's in-place updatePoint, which re-links the whole neighbourhood
// under the writer lock). Delete marks the node deleted: it stays in the graph as a routing node
// and is never returned. Slots of deleted nodes are reclaimed by Compact() (a rebuild of the graph
// from the live vectors held in the index), which ServingIndex runs when deleted nodes exceed half
// the nodes. Growth: when full, the capacity doubles with hnswlib's resizeIndex (no rebuild).
//
// Locking: searches (Search, SearchExact, Serialize, size/MemoryBytes) share a reader lock;
// mutations (Upsert, UpsertBatch, Delete, SwapContents) are serialized by a writer mutex and take
// the reader lock exclusively only while they change the graph. An insert finds its neighbours
// under the SHARED lock (the expensive part, alongside searches) and links the node under the
// exclusive one, one item at a time: a search waits for at most one link step, never for a batch,
// and may see part of a batch. Compact builds the new graph while holding the reader lock SHARED
// (searches continue, other mutations wait) and takes it exclusively only to swap graphs. Why
// writers are exclusive: in 0.6.2, addPoint is thread-safe against other addPoint calls (per-node
// link_list_locks_), but searchKnn/searchBaseLayerST read neighbour lists WITHOUT those locks, so
// a search concurrent with an insert is a data race; resizeIndex reallocates everything.
//
// Search does not use hnswlib's searchKnn (which reads the shared ef_ and bumps unsynchronised
// metric counters): it runs the same greedy descent with a per-query ef, and its own base-layer
// search (hnsw_search.h), which visits what hnswlib's searchBaseLayerST visits but keeps many
// cache misses in flight (and a per-thread visited bitset); float distances use the CPU's widest
// kernel (engine/index/distance.h).

namespace bn {
namespace {

using hnsw_internal::CompareLess;
using hnsw_internal::Descend;
using hnsw_internal::MakeSpace;
using hnsw_internal::Scored;
using hnsw_internal::SearchLayer0;
using hnsw_internal::SearchLayer0Keep;

absl::Status FromException(const char* what, const std::exception& e) {
  if (dynamic_cast<const std::bad_alloc*>(&e) != nullptr) {
    return absl::ResourceExhaustedError(std::string(what) + ": out of memory");
  }
  return absl::InternalError(std::string(what) + ": " + e.what());
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

size_t FilteredSearchEf(size_t ef, size_t estimated_matches, size_t items) {
  if (items == 0 || estimated_matches >= items) return ef;
  const double p = static_cast<double>(std::max<size_t>(estimated_matches, 1)) / items;
  const double factor = std::min<double>(kMaxFilteredEfFactor, 1 / std::sqrt(p));
  return std::max(ef, static_cast<size_t>(static_cast<double>(ef) * factor));
}

bool MatchesScarceNearQuery(const FilteredWalkStats& stats, size_t estimated_matches,
                            size_t items) {
  // accepted / tested < p / 2 for p = estimated_matches / items.
  return items != 0 &&
         2.0 * static_cast<double>(stats.accepted) * static_cast<double>(items) <
             static_cast<double>(stats.tested) * static_cast<double>(estimated_matches);
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

  // Adds `item number`'s node as planned. An existing node of the item number is marked deleted and
  // its item number mapped to the new node (hnswlib's loadIndex maps an item number to its last
  // node, so snapshots keep this); capacity must have been ensured.
  void Link(const void* q, uint64_t item_no, InsertPlan* plan) {
    auto& h = *hnsw;
    if (h.cur_element_count >= h.max_elements_) {
      throw std::runtime_error("The number of elements exceeds the specified limit");
    }
    if (auto it = h.label_lookup_.find(item_no); it != h.label_lookup_.end()) {
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
    hnswlib::labeltype external = item_no;
    std::memcpy(h.getExternalLabeLp(id), &external, sizeof(external));
    std::memcpy(h.getDataByInternalId(id), q, h.data_size_);
    h.linkLists_[id] = links;
    h.element_levels_[id] = plan->level;
    h.cur_element_count++;
    h.label_lookup_[item_no] = id;
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
  void Insert(const void* q, uint64_t item_no, InsertPlan* plan) {
    {
      std::shared_lock<std::shared_mutex> read(mu);
      Plan(q, plan);
    }
    std::unique_lock<std::shared_mutex> lock(mu);
    Link(q, item_no, plan);
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
  // A item number may have older nodes, all deleted (an upsert of an existing item number adds a
  // node); its live node, if any, must be the one the item number maps to, so no two live nodes
  // share an item number.
  for (hnswlib::tableint i = 0; i < h.cur_element_count; ++i) {
    if (h.isMarkedDeleted(i)) continue;
    auto it = h.label_lookup_.find(h.getExternalLabel(i));
    if (it == h.label_lookup_.end() || it->second != i) {
      return absl::DataLossError("malformed HNSW index body: duplicate item numbers");
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

absl::Status HnswIndex::Upsert(uint64_t item_no, absl::string_view code) {
  return UpsertBatch({item_no}, {code});
}

absl::Status HnswIndex::UpsertBatch(const std::vector<uint64_t>& item_nos,
                                    const std::vector<absl::string_view>& codes) {
  if (item_nos.size() != codes.size()) {
    return absl::InvalidArgumentError("item numbers and codes differ in length");
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
      impl_->EnsureCapacity(item_nos.size());
    } catch (const std::exception& e) {
      return FromException("HNSW resize", e);
    }
  }
  std::vector<uint64_t> buf;
  Impl::InsertPlan plan;
  for (size_t i = 0; i < item_nos.size(); ++i) {
    impl_->Prepare(config_, codes[i], &buf);
    try {
      impl_->Insert(buf.data(), item_nos[i], &plan);
    } catch (const std::exception& e) {
      return FromException("HNSW insert", e);
    }
    BackgroundYield();  // One insert (~0.2 ms) is a unit of background work.
  }
  return absl::OkStatus();
}

absl::StatusOr<bool> HnswIndex::Delete(uint64_t item_no) {
  std::lock_guard<std::mutex> write_lock(impl_->write_mu);
  std::unique_lock<std::shared_mutex> lock(impl_->mu);
  auto& h = *impl_->hnsw;
  auto it = h.label_lookup_.find(item_no);
  if (it == h.label_lookup_.end() || h.isMarkedDeleted(it->second)) return false;
  try {
    h.markDelete(item_no);
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

absl::StatusOr<std::vector<Neighbor>> HnswIndex::SearchFiltered(absl::string_view query, size_t k,
                                                                size_t ef,
                                                                const LabelFilter& filter,
                                                                size_t max_visits, bool* gave_up,
                                                                FilteredWalkStats* stats) const {
  bool ignored = false;
  if (gave_up == nullptr) gave_up = &ignored;
  *gave_up = false;
  return SearchWith(query, k, ef, /*hnswlib_base_layer=*/false, &filter, max_visits, gave_up,
                    stats);
}

absl::StatusOr<std::vector<Neighbor>> HnswIndex::SearchWith(absl::string_view query, size_t k,
                                                            size_t ef, bool hnswlib_base_layer,
                                                            const LabelFilter* filter,
                                                            size_t max_visits, bool* gave_up,
                                                            FilteredWalkStats* stats) const {
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
    if (filter != nullptr) {
      auto keep = [&h, filter](hnswlib::tableint id) {
        return !h.isMarkedDeleted(id) && filter->Accept(h.getExternalLabel(id));
      };
      if (!SearchLayer0Keep<true>(h, cur, q, ef, keep, &found, max_visits, gave_up, stats)) {
        return absl::InternalError("corrupt HNSW link");
      }
    } else if (hnswlib_base_layer) {
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

namespace {

// The k nearest seen so far: a max-heap on (distance, item number), top = the worst kept.
class TopK {
 public:
  explicit TopK(size_t k) : k_(k) { heap_.reserve(k + 1); }
  // Whether a neighbour at `distance` with `item_no` would be kept.
  bool Wants(float distance, uint64_t item_no) const {
    return heap_.size() < k_ || Worse(Neighbor{item_no, distance}, heap_.front());
  }
  void Push(const Neighbor& n) {
    heap_.push_back(n);
    std::push_heap(heap_.begin(), heap_.end(), Worse);
    if (heap_.size() > k_) {
      std::pop_heap(heap_.begin(), heap_.end(), Worse);
      heap_.pop_back();
    }
  }
  bool Holds(uint64_t item_no) const {
    return std::any_of(heap_.begin(), heap_.end(),
                       [&](const Neighbor& n) { return n.item_no == item_no; });
  }
  std::vector<Neighbor> Take() {
    std::sort_heap(heap_.begin(), heap_.end(), Worse);
    return std::move(heap_);
  }

 private:
  static bool Worse(const Neighbor& a, const Neighbor& b) {
    return a.distance < b.distance || (a.distance == b.distance && a.item_no < b.item_no);
  }
  const size_t k_;
  std::vector<Neighbor> heap_;
};

}  // namespace

absl::Status HnswIndex::CheckQuery(absl::string_view query, size_t k) const {
  if (k == 0) return absl::InvalidArgumentError("k must be > 0");
  if (query.size() != CodeBytes(config_)) {
    return absl::InvalidArgumentError("query has " + std::to_string(query.size()) +
                                      " bytes, expected " + std::to_string(CodeBytes(config_)));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<Neighbor>> HnswIndex::SearchExact(absl::string_view query,
                                                             size_t k) const {
  return SearchExactFiltered(query, k, nullptr);
}

absl::StatusOr<std::vector<Neighbor>> HnswIndex::SearchExactFiltered(
    absl::string_view query, size_t k, const LabelFilter* filter) const {
  if (absl::Status s = CheckQuery(query, k); !s.ok()) return s;
  std::vector<uint64_t> buf;
  impl_->Prepare(config_, query, &buf);
  TopK top(k);
  std::shared_lock<std::shared_mutex> lock(impl_->mu);
  const auto& h = *impl_->hnsw;
  for (hnswlib::tableint i = 0; i < h.cur_element_count; ++i) {
    if (h.isMarkedDeleted(i)) continue;
    const float d = h.fstdistfunc_(buf.data(), h.getDataByInternalId(i), h.dist_func_param_);
    const uint64_t item_no = h.getExternalLabel(i);
    // The distance first: the filter runs only for items that would enter the top k.
    if (!top.Wants(d, item_no)) continue;
    if (filter != nullptr && !filter->Accept(item_no)) continue;
    top.Push(Neighbor{item_no, d});
  }
  return top.Take();
}

absl::StatusOr<std::vector<Neighbor>> HnswIndex::SearchExactAmong(
    absl::string_view query, size_t k, const std::vector<uint64_t>& item_nos) const {
  if (absl::Status s = CheckQuery(query, k); !s.ok()) return s;
  std::vector<uint64_t> buf;
  impl_->Prepare(config_, query, &buf);
  TopK top(k);
  std::shared_lock<std::shared_mutex> lock(impl_->mu);
  const auto& h = *impl_->hnsw;
  for (uint64_t item_no : item_nos) {
    auto it = h.label_lookup_.find(item_no);
    if (it == h.label_lookup_.end() || h.isMarkedDeleted(it->second)) continue;
    const float d =
        h.fstdistfunc_(buf.data(), h.getDataByInternalId(it->second), h.dist_func_param_);
    if (top.Wants(d, item_no) && !top.Holds(item_no)) top.Push(Neighbor{item_no, d});
  }
  return top.Take();
}

bool HnswIndex::Contains(uint64_t item_no) const {
  std::shared_lock<std::shared_mutex> lock(impl_->mu);
  const auto& h = *impl_->hnsw;
  auto it = h.label_lookup_.find(item_no);
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
  std::shared_lock<std::shared_mutex> lock(impl_->mu);
  try {
    hnsw_internal::AppendSaveIndexBody(*impl_->hnsw, out);
  } catch (const std::exception& e) {
    return FromException("serializing HNSW index", e);
  }
  return absl::OkStatus();
}

absl::Status HnswIndex::SerializeWithHnswlibForTesting(std::string* out) const {
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
