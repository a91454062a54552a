// Cluster mode, promotion: a second model version promoted while one node (a replica of some
// shards) is down. Searches keep answering throughout, every answer is computed with one model
// version only (its distances are recomputed here from Encode with the version it names), the
// flip happens with the node still down (every shard has a ready replica elsewhere), and the
// node, back, builds the new version before it is asked for it.
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "tests/cluster/cluster_harness.h"
#include "tests/cluster/fashion_util.h"
#include "tests/integration/client_util.h"

namespace bn::testing {
namespace {

namespace v1 = ::bottleneck::v1;

constexpr int kItems = 900;

// Checks that every distance in `response` is the squared L2 distance, under the model version
// it names, between the query and that neighbour ("item-<i>" is test image i). Empty when so.
std::string CheckOneVersion(Api& api, const LabeledImages& images, const v1::Input& query,
                            const v1::SearchResponse& response) {
  v1::EncodeRequest encode;
  encode.set_collection("fashion");
  encode.set_model_version(response.model_version());
  *encode.add_inputs() = query;
  for (const auto& n : response.neighbors()) {
    *encode.add_inputs() = FashionInput(images, std::stoi(n.id().substr(5)));
  }
  v1::EncodeResponse codes;
  grpc::Status status = api.query->Encode(Ctx().get(), encode, &codes);
  if (!status.ok()) return "encode: " + status.error_message();
  for (int i = 0; i < response.neighbors_size(); ++i) {
    const double want = L2(codes.codes(0), codes.codes(i + 1));
    const double got = response.neighbors(i).distance();
    if (std::fabs(want - got) > 1e-3 * std::max(1.0, want)) {
      return "v" + std::to_string(response.model_version()) + " " + response.neighbors(i).id() +
             ": distance " + std::to_string(got) + ", that version gives " + std::to_string(want);
    }
  }
  return "";
}

TEST(ClusterPromotionTest, FlipWithAReplicaDownNeverMixesVersions) {
  ClusterHarness cluster;
  std::string error;
  ASSERT_TRUE(cluster.StartNats(&error)) << error;
  for (const char* id : {"a", "b", "c"}) ASSERT_TRUE(cluster.StartNode(id, {}, &error)) << error;
  Api a(cluster.Channel("a")), b(cluster.Channel("b"));
  const LabeledImages& images = Fashion(DatasetSplit::kTest, kItems + 20);
  ASSERT_TRUE(CreateFashionCollection(a, "fashion", 3, 2).ok());
  ASSERT_TRUE(UploadFashion(a, "fashion", "train", 1000).ok());
  ASSERT_EQ(TrainPca(b, "fashion", "train", 16, true).model_version(), 1u);
  ASSERT_TRUE(WaitForServing(a, "fashion", 1));
  UpsertFashion(b, "fashion", images, 0, kItems, "item-");
  ASSERT_TRUE(cluster.WaitForReady("a", "fashion", 2, 1));
  // Version 2: another code size, so that a mix could not go unnoticed.
  ASSERT_EQ(TrainPca(a, "fashion", "train", 8, false).model_version(), 2u);

  cluster.KillNode("c");
  std::this_thread::sleep_for(std::chrono::milliseconds(2000));  // Its lease runs out.

  std::atomic<bool> stop{false};
  std::mutex mutex;
  std::map<uint64_t, int> versions;  // Answers per model version.
  std::vector<std::string> problems;
  auto search = [&](Api* api, int seed) {
    int q = seed;
    while (!stop.load()) {
      const v1::Input query = FashionInput(images, kItems + (q++ % 20));
      v1::SearchRequest request;
      request.set_collection("fashion");
      *request.mutable_input() = query;
      v1::SearchResponse response;
      grpc::Status status = api->query->Search(Ctx().get(), request, &response);
      std::string problem =
          status.ok() ? CheckOneVersion(*api, images, query, response) : status.error_message();
      std::lock_guard<std::mutex> lock(mutex);
      if (!problem.empty()) problems.push_back(problem);
      if (status.ok()) ++versions[response.model_version()];
    }
  };
  std::thread on_a(search, &a, 0), on_b(search, &b, 7);
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));

  v1::PromoteModelRequest promote;
  promote.set_collection("fashion");
  promote.set_version(2);
  v1::Promotion promotion;
  ASSERT_TRUE(a.models->PromoteModel(Ctx().get(), promote, &promotion).ok());
  EXPECT_EQ(promotion.target_model_version(), 2u);
  // Promoting another version meanwhile is refused.
  promote.set_version(1);
  grpc::Status busy = b.models->PromoteModel(Ctx().get(), promote, &promotion);
  EXPECT_TRUE(busy.ok() || busy.error_code() == grpc::StatusCode::FAILED_PRECONDITION)
      << busy.error_message();
  // The flip happens with c still down: every shard has a ready replica on a or b.
  ASSERT_TRUE(WaitForServing(b, "fashion", 2, 120)) << cluster.NodeStderr("a");
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));

  // c comes back at version 1 and builds version 2 before it is asked for it.
  ASSERT_TRUE(cluster.StartNode("c", {}, &error)) << error;
  Api c(cluster.Channel("c"));
  std::thread on_c(search, &c, 13);
  ASSERT_TRUE(cluster.WaitForReady("a", "fashion", 2, 2, 120)) << cluster.NodeStderr("c");
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  stop = true;
  on_a.join();
  on_b.join();
  on_c.join();

  std::lock_guard<std::mutex> lock(mutex);
  EXPECT_TRUE(problems.empty()) << problems.size() << " bad answers, first: " << problems[0];
  EXPECT_GT(versions[1], 0) << "answers before the flip";
  EXPECT_GT(versions[2], 0) << "answers after it";
  EXPECT_EQ(versions.size(), 2u);
  v1::ListModelsRequest list;
  list.set_collection("fashion");
  v1::ListModelsResponse models;
  ASSERT_TRUE(c.models->ListModels(Ctx().get(), list, &models).ok());
  ASSERT_EQ(models.models_size(), 2);
  EXPECT_EQ(models.models(0).version(), 2u);
  EXPECT_TRUE(models.models(0).serving());
  EXPECT_FALSE(models.models(1).serving());
}

}  // namespace
}  // namespace bn::testing
