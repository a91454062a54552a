// hnswlib 0.6.2's saveIndex format written straight into memory: the same bytes as
// HierarchicalNSW::saveIndex (checked by HnswIndexTest.SerializeWritesWhatHnswlibSaveIndexWrites),
// without its std::ofstream (one small write per node) through a memfd and the copy back.
// ServingIndex::SaveSnapshot holds its catch-up lock only while this runs, so its speed is
// how long a snapshot delays writes (bench/RESULTS-vector-db.md).
//
// Internal to engine/index/hnsw_index.cc, its only includer (hnswlib's headers define non-inline
// globals). Reads the graph only: the caller holds the index's reader lock.
#ifndef BOTTLENECK_ENGINE_INDEX_HNSW_SAVE_H_
#define BOTTLENECK_ENGINE_INDEX_HNSW_SAVE_H_

#include <cstring>
#include <string>

#include "hnswlib/hnswlib.h"

namespace bn {
namespace hnsw_internal {
namespace {

template <typename T>
void PutPod(const T& value, std::string* out) {
  out->append(reinterpret_cast<const char*>(&value), sizeof(T));
}

// Appends the saveIndex body of `h` to `*out`: the header fields in saveIndex's order and types,
// the layer-0 block of every node (links, vector, item number), then per node the byte size of its
// upper-layer links (u32) followed by them. The body is reserved at its exact size once the
// header is written (no zero-filling).
void AppendSaveIndexBody(const hnswlib::HierarchicalNSW<float>& h, std::string* out) {
  const size_t count = h.cur_element_count;
  const size_t level0 = count * h.size_data_per_element_;
  size_t upper = 0;
  for (size_t i = 0; i < count; ++i) {
    if (h.element_levels_[i] > 0) upper += h.size_links_per_element_ * h.element_levels_[i];
  }
  PutPod(h.offsetLevel0_, out);
  PutPod(h.max_elements_, out);
  PutPod(h.cur_element_count, out);
  PutPod(h.size_data_per_element_, out);
  PutPod(h.label_offset_, out);
  PutPod(h.offsetData_, out);
  PutPod(h.maxlevel_, out);
  PutPod(h.enterpoint_node_, out);
  PutPod(h.maxM_, out);
  PutPod(h.maxM0_, out);
  PutPod(h.M_, out);
  PutPod(h.mult_, out);
  PutPod(h.ef_construction_, out);
  out->reserve(out->size() + level0 + count * sizeof(unsigned int) + upper);
  out->append(h.data_level0_memory_, level0);
  for (size_t i = 0; i < count; ++i) {
    const unsigned int bytes =
        h.element_levels_[i] > 0
            ? static_cast<unsigned int>(h.size_links_per_element_ * h.element_levels_[i])
            : 0;
    PutPod(bytes, out);
    if (bytes > 0) out->append(h.linkLists_[i], bytes);
  }
}

}  // namespace
}  // namespace hnsw_internal
}  // namespace bn

#endif  // BOTTLENECK_ENGINE_INDEX_HNSW_SAVE_H_
