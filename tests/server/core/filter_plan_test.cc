// The filter planner (CompiledFilter::PlanWithIndex / IndexCandidates) over hand-made postings:
// which terms it reads, the candidate counts it estimates, and when the candidates are exact.
#include <map>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "server/core/item_filter.h"
#include "tests/util/filter_builders.h"

namespace bn {
namespace {

namespace v1 = ::bottleneck::v1;
using ::bn::test_filters::Match;

// Postings for the label and the metadata key "shop"; "price" is not indexed.
class FakePostings : public PostingLookup {
 public:
  bool Indexed(bool on_label, const std::string& key) const override {
    return on_label || key == "shop";
  }
  const std::vector<uint64_t>* Postings(bool on_label, const std::string& key,
                                        const std::string& value) const override {
    const auto& map = on_label ? labels_ : shops_;
    EXPECT_TRUE(on_label || key == "shop");
    auto it = map.find(value);
    return it == map.end() ? nullptr : &it->second;
  }

 private:
  std::map<std::string, std::vector<uint64_t>> labels_{{"a", {1, 2, 3, 4, 5, 6}}, {"b", {7, 8}}};
  std::map<std::string, std::vector<uint64_t>> shops_{{"x", {2, 4}}, {"y", {5, 7, 9}}};
};

v1::Filter List(bool all, std::vector<v1::Filter> parts) {
  v1::Filter f;
  for (auto& p : parts) *(all ? f.mutable_all_of() : f.mutable_any_of())->add_filters() = p;
  return f;
}

CompiledFilter Compile(const v1::Filter& f) {
  v1::CollectionSpec spec;
  spec.add_numeric_metadata_keys("price");
  spec.add_indexed_metadata_keys("shop");
  auto compiled = CompiledFilter::Compile(f, spec);
  EXPECT_TRUE(compiled.ok()) << compiled.status();
  return *compiled;
}

v1::Filter PriceBelow(double v) {
  v1::Filter f;
  f.mutable_range()->set_metadata_key("price");
  f.mutable_range()->set_lt(v);
  return f;
}

TEST(FilterPlanTest, EqualityAndInReadTheirPostingsExactly) {
  const FakePostings index;
  const CompiledFilter in = Compile(Match("label", {"a", "b", "missing"}));
  auto plan = in.PlanWithIndex(index);
  ASSERT_TRUE(plan.has_value());
  EXPECT_EQ(plan->candidates, 8u);
  EXPECT_TRUE(plan->exact);
  EXPECT_EQ(in.IndexCandidates(index), (std::vector<uint64_t>{1, 2, 3, 4, 5, 6, 7, 8}));
  // A value nobody holds: an exact, empty plan.
  const CompiledFilter none = Compile(Match("shop", {"zzz"}));
  ASSERT_TRUE(none.PlanWithIndex(index).has_value());
  EXPECT_EQ(none.PlanWithIndex(index)->candidates, 0u);
  EXPECT_TRUE(none.IndexCandidates(index).empty());
}

TEST(FilterPlanTest, UnindexedKeysRangesAndNegationsHaveNoPlan) {
  const FakePostings index;
  EXPECT_FALSE(Compile(Match("price", {"3"})).PlanWithIndex(index).has_value());
  EXPECT_FALSE(Compile(PriceBelow(3)).PlanWithIndex(index).has_value());
  v1::Filter negated;
  *negated.mutable_none_of() = Match("shop", {"x"});
  EXPECT_FALSE(Compile(negated).PlanWithIndex(index).has_value());
  // any_of with one child that has no plan: the union cannot be bounded.
  EXPECT_FALSE(
      Compile(List(false, {Match("shop", {"x"}), PriceBelow(3)})).PlanWithIndex(index).has_value());
}

TEST(FilterPlanTest, AllOfTakesItsSmallestIndexedChild) {
  const FakePostings index;
  const CompiledFilter f =
      Compile(List(true, {Match("label", {"a"}), PriceBelow(50), Match("shop", {"x"})}));
  auto plan = f.PlanWithIndex(index);
  ASSERT_TRUE(plan.has_value());
  EXPECT_EQ(plan->candidates, 2u);  // shop = x, not label = a (6).
  EXPECT_FALSE(plan->exact);        // The other terms are checked per candidate.
  EXPECT_EQ(f.IndexCandidates(index), (std::vector<uint64_t>{2, 4}));
  // A single-child all_of is its child.
  auto single = Compile(List(true, {Match("shop", {"y"})})).PlanWithIndex(index);
  ASSERT_TRUE(single.has_value());
  EXPECT_TRUE(single->exact);
}

TEST(FilterPlanTest, AnyOfUnitesItsChildren) {
  const FakePostings index;
  const CompiledFilter f = Compile(
      List(false, {Match("shop", {"x", "y"}), Match("label", {"b"}),
                   List(true, {Match("label", {"a"}), Match("shop", {"y"}), PriceBelow(5)})}));
  auto plan = f.PlanWithIndex(index);
  ASSERT_TRUE(plan.has_value());
  EXPECT_EQ(plan->candidates, 5u + 2u + 3u);  // x and y, b, the all_of child shop = y.
  EXPECT_FALSE(plan->exact);                  // The all_of child is not exact.
  EXPECT_EQ(f.IndexCandidates(index), (std::vector<uint64_t>{2, 4, 5, 7, 8, 9}));
  auto exact = Compile(List(false, {Match("shop", {"x"}), Match("label", {"b"})}));
  ASSERT_TRUE(exact.PlanWithIndex(index).has_value());
  EXPECT_TRUE(exact.PlanWithIndex(index)->exact);
  EXPECT_EQ(exact.IndexCandidates(index), (std::vector<uint64_t>{2, 4, 7, 8}));
}

}  // namespace
}  // namespace bn
