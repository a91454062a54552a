// HnswIndex: an approximate nearest-neighbour index (an HNSW graph, hnswlib 0.6.2) over the codes
// of one (collection, model version), keyed by the store's stable item item numbers.
//
// Codes (the `code` / `query` bytes of every call) use the store's encoding:
//   kL2, kInnerProduct, kCosine   dim float32 values, little-endian (4 * dim bytes)
//   kHamming                      dim bits packed little-endian (bit i = byte i/8, bit i%8),
//                                 ceil(dim / 8) bytes
// Distances (smaller is closer): kL2 squared Euclidean; kInnerProduct 1 - <a, b>; kCosine
// 1 - <a/|a|, b/|b|> (a zero vector stays zero); kHamming the number of differing bits.
//
// Upserting an item number replaces its vector; deleted nodes keep routing searches until Compact()
// rebuilds the graph; capacity grows by doubling. Thread safety: every method may be called
// concurrently (searches share a reader lock, mutations are serialised and block searches only
// briefly; hnsw_index.cc has the details). No exception escapes: hnswlib's errors become
// Statuses (ResourceExhausted when out of memory).
#ifndef BOTTLENECK_ENGINE_INDEX_HNSW_INDEX_H_
#define BOTTLENECK_ENGINE_INDEX_HNSW_INDEX_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace bn {

enum class Metric : uint8_t { kL2 = 1, kInnerProduct = 2, kCosine = 3, kHamming = 4 };
const char* MetricName(Metric metric);

struct IndexConfig {
  Metric metric = Metric::kL2;
  uint32_t dim = 0;  // Floats per vector, or bits per code for kHamming. Must be > 0.
  uint32_t M = 16;   // HNSW out-degree (2*M on layer 0). 2..1000.
  uint32_t ef_construction = 200;
  uint32_t default_ef = 64;          // Used when Search gets ef == 0.
  uint64_t initial_capacity = 1024;  // Nodes allocated up front; grows by doubling.
  uint64_t seed = 100;               // Level generator seed (deterministic graphs in tests).
};

// Bytes of one code for `config` (4 * dim, or ceil(dim / 8) for kHamming).
size_t CodeBytes(const IndexConfig& config);
[[nodiscard]] absl::Status ValidateIndexConfig(const IndexConfig& config);

struct Neighbor {
  uint64_t item_no = 0;
  float distance = 0;
};

// A predicate on item numbers for filtered searches. Accept is called from the searching thread
// while the index's reader lock is held, at most once per node the search visits; it must not call
// back into the index.
class LabelFilter {
 public:
  virtual ~LabelFilter() = default;
  virtual bool Accept(uint64_t item_no) const = 0;
};

// The ef to give SearchFiltered for a request's `ef` under a filter estimated to accept
// `estimated_matches` of `items`: ef / sqrt(p) for the selectivity p = estimated_matches / items,
// at most kMaxFilteredEfFactor * ef, never below ef. The walk stops once it holds ef matches
// and no candidate is closer than the farthest of them; when the matches are correlated with the
// vectors (they sit in regions away from the query) the first ef matches it holds come from the
// nearest matching region it reached, not necessarily the nearest matching items: a wider ef
// makes it look further. When MatchesScarceNearQuery says so, callers scan the matches exactly
// if that is cheap enough, else walk again with this ef (bench/RESULTS-vector-db.md,
// "Correlated filters").
constexpr size_t kMaxFilteredEfFactor = 8;
size_t FilteredSearchEf(size_t ef, size_t estimated_matches, size_t items);

// What a filtered walk saw: of the nodes it considered for its result (tested with the filter),
// how many the filter accepted.
struct FilteredWalkStats {
  size_t tested = 0;
  size_t accepted = 0;
};

// True when the walk accepted under half the share of the nodes it tested that the filter's
// estimated selectivity (estimated_matches / items) predicts: the matches are scarce around the
// query (correlated with the vectors), so its ef matches may come from a region that is not the
// nearest matching one, and an exact scan of the matches or a wider walk (FilteredSearchEf) is
// worth it. A filter independent of
// the vectors accepts about that share wherever the walk goes.
bool MatchesScarceNearQuery(const FilteredWalkStats& stats, size_t estimated_matches, size_t items);

class HnswIndex {
 public:
  // InvalidArgument for a bad config; ResourceExhausted when the capacity cannot be allocated.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<HnswIndex>> Create(const IndexConfig& config);
  // Loads an index body written by Serialize() with the same metric and dim (M and
  // ef_construction come from the body). DataLoss when the body is malformed: its layout, node
  // count, levels, entry point, every link and the item numbers' uniqueness are checked before
  // hnswlib (which trusts its input) reads it. The saved capacity is capped at max(node count,
  // min(saved, max(2 * node count, config.initial_capacity))).
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<HnswIndex>> Deserialize(
      const IndexConfig& config, absl::string_view body);
  ~HnswIndex();
  HnswIndex(const HnswIndex&) = delete;
  HnswIndex& operator=(const HnswIndex&) = delete;

  // Inserts or replaces the vector of `item number`. InvalidArgument when code.size() !=
  // CodeBytes(config()); ResourceExhausted when growing fails.
  [[nodiscard]] absl::Status Upsert(uint64_t item_no, absl::string_view code);
  // Same for many codes (codes[i] for item numbers[i]): one growth step for the whole batch, then
  // one exclusive section per item (searches run between items). Inserted by one thread. On error,
  // the codes before the failing one are in the index.
  [[nodiscard]] absl::Status UpsertBatch(const std::vector<uint64_t>& item_nos,
                                         const std::vector<absl::string_view>& codes);
  // Marks `item number` deleted. Returns false (OK) when it is absent or already deleted.
  [[nodiscard]] absl::StatusOr<bool> Delete(uint64_t item_no);
  // Rebuilds the graph from the live vectors, dropping deleted nodes and their slots.
  [[nodiscard]] absl::Status Compact();
  // Replaces this index's contents with `other`'s (same metric and dim required, else
  // InvalidArgument), under the writer lock; `other` is left holding the old contents. Lets a
  // shared index be rebuilt without invalidating references to it.
  [[nodiscard]] absl::Status SwapContents(HnswIndex* other);

  // Up to k nearest live item numbers, closest first. ef = 0 uses config().default_ef; the
  // effective ef is max(ef, k). InvalidArgument for k == 0 or a query of the wrong size.
  [[nodiscard]] absl::StatusOr<std::vector<Neighbor>> Search(absl::string_view query, size_t k,
                                                             size_t ef = 0) const;
  // Search restricted to item numbers `filter` accepts: the base-layer walk goes through every node
  // but collects only accepted ones, and runs until it holds max(ef, k) accepted nodes or has
  // exhausted the graph reachable from the entry point. So k neighbours come back whenever k
  // accepted item numbers exist (barring a disconnected graph); a very selective filter makes the
  // walk visit much of the graph (use SearchExactAmong then). With max_visits > 0 the walk
  // stops after computing that many distances and sets *gave_up (then the result is partial).
  [[nodiscard]] absl::StatusOr<std::vector<Neighbor>> SearchFiltered(
      absl::string_view query, size_t k, size_t ef, const LabelFilter& filter,
      size_t max_visits = 0, bool* gave_up = nullptr, FilteredWalkStats* stats = nullptr) const;
  // Exact k nearest among `item numbers` (absent or deleted item numbers are skipped; duplicates
  // count once), closest first; ties broken by smaller item number.
  [[nodiscard]] absl::StatusOr<std::vector<Neighbor>> SearchExactAmong(
      absl::string_view query, size_t k, const std::vector<uint64_t>& item_nos) const;
  // Search with hnswlib's own base-layer search (searchBaseLayerST) in place of ours, for tests
  // that check that ours returns the same neighbours from the same graph.
  [[nodiscard]] absl::StatusOr<std::vector<Neighbor>> SearchWithHnswlibForTesting(
      absl::string_view query, size_t k, size_t ef) const;
  // Exact k nearest live item numbers by scanning every node (same distances), closest first; ties
  // broken by smaller item number.
  [[nodiscard]] absl::StatusOr<std::vector<Neighbor>> SearchExact(absl::string_view query,
                                                                  size_t k) const;
  // SearchExact restricted to item numbers `filter` accepts (all when nullptr). The filter is
  // asked only about nodes whose distance would place them in the k nearest so far, so an
  // unselective filter costs little more than SearchExact (a selective one is better served by
  // SearchExactAmong over its matches).
  [[nodiscard]] absl::StatusOr<std::vector<Neighbor>> SearchExactFiltered(
      absl::string_view query, size_t k, const LabelFilter* filter) const;

  bool Contains(uint64_t item_no) const;
  size_t size() const;           // Live (not deleted) item numbers.
  size_t deleted_count() const;  // Nodes marked deleted.
  size_t capacity() const;       // Allocated nodes.
  // Approximate bytes held: node storage (vectors + layer-0 links + item numbers), upper-layer
  // links, per-node locks and levels, the item number hash map and one visited list.
  size_t MemoryBytes() const;
  // Appends the hnswlib saveIndex body (not our snapshot header: see serving_index.h) to *out.
  // Holds the reader lock while it copies the graph (one memcpy of the layer-0 block, one per
  // node with upper layers): searches go on, mutations wait to link their node.
  // ResourceExhausted when out of memory.
  [[nodiscard]] absl::Status Serialize(std::string* out) const;
  // The same bytes through hnswlib's own saveIndex (a memfd), replacing *out: for the test that
  // checks Serialize writes exactly what saveIndex writes.
  [[nodiscard]] absl::Status SerializeWithHnswlibForTesting(std::string* out) const;
  const IndexConfig& config() const { return config_; }

  struct Impl;

 private:
  absl::Status CheckQuery(absl::string_view query, size_t k) const;
  HnswIndex(const IndexConfig& config, std::unique_ptr<Impl> impl);
  absl::StatusOr<std::vector<Neighbor>> SearchWith(absl::string_view query, size_t k, size_t ef,
                                                   bool hnswlib_base_layer,
                                                   const LabelFilter* filter = nullptr,
                                                   size_t max_visits = 0, bool* gave_up = nullptr,
                                                   FilteredWalkStats* stats = nullptr) const;
  IndexConfig config_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace bn

#endif  // BOTTLENECK_ENGINE_INDEX_HNSW_INDEX_H_
