// The index plan of a compiled filter (item_filter.h): which posting lists hold every match.
#include <algorithm>
#include <cmath>
#include <limits>

#include "server/core/item_filter.h"

namespace bn {

std::optional<IndexPlan> CompiledFilter::Plan(const Node& node, const PostingLookup& index,
                                              size_t* best_child) {
  switch (node.kind) {
    case Node::Kind::kMatch: {
      if (!index.Indexed(node.on_label, node.key)) return std::nullopt;
      IndexPlan plan{0, true};
      for (const std::string& value : node.values) {
        const std::vector<uint64_t>* postings = index.Postings(node.on_label, node.key, value);
        if (postings != nullptr) plan.candidates += postings->size();
      }
      return plan;
    }
    case Node::Kind::kAll: {
      std::optional<IndexPlan> best;
      for (size_t i = 0; i < node.children.size(); ++i) {
        size_t unused;
        std::optional<IndexPlan> child = Plan(node.children[i], index, &unused);
        if (child && (!best || child->candidates < best->candidates)) {
          best = child;
          if (best_child != nullptr) *best_child = i;
        }
      }
      if (best && node.children.size() > 1) best->exact = false;
      return best;
    }
    case Node::Kind::kAny: {
      IndexPlan plan{0, true};
      for (const Node& c : node.children) {
        size_t unused;
        std::optional<IndexPlan> child = Plan(c, index, &unused);
        if (!child) return std::nullopt;
        plan.candidates += child->candidates;
        plan.exact = plan.exact && child->exact;
      }
      return plan;
    }
    case Node::Kind::kRange: {
      if (!index.RangeIndexed(node.key)) return std::nullopt;
      const auto [lower, upper] = HalfOpen(node);
      return IndexPlan{index.RangeCount(node.key, lower, upper), true};
    }
    case Node::Kind::kNot:
      return std::nullopt;
  }
  return std::nullopt;
}

void CompiledFilter::Collect(const Node& node, const PostingLookup& index,
                             std::vector<uint64_t>* out) {
  switch (node.kind) {
    case Node::Kind::kMatch:
      for (const std::string& value : node.values) {
        const std::vector<uint64_t>* postings = index.Postings(node.on_label, node.key, value);
        if (postings != nullptr) out->insert(out->end(), postings->begin(), postings->end());
      }
      return;
    case Node::Kind::kAll: {
      size_t best = 0;
      Plan(node, index, &best);
      Collect(node.children[best], index, out);
      return;
    }
    case Node::Kind::kAny:
      for (const Node& c : node.children) Collect(c, index, out);
      return;
    case Node::Kind::kRange: {
      const auto [lower, upper] = HalfOpen(node);
      index.RangeItems(node.key, lower, upper, out);
      return;
    }
    case Node::Kind::kNot:
      return;  // No plan: not called.
  }
}

std::pair<double, double> CompiledFilter::HalfOpen(const Node& node) {
  constexpr double kInf = std::numeric_limits<double>::infinity();
  // The bounds are finite (Compile); v > lo is v >= the next double above lo, v <= hi is v < it.
  const double lower = !node.has_lo        ? -kInf
                       : node.lo_inclusive ? node.lo
                                           : std::nextafter(node.lo, kInf);
  const double upper = !node.has_hi        ? kInf
                       : node.hi_inclusive ? std::nextafter(node.hi, kInf)
                                           : node.hi;
  return {lower, upper};
}

std::optional<IndexPlan> CompiledFilter::PlanWithIndex(const PostingLookup& index) const {
  return Plan(root_, index, nullptr);
}

std::vector<uint64_t> CompiledFilter::IndexCandidates(const PostingLookup& index) const {
  std::vector<uint64_t> out;
  Collect(root_, index, &out);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

}  // namespace bn
