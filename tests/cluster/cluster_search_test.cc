// Cluster mode, search: with 3 shards x 2 replicas on 3 nodes, items upserted through any node
// give the same exact top-10 as a single node with the same model (PCA, deterministic), and the
// HNSW recall@10 at the same ef is within 0.01 of the single node's; filtered searches and label
// votes match the single node's too. Also the statuses of bad
// searches, a shard without a live replica (UNAVAILABLE, or partial results), a node of another
// protocol version, and training jobs seen and cancelled through any node.
//
// BN_CLUSTER_ITEMS sets the number of items (default 5000; the long run: 60000).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <iostream>
#include <set>

#include "bottleneck/cluster/internal.grpc.pb.h"
#include "tests/cluster/cluster_harness.h"
#include "tests/cluster/fashion_util.h"
#include "tests/integration/client_util.h"

namespace bn::testing {
namespace {

namespace v1 = ::bottleneck::v1;

int ItemCount() {
  const char* value = std::getenv("BN_CLUSTER_ITEMS");
  return value != nullptr && std::atoi(value) > 0 ? std::atoi(value) : 5000;
}

v1::SearchResponse Search(Api& api, const v1::Input& input, bool exact, uint64_t min_sequence) {
  v1::SearchRequest request;
  request.set_collection("fashion");
  *request.mutable_input() = input;
  request.set_k(10);
  request.set_exact(exact);
  request.set_min_sequence(min_sequence);
  v1::SearchResponse response;
  grpc::Status status = api.query->Search(Ctx(60).get(), request, &response);
  EXPECT_TRUE(status.ok()) << status.error_message();
  return response;
}

// Same neighbours and distances; items whose distance ties (within 1e-4 relative) with the
// 10th may differ.
void ExpectSameTopTen(const v1::SearchResponse& single, const v1::SearchResponse& cluster,
                      int query) {
  ASSERT_EQ(single.neighbors_size(), cluster.neighbors_size()) << "query " << query;
  const int n = single.neighbors_size();
  if (n == 0) return;
  auto close = [](double a, double b) {
    return std::fabs(a - b) <= 1e-4 * std::max(1.0, std::fabs(a));
  };
  for (int i = 0; i < n; ++i) {
    EXPECT_TRUE(close(single.neighbors(i).distance(), cluster.neighbors(i).distance()))
        << "query " << query << " rank " << i << ": " << single.neighbors(i).distance() << " vs "
        << cluster.neighbors(i).distance();
  }
  const double last = single.neighbors(n - 1).distance();
  std::set<std::string> a, b;
  for (int i = 0; i < n; ++i) {
    if (!close(single.neighbors(i).distance(), last)) a.insert(single.neighbors(i).id());
    if (!close(cluster.neighbors(i).distance(), last)) b.insert(cluster.neighbors(i).id());
  }
  EXPECT_EQ(a, b) << "query " << query;
}

double Recall(const v1::SearchResponse& approximate, const v1::SearchResponse& exact) {
  std::set<std::string> truth;
  for (const auto& n : exact.neighbors()) truth.insert(n.id());
  int hits = 0;
  for (const auto& n : approximate.neighbors()) hits += truth.count(n.id());
  return truth.empty() ? 1.0 : static_cast<double>(hits) / truth.size();
}

TEST(ClusterSearchTest, SameExactTopTenAsASingleNodeAndRecallWithinOnePercent) {
  const int items = ItemCount();
  constexpr int kTrain = 2000, kQueries = 100;
  // Items: test images, then training images for runs past the 10,000 test images.
  const bool from_test = items <= 10000;
  const LabeledImages& pool =
      Fashion(from_test ? DatasetSplit::kTest : DatasetSplit::kTrain, items);
  const LabeledImages& queries = Fashion(DatasetSplit::kTest, 10000);
  const int query_base = from_test ? items : 0;  // Query images that are not items.
  ASSERT_GE(queries.images.rows, query_base + kQueries);

  // The single node.
  TempDir dir;
  std::string error;
  auto single = ServerProcess::Start(dir.Sub("single"), {"--inference-threads", "1"}, &error);
  ASSERT_NE(single, nullptr) << error;
  Api one(single->Channel());
  ASSERT_TRUE(CreateFashionCollection(one, "fashion").ok());
  ASSERT_TRUE(UploadFashion(one, "fashion", "train", kTrain).ok());
  ASSERT_EQ(TrainPca(one, "fashion", "train", 32, true).model_version(), 1u);
  ASSERT_TRUE(WaitForServing(one, "fashion", 1));
  UpsertFashion(one, "fashion", pool, 0, items, "item-");

  // The cluster: 3 nodes, 3 shards x 2 replicas; upload, train and write through different nodes.
  ClusterHarness cluster;
  ASSERT_TRUE(cluster.StartNats(&error)) << error;
  for (const char* id : {"a", "b", "c"}) ASSERT_TRUE(cluster.StartNode(id, {}, &error)) << error;
  Api a(cluster.Channel("a")), b(cluster.Channel("b")), c(cluster.Channel("c"));
  std::vector<Api*> nodes = {&a, &b, &c};
  ASSERT_TRUE(CreateFashionCollection(a, "fashion", 3, 2).ok());
  ASSERT_TRUE(UploadFashion(b, "fashion", "train", kTrain).ok());
  const v1::Job job = TrainPca(c, "fashion", "train", 32, true);
  EXPECT_EQ(job.model_version(), 1u);
  EXPECT_EQ(job.id(), "fashion.c.1") << "jobs are named by collection, node and number";
  // Every node's view of the collection follows the metadata bucket by its own watch.
  for (const char* id : {"a", "b", "c"}) {
    Api node(cluster.Channel(id));
    ASSERT_TRUE(WaitForServing(node, "fashion", 1)) << cluster.NodeStderr(id);
  }

  // The same model: the same codes.
  v1::EncodeRequest encode;
  encode.set_collection("fashion");
  for (int q = 0; q < 5; ++q) *encode.add_inputs() = FashionInput(queries, query_base + q);
  v1::EncodeResponse single_codes, cluster_codes;
  ASSERT_TRUE(one.query->Encode(Ctx().get(), encode, &single_codes).ok());
  // b learns of the serving version through its watch of the collections bucket: a moment
  // after a's view may (eventually consistent metadata).
  grpc::Status encoded;
  ASSERT_TRUE(WaitFor(
      [&] {
        encoded = b.query->Encode(Ctx().get(), encode, &cluster_codes);
        return encoded.ok();
      },
      20))
      << encoded.error_message();
  for (int q = 0; q < 5; ++q) {
    EXPECT_LT(L2(single_codes.codes(q), cluster_codes.codes(q)), 1e-6);
  }

  uint64_t last = 0;
  const int per_node = (items + 2) / 3;
  for (int n = 0; n < 3; ++n) {
    last = std::max(last, UpsertFashion(*nodes[n], "fashion", pool, n * per_node,
                                        std::min(items, (n + 1) * per_node), "item-"));
  }
  ASSERT_GT(last, 0u);
  ASSERT_TRUE(cluster.WaitForReady("a", "fashion", 2, 1, 120));

  double recall_single = 0, recall_cluster = 0;
  for (int q = 0; q < kQueries; ++q) {
    const v1::Input input = FashionInput(queries, query_base + q);
    Api& via = *nodes[q % 3];
    const v1::SearchResponse single_exact = Search(one, input, true, 0);
    const v1::SearchResponse cluster_exact = Search(via, input, true, last);
    EXPECT_EQ(cluster_exact.model_version(), 1u);
    ExpectSameTopTen(single_exact, cluster_exact, q);
    recall_single += Recall(Search(one, input, false, 0), single_exact);
    recall_cluster += Recall(Search(via, input, false, last), cluster_exact);
  }
  recall_single /= kQueries;
  recall_cluster /= kQueries;

  // Filtered search and label votes give what the single node gives: the exact filtered top-10
  // (labels 3 or 7), and the same votes over it.
  for (int q = 0; q < 20; ++q) {
    v1::SearchRequest request;
    request.set_collection("fashion");
    *request.mutable_input() = FashionInput(queries, query_base + q);
    request.set_k(10);
    request.set_exact(q % 2 == 0);
    request.set_label_votes(true);
    request.set_min_sequence(last);
    v1::FieldMatch* in = request.mutable_filter()->mutable_match();
    in->set_label(true);
    in->add_values("3");
    in->add_values("7");
    v1::SearchResponse single_filtered, cluster_filtered;
    ASSERT_TRUE(one.query->Search(Ctx(60).get(), request, &single_filtered).ok());
    grpc::Status status = nodes[q % 3]->query->Search(Ctx(60).get(), request, &cluster_filtered);
    ASSERT_TRUE(status.ok()) << status.error_message();
    ASSERT_EQ(cluster_filtered.neighbors_size(), 10);
    for (const auto& n : cluster_filtered.neighbors()) {
      EXPECT_TRUE(n.label() == "3" || n.label() == "7") << n.id() << " has label " << n.label();
    }
    if (request.exact()) {
      ExpectSameTopTen(single_filtered, cluster_filtered, q);
      ASSERT_EQ(single_filtered.label_votes_size(), cluster_filtered.label_votes_size());
      for (int v = 0; v < single_filtered.label_votes_size(); ++v) {
        EXPECT_EQ(single_filtered.label_votes(v).label(), cluster_filtered.label_votes(v).label());
        EXPECT_EQ(single_filtered.label_votes(v).count(), cluster_filtered.label_votes(v).count());
      }
    } else {
      EXPECT_GE(Recall(cluster_filtered, single_filtered), 0.8) << "query " << q;
    }
    int votes = 0;
    for (const auto& vote : cluster_filtered.label_votes()) votes += vote.count();
    EXPECT_EQ(votes, 10);
  }
  std::cout << "items " << items << ": HNSW recall@10 single node " << recall_single
            << ", 3-shard cluster " << recall_cluster << "\n";
  RecordProperty("recall_single", std::to_string(recall_single));
  RecordProperty("recall_cluster", std::to_string(recall_cluster));
  EXPECT_GE(recall_cluster, recall_single - 0.01);

  // The collection's figures add up over the shards.
  v1::GetCollectionRequest get;
  get.set_name("fashion");
  v1::Collection described;
  ASSERT_TRUE(c.collections->GetCollection(Ctx().get(), get, &described).ok());
  EXPECT_EQ(described.stats().item_count(), static_cast<uint64_t>(items));
  EXPECT_EQ(described.stats().pending_item_count(), 0u);
  EXPECT_EQ(described.stats().serving_model_version(), 1u);
}

TEST(ClusterSearchTest, BadSearchesUnavailableShardsAndOtherProtocolVersions) {
  ClusterHarness cluster;
  std::string error;
  ASSERT_TRUE(cluster.StartNats(&error)) << error;
  for (const char* id : {"a", "b", "c"}) ASSERT_TRUE(cluster.StartNode(id, {}, &error)) << error;
  Api a(cluster.Channel("a"));
  // One replica per shard: losing a node loses its shards.
  ASSERT_TRUE(CreateFashionCollection(a, "fashion", 3, 1).ok());
  const v1::Input query = FashionInput(Fashion(DatasetSplit::kTest, 600), 599);
  {
    v1::SearchRequest request;
    request.set_collection("fashion");
    *request.mutable_input() = query;
    v1::SearchResponse response;
    grpc::Status none = a.query->Search(Ctx().get(), request, &response);
    EXPECT_EQ(none.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << none.error_message();
    EXPECT_NE(none.error_message().find("no model serves"), std::string::npos);
  }
  ASSERT_TRUE(UploadFashion(a, "fashion", "train", 1000).ok());
  ASSERT_EQ(TrainPca(a, "fashion", "train", 16, true).model_version(), 1u);
  ASSERT_TRUE(WaitForServing(a, "fashion", 1));
  const uint64_t last =
      UpsertFashion(a, "fashion", Fashion(DatasetSplit::kTest, 600), 0, 500, "i-");
  ASSERT_TRUE(cluster.WaitForReady("a", "fashion", 1, 1));

  v1::SearchRequest request;
  request.set_collection("fashion");
  *request.mutable_input() = query;
  request.set_min_sequence(last);
  v1::SearchResponse response;
  ASSERT_TRUE(a.query->Search(Ctx().get(), request, &response).ok());
  EXPECT_EQ(response.neighbors_size(), 10);
  EXPECT_EQ(response.query_code().float_code().values_size(), 16);
  // By item: the item itself is left out, wherever its shard is.
  v1::SearchRequest by_item;
  by_item.set_collection("fashion");
  by_item.set_item_id("i-7");
  by_item.set_k(5);
  ASSERT_TRUE(a.query->Search(Ctx().get(), by_item, &response).ok());
  ASSERT_EQ(response.neighbors_size(), 5);
  for (const auto& n : response.neighbors()) EXPECT_NE(n.id(), "i-7");

  // Bad requests.
  v1::SearchRequest bad = request;
  bad.set_collection("nope");
  EXPECT_EQ(a.query->Search(Ctx().get(), bad, &response).error_code(), grpc::StatusCode::NOT_FOUND);
  bad = request;
  bad.set_k(1001);
  EXPECT_EQ(a.query->Search(Ctx().get(), bad, &response).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  bad = request;
  bad.mutable_code()->mutable_float_code()->add_values(1.0f);  // 1 value, the model has 16.
  EXPECT_EQ(a.query->Search(Ctx().get(), bad, &response).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  bad = request;
  bad.set_item_id("missing");
  EXPECT_EQ(a.query->Search(Ctx().get(), bad, &response).error_code(), grpc::StatusCode::NOT_FOUND);
  // A malformed filter is refused by the router with the single node's message.
  bad = request;
  bad.mutable_filter()->mutable_match()->set_label(true);
  {
    grpc::Status status = a.query->Search(Ctx().get(), bad, &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << status.error_message();
  }
  // A numeric range on a key the collection does not declare numeric.
  bad = request;
  bad.mutable_filter()->mutable_range()->set_metadata_key("price");
  bad.mutable_filter()->mutable_range()->set_lt(5);
  EXPECT_EQ(a.query->Search(Ctx().get(), bad, &response).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  // SearchBatch: each result is what the same search alone gives; a bad search anywhere in the
  // batch is refused by its index before any runs.
  {
    v1::SearchBatchRequest batch;
    batch.set_collection("fashion");
    v1::SearchRequest exact = request;
    exact.set_exact(true);
    exact.clear_collection();
    *batch.add_searches() = exact;
    v1::SearchRequest exact_by_item = by_item;
    exact_by_item.set_exact(true);
    *batch.add_searches() = exact_by_item;
    v1::SearchRequest filtered = exact;
    filtered.mutable_filter()->mutable_match()->set_label(true);
    filtered.mutable_filter()->mutable_match()->add_values("1");
    filtered.set_label_votes(true);
    *batch.add_searches() = filtered;
    v1::SearchBatchResponse batch_response;
    grpc::Status status = a.query->SearchBatch(Ctx().get(), batch, &batch_response);
    ASSERT_TRUE(status.ok()) << status.error_message();
    ASSERT_EQ(batch_response.results_size(), 3);
    EXPECT_EQ(batch_response.model_version(), 1u);
    for (int i = 0; i < 3; ++i) {
      v1::SearchRequest alone = batch.searches(i);
      alone.set_collection("fashion");
      v1::SearchResponse single;
      ASSERT_TRUE(a.query->Search(Ctx().get(), alone, &single).ok());
      const v1::SearchResponse& batched = batch_response.results(i);
      ASSERT_EQ(batched.neighbors_size(), single.neighbors_size()) << "search " << i;
      for (int j = 0; j < single.neighbors_size(); ++j) {
        EXPECT_EQ(batched.neighbors(j).id(), single.neighbors(j).id()) << i << "/" << j;
        EXPECT_FLOAT_EQ(batched.neighbors(j).distance(), single.neighbors(j).distance());
      }
      EXPECT_EQ(batched.label_votes_size(), single.label_votes_size());
    }
    for (const auto& n : batch_response.results(2).neighbors()) EXPECT_EQ(n.label(), "1");
    ASSERT_EQ(batch_response.results(2).label_votes_size(), 1);
    EXPECT_EQ(batch_response.results(2).label_votes(0).label(), "1");

    batch.mutable_searches(1)->set_k(1001);
    status = a.query->SearchBatch(Ctx().get(), batch, &batch_response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_NE(status.error_message().find("searches[1]"), std::string::npos)
        << status.error_message();
    v1::SearchBatchRequest empty;
    empty.set_collection("fashion");
    EXPECT_EQ(a.query->SearchBatch(Ctx().get(), empty, &batch_response).error_code(),
              grpc::StatusCode::INVALID_ARGUMENT);
  }
  // ListItems pages through every shard in id order: each of the 500 items exactly once, at a
  // page size that does not divide 500; with a filter, exactly the matching items, as many as
  // CountItems says; codes on request.
  {
    const LabeledImages& images = Fashion(DatasetSplit::kTest, 600);
    std::set<std::string> label_1;
    for (int i = 0; i < 500; ++i) {
      if (images.labels[i] == 1) label_1.insert("i-" + std::to_string(i));
    }
    ASSERT_FALSE(label_1.empty());
    for (const bool filtered : {false, true}) {
      v1::ListItemsRequest list;
      list.set_collection("fashion");
      list.set_page_size(37);
      list.set_include_codes(true);
      if (filtered) {
        list.mutable_filter()->mutable_match()->set_label(true);
        list.mutable_filter()->mutable_match()->add_values("1");
      }
      std::vector<std::string> ids;
      for (int page = 0; page < 100; ++page) {
        v1::ListItemsResponse listed;
        grpc::Status status = a.items->ListItems(Ctx().get(), list, &listed);
        ASSERT_TRUE(status.ok()) << status.error_message();
        EXPECT_LE(listed.items_size(), 37);
        EXPECT_EQ(listed.model_version(), 1u);
        for (const auto& item : listed.items()) {
          ids.push_back(item.item().id());
          EXPECT_EQ(item.code().float_code().values_size(), 16) << item.item().id();
          if (filtered) {
            EXPECT_EQ(item.item().label(), "1");
          }
        }
        if (listed.next_page_token().empty()) break;
        list.set_page_token(listed.next_page_token());
      }
      EXPECT_TRUE(std::is_sorted(ids.begin(), ids.end()));
      const std::set<std::string> unique(ids.begin(), ids.end());
      EXPECT_EQ(unique.size(), ids.size()) << "an item was listed twice";
      if (filtered) {
        EXPECT_EQ(unique, label_1);
      } else {
        EXPECT_EQ(ids.size(), 500u);
      }
      v1::CountItemsRequest count;
      count.set_collection("fashion");
      if (filtered) *count.mutable_filter() = list.filter();
      v1::CountItemsResponse counted;
      ASSERT_TRUE(a.items->CountItems(Ctx().get(), count, &counted).ok());
      EXPECT_EQ(counted.count(), ids.size());
    }
    v1::ListItemsRequest list;
    list.set_collection("fashion");
    list.set_page_token("not a token");
    v1::ListItemsResponse listed;
    EXPECT_EQ(a.items->ListItems(Ctx().get(), list, &listed).error_code(),
              grpc::StatusCode::INVALID_ARGUMENT);
    list.clear_page_token();
    list.set_page_size(1001);
    EXPECT_EQ(a.items->ListItems(Ctx().get(), list, &listed).error_code(),
              grpc::StatusCode::INVALID_ARGUMENT);
    v1::CountItemsRequest count;
    count.set_collection("fashion");
    count.mutable_filter()->mutable_match()->set_label(true);  // No values.
    v1::CountItemsResponse counted;
    EXPECT_EQ(a.items->CountItems(Ctx().get(), count, &counted).error_code(),
              grpc::StatusCode::INVALID_ARGUMENT);

    // Delete by filter: every item labelled 1, reported; then no search finds one and the
    // count of the rest is unchanged.
    v1::DeleteItemsRequest remove;
    remove.set_collection("fashion");
    remove.mutable_filter()->mutable_match()->set_label(true);
    remove.mutable_filter()->mutable_match()->add_values("1");
    v1::DeleteItemsResponse removed;
    grpc::Status status = a.items->DeleteItems(Ctx(60).get(), remove, &removed);
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(removed.deleted(), label_1.size());
    v1::SearchRequest only_1 = request;
    only_1.set_exact(true);
    *only_1.mutable_filter() = remove.filter();
    only_1.set_min_sequence(removed.sequence());
    v1::SearchResponse found;
    ASSERT_TRUE(a.query->Search(Ctx().get(), only_1, &found).ok());
    EXPECT_EQ(found.neighbors_size(), 0);
    count.clear_filter();
    ASSERT_TRUE(a.items->CountItems(Ctx().get(), count, &counted).ok());
    EXPECT_EQ(counted.count(), 500u - label_1.size());
    remove.add_ids("i-0");
    EXPECT_EQ(a.items->DeleteItems(Ctx().get(), remove, &removed).error_code(),
              grpc::StatusCode::INVALID_ARGUMENT);
  }

  // A node of another protocol version is refused by name.
  {
    auto shard = bottleneck::cluster::ShardService::NewStub(cluster.Channel("b"));
    bottleneck::cluster::SearchShardRequest direct;
    direct.set_protocol_version(2);
    direct.set_collection("fashion");
    bottleneck::cluster::SearchShardResponse out;
    grpc::Status refused = shard->SearchShard(Ctx().get(), direct, &out);
    EXPECT_EQ(refused.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
    EXPECT_NE(
        refused.error_message().find("speaks cluster protocol version 1, the caller version 2"),
        std::string::npos)
        << refused.error_message();
  }

  // A node other than the router goes down: its shards have no live replica. The node is the one
  // the first shard placed off a is on (placement depends on the collection's incarnation, so a
  // fixed node could hold none).
  v1::GetCollectionRequest get;
  get.set_name("fashion");
  v1::Collection described;
  ASSERT_TRUE(a.collections->GetCollection(Ctx().get(), get, &described).ok());
  std::string victim;
  for (const auto& shard : described.cluster().shard_status()) {
    if (victim.empty() && shard.placement(0) != "a") victim = shard.placement(0);
  }
  // Every shard on a (1 placement in 27): a goes down and b routes instead.
  if (victim.empty()) victim = "a";
  Api b(cluster.Channel("b"));
  Api& router = victim == "a" ? b : a;
  std::set<uint32_t> on_c;
  for (const auto& shard : described.cluster().shard_status()) {
    if (shard.placement(0) == victim) on_c.insert(shard.shard());
  }
  cluster.KillNode(victim);
  // At once (c's address refuses connections), and once c's lease ran out (c is down).
  const std::string named = "shard " + std::to_string(*on_c.begin()) +
                            " of collection 'fashion' has no live ready replica";
  grpc::Status unavailable = router.query->Search(Ctx().get(), request, &response);
  EXPECT_EQ(unavailable.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_NE(unavailable.error_message().find(named), std::string::npos)
      << unavailable.error_message();
  ASSERT_TRUE(WaitFor(
      [&] {
        unavailable = router.query->Search(Ctx().get(), request, &response);
        return unavailable.error_message().find(victim + " down") != std::string::npos;
      },
      10))
      << unavailable.error_message();
  EXPECT_EQ(unavailable.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_NE(unavailable.error_message().find(named), std::string::npos)
      << unavailable.error_message();
  request.set_allow_partial(true);
  ASSERT_TRUE(router.query->Search(Ctx().get(), request, &response).ok());
  EXPECT_EQ(std::set<uint32_t>(response.missing_shards().begin(), response.missing_shards().end()),
            on_c);
  // The shards left (if placement put any elsewhere) answer.
  if (static_cast<int>(on_c.size()) < described.cluster().shard_status_size()) {
    EXPECT_GT(response.neighbors_size(), 0) << on_c.size() << " shards were on " << victim;
  } else {
    EXPECT_EQ(response.neighbors_size(), 0);
  }
}

TEST(ClusterTrainingTest, JobsAreSeenEverywhereAndCancelledThroughAnyNode) {
  ClusterHarness cluster;
  std::string error;
  ASSERT_TRUE(cluster.StartNats(&error)) << error;
  for (const char* id : {"a", "b"}) ASSERT_TRUE(cluster.StartNode(id, {}, &error)) << error;
  ASSERT_TRUE(cluster.StartNode("q", {"--no-training"}, &error)) << error;
  Api a(cluster.Channel("a")), b(cluster.Channel("b")), q(cluster.Channel("q"));
  ASSERT_TRUE(CreateFashionCollection(a, "fashion", 2, 2).ok());
  ASSERT_TRUE(UploadFashion(b, "fashion", "train", 1000).ok());
  // The dataset is known everywhere; a second one with its name is refused.
  v1::ListDatasetsRequest list;
  list.set_collection("fashion");
  v1::ListDatasetsResponse datasets;
  ASSERT_TRUE(a.training->ListDatasets(Ctx().get(), list, &datasets).ok());
  ASSERT_EQ(datasets.datasets_size(), 1);
  EXPECT_EQ(datasets.datasets(0).example_count(), 1000u);
  EXPECT_EQ(datasets.datasets(0).collection(), "fashion");
  EXPECT_EQ(UploadFashion(a, "fashion", "train", 10).error_code(),
            grpc::StatusCode::ALREADY_EXISTS);

  // A long job on node a (a dense auto-encoder for many epochs).
  v1::StartTrainingRequest start;
  start.set_collection("fashion");
  start.set_dataset("train");
  start.mutable_spec()->mutable_dense()->set_code_size(8);
  start.mutable_spec()->mutable_dense()->add_encoder_sizes(64);
  start.mutable_spec()->mutable_training()->set_epochs(10000);
  start.mutable_spec()->mutable_training()->set_early_stopping_patience(10000);
  v1::Job job;
  ASSERT_TRUE(a.training->StartTraining(Ctx().get(), start, &job).ok());
  EXPECT_EQ(job.id(), "fashion.a.1");
  EXPECT_EQ(job.collection(), "fashion");
  // A node without training refuses to run one.
  v1::Job refused;
  grpc::Status no_training = q.training->StartTraining(Ctx().get(), start, &refused);
  EXPECT_EQ(no_training.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(no_training.error_message().find("--no-training"), std::string::npos);
  // Seen running through b (mirrored), listed, then cancelled through b (forwarded to a).
  v1::GetJobRequest get;
  get.set_job_id(job.id());
  ASSERT_TRUE(WaitFor(
      [&] {
        return b.training->GetJob(Ctx().get(), get, &job).ok() &&
               job.state() == v1::JOB_STATE_RUNNING && job.progress().epoch() >= 1;
      },
      60));
  v1::ListJobsRequest jobs_request;
  jobs_request.set_collection("fashion");
  v1::ListJobsResponse jobs;
  ASSERT_TRUE(q.training->ListJobs(Ctx().get(), jobs_request, &jobs).ok());
  ASSERT_EQ(jobs.jobs_size(), 1);
  v1::CancelJobRequest cancel;
  cancel.set_job_id(job.id());
  ASSERT_TRUE(b.training->CancelJob(Ctx().get(), cancel, &job).ok());
  ASSERT_TRUE(WaitFor(
      [&] {
        return q.training->GetJob(Ctx().get(), get, &job).ok() &&
               job.state() == v1::JOB_STATE_CANCELLED;
      },
      30));
  get.set_job_id("fashion.a.99");
  EXPECT_EQ(b.training->GetJob(Ctx().get(), get, &job).error_code(), grpc::StatusCode::NOT_FOUND);
  // WatchJob through another node follows a job to its end.
  const v1::Job pca = TrainPca(b, "fashion", "train", 8, false);
  EXPECT_EQ(pca.model_version(), 1u);
  grpc::ClientContext context;
  v1::WatchJobRequest watch;
  watch.set_job_id(pca.id());
  auto reader = a.training->WatchJob(&context, watch);
  v1::JobProgress progress, final_progress;
  while (reader->Read(&progress)) final_progress = progress;
  EXPECT_TRUE(reader->Finish().ok());
  EXPECT_EQ(final_progress.state(), v1::JOB_STATE_SUCCEEDED);
  v1::ListModelsRequest models;
  models.set_collection("fashion");
  v1::ListModelsResponse listed;
  ASSERT_TRUE(q.models->ListModels(Ctx().get(), models, &listed).ok());
  ASSERT_EQ(listed.models_size(), 1);
  EXPECT_EQ(listed.models(0).job_id(), pca.id());
  EXPECT_FALSE(listed.models(0).serving());
}

}  // namespace
}  // namespace bn::testing
