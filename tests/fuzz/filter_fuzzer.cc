// libFuzzer target: item filters (server/core/item_filter.h) and the CLI's filter expressions
// (client/lib/filter_expr.h). The input is a serialized bn.fuzz.FilterFuzzCase
// (tests/fuzz/filter_fuzz.proto): a filter, the collection spec it is compiled against, items,
// an expression and number strings. Built by run_fuzzers.sh.
//
// Checked against a reference written here from common.proto's documentation (straight over
// the message, no compilation): CompiledFilter::Compile accepts a filter iff it is valid
// (kinds, keys, values, bounds, depth <= 8, <= 256 nodes, <= 1024 values, 1..64 children) and
// its errors name the filter's path; a compiled filter matches an item iff the reference
// evaluation does (equality and `in` on label / metadata, ranges with open and closed bounds,
// AND / OR / NOT). A parsed CLI expression gets the same treatment. ParseFiniteNumber accepts
// only finite decimals and agrees with strtod.
//
// BN_FUZZ_WRITE_SEEDS=DIR writes seeds and exits.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "client/lib/filter_expr.h"
#include "google/protobuf/stubs/logging.h"
#include "server/core/item_filter.h"
#include "tests/fuzz/filter_fuzz.pb.h"

namespace {

namespace v1 = ::bottleneck::v1;

[[noreturn]] void Fail(const char* what) {
  std::fprintf(stderr, "filter_fuzzer invariant violated: %s\n", what);
  std::abort();
}

constexpr int kMaxItems = 64;  // Per fuzz case, to keep single inputs cheap.

// --- the reference ------------------------------------------------------------------------

struct RefState {
  const v1::CollectionSpec* spec;
  int nodes = 0;
};

bool RefValid(const v1::Filter& f, int depth, RefState* state) {
  if (depth > bn::kMaxFilterDepth) return false;
  if (++state->nodes > bn::kMaxFilterNodes) return false;
  switch (f.kind_case()) {
    case v1::Filter::kMatch: {
      const v1::FieldMatch& m = f.match();
      if (m.label() == !m.metadata_key().empty()) return false;  // exactly one field
      return m.values_size() >= 1 && m.values_size() <= bn::kMaxFilterValues;
    }
    case v1::Filter::kRange: {
      const v1::NumericRange& r = f.range();
      bool declared = false;
      for (const std::string& k : state->spec->numeric_metadata_keys()) {
        declared = declared || (!r.metadata_key().empty() && k == r.metadata_key());
      }
      if (!declared) return false;
      if ((r.has_gte() && r.has_gt()) || (r.has_lte() && r.has_lt())) return false;
      const bool lo = r.has_gte() || r.has_gt(), hi = r.has_lte() || r.has_lt();
      if (!lo && !hi) return false;
      const double l = r.has_gte() ? r.gte() : r.gt(), h = r.has_lte() ? r.lte() : r.lt();
      if ((lo && !std::isfinite(l)) || (hi && !std::isfinite(h))) return false;
      if (lo && hi && (l > h || (l == h && !(r.has_gte() && r.has_lte())))) return false;
      return true;
    }
    case v1::Filter::kAllOf:
    case v1::Filter::kAnyOf: {
      const v1::FilterList& list = f.has_all_of() ? f.all_of() : f.any_of();
      if (list.filters_size() < 1 || list.filters_size() > bn::kMaxFilterChildren) return false;
      for (const v1::Filter& c : list.filters()) {
        if (!RefValid(c, depth + 1, state)) return false;
      }
      return true;
    }
    case v1::Filter::kNoneOf:
      return RefValid(f.none_of(), depth + 1, state);
    default:
      return false;
  }
}

bool RefMatches(const v1::Filter& f, const v1::Item& item) {
  switch (f.kind_case()) {
    case v1::Filter::kMatch: {
      const v1::FieldMatch& m = f.match();
      std::string value;
      if (m.label()) {
        value = item.label();
      } else {
        auto it = item.metadata().find(m.metadata_key());
        if (it == item.metadata().end()) return false;
        value = it->second;
      }
      for (const std::string& v : m.values()) {
        if (v == value) return true;
      }
      return false;
    }
    case v1::Filter::kRange: {
      const v1::NumericRange& r = f.range();
      auto it = item.metadata().find(r.metadata_key());
      double v;
      if (it == item.metadata().end() || !bn::ParseFiniteNumber(it->second, &v)) return false;
      if (r.has_gte() && !(v >= r.gte())) return false;
      if (r.has_gt() && !(v > r.gt())) return false;
      if (r.has_lte() && !(v <= r.lte())) return false;
      if (r.has_lt() && !(v < r.lt())) return false;
      return true;
    }
    case v1::Filter::kAllOf:
      for (const v1::Filter& c : f.all_of().filters()) {
        if (!RefMatches(c, item)) return false;
      }
      return true;
    case v1::Filter::kAnyOf:
      for (const v1::Filter& c : f.any_of().filters()) {
        if (RefMatches(c, item)) return true;
      }
      return false;
    case v1::Filter::kNoneOf:
      return !RefMatches(f.none_of(), item);
    default:
      Fail("reference evaluation of an invalid filter");
  }
}

// "[+-]digits[.digits][(e|E)[+-]digits]" with at least one mantissa digit.
bool DecimalSyntax(const std::string& s) {
  size_t i = 0, digits = 0;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
  for (; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i) ++digits;
  if (i < s.size() && s[i] == '.') {
    for (++i; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i) ++digits;
  }
  if (digits == 0) return false;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    size_t exp = 0;
    for (; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i) ++exp;
    if (exp == 0) return false;
  }
  return i == s.size();
}

void CheckNumber(const std::string& text) {
  double v = 12345.0;
  const bool ok = bn::ParseFiniteNumber(text, &v);
  const bool syntax = text.size() <= 64 && DecimalSyntax(text);
  if (ok && !syntax) Fail("ParseFiniteNumber accepted a non-decimal");
  if (!ok) {
    if (v != 12345.0) Fail("ParseFiniteNumber wrote a value on failure");
    // A decimal that is not too large for a double must be accepted, also when it is too small
    // for a normal double (it rounds to a subnormal or to zero, as strtod does).
    if (syntax && std::isfinite(std::strtod(text.c_str(), nullptr))) {
      Fail("ParseFiniteNumber refused a finite decimal");
    }
    return;
  }
  if (!std::isfinite(v) || v != std::strtod(text.c_str(), nullptr)) {
    Fail("ParseFiniteNumber disagrees with strtod");
  }
}

// --- the checks ---------------------------------------------------------------------------

void CheckFilter(const v1::Filter& filter, const v1::CollectionSpec& spec,
                 const google::protobuf::RepeatedPtrField<v1::Item>& items) {
  RefState state{&spec};
  const bool valid = RefValid(filter, 1, &state);
  auto compiled = bn::CompiledFilter::Compile(filter, spec, "filter");
  if (compiled.ok() != valid)
    Fail(valid ? "a valid filter was refused" : "an invalid filter compiled");
  if (!compiled.ok()) {
    if (compiled.status().code() != absl::StatusCode::kInvalidArgument ||
        compiled.status().message().rfind("filter", 0) != 0) {
      Fail("a refusal is not INVALID_ARGUMENT naming the filter's path");
    }
    return;
  }
  for (int i = 0; i < items.size() && i < kMaxItems; ++i) {
    const bn::ItemAttrs attrs = bn::ItemAttrs::FromItem(items[i]);
    if (attrs.label != items[i].label() ||
        attrs.metadata.size() != static_cast<size_t>(items[i].metadata_size())) {
      Fail("ItemAttrs::FromItem lost a field");
    }
    if (compiled->Matches(attrs) != RefMatches(filter, items[i])) {
      Fail("a compiled filter disagrees with the reference evaluation");
    }
  }
}

void Run(const bn::fuzz::FilterFuzzCase& c) {
  CheckFilter(c.filter(), c.spec(), c.items());
  for (int i = 0; i < c.numbers_size() && i < 16; ++i) CheckNumber(c.numbers(i));
  for (const v1::Item& item : c.items()) {
    for (const auto& [key, value] : item.metadata()) CheckNumber(value);
    break;  // The first item's values are enough.
  }
  if (c.expression().empty() || c.expression().size() > 4096) return;
  v1::Filter parsed;
  std::string error;
  if (!bn::ParseFilterExpr(c.expression(), &parsed, &error)) {
    if (error.find("at offset") == std::string::npos) Fail("a parse error has no offset");
    return;
  }
  if (parsed.kind_case() == v1::Filter::KIND_NOT_SET) Fail("a parsed expression is empty");
  v1::Filter again;
  if (!bn::ParseFilterExpr(c.expression(), &again, &error) ||
      again.SerializeAsString() != parsed.SerializeAsString()) {
    Fail("parsing an expression is not deterministic");
  }
  CheckFilter(parsed, c.spec(), c.items());
}

// --- seeds -------------------------------------------------------------------------------

void Write(const std::string& dir, const std::string& name, const bn::fuzz::FilterFuzzCase& c) {
  std::ofstream(dir + "/" + name, std::ios::binary) << c.SerializeAsString();
}

v1::Filter Match(bool label, const std::string& key, std::vector<std::string> values) {
  v1::Filter f;
  f.mutable_match()->set_label(label);
  f.mutable_match()->set_metadata_key(key);
  for (auto& v : values) f.mutable_match()->add_values(v);
  return f;
}

void WriteSeeds(const std::string& dir) {
  bn::fuzz::FilterFuzzCase c;
  c.mutable_spec()->add_numeric_metadata_keys("price");
  c.mutable_spec()->add_numeric_metadata_keys("n");
  const char* brands[] = {"acme", "zeta", "omni"};
  for (int i = 0; i < 12; ++i) {
    v1::Item* item = c.add_items();
    item->set_id("it-" + std::to_string(i));
    item->set_label(std::to_string(i % 4));
    (*item->mutable_metadata())["price"] = std::to_string((i * 37) % 100) + (i % 5 ? "" : ".5");
    (*item->mutable_metadata())["n"] = i % 7 ? std::to_string(i) : "1e2";
    if (i % 3) (*item->mutable_metadata())["brand"] = brands[i % 3];
  }
  c.add_numbers("12");
  c.add_numbers("-0.5e-3");
  c.add_numbers("1e400");
  c.add_numbers(".5");
  c.add_numbers("2.2250738585072014e-308");  // The smallest normal double and the largest one.
  c.add_numbers("1.7976931348623157e308");
  // label in {1, 3} AND price < 50 AND NOT brand = acme; the same as an expression.
  auto* all = c.mutable_filter()->mutable_all_of();
  *all->add_filters() = Match(true, "", {"1", "3"});
  auto* range = all->add_filters()->mutable_range();
  range->set_metadata_key("price");
  range->set_lt(50);
  *all->add_filters()->mutable_none_of() = Match(false, "brand", {"acme"});
  c.set_expression("label=1,3 & price<50 & !brand=acme");
  Write(dir, "and_range_not", c);
  // OR of a closed range and a set, in an expression with quotes and parentheses.
  c.mutable_filter()->Clear();
  auto* any = c.mutable_filter()->mutable_any_of();
  auto* closed = any->add_filters()->mutable_range();
  closed->set_metadata_key("n");
  closed->set_gte(3);
  closed->set_lte(3);
  *any->add_filters() = Match(false, "brand", {"zeta", "omni", "zeta"});
  c.set_expression("(n>=3 & n<=3) | brand=\"zeta\",omni | meta:label!=x");
  Write(dir, "or_closed_range", c);
  // Invalid filters: an undeclared numeric key, an empty range, both lower bounds.
  c.mutable_filter()->Clear();
  c.mutable_filter()->mutable_range()->set_metadata_key("brand");
  c.mutable_filter()->mutable_range()->set_gt(1);
  c.set_expression("brand<1");
  Write(dir, "undeclared_range", c);
  c.mutable_filter()->mutable_range()->set_metadata_key("price");
  c.mutable_filter()->mutable_range()->set_lt(1);
  c.mutable_filter()->mutable_range()->set_gte(1);
  c.set_expression("price>1 & price<1");
  Write(dir, "empty_range", c);
  // Nesting at the limit (8 levels) and one beyond it.
  v1::Filter deep = Match(true, "", {"2"});
  for (int depth = 1; depth < bn::kMaxFilterDepth; ++depth) {
    v1::Filter outer;
    *outer.mutable_none_of() = deep;
    deep = outer;
  }
  *c.mutable_filter() = deep;
  c.set_expression("!!!!!!!label=2");
  Write(dir, "depth_8", c);
  v1::Filter deeper;
  *deeper.mutable_all_of()->add_filters() = deep;
  *c.mutable_filter() = deeper;
  c.set_expression("!!!!!!!!(label=2)");
  Write(dir, "depth_9", c);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  google::protobuf::SetLogHandler(nullptr);  // Parse errors of invalid UTF-8 strings are noise.
  if (const char* dir = std::getenv("BN_FUZZ_WRITE_SEEDS")) {
    WriteSeeds(dir);
    std::exit(0);
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  bn::fuzz::FilterFuzzCase c;
  if (!c.ParseFromArray(data, static_cast<int>(size))) return 0;
  Run(c);
  return 0;
}
