// Builders of v1::Filter messages (common.proto) for tests: equality / set membership on the
// label or a metadata key, AND / OR / NOT of filters. Header-only; include it only where the
// v1 protos are linked (core, integration and cluster tests).
#ifndef BOTTLENECK_TESTS_UTIL_FILTER_BUILDERS_H_
#define BOTTLENECK_TESTS_UTIL_FILTER_BUILDERS_H_

#include <string>
#include <utility>
#include <vector>

#include "bottleneck/v1/common.pb.h"

namespace bn::test_filters {

// `key` "label" matches the item's label, any other key that metadata key; `values` is the set.
inline bottleneck::v1::Filter Match(const std::string& key, std::vector<std::string> values) {
  bottleneck::v1::Filter f;
  if (key == "label") {
    f.mutable_match()->set_label(true);
  } else {
    f.mutable_match()->set_metadata_key(key);
  }
  for (auto& v : values) f.mutable_match()->add_values(std::move(v));
  return f;
}

inline bottleneck::v1::Filter AllOf(std::vector<bottleneck::v1::Filter> parts) {
  bottleneck::v1::Filter f;
  for (auto& p : parts) *f.mutable_all_of()->add_filters() = std::move(p);
  return f;
}

inline bottleneck::v1::Filter AnyOf(std::vector<bottleneck::v1::Filter> parts) {
  bottleneck::v1::Filter f;
  for (auto& p : parts) *f.mutable_any_of()->add_filters() = std::move(p);
  return f;
}

inline bottleneck::v1::Filter NoneOf(bottleneck::v1::Filter inner) {
  bottleneck::v1::Filter f;
  *f.mutable_none_of() = std::move(inner);
  return f;
}

}  // namespace bn::test_filters

#endif  // BOTTLENECK_TESTS_UTIL_FILTER_BUILDERS_H_
