// Validation of an hnswlib 0.6.2 index body (what HierarchicalNSW::saveIndex writes) before
// loadIndex reads it. Pure byte parsing: no hnswlib header needed.
//
// Thread safety: a pure function.
#ifndef BOTTLENECK_ENGINE_INDEX_HNSW_BODY_H_
#define BOTTLENECK_ENGINE_INDEX_HNSW_BODY_H_

#include <cstddef>
#include <string>

#include "absl/strings/string_view.h"

namespace bn {

// What a validated body holds.
struct HnswBodyShape {
  size_t count = 0;         // cur_element_count
  size_t max_elements = 0;  // saved capacity
};

// hnswlib 0.6.2's loadIndex trusts its input: node counts, offsets, link counts and neighbour ids
// are used as they are, so a corrupt body means out-of-bounds reads and writes later (in
// searches and inserts) or huge allocations. This checks everything loadIndex and the graph
// walks rely on, against the layout saveIndex writes:
//   size_t offsetLevel0, max_elements, cur_element_count, size_data_per_element, label_offset,
//   offsetData | int maxlevel | u32 enterpoint | size_t maxM, maxM0, M | double mult |
//   size_t ef_construction | cur_element_count * size_data_per_element bytes of level-0 nodes
//   (u32 link count (low 16 bits; byte 2 bit 0: deleted), maxM0 u32 links, the vector, the
//   size_t label) | per node: u32 upper-link bytes, then level * (u32 count + maxM u32 links).
// Returns "" or what is wrong.
[[nodiscard]] std::string ValidateHnswBody(absl::string_view body, size_t data_bytes,
                                           HnswBodyShape* shape);

}  // namespace bn

#endif  // BOTTLENECK_ENGINE_INDEX_HNSW_BODY_H_
