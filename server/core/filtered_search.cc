#include "server/core/filtered_search.h"

#include <algorithm>
#include <cstdlib>
#include <optional>

namespace bn {

namespace {

constexpr size_t kDefaultExactScanBelow = 2000;
constexpr size_t kDefaultIndexedScanBelow = 50000;
constexpr size_t kIndexedScanMaxShare = 8;  // ... and below 1/8 of the items.
constexpr size_t kWalkBudgetDivisor = 8;

size_t EnvSize(const char* name, size_t fallback) {
  const char* env = std::getenv(name);
  double v;
  if (env != nullptr && ParseFiniteNumber(env, &v) && v >= 0) return static_cast<size_t>(v);
  return fallback;
}

// Accepts the item numbers of items matching a filter (and not the query item).
class AttributeFilter : public LabelFilter {
 public:
  AttributeFilter(const AttributeTable::Reader& attrs, const CompiledFilter& filter,
                  uint64_t exclude)
      : attrs_(attrs), filter_(filter), exclude_(exclude) {}
  bool Accept(uint64_t item_no) const override {
    if (item_no == exclude_) return false;
    const ItemAttrs* item = attrs_.Find(item_no);
    return item != nullptr && filter_.Matches(*item);
  }

 private:
  const AttributeTable::Reader& attrs_;
  const CompiledFilter& filter_;
  const uint64_t exclude_;
};

std::vector<uint64_t> Without(std::vector<uint64_t> item_nos, uint64_t exclude) {
  item_nos.erase(std::remove(item_nos.begin(), item_nos.end(), exclude), item_nos.end());
  return item_nos;
}

}  // namespace

size_t ExactScanThreshold() {
  static const size_t threshold = EnvSize("BN_FILTER_EXACT_BELOW", kDefaultExactScanBelow);
  return threshold;
}

size_t IndexedScanThreshold() {
  static const size_t threshold =
      EnvSize("BN_FILTER_INDEXED_EXACT_BELOW", kDefaultIndexedScanBelow);
  return threshold;
}

absl::StatusOr<std::vector<Neighbor>> SearchFilteredIndex(const AttributeTable::Reader& attrs,
                                                          const ServingIndex& index,
                                                          const CompiledFilter& filter,
                                                          const std::string& code, uint64_t exclude,
                                                          uint32_t k, uint32_t ef, bool exact) {
  const AttributeFilter accept(attrs, filter, exclude);
  const std::optional<IndexPlan> plan = filter.PlanWithIndex(attrs);
  const size_t items = attrs.size();
  // The index names few candidates: the exact answer among them beats any walk.
  if (plan && ((plan->candidates < IndexedScanThreshold() &&
                plan->candidates < items / kIndexedScanMaxShare) ||
               (exact && plan->candidates < items / 4))) {
    return index.SearchExactAmong(code, k, Without(attrs.Matching(filter), exclude));
  }
  // An exact plan counts the matches; otherwise a sample estimates them (the plan bounds them).
  size_t estimate = plan && plan->exact ? plan->candidates : attrs.EstimateMatches(filter);
  if (plan) estimate = std::min(estimate, plan->candidates);
  // The exact scan: over the matches when they are few (or the index lists them), else over
  // every node, asking the filter only about nodes that would enter the top k.
  auto scan = [&]() -> absl::StatusOr<std::vector<Neighbor>> {
    if (estimate < ExactScanThreshold() || (plan && plan->candidates < items / 4)) {
      return index.SearchExactAmong(code, k, Without(attrs.Matching(filter), exclude));
    }
    return index.SearchExactFiltered(code, k, &accept);
  };
  if (exact || estimate < ExactScanThreshold()) return scan();

  const size_t walk_ef = std::max<size_t>(k, ef != 0 ? ef : index.index().config().default_ef);
  bool gave_up = false;
  // The walk may compute at most this many distances (a scan of the matches is cheaper beyond
  // it: bench/RESULTS-vector-db.md).
  auto budget = [&](size_t walk) -> size_t {
    return ExactScanThreshold() == 0 ? 0 : std::max<size_t>(items / kWalkBudgetDivisor, 16 * walk);
  };
  FilteredWalkStats stats;
  auto found = index.SearchFiltered(code, k, walk_ef, accept, budget(walk_ef), &gave_up, &stats);
  if (!found.ok()) return found.status();
  // Matches scarce around the query (a filter correlated with the vectors): the walk's matches
  // may come from a matching region that is not the nearest. Scan the matches when that costs no
  // more distances than a walk may compute, else walk again, wider.
  const size_t wide_ef = FilteredSearchEf(walk_ef, estimate, items);
  if (!gave_up && wide_ef > walk_ef && MatchesScarceNearQuery(stats, estimate, items)) {
    const size_t wide_budget = budget(wide_ef);
    if (wide_budget != 0 && estimate <= wide_budget) {
      gave_up = true;
    } else {
      found = index.SearchFiltered(code, k, wide_ef, accept, wide_budget, &gave_up);
      if (!found.ok()) return found.status();
    }
  }
  // The walk gave up (the matches lie far from the query or are scarce around it), or found
  // fewer than k: either fewer match, or it could not reach them (a disconnected graph). The
  // exact scan settles it.
  if (gave_up || found->size() < k) return scan();
  return found;
}

}  // namespace bn
