// Filters over items' labels and metadata (bottleneck.v1.Filter, issue 24): validated and
// compiled once per request, then evaluated against the in-memory attributes of many items.
//
// Semantics: FieldMatch holds when the field (the item's label, or one metadata key) equals one
// of the values; an item without the key does not match. NumericRange holds when the value of a
// numeric metadata key (declared in CollectionSpec.numeric_metadata_keys) lies within the bounds.
// all_of / any_of / none_of are AND / OR / NOT.
//
// Limits (INVALID_ARGUMENT beyond them, naming the offending node by its path, e.g.
// "filter.all_of.filters[1].range: ..."): depth <= kMaxFilterDepth, nodes <= kMaxFilterNodes,
// 1..kMaxFilterValues values per match, 1..kMaxFilterChildren filters per list.
//
// Thread safety: a CompiledFilter is immutable; Matches may run concurrently.
#ifndef BOTTLENECK_SERVER_CORE_ITEM_FILTER_H_
#define BOTTLENECK_SERVER_CORE_ITEM_FILTER_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "bottleneck/v1/collection.pb.h"
#include "bottleneck/v1/common.pb.h"

namespace bn {

inline constexpr int kMaxFilterDepth = 8;
inline constexpr int kMaxFilterNodes = 256;
inline constexpr int kMaxFilterValues = 1024;
inline constexpr int kMaxFilterChildren = 64;

// What a filter can see of an item: its label and metadata, the metadata sorted by key, with the
// numeric value of each entry (NaN when it is not a finite decimal number).
struct ItemAttrs {
  std::string label;
  std::vector<std::pair<std::string, std::string>> metadata;
  std::vector<double> numbers;  // numbers[i] for metadata[i].

  static ItemAttrs FromItem(const bottleneck::v1::Item& item);
  // The value of `key`, or nullptr; `number` receives its numeric value.
  const std::string* Find(const std::string& key, double* number = nullptr) const;
};

// Parses a finite decimal number ("12", "-0.5", "1e3"; no "inf", "nan", hex or spaces; at most
// 64 characters). A value too small for a normal double is accepted, rounded as strtod rounds
// it (to a subnormal or to zero); one too large for a double is refused.
bool ParseFiniteNumber(const std::string& text, double* value);

// What the filter planner reads of a collection's secondary index (attribute_table.h).
class PostingLookup {
 public:
  virtual ~PostingLookup() = default;
  // Whether the label (on_label) or the metadata key `key` has posting lists.
  virtual bool Indexed(bool on_label, const std::string& key) const = 0;
  // The item numbers (ascending) whose label / value of `key` is `value`; nullptr when none.
  // Only for an Indexed field.
  virtual const std::vector<uint64_t>* Postings(bool on_label, const std::string& key,
                                                const std::string& value) const = 0;
  // Whether the metadata key `key` has a range index (items ordered by numeric value).
  virtual bool RangeIndexed(const std::string& key) const {
    (void)key;
    return false;
  }
  // The number of items whose numeric value v of `key` has lower <= v < upper (bounds may be
  // infinite). Only for a RangeIndexed key.
  virtual size_t RangeCount(const std::string& key, double lower, double upper) const {
    (void)key, (void)lower, (void)upper;
    return 0;
  }
  // Appends those items' numbers (in value order) to `out`. Only for a RangeIndexed key.
  virtual void RangeItems(const std::string& key, double lower, double upper,
                          std::vector<uint64_t>* out) const {
    (void)key, (void)lower, (void)upper, (void)out;
  }
};

// How a filter narrows with the index: `candidates` posting entries to read (an upper bound on
// the matches); `exact` when the candidates are exactly the matching items.
struct IndexPlan {
  size_t candidates = 0;
  bool exact = false;
};

class CompiledFilter {
 public:
  // Validates `filter` against the collection `spec` (numeric keys). `path` prefixes errors.
  [[nodiscard]] static absl::StatusOr<CompiledFilter> Compile(
      const bottleneck::v1::Filter& filter, const bottleneck::v1::CollectionSpec& spec,
      const std::string& path = "filter");

  bool Matches(const ItemAttrs& item) const { return Eval(root_, item); }

  // The index plan (filter_plan.cc): an equality / `in` on an indexed field gives its postings,
  // a range on a range-indexed key the items in it (both exact); all_of takes its child with the
  // fewest candidates; any_of the union of its children's when every child has a plan. none_of
  // has none. nullopt: the index does not narrow.
  std::optional<IndexPlan> PlanWithIndex(const PostingLookup& index) const;
  // The plan's candidates, ascending and unique: every matching item is among them. Requires
  // PlanWithIndex(index) to have a value.
  std::vector<uint64_t> IndexCandidates(const PostingLookup& index) const;

 private:
  struct Node {
    enum class Kind { kMatch, kRange, kAll, kAny, kNot } kind = Kind::kMatch;
    bool on_label = false;
    std::string key;
    std::vector<std::string> values;  // Sorted, unique.
    double lo = 0, hi = 0;
    bool has_lo = false, has_hi = false, lo_inclusive = true, hi_inclusive = true;
    std::vector<Node> children;
  };
  static bool Eval(const Node& node, const ItemAttrs& item);
  static std::optional<IndexPlan> Plan(const Node& node, const PostingLookup& index,
                                       size_t* best_child);
  static void Collect(const Node& node, const PostingLookup& index, std::vector<uint64_t>* out);
  // A range node's bounds as lower <= v < upper (PostingLookup::RangeCount).
  static std::pair<double, double> HalfOpen(const Node& node);
  Node root_;
};

}  // namespace bn

#endif  // BOTTLENECK_SERVER_CORE_ITEM_FILTER_H_
