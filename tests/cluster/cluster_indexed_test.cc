// Cluster mode, indexed metadata keys: a collection created with indexed keys (one of them also
// numeric, so it has a range index) on 3 nodes, 3 shards x 2 replicas; items upserted through
// every node. Filtered searches (default and exact) through any node on the indexed equality, an
// indexed range and their AND return the top 10 of the unfiltered exact ranking among the items
// that match (the expectation computed in the test from what it wrote).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "tests/cluster/cluster_harness.h"
#include "tests/cluster/fashion_util.h"
#include "tests/integration/client_util.h"

namespace bn::testing {
namespace {

namespace v1 = ::bottleneck::v1;

struct Attrs {
  std::string shop;  // Indexed.
  int w;             // Numeric and indexed.
};

bool Holds(const v1::Filter& f, const Attrs& a) {
  switch (f.kind_case()) {
    case v1::Filter::kMatch:
      return std::find(f.match().values().begin(), f.match().values().end(), a.shop) !=
             f.match().values().end();
    case v1::Filter::kRange: {
      const v1::NumericRange& r = f.range();
      return (!r.has_gte() || a.w >= r.gte()) && (!r.has_lt() || a.w < r.lt());
    }
    case v1::Filter::kAllOf:
      return std::all_of(f.all_of().filters().begin(), f.all_of().filters().end(),
                         [&](const v1::Filter& c) { return Holds(c, a); });
    default:
      ADD_FAILURE() << "filter kind not used here";
      return false;
  }
}

TEST(ClusterIndexedTest, FilteredSearchOnIndexedKeysGivesTheFilteredExactRanking) {
  constexpr int kItems = 900, kTrain = 1000, kQueries = 6;
  const LabeledImages& images = Fashion(DatasetSplit::kTest, kItems + kQueries);
  ClusterHarness cluster;
  std::string error;
  ASSERT_TRUE(cluster.StartNats(&error)) << error;
  for (const char* id : {"a", "b", "c"}) ASSERT_TRUE(cluster.StartNode(id, {}, &error)) << error;
  Api a(cluster.Channel("a")), b(cluster.Channel("b")), c(cluster.Channel("c"));
  std::vector<Api*> nodes = {&a, &b, &c};

  v1::CreateCollectionRequest create;
  create.set_name("shop");
  create.mutable_spec()->mutable_image()->set_height(28);
  create.mutable_spec()->mutable_image()->set_width(28);
  create.mutable_spec()->mutable_image()->set_channels(1);
  create.mutable_spec()->add_numeric_metadata_keys("w");
  create.mutable_spec()->add_indexed_metadata_keys("shop");
  create.mutable_spec()->add_indexed_metadata_keys("w");
  create.set_shards(3);
  create.set_replicas(2);
  v1::Collection created;
  grpc::Status s = a.collections->CreateCollection(Ctx().get(), create, &created);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(created.spec().indexed_metadata_keys_size(), 2);
  ASSERT_TRUE(UploadFashion(b, "shop", "train", kTrain).ok());
  EXPECT_EQ(TrainPca(c, "shop", "train", 16, true).model_version(), 1u);
  for (const char* id : {"a", "b", "c"}) {
    Api node(cluster.Channel(id));
    ASSERT_TRUE(WaitForServing(node, "shop", 1)) << cluster.NodeStderr(id);
  }

  // Items through every node: shop s0..s11 and w -20..19 (many items share each value).
  std::map<std::string, Attrs> attrs;
  uint64_t last = 0;
  for (int start = 0; start < kItems; start += 150) {
    v1::UpsertRequest upsert;
    upsert.set_collection("shop");
    for (int i = start; i < start + 150; ++i) {
      const Attrs at{"s" + std::to_string(i * 7 % 12), i * 13 % 40 - 20};
      v1::Item* item = upsert.add_items();
      item->set_id("item-" + std::to_string(i));
      *item->mutable_input() = FashionInput(images, i);
      (*item->mutable_metadata())["shop"] = at.shop;
      (*item->mutable_metadata())["w"] = std::to_string(at.w);
      attrs[item->id()] = at;
    }
    v1::UpsertResponse response;
    s = nodes[start / 150 % 3]->items->Upsert(Ctx(60).get(), upsert, &response);
    ASSERT_TRUE(s.ok()) << s.error_message();
    last = std::max(last, response.sequence());
  }
  ASSERT_TRUE(cluster.WaitForReady("a", "shop", 2, 1, 120)) << cluster.last_seen();

  std::vector<v1::Filter> filters(3);
  filters[0].mutable_match()->set_metadata_key("shop");
  filters[0].mutable_match()->add_values("s3");
  filters[1].mutable_range()->set_metadata_key("w");
  filters[1].mutable_range()->set_gte(-4);
  filters[1].mutable_range()->set_lt(-1);
  *filters[2].mutable_all_of()->add_filters() = filters[1];
  v1::Filter* shops = filters[2].mutable_all_of()->add_filters();
  shops->mutable_match()->set_metadata_key("shop");
  for (const char* v : {"s1", "s4", "s5", "s8", "s10"}) shops->mutable_match()->add_values(v);

  for (int q = 0; q < kQueries; ++q) {
    Api& via = *nodes[q % 3];
    v1::SearchRequest all;
    all.set_collection("shop");
    *all.mutable_input() = FashionInput(images, kItems + q);
    all.set_exact(true);
    all.set_k(kItems);
    all.set_min_sequence(last);
    v1::SearchResponse everything;
    s = via.query->Search(Ctx(60).get(), all, &everything);
    ASSERT_TRUE(s.ok()) << s.error_message();
    ASSERT_EQ(everything.neighbors_size(), kItems);
    for (size_t f = 0; f < filters.size(); ++f) {
      std::vector<std::pair<std::string, float>> want;
      for (const auto& n : everything.neighbors()) {
        if (want.size() < 10 && Holds(filters[f], attrs.at(n.id()))) {
          want.emplace_back(n.id(), n.distance());
        }
      }
      ASSERT_EQ(want.size(), 10u) << "filter " << f;  // Each filter matches more than 10.
      for (bool exact : {false, true}) {
        v1::SearchRequest request = all;
        request.set_exact(exact);
        request.set_k(10);
        *request.mutable_filter() = filters[f];
        v1::SearchResponse got;
        s = via.query->Search(Ctx(60).get(), request, &got);
        ASSERT_TRUE(s.ok()) << s.error_message();
        ASSERT_EQ(got.neighbors_size(), 10) << "filter " << f << " query " << q;
        // Same distances; ids equal except among items tied with the 10th.
        const float tenth = want.back().second;
        std::set<std::string> want_ids, got_ids;
        for (int i = 0; i < 10; ++i) {
          EXPECT_NEAR(got.neighbors(i).distance(), want[i].second,
                      1e-4 * std::max(1.0f, std::fabs(want[i].second)))
              << "filter " << f << " query " << q << " exact " << exact << " rank " << i;
          EXPECT_TRUE(Holds(filters[f], attrs.at(got.neighbors(i).id())));
          if (std::fabs(want[i].second - tenth) > 1e-4 * std::max(1.0f, std::fabs(tenth))) {
            want_ids.insert(want[i].first);
          }
          if (std::fabs(got.neighbors(i).distance() - tenth) >
              1e-4 * std::max(1.0f, std::fabs(tenth))) {
            got_ids.insert(got.neighbors(i).id());
          }
        }
        EXPECT_EQ(got_ids, want_ids) << "filter " << f << " query " << q << " exact " << exact;
      }
    }
  }
}

}  // namespace
}  // namespace bn::testing
