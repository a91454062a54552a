// Filtered search and SearchBatch over gRPC (issue 24), against the real server: only matching
// items come back, k of them whenever k match, the same as an exact search filtered by hand;
// writes are seen by the next filtered search; bad filters get INVALID_ARGUMENT and change
// nothing. Each case runs twice: with the server's default crossover (these small collections are
// scanned exactly) and with BN_FILTER_EXACT_BELOW=0 (always the filtered HNSW walk).
#include <algorithm>
#include <cstdlib>
#include <limits>
#include <map>
#include <random>
#include <set>
#include <thread>

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
using ::bn::test_filters::AllOf;
using ::bn::test_filters::AnyOf;
using ::bn::test_filters::Match;
using ::bn::test_filters::NoneOf;

constexpr int kItems = 300;
constexpr int kSide = 8;

v1::Input RandomImage(std::mt19937* rng) {
  std::string pixels(kSide * kSide, '\0');
  for (char& p : pixels) p = static_cast<char>((*rng)() & 0xff);
  return RawGrey(kSide, kSide, pixels);
}

v1::Filter PriceBelow(double hi) {
  v1::Filter f;
  f.mutable_range()->set_metadata_key("price");
  f.mutable_range()->set_lt(hi);
  return f;
}

// The item's attributes as the test wrote them.
struct Attrs {
  std::string label;
  int price;
  std::string colour;
};

bool Holds(const v1::Filter& f, const Attrs& a) {
  switch (f.kind_case()) {
    case v1::Filter::kMatch: {
      const std::string& v = f.match().label()                      ? a.label
                             : f.match().metadata_key() == "colour" ? a.colour
                                                                    : std::to_string(a.price);
      for (const auto& want : f.match().values()) {
        if (v == want) return true;
      }
      return false;
    }
    case v1::Filter::kRange:
      return (!f.range().has_lt() || a.price < f.range().lt()) &&
             (!f.range().has_gte() || a.price >= f.range().gte());
    case v1::Filter::kAllOf:
      for (const auto& c : f.all_of().filters()) {
        if (!Holds(c, a)) return false;
      }
      return true;
    case v1::Filter::kAnyOf:
      for (const auto& c : f.any_of().filters()) {
        if (Holds(c, a)) return true;
      }
      return false;
    case v1::Filter::kNoneOf:
      return !Holds(f.none_of(), a);
    default:
      return false;
  }
}

class FilteredSearchTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    const bool walk = GetParam();
    if (walk) setenv("BN_FILTER_EXACT_BELOW", "0", 1);
    std::string error;
    server_ = ServerProcess::Start(dir_.Sub("data"), {}, &error);
    unsetenv("BN_FILTER_EXACT_BELOW");
    ASSERT_NE(server_, nullptr) << error;
    api_ = std::make_unique<Api>(server_->Channel());
    v1::CreateCollectionRequest create;
    create.set_name("img");
    create.mutable_spec()->mutable_image()->set_height(kSide);
    create.mutable_spec()->mutable_image()->set_width(kSide);
    create.mutable_spec()->mutable_image()->set_channels(1);
    create.mutable_spec()->add_numeric_metadata_keys("price");
    v1::Collection c;
    ASSERT_TRUE(api_->collections->CreateCollection(Ctx().get(), create, &c).ok());
    std::mt19937 rng(42);
    std::vector<v1::Input> examples;
    for (int i = 0; i < 60; ++i) examples.push_back(RandomImage(&rng));
    ASSERT_TRUE(UploadExamples(api_->training.get(), "img", "train", examples).ok());
    ASSERT_EQ(TrainPcaAndServe(api_->training.get(), api_->collections.get(), "img", "train", 6),
              1u);
    v1::UpsertRequest upsert;
    upsert.set_collection("img");
    for (int i = 0; i < kItems; ++i) {
      Attrs a{"c" + std::to_string(i % 5), i, i % 3 == 0 ? "red" : "blue"};
      Put(&upsert, "i" + std::to_string(i), RandomImage(&rng), a);
    }
    v1::UpsertResponse r;
    ASSERT_TRUE(api_->items->Upsert(Ctx().get(), upsert, &r).ok());
  }

  void Put(v1::UpsertRequest* upsert, const std::string& id, const v1::Input& input,
           const Attrs& a) {
    v1::Item* item = upsert->add_items();
    item->set_id(id);
    *item->mutable_input() = input;
    item->set_label(a.label);
    (*item->mutable_metadata())["price"] = std::to_string(a.price);
    (*item->mutable_metadata())["colour"] = a.colour;
    attrs_[id] = a;
  }

  // The exact answer: an unfiltered exact search over everything, filtered here.
  std::vector<std::string> Truth(const v1::SearchRequest& base, const v1::Filter& filter,
                                 size_t k) {
    v1::SearchRequest all = base;
    all.clear_filter();
    all.set_exact(true);
    all.set_k(1000);
    v1::SearchResponse r;
    EXPECT_TRUE(api_->query->Search(Ctx().get(), all, &r).ok());
    std::vector<std::string> ids;
    for (const auto& n : r.neighbors()) {
      if (ids.size() < k && Holds(filter, attrs_.at(n.id()))) ids.push_back(n.id());
    }
    return ids;
  }

  TempDir dir_;
  std::unique_ptr<ServerProcess> server_;
  std::unique_ptr<Api> api_;
  std::map<std::string, Attrs> attrs_;
};

TEST_P(FilteredSearchTest, ReturnsKMatchingItemsLikeTheExactFilteredSearch) {
  const std::vector<v1::Filter> filters = {
      Match("label", {"c1"}),                                          // 20 %
      Match("colour", {"red"}),                                        // 33 %
      Match("label", {"c0", "c3"}),                                    // in
      NoneOf(Match("label", {"c0"})),                                  // negation
      PriceBelow(30),                                                  // range, 10 %
      AllOf({Match("colour", {"blue"}), PriceBelow(100)}),             // AND
      AnyOf({Match("label", {"c2"}), AllOf({Match("colour", {"red"}),  // nested OR / AND / NOT
                                            NoneOf(PriceBelow(250))})}),
  };
  double hits = 0, total = 0;
  for (size_t f = 0; f < filters.size(); ++f) {
    for (int q = 0; q < 10; ++q) {
      v1::SearchRequest request;
      request.set_collection("img");
      request.set_item_id("i" + std::to_string(q * 29));
      request.set_k(10);
      *request.mutable_filter() = filters[f];
      v1::SearchResponse response;
      grpc::Status s = api_->query->Search(Ctx().get(), request, &response);
      ASSERT_TRUE(s.ok()) << s.error_message();
      std::vector<std::string> truth = Truth(request, filters[f], 11);
      truth.erase(std::remove(truth.begin(), truth.end(), request.item_id()), truth.end());
      truth.resize(std::min<size_t>(truth.size(), 10));
      ASSERT_EQ(response.neighbors_size(), 10) << "filter " << f;
      std::set<std::string> want(truth.begin(), truth.end());
      for (const auto& n : response.neighbors()) {
        EXPECT_NE(n.id(), request.item_id());
        EXPECT_TRUE(Holds(filters[f], attrs_.at(n.id()))) << "filter " << f << ": " << n.id();
        EXPECT_EQ(n.label(), attrs_.at(n.id()).label);
        hits += want.count(n.id());
      }
      total += want.size();
    }
  }
  EXPECT_GE(hits / total, 0.95);
}

TEST_P(FilteredSearchTest, ReturnsEveryMatchWhenFewerThanKMatch) {
  v1::SearchRequest request;
  request.set_collection("img");
  request.set_item_id("i100");
  request.set_k(10);
  *request.mutable_filter() = PriceBelow(4);  // i0..i3.
  v1::SearchResponse response;
  ASSERT_TRUE(api_->query->Search(Ctx().get(), request, &response).ok());
  std::set<std::string> ids;
  for (const auto& n : response.neighbors()) ids.insert(n.id());
  EXPECT_EQ(ids, (std::set<std::string>{"i0", "i1", "i2", "i3"}));
  // Nothing matches: an empty answer, not an error.
  *request.mutable_filter() = Match("label", {"nope"});
  ASSERT_TRUE(api_->query->Search(Ctx().get(), request, &response).ok());
  EXPECT_EQ(response.neighbors_size(), 0);
}

TEST_P(FilteredSearchTest, SeesAcknowledgedWrites) {
  v1::SearchRequest request;
  request.set_collection("img");
  request.set_item_id("i5");
  request.set_k(5);
  *request.mutable_filter() = Match("label", {"fresh"});
  v1::SearchResponse response;
  ASSERT_TRUE(api_->query->Search(Ctx().get(), request, &response).ok());
  EXPECT_EQ(response.neighbors_size(), 0);
  // Relabel two items and add one: the next search finds them.
  std::mt19937 rng(5);
  v1::UpsertRequest upsert;
  upsert.set_collection("img");
  Put(&upsert, "i7", RandomImage(&rng), {"fresh", 7, "red"});
  Put(&upsert, "i8", RandomImage(&rng), {"fresh", 8, "red"});
  Put(&upsert, "new", RandomImage(&rng), {"fresh", 1000, "red"});
  v1::UpsertResponse r;
  ASSERT_TRUE(api_->items->Upsert(Ctx().get(), upsert, &r).ok());
  ASSERT_TRUE(api_->query->Search(Ctx().get(), request, &response).ok());
  std::set<std::string> ids;
  for (const auto& n : response.neighbors()) ids.insert(n.id());
  EXPECT_EQ(ids, (std::set<std::string>{"i7", "i8", "new"}));
  // Delete one: gone from the next search.
  v1::DeleteItemsRequest del;
  del.set_collection("img");
  del.add_ids("i8");
  v1::DeleteItemsResponse d;
  ASSERT_TRUE(api_->items->DeleteItems(Ctx().get(), del, &d).ok());
  ASSERT_TRUE(api_->query->Search(Ctx().get(), request, &response).ok());
  ids.clear();
  for (const auto& n : response.neighbors()) ids.insert(n.id());
  EXPECT_EQ(ids, (std::set<std::string>{"i7", "new"}));
}

TEST_P(FilteredSearchTest, SearchBatchAnswersLikeSingleSearches) {
  std::mt19937 rng(77);
  v1::SearchBatchRequest batch;
  batch.set_collection("img");
  for (int i = 0; i < 12; ++i) {
    v1::SearchRequest* s = batch.add_searches();
    if (i % 3 == 0) {
      *s->mutable_input() = RandomImage(&rng);
    } else if (i % 3 == 1) {
      s->set_item_id("i" + std::to_string(i));
    } else {
      s->set_collection("img");
      *s->mutable_input() = RandomImage(&rng);
      *s->mutable_filter() = Match("colour", {"red"});
    }
    s->set_k(3 + i);
  }
  v1::SearchBatchResponse out;
  grpc::Status status = api_->query->SearchBatch(Ctx().get(), batch, &out);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(out.results_size(), batch.searches_size());
  EXPECT_EQ(out.model_version(), 1u);
  for (int i = 0; i < batch.searches_size(); ++i) {
    v1::SearchRequest single = batch.searches(i);
    single.set_collection("img");
    v1::SearchResponse one;
    ASSERT_TRUE(api_->query->Search(Ctx().get(), single, &one).ok());
    ASSERT_EQ(out.results(i).neighbors_size(), one.neighbors_size()) << i;
    EXPECT_EQ(out.results(i).neighbors_size(), 3 + i);
    for (int j = 0; j < one.neighbors_size(); ++j) {
      EXPECT_EQ(out.results(i).neighbors(j).id(), one.neighbors(j).id()) << i;
      EXPECT_NEAR(out.results(i).neighbors(j).distance(), one.neighbors(j).distance(), 1e-4);
    }
  }
}

TEST_P(FilteredSearchTest, ListsEveryItemOnceAcrossPagesUnderWrites) {
  v1::ListItemsRequest list;
  list.set_collection("img");
  list.set_page_size(7);
  std::vector<std::string> ids;
  bool wrote = false;
  for (int pages = 0; pages < 100; ++pages) {
    v1::ListItemsResponse page;
    grpc::Status s = api_->items->ListItems(Ctx().get(), list, &page);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_LE(page.items_size(), 7);
    for (const auto& listed : page.items()) {
      ids.push_back(listed.item().id());
      EXPECT_FALSE(listed.item().has_input());
      EXPECT_FALSE(listed.has_code());
      EXPECT_EQ(listed.item().label(), attrs_.at(listed.item().id()).label);
    }
    if (!wrote) {  // Writes between pages: items that exist throughout are still listed once.
      std::mt19937 rng(3);
      v1::UpsertRequest upsert;
      upsert.set_collection("img");
      Put(&upsert, "zz-new", RandomImage(&rng), {"c9", 1, "red"});
      v1::UpsertResponse r;
      ASSERT_TRUE(api_->items->Upsert(Ctx().get(), upsert, &r).ok());
      wrote = true;
    }
    if (page.next_page_token().empty()) break;
    list.set_page_token(page.next_page_token());
  }
  std::vector<std::string> sorted = ids;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(ids, sorted);                                              // Id order...
  EXPECT_EQ(std::unique(sorted.begin(), sorted.end()), sorted.end());  // ...each once...
  std::set<std::string> all;
  for (const auto& [id, a] : attrs_) all.insert(id);
  EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()), all);  // ...all of them.

  // Filtered, with inputs and codes.
  const v1::Filter red_cheap = AllOf({Match("colour", {"red"}), PriceBelow(100)});
  list.clear_page_token();
  list.set_page_size(1000);
  list.set_include_codes(true);
  list.set_include_inputs(true);
  *list.mutable_filter() = red_cheap;
  v1::ListItemsResponse page;
  ASSERT_TRUE(api_->items->ListItems(Ctx().get(), list, &page).ok());
  EXPECT_TRUE(page.next_page_token().empty());
  EXPECT_EQ(page.model_version(), 1u);
  std::set<std::string> want, got;
  for (const auto& [id, a] : attrs_) {
    if (Holds(red_cheap, a)) want.insert(id);
  }
  for (const auto& listed : page.items()) {
    got.insert(listed.item().id());
    EXPECT_TRUE(listed.item().has_input());
    EXPECT_EQ(listed.code().float_code().values_size(), 6);
  }
  EXPECT_EQ(got, want);

  // Counting.
  v1::CountItemsRequest count;
  count.set_collection("img");
  v1::CountItemsResponse n;
  ASSERT_TRUE(api_->items->CountItems(Ctx().get(), count, &n).ok());
  EXPECT_EQ(n.count(), attrs_.size());
  *count.mutable_filter() = red_cheap;
  ASSERT_TRUE(api_->items->CountItems(Ctx().get(), count, &n).ok());
  EXPECT_EQ(n.count(), want.size());

  // Bad listing and counting requests.
  list.clear_filter();
  list.set_page_size(1001);
  grpc::Status s = api_->items->ListItems(Ctx().get(), list, &page);
  EXPECT_EQ(s.error_code(), Code::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), "page_size must be in 0..1000");
  list.set_page_size(5);
  list.set_page_token("garbage");
  s = api_->items->ListItems(Ctx().get(), list, &page);
  EXPECT_EQ(s.error_code(), Code::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("page_token is malformed"), std::string::npos);
  list.set_page_token("L1.zz");
  EXPECT_EQ(api_->items->ListItems(Ctx().get(), list, &page).error_code(), Code::INVALID_ARGUMENT);
  list.clear_page_token();
  list.set_collection("nope");
  EXPECT_EQ(api_->items->ListItems(Ctx().get(), list, &page).error_code(), Code::NOT_FOUND);
  *count.mutable_filter() = v1::Filter();
  EXPECT_EQ(api_->items->CountItems(Ctx().get(), count, &n).error_code(), Code::INVALID_ARGUMENT);
}

TEST_P(FilteredSearchTest, DeletesByFilterAndReportsTheCount) {
  v1::DeleteItemsRequest del;
  del.set_collection("img");
  // Bad requests delete nothing.
  del.add_ids("i1");
  *del.mutable_filter() = PriceBelow(10);
  v1::DeleteItemsResponse d;
  grpc::Status s = api_->items->DeleteItems(Ctx().get(), del, &d);
  EXPECT_EQ(s.error_code(), Code::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), "set ids or a filter, not both");
  del.clear_ids();
  del.mutable_filter()->mutable_range()->set_metadata_key("colour");
  s = api_->items->DeleteItems(Ctx().get(), del, &d);
  EXPECT_EQ(s.error_code(), Code::INVALID_ARGUMENT);
  v1::CountItemsRequest count;
  count.set_collection("img");
  v1::CountItemsResponse n;
  ASSERT_TRUE(api_->items->CountItems(Ctx().get(), count, &n).ok());
  EXPECT_EQ(n.count(), static_cast<uint64_t>(kItems));

  // Items priced below 10 that are not red: i1 i2 i4 i5 i7 i8.
  *del.mutable_filter() = AllOf({PriceBelow(10), NoneOf(Match("colour", {"red"}))});
  ASSERT_TRUE(api_->items->DeleteItems(Ctx().get(), del, &d).ok());
  EXPECT_EQ(d.deleted(), 6u);
  ASSERT_TRUE(api_->items->CountItems(Ctx().get(), count, &n).ok());
  EXPECT_EQ(n.count(), static_cast<uint64_t>(kItems - 6));
  v1::SearchRequest search;
  search.set_collection("img");
  search.set_item_id("i100");
  search.set_k(10);
  *search.mutable_filter() = PriceBelow(10);
  v1::SearchResponse found;
  ASSERT_TRUE(api_->query->Search(Ctx().get(), search, &found).ok());
  std::set<std::string> ids;
  for (const auto& nb : found.neighbors()) ids.insert(nb.id());
  EXPECT_EQ(ids, (std::set<std::string>{"i0", "i3", "i6", "i9"}));
  // Again: nothing left to delete.
  ASSERT_TRUE(api_->items->DeleteItems(Ctx().get(), del, &d).ok());
  EXPECT_EQ(d.deleted(), 0u);
}

INSTANTIATE_TEST_SUITE_P(Crossover, FilteredSearchTest, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? "GraphWalk" : "DefaultCrossover";
                         });

// Bad filters and batches: INVALID_ARGUMENT (or NOT_FOUND) with a precise message; nothing
// changes.
TEST_P(FilteredSearchTest, RejectsBadFiltersAndBatches) {
  auto search_status = [&](const v1::Filter& filter) {
    v1::SearchRequest request;
    request.set_collection("img");
    request.set_item_id("i1");
    *request.mutable_filter() = filter;
    v1::SearchResponse response;
    return api_->query->Search(Ctx().get(), request, &response);
  };
  struct Case {
    v1::Filter filter;
    std::string message;
  };
  std::vector<Case> cases;
  cases.push_back({v1::Filter(), "filter: empty filter"});
  {
    v1::Filter f;
    f.mutable_range()->set_metadata_key("colour");
    f.mutable_range()->set_lt(3);
    cases.push_back({f, "filter.range: metadata key 'colour' is not declared numeric"});
  }
  {
    v1::Filter f;
    f.mutable_range()->set_metadata_key("price");
    cases.push_back({f, "filter.range: set at least one bound"});
    f.mutable_range()->set_gte(5);
    f.mutable_range()->set_lt(5);
    cases.push_back({f, "filter.range: the range is empty"});
    f.mutable_range()->set_lt(std::numeric_limits<double>::infinity());
    cases.push_back({f, "filter.range: bounds must be finite"});
  }
  cases.push_back({Match("label", {}), "filter.match: values must hold 1..1024 values"});
  {
    v1::Filter f = Match("label", {"a"});
    f.mutable_match()->set_metadata_key("x");
    cases.push_back({f, "filter.match: set either label or metadata_key, not both"});
  }
  {
    v1::Filter f = Match("label", {"a"});
    for (int i = 0; i < 8; ++i) f = NoneOf(f);  // Depth 9.
    cases.push_back({f, "filters nest at most 8 deep"});
  }
  cases.push_back(
      {AllOf({Match("label", {"a"}), v1::Filter()}), "filter.all_of.filters[1]: empty filter"});
  {
    v1::Filter f;
    f.mutable_any_of();
    cases.push_back({f, "filter.any_of: filters must hold 1..64 filters"});
  }
  for (const Case& c : cases) {
    grpc::Status s = search_status(c.filter);
    EXPECT_EQ(s.error_code(), Code::INVALID_ARGUMENT) << c.message;
    EXPECT_NE(s.error_message().find(c.message), std::string::npos) << s.error_message();
  }
  // Depth 8 is fine.
  v1::Filter deep = Match("label", {"c1"});
  for (int i = 0; i < 7; ++i) deep = AllOf({deep});
  EXPECT_TRUE(search_status(deep).ok());

  // Upserting a non-number under a numeric key is refused and writes nothing.
  v1::UpsertRequest upsert;
  upsert.set_collection("img");
  std::mt19937 rng(1);
  v1::Item* good = upsert.add_items();
  good->set_id("ok");
  *good->mutable_input() = RandomImage(&rng);
  v1::Item* bad = upsert.add_items();
  bad->set_id("bad");
  *bad->mutable_input() = RandomImage(&rng);
  (*bad->mutable_metadata())["price"] = "cheap";
  v1::UpsertResponse r;
  grpc::Status s = api_->items->Upsert(Ctx().get(), upsert, &r);
  EXPECT_EQ(s.error_code(), Code::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("items[1]: metadata 'price' is declared numeric"),
            std::string::npos)
      << s.error_message();
  v1::GetItemRequest get;
  get.set_collection("img");
  get.set_id("ok");
  v1::GetItemResponse item;
  EXPECT_EQ(api_->items->GetItem(Ctx().get(), get, &item).error_code(), Code::NOT_FOUND);

  // A collection declaring a key twice.
  v1::CreateCollectionRequest create;
  create.set_name("dup");
  create.mutable_spec()->mutable_image()->set_height(4);
  create.mutable_spec()->mutable_image()->set_width(4);
  create.mutable_spec()->mutable_image()->set_channels(1);
  create.mutable_spec()->add_numeric_metadata_keys("a");
  create.mutable_spec()->add_numeric_metadata_keys("a");
  v1::Collection c;
  s = api_->collections->CreateCollection(Ctx().get(), create, &c);
  EXPECT_EQ(s.error_code(), Code::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("numeric_metadata_keys[1] repeats"), std::string::npos);

  // Batches: empty, too many, a bad search (named), a foreign collection, unknown collection.
  v1::SearchBatchRequest batch;
  batch.set_collection("img");
  v1::SearchBatchResponse out;
  EXPECT_EQ(api_->query->SearchBatch(Ctx().get(), batch, &out).error_code(),
            Code::INVALID_ARGUMENT);
  for (int i = 0; i < 1025; ++i) batch.add_searches()->set_item_id("i1");
  EXPECT_EQ(api_->query->SearchBatch(Ctx().get(), batch, &out).error_code(),
            Code::INVALID_ARGUMENT);
  batch.clear_searches();
  batch.add_searches()->set_item_id("i1");
  batch.add_searches()->set_k(5000);
  batch.mutable_searches(1)->set_item_id("i2");
  s = api_->query->SearchBatch(Ctx().get(), batch, &out);
  EXPECT_EQ(s.error_code(), Code::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), "searches[1]: k must be in 1..1000");
  batch.mutable_searches(1)->set_k(3);
  batch.mutable_searches(1)->set_collection("other");
  s = api_->query->SearchBatch(Ctx().get(), batch, &out);
  EXPECT_EQ(s.error_code(), Code::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("searches[1]: collection must be empty or 'img'"),
            std::string::npos);
  batch.mutable_searches(1)->clear_collection();
  batch.mutable_searches(1)->set_item_id("missing");
  s = api_->query->SearchBatch(Ctx().get(), batch, &out);
  EXPECT_EQ(s.error_code(), Code::NOT_FOUND);
  EXPECT_NE(s.error_message().find("searches[1]: item 'missing' not found"), std::string::npos);
  batch.set_collection("nope");
  EXPECT_EQ(api_->query->SearchBatch(Ctx().get(), batch, &out).error_code(), Code::NOT_FOUND);

  // Still serving, nothing changed.
  v1::GetCollectionRequest gc;
  gc.set_name("img");
  ASSERT_TRUE(api_->collections->GetCollection(Ctx().get(), gc, &c).ok());
  EXPECT_EQ(c.stats().item_count(), static_cast<uint64_t>(kItems));
  v1::ListCollectionsResponse list;
  ASSERT_TRUE(api_->collections->ListCollections(Ctx().get(), {}, &list).ok());
  EXPECT_EQ(list.collections_size(), 1);
}

}  // namespace
}  // namespace bn::testing
