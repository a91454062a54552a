// The index part of a filtered search (issue 24): picks, per query, between
//   - the exact scan of the candidates the secondary index names (CompiledFilter::PlanWithIndex,
//     attribute_table.h) when they are fewer than IndexedScanThreshold() and than 1/8 of the
//     items (at 1M items the walk and this scan ran at about the same QPS at 50,000 uncorrelated
//     candidates; the scan was 10x faster at 10,000 and 5x faster for 100,000 candidates
//     correlated with the vectors),
//   - the filtered HNSW walk (with its budget and the scarce-matches check), and
//   - the exact scan of the matches (few estimated matches, or the walk gave up / came back
//     short): over the matching item numbers when they are few, else over every node with the
//     filter asked only about nodes that would enter the top k (HnswIndex::SearchExactFiltered).
// Every exact path returns the same neighbours (ties broken by smaller item number).
// bench/RESULTS-vector-db.md has the measured crossovers.
#ifndef BOTTLENECK_SERVER_CORE_FILTERED_SEARCH_H_
#define BOTTLENECK_SERVER_CORE_FILTERED_SEARCH_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/index/serving_index.h"
#include "server/core/attribute_table.h"
#include "server/core/item_filter.h"

namespace bn {

// Below this many estimated matching items a filtered search scans them exactly instead of
// walking the graph. BN_FILTER_EXACT_BELOW overrides it (0: always walk the graph, without the
// walk's budget), for benchmarks.
size_t ExactScanThreshold();
// Below this many index candidates (and 1/8 of the items) a filtered search scans the candidates
// exactly.
// BN_FILTER_INDEXED_EXACT_BELOW overrides it, for benchmarks.
size_t IndexedScanThreshold();

// The k nearest items matching `filter` (other than `exclude`; 0: none), closest first. ef as in
// SearchRequest; `exact` forces an exact path.
[[nodiscard]] absl::StatusOr<std::vector<Neighbor>> SearchFilteredIndex(
    const AttributeTable::Reader& attrs, const ServingIndex& index, const CompiledFilter& filter,
    const std::string& code, uint64_t exclude, uint32_t k, uint32_t ef, bool exact);

}  // namespace bn

#endif  // BOTTLENECK_SERVER_CORE_FILTERED_SEARCH_H_
