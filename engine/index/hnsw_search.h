// The HNSW index's own graph walks over an hnswlib 0.6.2 graph: the greedy descent through the
// upper layers and the layer-0 search, which visits what hnswlib's searchBaseLayerST visits with
// more cache misses in flight (notes beside SearchLayer0).
//
// Internal to engine/index/hnsw_index.cc, its only includer: hnswlib's headers define non-inline
// globals, so a single translation unit of the engine may include them. The functions only read
// the graph (callers hold the index's reader lock) and return false on a link outside the graph.
#ifndef BOTTLENECK_ENGINE_INDEX_HNSW_SEARCH_H_
#define BOTTLENECK_ENGINE_INDEX_HNSW_SEARCH_H_

#include <algorithm>
#include <cstddef>
#include <limits>
#include <queue>
#include <utility>
#include <vector>

#include "engine/index/hnsw_index.h"
#include "engine/index/visited_bits.h"
#include "hnswlib/hnswlib.h"

namespace bn {
namespace hnsw_internal {
// Unnamed on purpose: this header is part of hnsw_index.cc's translation unit, and internal
// linkage keeps the compiler's code for it what it was when it lived in that file.
namespace {

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
//
// Generalised for filtered search: only nodes for which keep(id) holds are collected, every node
// routes the walk (as hnswlib does with deleted nodes). kMayReject must be true when keep can
// return false: the walk then goes on until `ef` kept nodes were found (or the reachable graph is
// exhausted) instead of stopping at the first candidate beyond the bound.
//
// `max_visits` (0: none) bounds the distances computed: past it the walk stops early and sets
// *gave_up (a filter whose matches lie far from the query makes the walk visit most of the
// graph before it holds `ef` of them; the caller then scans the matches instead). `stats`
// (optional) counts the nodes tested with keep and those it accepted.
template <bool kMayReject, typename Keep>
bool SearchLayer0Keep(const hnswlib::HierarchicalNSW<float>& h, hnswlib::tableint entry,
                      const void* q, size_t ef, const Keep& keep, std::vector<Scored>* out,
                      size_t max_visits = 0, bool* gave_up = nullptr,
                      FilteredWalkStats* stats = nullptr) {
  size_t visits = 0, tested = 0, accepted = 0;
  constexpr bool kHasDeletions = kMayReject;
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
  ++tested;
  if (!kHasDeletions || keep(entry)) {
    ++accepted;
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
    visits += n;
    if (max_visits != 0 && visits > max_visits) {
      *gave_up = true;
      break;
    }
    for (size_t j = 0; j < n; ++j) {
      const hnswlib::tableint id = fresh[j];
      const float d = h.fstdistfunc_(q, data_of(id), h.dist_func_param_);
      if (!top.full() || d < bound) {
        candidates.emplace(d, id);
        prefetch(nodes + size_t{id} * stride, list_bytes);  // Likely expanded soon.
        ++tested;
        if (!kHasDeletions || keep(id)) {
          ++accepted;
          top.Add({d, id});
        }
        if (top.size() > 0) bound = top.bound();
      }
    }
  }
  out->swap(top.pairs());
  if (stats != nullptr) *stats = FilteredWalkStats{tested, accepted};
  return true;
}

// The unfiltered base-layer search: deleted nodes route but are not collected.
template <bool kHasDeletions>
bool SearchLayer0(const hnswlib::HierarchicalNSW<float>& h, hnswlib::tableint entry, const void* q,
                  size_t ef, std::vector<Scored>* out) {
  auto live = [&h](hnswlib::tableint id) { return !h.isMarkedDeleted(id); };
  return SearchLayer0Keep<kHasDeletions>(h, entry, q, ef, live, out);
}

}  // namespace
}  // namespace hnsw_internal
}  // namespace bn

#endif  // BOTTLENECK_ENGINE_INDEX_HNSW_SEARCH_H_
