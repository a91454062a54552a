#include "server/core/item_filter.h"

#include <cstdlib>

#include "gtest/gtest.h"

namespace bn {
namespace {

namespace v1 = ::bottleneck::v1;

ItemAttrs Attrs(const std::string& label, std::map<std::string, std::string> metadata) {
  v1::Item item;
  item.set_label(label);
  for (auto& [k, v] : metadata) (*item.mutable_metadata())[k] = v;
  return ItemAttrs::FromItem(item);
}

v1::CollectionSpec Spec() {
  v1::CollectionSpec spec;
  spec.add_numeric_metadata_keys("price");
  return spec;
}

TEST(ItemFilterTest, ParsesOnlyFiniteDecimals) {
  double v = 0;
  EXPECT_TRUE(ParseFiniteNumber("12", &v));
  EXPECT_EQ(v, 12);
  EXPECT_TRUE(ParseFiniteNumber("-0.5e1", &v));
  EXPECT_EQ(v, -5);
  for (const char* bad : {"", "inf", "nan", "0x10", " 1", "1 ", "1e999", "1,5", "abc"}) {
    EXPECT_FALSE(ParseFiniteNumber(bad, &v)) << bad;
  }
}

// Found by tests/fuzz/filter_fuzzer (regressions/filter/parse-finite-number-subnormal): decimals
// below the smallest normal double were refused (strtod reports ERANGE for them), so an upsert
// of "2.2250738585072014e-309" for a numeric key got INVALID_ARGUMENT "not a number".
TEST(ItemFilterTest, ParseFiniteNumberAcceptsValuesTooSmallForANormalDouble) {
  double v = 1;
  EXPECT_TRUE(ParseFiniteNumber("2.2250738585072014e-309", &v));
  EXPECT_EQ(v, std::strtod("2.2250738585072014e-309", nullptr));
  EXPECT_GT(v, 0);
  EXPECT_TRUE(ParseFiniteNumber("-1e-400", &v));
  EXPECT_EQ(v, 0);
  EXPECT_TRUE(ParseFiniteNumber("1.7976931348623157e308", &v));
  EXPECT_FALSE(ParseFiniteNumber("1.8e308", &v));
  v1::Filter f;
  f.mutable_range()->set_metadata_key("price");
  f.mutable_range()->set_gt(0);
  auto c = CompiledFilter::Compile(f, Spec());
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_TRUE(c->Matches(Attrs("", {{"price", "1e-310"}})));
  EXPECT_FALSE(c->Matches(Attrs("", {{"price", "-1e-310"}})));
}

TEST(ItemFilterTest, RangeBoundsAndMissingKeys) {
  v1::Filter f;
  f.mutable_range()->set_metadata_key("price");
  f.mutable_range()->set_gt(10);
  f.mutable_range()->set_lte(20);
  auto c = CompiledFilter::Compile(f, Spec());
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_FALSE(c->Matches(Attrs("", {{"price", "10"}})));
  EXPECT_TRUE(c->Matches(Attrs("", {{"price", "10.5"}})));
  EXPECT_TRUE(c->Matches(Attrs("", {{"price", "20"}})));
  EXPECT_FALSE(c->Matches(Attrs("", {{"price", "20.01"}})));
  EXPECT_FALSE(c->Matches(Attrs("", {})));  // No value: no match.
  v1::Filter n;
  *n.mutable_none_of() = f;
  auto negated = CompiledFilter::Compile(n, Spec());
  ASSERT_TRUE(negated.ok());
  EXPECT_TRUE(negated->Matches(Attrs("", {})));  // ...and matches under none_of.
  EXPECT_FALSE(negated->Matches(Attrs("", {{"price", "15"}})));
}

TEST(ItemFilterTest, MatchOnLabelOrMetadataWithSets) {
  v1::Filter f;
  auto* any = f.mutable_any_of();
  auto* label = any->add_filters()->mutable_match();
  label->set_label(true);
  label->add_values("shoe");
  auto* colour = any->add_filters()->mutable_match();
  colour->set_metadata_key("colour");
  for (const char* v : {"red", "green", "blue", "red"}) colour->add_values(v);
  auto c = CompiledFilter::Compile(f, Spec());
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(c->Matches(Attrs("shoe", {})));
  EXPECT_TRUE(c->Matches(Attrs("hat", {{"colour", "blue"}})));
  EXPECT_FALSE(c->Matches(Attrs("hat", {{"colour", "pink"}})));
  EXPECT_FALSE(c->Matches(Attrs("hat", {{"label", "shoe"}})));  // A metadata key, not the label.
}

TEST(ItemFilterTest, LimitsNodes) {
  v1::Filter f;
  for (int i = 0; i < 60; ++i) {
    auto* inner = f.mutable_all_of()->add_filters()->mutable_all_of();
    for (int j = 0; j < 5; ++j) {
      auto* m = inner->add_filters()->mutable_match();
      m->set_label(true);
      m->add_values("x");
    }
  }
  auto c = CompiledFilter::Compile(f, Spec());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(c.status().message().find("at most 256 nodes"), absl::string_view::npos);
}

}  // namespace
}  // namespace bn
