// Cluster mode, writes through the log: items upserted and deleted through any node reach both
// replicas of their shard; reads through any node see acknowledged writes (min_sequence); a
// killed replica catches up after its restart with nothing lost; bad writes change nothing.
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <thread>

#include "bottleneck/v1/collection.grpc.pb.h"
#include "bottleneck/v1/item.grpc.pb.h"
#include "tests/cluster/cluster_harness.h"
#include "tests/integration/client_util.h"

namespace bn::testing {
namespace {

namespace v1 = ::bottleneck::v1;

v1::Item MakeItem(const std::string& id, int seed) {
  v1::Item item;
  item.set_id(id);
  std::string pixels(64, '\0');
  for (int i = 0; i < 64; ++i) pixels[i] = static_cast<char>((seed * 31 + i * 7) % 256);
  *item.mutable_input() = RawGrey(8, 8, pixels);
  item.set_label("label-" + std::to_string(seed % 7));
  (*item.mutable_metadata())["seed"] = std::to_string(seed);
  return item;
}

class ClusterItemsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string error;
    ASSERT_TRUE(cluster_.StartNats(&error)) << error;
    for (const char* id : {"a", "b", "c"}) ASSERT_TRUE(cluster_.StartNode(id, {}, &error)) << error;
    v1::CreateCollectionRequest create;
    create.set_name("things");
    auto* image = create.mutable_spec()->mutable_image();
    image->set_height(8);
    image->set_width(8);
    image->set_channels(1);
    create.set_shards(3);
    create.set_replicas(2);
    v1::Collection created;
    auto collections = v1::CollectionService::NewStub(cluster_.Channel("a"));
    ASSERT_TRUE(collections->CreateCollection(Ctx().get(), create, &created).ok());
    ASSERT_TRUE(cluster_.WaitForReady("b", "things", 2)) << cluster_.NodeStderr("a");
  }

  std::unique_ptr<v1::ItemService::Stub> Items(const std::string& node) {
    return v1::ItemService::NewStub(cluster_.Channel(node));
  }

  // Upserts items [begin, end) through `node` in one request; returns the write's sequence.
  uint64_t Upsert(const std::string& node, int begin, int end) {
    v1::UpsertRequest request;
    request.set_collection("things");
    for (int i = begin; i < end; ++i)
      *request.add_items() = MakeItem("item-" + std::to_string(i), i);
    v1::UpsertResponse response;
    grpc::Status status = Items(node)->Upsert(Ctx().get(), request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(response.upserted(), static_cast<uint64_t>(end - begin));
    EXPECT_EQ(response.pending(), static_cast<uint64_t>(end - begin)) << "no model serves yet";
    EXPECT_GT(response.sequence(), 0u);
    return response.sequence();
  }

  v1::Collection Describe(const std::string& node) {
    v1::GetCollectionRequest get;
    get.set_name("things");
    v1::Collection out;
    EXPECT_TRUE(v1::CollectionService::NewStub(cluster_.Channel(node))
                    ->GetCollection(Ctx().get(), get, &out)
                    .ok());
    return out;
  }

  ClusterHarness cluster_;
};

TEST_F(ClusterItemsTest, WritesThroughAnyNodeAreReadableEverywhereAndSurviveAReplicaKill) {
  const std::vector<std::string> nodes = {"a", "b", "c"};
  uint64_t last = 0;
  for (int batch = 0; batch < 9; ++batch) {
    last = std::max(last, Upsert(nodes[batch % 3], batch * 20, batch * 20 + 20));
  }
  // Read your writes: through every node, every acknowledged item, as written.
  for (const std::string& node : nodes) {
    auto items = Items(node);
    for (int i = 0; i < 180; i += 7) {
      v1::GetItemRequest get;
      get.set_collection("things");
      get.set_id("item-" + std::to_string(i));
      get.set_min_sequence(last);
      v1::GetItemResponse got;
      grpc::Status status = items->GetItem(Ctx().get(), get, &got);
      ASSERT_TRUE(status.ok()) << node << " item-" << i << ": " << status.error_message();
      EXPECT_EQ(got.item().label(), MakeItem("x", i).label());
      EXPECT_EQ(got.item().metadata().at("seed"), std::to_string(i));
      EXPECT_EQ(got.item().input().image().raw().data(),
                MakeItem("x", i).input().image().raw().data());
    }
  }
  ASSERT_TRUE(WaitFor([&] { return Describe("c").stats().item_count() == 180; }, 20))
      << Describe("c").DebugString();

  // Deletes through another node; the count reports the ids that existed.
  v1::DeleteItemsRequest drop;
  drop.set_collection("things");
  for (int i = 0; i < 30; ++i) drop.add_ids("item-" + std::to_string(i));
  drop.add_ids("never-existed");
  v1::DeleteItemsResponse dropped;
  ASSERT_TRUE(Items("b")->DeleteItems(Ctx().get(), drop, &dropped).ok());
  EXPECT_EQ(dropped.deleted(), 30u);
  for (int i = 0; i < 30; i += 5) {
    v1::GetItemRequest get;
    get.set_collection("things");
    get.set_id("item-" + std::to_string(i));
    get.set_min_sequence(dropped.sequence());
    v1::GetItemResponse got;
    grpc::Status status = Items("c")->GetItem(Ctx().get(), get, &got);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND) << status.error_message();
  }

  // Kill node c while writes continue through a and b; reads keep answering from the shards'
  // other replicas.
  cluster_.KillNode("c");
  for (int batch = 0; batch < 6; ++batch) {
    last = std::max(last, Upsert(batch % 2 == 0 ? "a" : "b", 200 + batch * 10, 210 + batch * 10));
  }
  for (int i = 200; i < 260; i += 3) {
    v1::GetItemRequest get;
    get.set_collection("things");
    get.set_id("item-" + std::to_string(i));
    get.set_min_sequence(last);
    v1::GetItemResponse got;
    grpc::Status status = Items("a")->GetItem(Ctx().get(), get, &got);
    ASSERT_TRUE(status.ok()) << "item-" << i << ": " << status.error_message();
  }
  // c comes back, replays what it missed and is ready again with every replica in step.
  std::string error;
  ASSERT_TRUE(cluster_.StartNode("c", {}, &error)) << error;
  ASSERT_TRUE(cluster_.WaitForReady("a", "things", 2)) << cluster_.NodeStderr("c");
  ASSERT_TRUE(WaitFor(
      [&] {
        const v1::Collection described = Describe("a");
        for (const auto& shard : described.cluster().shard_status()) {
          std::set<uint64_t> counts, applied;
          for (const auto& replica : shard.replicas()) {
            counts.insert(replica.item_count());
            applied.insert(replica.applied_sequence());
          }
          if (shard.replicas_size() != 2 || counts.size() != 1 || applied.size() != 1) {
            return false;
          }
        }
        return described.stats().item_count() == 150 + 60;
      },
      30))
      << Describe("a").DebugString();
  // Its own replicas answer reads of everything acknowledged while it was down.
  for (int i = 200; i < 260; i += 1) {
    v1::GetItemRequest get;
    get.set_collection("things");
    get.set_id("item-" + std::to_string(i));
    get.set_min_sequence(last);
    v1::GetItemResponse got;
    ASSERT_TRUE(Items("c")->GetItem(Ctx().get(), get, &got).ok()) << "item-" << i;
  }
}

TEST_F(ClusterItemsTest, StreamedUpsertsAndBadWritesThatChangeNothing) {
  // StreamUpsert through node b.
  grpc::ClientContext context;
  v1::UpsertResponse streamed;
  auto writer = Items("b")->StreamUpsert(&context, &streamed);
  for (int m = 0; m < 4; ++m) {
    v1::UpsertRequest message;
    if (m == 0) message.set_collection("things");
    for (int i = 0; i < 25; ++i)
      *message.add_items() = MakeItem("s-" + std::to_string(m * 25 + i), i);
    ASSERT_TRUE(writer->Write(message));
  }
  writer->WritesDone();
  ASSERT_TRUE(writer->Finish().ok());
  EXPECT_EQ(streamed.upserted(), 100u);
  ASSERT_TRUE(WaitFor([&] { return Describe("a").stats().item_count() == 100; }, 20));

  auto items = Items("a");
  v1::UpsertRequest bad;
  bad.set_collection("nope");
  *bad.add_items() = MakeItem("x", 1);
  v1::UpsertResponse response;
  grpc::Status missing = items->Upsert(Ctx().get(), bad, &response);
  EXPECT_EQ(missing.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(missing.error_message(), "collection 'nope' not found");
  bad.set_collection("things");
  bad.clear_items();
  EXPECT_EQ(items->Upsert(Ctx().get(), bad, &response).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  // One bad item rejects the whole batch, naming it; nothing is written.
  for (int i = 0; i < 5; ++i) *bad.add_items() = MakeItem("bad-batch-" + std::to_string(i), i);
  bad.mutable_items(3)->mutable_input()->mutable_image()->mutable_raw()->set_data("short");
  grpc::Status refused = items->Upsert(Ctx().get(), bad, &response);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(refused.error_message().find("items[3]"), std::string::npos) << refused.error_message();
  bad.mutable_items(3)->set_id("");
  EXPECT_EQ(items->Upsert(Ctx().get(), bad, &response).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  v1::DeleteItemsRequest drop;
  drop.set_collection("things");
  v1::DeleteItemsResponse dropped;
  EXPECT_EQ(items->DeleteItems(Ctx().get(), drop, &dropped).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  v1::GetItemRequest get;
  get.set_collection("things");
  get.set_id("bad-batch-0");
  v1::GetItemResponse got;
  EXPECT_EQ(items->GetItem(Ctx().get(), get, &got).error_code(), grpc::StatusCode::NOT_FOUND);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_EQ(Describe("c").stats().item_count(), 100u);
}

}  // namespace
}  // namespace bn::testing
