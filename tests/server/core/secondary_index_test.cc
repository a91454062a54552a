// The secondary index of the attribute table (CollectionSpec.indexed_metadata_keys): its posting
// lists equal what the stored items hold after random upserts, overwrites and deletes (and after
// a restart), and every filter selects the same items with the index as without it (ranges on a
// key both numeric and indexed use its range index).
#include <algorithm>
#include <iterator>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "engine/store/collection_store.h"
#include "gtest/gtest.h"
#include "server/core/attribute_table.h"
#include "server/core/core.h"
#include "server/core/item_filter.h"
#include "server/core/runtime.h"
#include "tests/server/core/core_fixture.h"

namespace bn::testing {
namespace {

namespace v1 = ::bottleneck::v1;

constexpr int kIds = 120;
const char* const kColors[] = {"red", "green", "blue", "black"};
// Values of the numeric indexed key "w": equal numbers spelt differently, -0 and 0.
const char* const kWeights[] = {"-3", "-0.5", "-0", "0", "0.5", "1", "1.0", "2", "7", "1e1"};
// Range bounds: the values above and ones between them.
const double kBounds[] = {-4, -3, -0.5, 0, 0.25, 0.5, 1, 2, 7, 10, 11};

// Field -> value -> item numbers, as the stored items give them.
using Expected = std::map<std::string, std::map<std::string, std::vector<uint64_t>>>;

class SecondaryIndexTest : public CoreFixture {
 protected:
  void Create() {
    v1::CreateCollectionRequest request;
    request.set_name("c");
    v1::CollectionSpec* spec = request.mutable_spec();
    spec->mutable_image()->set_height(kSide);
    spec->mutable_image()->set_width(kSide);
    spec->mutable_image()->set_channels(1);
    spec->add_numeric_metadata_keys("n");
    spec->add_numeric_metadata_keys("w");
    spec->add_indexed_metadata_keys("color");
    spec->add_indexed_metadata_keys("size");
    spec->add_indexed_metadata_keys("w");
    auto created = core().collections().Create(request);
    ASSERT_TRUE(created.ok()) << created.status();
  }

  // Random item `id`: label l0..l5, color in 4 values or absent, size s0..s29, n 0..99, w one
  // of kWeights or absent.
  v1::Item RandomItem(int id) {
    v1::Item item;
    item.set_id("i" + std::to_string(id));
    *item.mutable_input() = ImageInput(id % 4, static_cast<int>(rng_() % 1000));
    item.set_label("l" + std::to_string(rng_() % 6));
    auto& meta = *item.mutable_metadata();
    if (rng_() % 5 != 0) meta["color"] = kColors[rng_() % 4];
    meta["size"] = "s" + std::to_string(rng_() % 30);
    meta["n"] = std::to_string(rng_() % 100);
    if (rng_() % 6 != 0) meta["w"] = kWeights[rng_() % std::size(kWeights)];
    return item;
  }

  // A round of random writes: upserts of new and existing ids, deletes by id and by filter.
  void RandomWrites() {
    v1::UpsertRequest upsert;
    upsert.set_collection("c");
    for (int i = 0; i < 40; ++i) *upsert.add_items() = RandomItem(static_cast<int>(rng_() % kIds));
    // An id twice in one batch: the later write wins.
    v1::Item again = RandomItem(0);
    again.set_id(upsert.items(0).id());
    *upsert.add_items() = again;
    ASSERT_TRUE(core().ingest().Upsert(upsert).ok());
    v1::DeleteItemsRequest del;
    del.set_collection("c");
    for (int i = 0; i < 8; ++i) del.add_ids("i" + std::to_string(rng_() % kIds));
    ASSERT_TRUE(core().ingest().Delete(del).ok());
    v1::DeleteItemsRequest by_filter;
    by_filter.set_collection("c");
    v1::FieldMatch* match = by_filter.mutable_filter()->mutable_match();
    match->set_metadata_key("size");
    match->add_values("s" + std::to_string(rng_() % 30));
    ASSERT_TRUE(core().ingest().Delete(by_filter).ok());
  }

  // The postings recomputed from the stored items.
  Expected FromStore() {
    Expected expected;
    EXPECT_TRUE(CollectionStore(store_.get())
                    .ScanItems("c",
                               [&](const Item& item) {
                                 v1::Item record;
                                 EXPECT_TRUE(record.ParseFromString(item.record));
                                 expected["label"][record.label()].push_back(item.item_no);
                                 for (const char* key : {"color", "size", "w"}) {
                                   auto it = record.metadata().find(key);
                                   if (it == record.metadata().end()) continue;
                                   expected[key][it->second].push_back(item.item_no);
                                 }
                                 return true;
                               })
                    .ok());
    for (auto& [field, values] : expected) {
      for (auto& [value, list] : values) std::sort(list.begin(), list.end());
    }
    return expected;
  }

  // The postings the collection's attribute table holds.
  Expected FromTable() {
    auto runtime = core().collections().Lookup("c");
    EXPECT_TRUE(runtime.ok());
    auto reader = (*runtime)->attributes().Acquire(store_.get());
    EXPECT_TRUE(reader.ok()) << reader.status();
    Expected got;
    EXPECT_EQ(reader->PostingsOf(false, "n"), nullptr);  // Not indexed.
    for (const char* field : {"label", "color", "size", "w"}) {
      const bool label = std::string(field) == "label";
      const AttributeTable::PostingMap* map = reader->PostingsOf(label, label ? "" : field);
      EXPECT_NE(map, nullptr) << field;
      if (map == nullptr) continue;
      for (const auto& [value, list] : *map) {
        EXPECT_FALSE(list.empty()) << field << "=" << value;
        EXPECT_TRUE(std::is_sorted(list.begin(), list.end())) << field << "=" << value;
        got[field][value] = list;
      }
    }
    return got;
  }

  // A random filter over the fields, indexed or not.
  v1::Filter RandomFilter(int depth = 0) {
    v1::Filter f;
    const int kind = static_cast<int>(rng_() % (depth >= 2 ? 3 : 6));
    if (kind <= 1) {
      v1::FieldMatch* m = f.mutable_match();
      const int field = static_cast<int>(rng_() % 4);
      if (field == 0) {
        m->set_label(true);
        for (int v = 0, n = 1 + static_cast<int>(rng_() % 3); v < n; ++v) {
          m->add_values("l" + std::to_string(rng_() % 7));
        }
      } else if (field == 1) {
        m->set_metadata_key("color");
        m->add_values(kColors[rng_() % 4]);
      } else if (field == 2) {
        m->set_metadata_key("size");
        m->add_values("s" + std::to_string(rng_() % 30));
        m->add_values("s" + std::to_string(rng_() % 30));
      } else {
        m->set_metadata_key("n");  // Not indexed.
        m->add_values(std::to_string(rng_() % 100));
      }
    } else if (kind == 2) {
      if (rng_() % 3 == 0) {
        f.mutable_range()->set_metadata_key("n");  // Numeric, not indexed.
        f.mutable_range()->set_lt(static_cast<double>(rng_() % 100));
      } else {
        *f.mutable_range() = RandomWeightRange();
      }
    } else if (kind == 3 || kind == 4) {
      v1::FilterList* list = kind == 3 ? f.mutable_all_of() : f.mutable_any_of();
      for (int c = 0, n = 1 + static_cast<int>(rng_() % 3); c < n; ++c) {
        *list->add_filters() = RandomFilter(depth + 1);
      }
    } else {
      *f.mutable_none_of() = RandomFilter(depth + 1);
    }
    return f;
  }

  // A random range on "w": one or two bounds among kBounds, each inclusive or not.
  v1::NumericRange RandomWeightRange() {
    v1::NumericRange r;
    r.set_metadata_key("w");
    const int which = static_cast<int>(rng_() % 3);  // 0: lower only, 1: upper only, 2: both.
    double lo = kBounds[rng_() % std::size(kBounds)];
    double hi = kBounds[rng_() % std::size(kBounds)];
    if (lo > hi) std::swap(lo, hi);
    const bool both = which == 2;
    // Equal bounds must both be inclusive (else Compile refuses the empty range).
    const bool lo_inclusive = (both && lo == hi) || rng_() % 2 == 0;
    const bool hi_inclusive = (both && lo == hi) || rng_() % 2 == 0;
    if (which != 1) lo_inclusive ? r.set_gte(lo) : r.set_gt(lo);
    if (which != 0) hi_inclusive ? r.set_lte(hi) : r.set_lt(hi);
    return r;
  }

  // Every random filter selects the same items with the index as a table without it does, and
  // CountItems / ListItems through the core agree.
  void CheckFiltersAgree(int filters) {
    auto runtime = core().collections().Lookup("c");
    ASSERT_TRUE(runtime.ok());
    AttributeTable unindexed("c", {}, {}, /*use_index=*/false);
    auto plain = unindexed.Acquire(store_.get());
    ASSERT_TRUE(plain.ok());
    auto indexed = (*runtime)->attributes().Acquire(store_.get());
    ASSERT_TRUE(indexed.ok());
    int planned = 0, ranges = 0;
    for (int i = 0; i < filters; ++i) {
      const v1::Filter f = RandomFilter();
      auto compiled = CompiledFilter::Compile(f, (*runtime)->spec());
      ASSERT_TRUE(compiled.ok()) << compiled.status();
      EXPECT_FALSE(compiled->PlanWithIndex(*plain).has_value());
      std::vector<uint64_t> want = plain->Matching(*compiled);
      std::vector<uint64_t> got = indexed->Matching(*compiled);
      std::sort(want.begin(), want.end());
      std::sort(got.begin(), got.end());
      EXPECT_EQ(got, want) << f.ShortDebugString();
      if (auto plan = compiled->PlanWithIndex(*indexed)) {
        ++planned;
        EXPECT_GE(plan->candidates, want.size()) << f.ShortDebugString();
        const std::vector<uint64_t> candidates = compiled->IndexCandidates(*indexed);
        EXPECT_TRUE(std::includes(candidates.begin(), candidates.end(), want.begin(), want.end()))
            << f.ShortDebugString();
        if (plan->exact) {
          EXPECT_EQ(candidates, want) << f.ShortDebugString();
        }
      }
      if (f.has_range()) {
        const bool range_indexed = f.range().metadata_key() == "w";
        auto plan = compiled->PlanWithIndex(*indexed);
        EXPECT_EQ(plan.has_value(), range_indexed) << f.ShortDebugString();
        if (plan) {
          ++ranges;
          EXPECT_TRUE(plan->exact);
          EXPECT_EQ(plan->candidates, want.size()) << f.ShortDebugString();  // Counted exactly.
        }
      }
    }
    EXPECT_GT(planned, filters / 10);
    EXPECT_GT(ranges, filters / 50);
  }

  std::mt19937_64 rng_{2412};
};

TEST_F(SecondaryIndexTest, PostingsEqualTheStoredItemsAfterRandomWritesAndARestart) {
  Create();
  for (int round = 0; round < 6; ++round) {
    RandomWrites();
    EXPECT_EQ(FromTable(), FromStore()) << "round " << round;
  }
  const Expected before = FromStore();
  EXPECT_FALSE(before.at("color").empty());
  Reopen();
  EXPECT_EQ(FromTable(), before);
  RandomWrites();
  EXPECT_EQ(FromTable(), FromStore());
}

TEST_F(SecondaryIndexTest, FiltersSelectTheSameItemsWithAndWithoutTheIndex) {
  Create();
  for (int round = 0; round < 3; ++round) RandomWrites();
  CheckFiltersAgree(400);
}

TEST_F(SecondaryIndexTest, RangesOnAnIndexedNumericKeyAgreeAfterOverwritesDeletesAndARestart) {
  Create();
  for (int round = 0; round < 4; ++round) {
    RandomWrites();  // Overwrites change "w" of existing items; deletes by id and by filter.
    for (int i = 0; i < 60; ++i) {
      v1::Filter f;
      *f.mutable_range() = RandomWeightRange();
      auto runtime = core().collections().Lookup("c");
      ASSERT_TRUE(runtime.ok());
      auto compiled = CompiledFilter::Compile(f, (*runtime)->spec());
      ASSERT_TRUE(compiled.ok()) << compiled.status();
      v1::CountItemsRequest count;
      count.set_collection("c");
      *count.mutable_filter() = f;
      auto counted = core().queries().CountItems(count);
      ASSERT_TRUE(counted.ok()) << counted.status();
      // Expected from the stored items, with the filter's own semantics.
      uint64_t want = 0;
      ASSERT_TRUE(CollectionStore(store_.get())
                      .ScanItems("c",
                                 [&](const Item& item) {
                                   v1::Item record;
                                   EXPECT_TRUE(record.ParseFromString(item.record));
                                   if (compiled->Matches(ItemAttrs::FromItem(record))) ++want;
                                   return true;
                                 })
                      .ok());
      EXPECT_EQ(counted->count(), want) << f.ShortDebugString() << " round " << round;
    }
  }
  CheckFiltersAgree(200);
  Reopen();
  CheckFiltersAgree(200);
  RandomWrites();
  CheckFiltersAgree(200);
}

TEST_F(SecondaryIndexTest, CountAndListByAnIndexedKeyMatchTheItems) {
  Create();
  for (int round = 0; round < 3; ++round) RandomWrites();
  for (const char* color : kColors) {
    // Expected from the stored items, in id order.
    std::vector<std::string> want;
    ASSERT_TRUE(CollectionStore(store_.get())
                    .ScanItems("c",
                               [&](const Item& item) {
                                 v1::Item record;
                                 record.ParseFromString(item.record);
                                 auto it = record.metadata().find("color");
                                 if (it != record.metadata().end() && it->second == color) {
                                   want.push_back(item.id);
                                 }
                                 return true;
                               })
                    .ok());
    v1::CountItemsRequest count;
    count.set_collection("c");
    count.mutable_filter()->mutable_match()->set_metadata_key("color");
    count.mutable_filter()->mutable_match()->add_values(color);
    auto counted = core().queries().CountItems(count);
    ASSERT_TRUE(counted.ok());
    EXPECT_EQ(counted->count(), want.size()) << color;
    // Pages of 7 through the index: every match once, in id order.
    std::vector<std::string> listed;
    v1::ListItemsRequest list;
    list.set_collection("c");
    list.set_page_size(7);
    *list.mutable_filter() = count.filter();
    for (int pages = 0; pages < 100; ++pages) {
      auto page = core().queries().ListItems(list);
      ASSERT_TRUE(page.ok()) << page.status();
      for (const auto& item : page->items()) listed.push_back(item.item().id());
      if (page->next_page_token().empty()) break;
      list.set_page_token(page->next_page_token());
    }
    EXPECT_EQ(listed, want) << color;
  }
}

}  // namespace
}  // namespace bn::testing
