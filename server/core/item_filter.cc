#include "server/core/item_filter.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>

namespace bn {

namespace v1 = ::bottleneck::v1;

namespace {

absl::Status Bad(const std::string& path, const std::string& message) {
  return absl::InvalidArgumentError(path + ": " + message);
}

}  // namespace

bool ParseFiniteNumber(const std::string& text, double* value) {
  if (text.empty() || text.size() > 64) return false;
  for (char c : text) {
    if (!((c >= '0' && c <= '9') || c == '.' || c == '-' || c == '+' || c == 'e' || c == 'E')) {
      return false;
    }
  }
  // An overflow gives +-HUGE_VAL (not finite: refused); an underflow (ERANGE too) gives the
  // nearest subnormal or zero, which is the decimal's value as a double: accepted.
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  if (end != text.c_str() + text.size() || !std::isfinite(v)) return false;
  *value = v;
  return true;
}

ItemAttrs ItemAttrs::FromItem(const v1::Item& item) {
  ItemAttrs attrs;
  attrs.label = item.label();
  attrs.metadata.assign(item.metadata().begin(), item.metadata().end());
  std::sort(attrs.metadata.begin(), attrs.metadata.end());
  attrs.numbers.resize(attrs.metadata.size(), std::numeric_limits<double>::quiet_NaN());
  for (size_t i = 0; i < attrs.metadata.size(); ++i) {
    double v;
    if (ParseFiniteNumber(attrs.metadata[i].second, &v)) attrs.numbers[i] = v;
  }
  return attrs;
}

const std::string* ItemAttrs::Find(const std::string& key, double* number) const {
  auto it = std::lower_bound(metadata.begin(), metadata.end(), key,
                             [](const std::pair<std::string, std::string>& e,
                                const std::string& k) { return e.first < k; });
  if (it == metadata.end() || it->first != key) return nullptr;
  if (number != nullptr) *number = numbers[it - metadata.begin()];
  return &it->second;
}

namespace {

struct CompileState {
  const v1::CollectionSpec* spec;
  int nodes = 0;
};

}  // namespace

// A local builder struct reaches the private Node type without naming it in the header.
absl::StatusOr<CompiledFilter> CompiledFilter::Compile(const v1::Filter& filter,
                                                       const v1::CollectionSpec& spec,
                                                       const std::string& path) {
  struct Builder {
    CompileState state;
    absl::Status Build(const v1::Filter& f, const std::string& p, int depth, Node* node) {
      if (depth > kMaxFilterDepth) {
        return Bad(p, "filters nest at most " + std::to_string(kMaxFilterDepth) + " deep");
      }
      if (++state.nodes > kMaxFilterNodes) {
        return Bad(p, "a filter has at most " + std::to_string(kMaxFilterNodes) + " nodes");
      }
      switch (f.kind_case()) {
        case v1::Filter::kMatch: {
          const v1::FieldMatch& m = f.match();
          const std::string mp = p + ".match";
          if (m.label() && !m.metadata_key().empty()) {
            return Bad(mp, "set either label or metadata_key, not both");
          }
          if (!m.label() && m.metadata_key().empty()) {
            return Bad(mp, "set label or a metadata_key");
          }
          if (m.values().empty() || m.values_size() > kMaxFilterValues) {
            return Bad(mp, "values must hold 1.." + std::to_string(kMaxFilterValues) + " values");
          }
          node->kind = Node::Kind::kMatch;
          node->on_label = m.label();
          node->key = m.metadata_key();
          node->values.assign(m.values().begin(), m.values().end());
          std::sort(node->values.begin(), node->values.end());
          node->values.erase(std::unique(node->values.begin(), node->values.end()),
                             node->values.end());
          return absl::OkStatus();
        }
        case v1::Filter::kRange: {
          const v1::NumericRange& r = f.range();
          const std::string rp = p + ".range";
          if (r.metadata_key().empty()) return Bad(rp, "metadata_key must be set");
          const auto& keys = state.spec->numeric_metadata_keys();
          if (std::find(keys.begin(), keys.end(), r.metadata_key()) == keys.end()) {
            return Bad(rp, "metadata key '" + r.metadata_key() +
                               "' is not declared numeric in the collection "
                               "(CollectionSpec.numeric_metadata_keys)");
          }
          if (r.has_gte() && r.has_gt()) return Bad(rp, "set gte or gt, not both");
          if (r.has_lte() && r.has_lt()) return Bad(rp, "set lte or lt, not both");
          node->kind = Node::Kind::kRange;
          node->key = r.metadata_key();
          node->has_lo = r.has_gte() || r.has_gt();
          node->has_hi = r.has_lte() || r.has_lt();
          if (!node->has_lo && !node->has_hi) return Bad(rp, "set at least one bound");
          node->lo = r.has_gte() ? r.gte() : r.gt();
          node->lo_inclusive = r.has_gte();
          node->hi = r.has_lte() ? r.lte() : r.lt();
          node->hi_inclusive = r.has_lte();
          if ((node->has_lo && !std::isfinite(node->lo)) ||
              (node->has_hi && !std::isfinite(node->hi))) {
            return Bad(rp, "bounds must be finite");
          }
          if (node->has_lo && node->has_hi &&
              (node->lo > node->hi ||
               (node->lo == node->hi && !(node->lo_inclusive && node->hi_inclusive)))) {
            return Bad(rp, "the range is empty");
          }
          return absl::OkStatus();
        }
        case v1::Filter::kAllOf:
        case v1::Filter::kAnyOf: {
          const bool all = f.kind_case() == v1::Filter::kAllOf;
          const v1::FilterList& list = all ? f.all_of() : f.any_of();
          const std::string lp = p + (all ? ".all_of" : ".any_of");
          if (list.filters().empty() || list.filters_size() > kMaxFilterChildren) {
            return Bad(lp,
                       "filters must hold 1.." + std::to_string(kMaxFilterChildren) + " filters");
          }
          node->kind = all ? Node::Kind::kAll : Node::Kind::kAny;
          node->children.resize(list.filters_size());
          for (int i = 0; i < list.filters_size(); ++i) {
            if (absl::Status s = Build(list.filters(i), lp + ".filters[" + std::to_string(i) + "]",
                                       depth + 1, &node->children[i]);
                !s.ok()) {
              return s;
            }
          }
          return absl::OkStatus();
        }
        case v1::Filter::kNoneOf:
          node->kind = Node::Kind::kNot;
          node->children.resize(1);
          return Build(f.none_of(), p + ".none_of", depth + 1, &node->children[0]);
        default:
          return Bad(p, "empty filter: set match, range, all_of, any_of or none_of");
      }
    }
  };
  Builder builder{CompileState{&spec}};
  CompiledFilter compiled;
  if (absl::Status s = builder.Build(filter, path, 1, &compiled.root_); !s.ok()) return s;
  return compiled;
}

bool CompiledFilter::Eval(const Node& node, const ItemAttrs& item) {
  switch (node.kind) {
    case Node::Kind::kMatch: {
      const std::string* value = node.on_label ? &item.label : item.Find(node.key);
      if (value == nullptr) return false;
      if (node.values.size() == 1) return *value == node.values[0];
      return std::binary_search(node.values.begin(), node.values.end(), *value);
    }
    case Node::Kind::kRange: {
      double v;
      if (item.Find(node.key, &v) == nullptr || std::isnan(v)) return false;
      if (node.has_lo && (node.lo_inclusive ? v < node.lo : v <= node.lo)) return false;
      if (node.has_hi && (node.hi_inclusive ? v > node.hi : v >= node.hi)) return false;
      return true;
    }
    case Node::Kind::kAll:
      for (const Node& c : node.children) {
        if (!Eval(c, item)) return false;
      }
      return true;
    case Node::Kind::kAny:
      for (const Node& c : node.children) {
        if (Eval(c, item)) return true;
      }
      return false;
    case Node::Kind::kNot:
      return !Eval(node.children[0], item);
  }
  return false;
}

}  // namespace bn
