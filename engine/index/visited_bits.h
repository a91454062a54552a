// VisitedBits: the nodes one graph search has visited, as a bitset owned by the calling thread
// (used by the HNSW layer-0 search, engine/index/hnsw_search.h).
//
// 1 bit per node (128 KiB for 1M nodes, which stays in L2, where hnswlib's 16-bit tags take
// 2 MiB), cleared after each search through the list of words it touched. Reusable across
// indexes and searches on the same thread; not reentrant, not shared between threads.
#ifndef BOTTLENECK_ENGINE_INDEX_VISITED_BITS_H_
#define BOTTLENECK_ENGINE_INDEX_VISITED_BITS_H_

#include <cstddef>
#include <cstdint>
#include <vector>

namespace bn {

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

}  // namespace bn

#endif  // BOTTLENECK_ENGINE_INDEX_VISITED_BITS_H_
