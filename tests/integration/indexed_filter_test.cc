// Indexed metadata keys (CollectionSpec.indexed_metadata_keys) over gRPC against the real server:
// after upserts, overwrites and deletes (by ids and by filter), and again after a restart,
// filtered Search / CountItems / ListItems return what the test computes from what it wrote;
// bad key lists get INVALID_ARGUMENT and create nothing. Most filters here select under a
// quarter of the items, so the server reads them from the index (the rest are scanned); ranges
// on "weight" (numeric and indexed) read its range index, ranges on "price" scan.
#include <signal.h>

#include <algorithm>
#include <map>
#include <optional>
#include <random>
#include <set>

#include "bottleneck/v1/collection.grpc.pb.h"
#include "bottleneck/v1/item.grpc.pb.h"
#include "bottleneck/v1/query.grpc.pb.h"
#include "bottleneck/v1/training.grpc.pb.h"
#include "gtest/gtest.h"
#include "tests/integration/client_util.h"
#include "tests/integration/server_process.h"
#include "tests/util/filter_builders.h"
#include "tests/util/temp_dir.h"

namespace bn::testing {
namespace {

namespace v1 = ::bottleneck::v1;
using Code = grpc::StatusCode;
using ::bn::test_filters::Match;

constexpr int kSide = 8;

// What the test wrote for an item.
struct Attrs {
  std::string label;
  std::string shop;  // Indexed; "" = absent.
  int price;         // Numeric, not indexed.
  int weight;        // Numeric and indexed (-20..19: many items share a value).
};

v1::Filter Range(const std::string& key, std::optional<double> gt, std::optional<double> gte,
                 std::optional<double> lt, std::optional<double> lte) {
  v1::Filter f;
  v1::NumericRange* r = f.mutable_range();
  r->set_metadata_key(key);
  if (gt) r->set_gt(*gt);
  if (gte) r->set_gte(*gte);
  if (lt) r->set_lt(*lt);
  if (lte) r->set_lte(*lte);
  return f;
}

bool Holds(const v1::Filter& f, const Attrs& a) {
  switch (f.kind_case()) {
    case v1::Filter::kMatch: {
      if (!f.match().label() && f.match().metadata_key() == "shop" && a.shop.empty()) return false;
      const std::string v = f.match().label()                    ? a.label
                            : f.match().metadata_key() == "shop" ? a.shop
                                                                 : std::to_string(a.price);
      return std::find(f.match().values().begin(), f.match().values().end(), v) !=
             f.match().values().end();
    }
    case v1::Filter::kRange: {
      const v1::NumericRange& r = f.range();
      const double v = r.metadata_key() == "price" ? a.price : a.weight;
      return (!r.has_gt() || v > r.gt()) && (!r.has_gte() || v >= r.gte()) &&
             (!r.has_lt() || v < r.lt()) && (!r.has_lte() || v <= r.lte());
    }
    case v1::Filter::kAllOf:
      return std::all_of(f.all_of().filters().begin(), f.all_of().filters().end(),
                         [&](const v1::Filter& c) { return Holds(c, a); });
    case v1::Filter::kAnyOf:
      return std::any_of(f.any_of().filters().begin(), f.any_of().filters().end(),
                         [&](const v1::Filter& c) { return Holds(c, a); });
    case v1::Filter::kNoneOf:
      return !Holds(f.none_of(), a);
    default:
      return false;
  }
}

class IndexedFilterTest : public ::testing::Test {
 protected:
  void Start() {
    std::string error;
    server_ = ServerProcess::Start(dir_.Sub("data"), {}, &error);
    ASSERT_NE(server_, nullptr) << error;
    api_ = std::make_unique<Api>(server_->Channel());
  }

  v1::Input RandomImage() {
    std::string pixels(kSide * kSide, '\0');
    for (char& p : pixels) p = static_cast<char>(rng_() & 0xff);
    return RawGrey(kSide, kSide, pixels);
  }

  Attrs RandomAttrs(int i) {
    return Attrs{"c" + std::to_string(rng_() % 4),
                 rng_() % 6 == 0 ? "" : "s" + std::to_string(rng_() % 12), i,
                 static_cast<int>(rng_() % 40) - 20};
  }

  void Upsert(const std::vector<int>& ids) {
    v1::UpsertRequest upsert;
    upsert.set_collection("shop");
    for (int i : ids) {
      const std::string id = "i" + std::to_string(1000 + i);
      const Attrs a = RandomAttrs(i);
      v1::Item* item = upsert.add_items();
      item->set_id(id);
      *item->mutable_input() = RandomImage();
      item->set_label(a.label);
      if (!a.shop.empty()) (*item->mutable_metadata())["shop"] = a.shop;
      (*item->mutable_metadata())["price"] = std::to_string(a.price);
      (*item->mutable_metadata())["weight"] = std::to_string(a.weight);
      attrs_[id] = a;
    }
    v1::UpsertResponse r;
    grpc::Status s = api_->items->Upsert(Ctx().get(), upsert, &r);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }

  // Filtered Search (default and exact), CountItems and ListItems against what was written.
  void CheckFilters() {
    const std::vector<v1::Filter> filters = [] {
      std::vector<v1::Filter> f;
      f.push_back(Match("shop", {"s3"}));
      f.push_back(Match("shop", {"s1", "s5", "s11"}));
      f.push_back(Match("label", {"c2"}));
      f.push_back(Match("shop", {"nowhere"}));
      v1::Filter both;  // Indexed equality AND a range.
      *both.mutable_all_of()->add_filters() = Match("shop", {"s4", "s7"});
      both.mutable_all_of()->add_filters()->mutable_range()->set_metadata_key("price");
      both.mutable_all_of()->mutable_filters(1)->mutable_range()->set_lt(150);
      f.push_back(both);
      v1::Filter either;  // OR of indexed terms (candidates: s0's and s6's postings).
      *either.mutable_any_of()->add_filters() = Match("shop", {"s0"});
      v1::Filter* inner = either.mutable_any_of()->add_filters();
      *inner->mutable_all_of()->add_filters() = Match("label", {"c1"});
      *inner->mutable_all_of()->add_filters() = Match("shop", {"s6"});
      f.push_back(either);
      v1::Filter negated;  // No plan: scanned.
      *negated.mutable_none_of() = Match("shop", {"s2"});
      f.push_back(negated);
      // Ranges on the range-indexed key: both bounds inclusive / exclusive, one bound, one value.
      f.push_back(Range("weight", {}, 3, {}, 5));
      f.push_back(Range("weight", -2, {}, 2, {}));
      f.push_back(Range("weight", 15, {}, {}, {}));
      f.push_back(Range("weight", {}, {}, {}, -18));
      f.push_back(Range("weight", {}, 7, {}, 7));
      f.push_back(Range("weight", 100, {}, {}, {}));
      v1::Filter range_and;  // Indexed range AND an indexed equality.
      *range_and.mutable_all_of()->add_filters() = Range("weight", {}, -10, 0, {});
      *range_and.mutable_all_of()->add_filters() = Match("label", {"c0", "c3"});
      f.push_back(range_and);
      return f;
    }();
    // Every item's distance to each query, from one unfiltered exact search.
    std::vector<std::string> query_ids;  // Every 80th item.
    size_t at = 0;
    for (auto it = attrs_.begin(); it != attrs_.end(); ++it, ++at) {
      if (at % 80 == 0) query_ids.push_back(it->first);
    }
    for (const std::string& query_id : query_ids) {
      v1::SearchRequest all;
      all.set_collection("shop");
      all.set_item_id(query_id);
      all.set_exact(true);
      all.set_k(1000);
      v1::SearchResponse everything;
      ASSERT_TRUE(api_->query->Search(Ctx().get(), all, &everything).ok());
      ASSERT_EQ(static_cast<size_t>(everything.neighbors_size()), attrs_.size() - 1);
      for (size_t f = 0; f < filters.size(); ++f) {
        std::vector<std::pair<std::string, float>> want;
        for (const auto& n : everything.neighbors()) {
          if (want.size() < 10 && Holds(filters[f], attrs_.at(n.id()))) {
            want.emplace_back(n.id(), n.distance());
          }
        }
        for (bool exact : {false, true}) {
          v1::SearchRequest request = all;
          request.set_exact(exact);
          request.set_k(10);
          *request.mutable_filter() = filters[f];
          v1::SearchResponse got;
          grpc::Status s = api_->query->Search(Ctx().get(), request, &got);
          ASSERT_TRUE(s.ok()) << s.error_message();
          std::vector<std::pair<std::string, float>> ids;
          for (const auto& n : got.neighbors()) ids.emplace_back(n.id(), n.distance());
          EXPECT_EQ(ids, want) << "filter " << f << " query " << query_id << " exact " << exact;
        }
      }
    }
    for (size_t f = 0; f < filters.size(); ++f) {
      std::vector<std::string> want;  // attrs_ is in id order.
      for (const auto& [id, a] : attrs_) {
        if (Holds(filters[f], a)) want.push_back(id);
      }
      v1::CountItemsRequest count;
      count.set_collection("shop");
      *count.mutable_filter() = filters[f];
      v1::CountItemsResponse counted;
      ASSERT_TRUE(api_->items->CountItems(Ctx().get(), count, &counted).ok());
      EXPECT_EQ(counted.count(), want.size()) << "filter " << f;
      v1::ListItemsRequest list;
      list.set_collection("shop");
      list.set_page_size(6);
      *list.mutable_filter() = filters[f];
      std::vector<std::string> listed;
      for (int page = 0; page < 200; ++page) {
        v1::ListItemsResponse response;
        ASSERT_TRUE(api_->items->ListItems(Ctx().get(), list, &response).ok());
        for (const auto& item : response.items()) listed.push_back(item.item().id());
        if (response.next_page_token().empty()) break;
        list.set_page_token(response.next_page_token());
      }
      EXPECT_EQ(listed, want) << "filter " << f;
    }
  }

  TempDir dir_;
  std::mt19937 rng_{24};
  std::unique_ptr<ServerProcess> server_;
  std::unique_ptr<Api> api_;
  std::map<std::string, Attrs> attrs_;
};

TEST_F(IndexedFilterTest, FilteredReadsMatchTheWritesAcrossOverwritesDeletesAndARestart) {
  Start();
  v1::CreateCollectionRequest create;
  create.set_name("shop");
  create.mutable_spec()->mutable_image()->set_height(kSide);
  create.mutable_spec()->mutable_image()->set_width(kSide);
  create.mutable_spec()->mutable_image()->set_channels(1);
  create.mutable_spec()->add_numeric_metadata_keys("price");
  create.mutable_spec()->add_numeric_metadata_keys("weight");
  create.mutable_spec()->add_indexed_metadata_keys("shop");
  create.mutable_spec()->add_indexed_metadata_keys("weight");
  v1::Collection c;
  ASSERT_TRUE(api_->collections->CreateCollection(Ctx().get(), create, &c).ok());
  ASSERT_EQ(c.spec().indexed_metadata_keys_size(), 2);
  std::vector<v1::Input> examples;
  for (int i = 0; i < 60; ++i) examples.push_back(RandomImage());
  ASSERT_TRUE(UploadExamples(api_->training.get(), "shop", "train", examples).ok());
  ASSERT_EQ(TrainPcaAndServe(api_->training.get(), api_->collections.get(), "shop", "train", 6),
            1u);

  std::vector<int> ids(240);
  for (int i = 0; i < 240; ++i) ids[i] = i;
  Upsert(ids);
  // Overwrites (new label / shop / price, or the shop removed) and deletes by id and by filter.
  Upsert({3, 50, 101, 7, 8, 9, 200, 201});
  v1::DeleteItemsRequest del;
  del.set_collection("shop");
  for (int i : {10, 11, 12, 60}) {
    del.add_ids("i" + std::to_string(1000 + i));
    attrs_.erase("i" + std::to_string(1000 + i));
  }
  v1::DeleteItemsResponse deleted;
  ASSERT_TRUE(api_->items->DeleteItems(Ctx().get(), del, &deleted).ok());
  EXPECT_EQ(deleted.deleted(), 4u);
  v1::DeleteItemsRequest by_filter;
  by_filter.set_collection("shop");
  *by_filter.mutable_filter() = Match("shop", {"s9"});
  size_t s9 = 0;
  for (auto it = attrs_.begin(); it != attrs_.end();) {
    if (it->second.shop == "s9") {
      ++s9;
      it = attrs_.erase(it);
    } else {
      ++it;
    }
  }
  ASSERT_TRUE(api_->items->DeleteItems(Ctx().get(), by_filter, &deleted).ok());
  EXPECT_EQ(deleted.deleted(), s9);
  CheckFilters();

  // A restart: the index is rebuilt from the stored items.
  ASSERT_NE(server_->SignalAndWait(SIGTERM, 30), -1);
  server_.reset();
  Start();
  CheckFilters();
  Upsert({0, 1, 2, 300, 301});
  CheckFilters();
}

TEST_F(IndexedFilterTest, BadIndexedKeyListsAreRefusedAndCreateNothing) {
  Start();
  auto create = [&](std::vector<std::string> keys) {
    v1::CreateCollectionRequest request;
    request.set_name("bad");
    request.mutable_spec()->mutable_image()->set_height(kSide);
    request.mutable_spec()->mutable_image()->set_width(kSide);
    request.mutable_spec()->mutable_image()->set_channels(1);
    for (auto& k : keys) request.mutable_spec()->add_indexed_metadata_keys(k);
    v1::Collection c;
    return api_->collections->CreateCollection(Ctx().get(), request, &c);
  };
  struct Case {
    std::vector<std::string> keys;
    std::string message;
  };
  std::vector<std::string> many;
  for (int i = 0; i < 65; ++i) many.push_back("k" + std::to_string(i));
  for (const Case& c : std::vector<Case>{
           {{"a", "b", "a"}, "spec.indexed_metadata_keys[2] repeats 'a'"},
           {{"a", ""}, "spec.indexed_metadata_keys[1] must be 1..256 bytes"},
           {{std::string(257, 'x')}, "spec.indexed_metadata_keys[0] must be 1..256 bytes"},
           {many, "spec.indexed_metadata_keys holds at most 64 keys"}}) {
    grpc::Status s = create(c.keys);
    EXPECT_EQ(s.error_code(), Code::INVALID_ARGUMENT);
    EXPECT_EQ(s.error_message(), c.message);
    v1::GetCollectionRequest get;
    get.set_name("bad");
    v1::Collection got;
    EXPECT_EQ(api_->collections->GetCollection(Ctx().get(), get, &got).error_code(),
              Code::NOT_FOUND);
  }
  EXPECT_TRUE(create({"a", "b"}).ok());
}

}  // namespace
}  // namespace bn::testing
