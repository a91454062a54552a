// A query replica (`--follow PRIMARY_DATA_DIR`) against a running primary: it serves the
// primary's collections, items and promoted models as they change, and refuses writes.
#include <chrono>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "bottleneck/v1/collection.grpc.pb.h"
#include "bottleneck/v1/item.grpc.pb.h"
#include "bottleneck/v1/model.grpc.pb.h"
#include "bottleneck/v1/query.grpc.pb.h"
#include "bottleneck/v1/training.grpc.pb.h"
#include "gtest/gtest.h"
#include "tests/integration/client_util.h"
#include "tests/integration/server_process.h"
#include "tests/util/temp_dir.h"

namespace bn::testing {
namespace {

namespace v1 = ::bottleneck::v1;
using Code = grpc::StatusCode;

v1::Input Image(int i) {
  std::string data(64, '\0');
  for (int p = 0; p < 64; ++p) data[p] = static_cast<char>((p * (i % 5 + 1) + i * 29) % 256);
  return RawGrey(8, 8, std::move(data));
}

struct Client {
  explicit Client(const std::shared_ptr<grpc::Channel>& channel)
      : collections(v1::CollectionService::NewStub(channel)),
        models(v1::ModelService::NewStub(channel)),
        query(v1::QueryService::NewStub(channel)) {}

  // {status code, item count, serving version} of a collection.
  std::tuple<Code, uint64_t, uint64_t> Stats(const std::string& name) {
    v1::GetCollectionRequest get;
    get.set_name(name);
    v1::Collection c;
    grpc::Status s = collections->GetCollection(Ctx().get(), get, &c);
    return {s.error_code(), c.stats().item_count(), c.stats().serving_model_version()};
  }

  // Neighbour ids of an item (exact search), or the status message.
  std::string Neighbours(const std::string& collection, const std::string& item, int k) {
    v1::SearchRequest search;
    search.set_collection(collection);
    search.set_item_id(item);
    search.set_k(k);
    search.set_exact(true);
    v1::SearchResponse found;
    grpc::Status s = query->Search(Ctx().get(), search, &found);
    if (!s.ok()) return "error: " + s.error_message();
    std::string out;
    for (const auto& n : found.neighbors()) out += n.id() + " ";
    return out;
  }

  // The label a search by `item` (exact, k 100) reports for neighbour `neighbour` ("-" if absent).
  std::string LabelOf(const std::string& collection, const std::string& item,
                      const std::string& neighbour) {
    v1::SearchRequest search;
    search.set_collection(collection);
    search.set_item_id(item);
    search.set_k(100);
    search.set_exact(true);
    v1::SearchResponse found;
    if (!query->Search(Ctx().get(), search, &found).ok()) return "error";
    for (const auto& n : found.neighbors()) {
      if (n.id() == neighbour) return n.label();
    }
    return "-";
  }

  std::unique_ptr<v1::CollectionService::Stub> collections;
  std::unique_ptr<v1::ModelService::Stub> models;
  std::unique_ptr<v1::QueryService::Stub> query;
};

class FollowerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string error;
    primary_ =
        ServerProcess::Start(dir_.Sub("primary"), {"--snapshot-interval-seconds", "1"}, &error);
    ASSERT_NE(primary_, nullptr) << error;
    auto channel = primary_->Channel();
    training_ = v1::TrainingService::NewStub(channel);
    items_ = v1::ItemService::NewStub(channel);
    primary_client_ = std::make_unique<Client>(channel);
  }

  void Train(int code_size) {
    v1::StartTrainingRequest start;
    start.set_collection("img");
    start.set_dataset("train");
    start.mutable_spec()->mutable_pca()->set_code_size(code_size);
    start.set_promote_when_done(true);
    v1::Job job;
    ASSERT_TRUE(training_->StartTraining(Ctx().get(), start, &job).ok());
  }

  void Upsert(int from, int to) {
    v1::UpsertRequest upsert;
    upsert.set_collection("img");
    for (int i = from; i < to; ++i) {
      v1::Item* item = upsert.add_items();
      item->set_id("i" + std::to_string(i));
      *item->mutable_input() = Image(i);
    }
    v1::UpsertResponse r;
    ASSERT_TRUE(items_->Upsert(Ctx().get(), upsert, &r).ok());
  }

  TempDir dir_;
  std::unique_ptr<ServerProcess> primary_;
  std::unique_ptr<v1::TrainingService::Stub> training_;
  std::unique_ptr<v1::ItemService::Stub> items_;
  std::unique_ptr<Client> primary_client_;
};

TEST_F(FollowerTest, ServesThePrimarysCollectionsItemsAndPromotionsAndRefusesWrites) {
  // The primary: a collection with a promoted PCA-4 model and 40 items.
  v1::CreateCollectionRequest create;
  create.set_name("img");
  create.mutable_spec()->mutable_image()->set_height(8);
  create.mutable_spec()->mutable_image()->set_width(8);
  create.mutable_spec()->mutable_image()->set_channels(1);
  v1::Collection c;
  ASSERT_TRUE(primary_client_->collections->CreateCollection(Ctx().get(), create, &c).ok());
  std::vector<v1::Input> examples;
  for (int i = 0; i < 60; ++i) examples.push_back(Image(1000 + i));
  ASSERT_TRUE(UploadExamples(training_.get(), "img", "train", examples).ok());
  Train(4);
  ASSERT_TRUE(Eventually([&] { return std::get<2>(primary_client_->Stats("img")) == 1; }));
  Upsert(0, 40);

  // The follower starts from the primary's data directory.
  std::string error;
  auto follower =
      ServerProcess::Start(dir_.Sub("follower"),
                           {"--follow", dir_.Sub("primary"), "--follow-interval-ms", "50"}, &error);
  ASSERT_NE(follower, nullptr) << error;
  EXPECT_NE(follower->banner().find("query"), std::string::npos);
  EXPECT_EQ(follower->banner().find("training"), std::string::npos) << follower->banner();
  Client replica(follower->Channel());
  EXPECT_EQ(replica.Stats("img"), std::make_tuple(Code::OK, uint64_t{40}, uint64_t{1}));
  EXPECT_EQ(replica.Neighbours("img", "i7", 5), primary_client_->Neighbours("img", "i7", 5));

  // Item changes on the primary reach the follower.
  Upsert(40, 70);
  v1::DeleteItemsRequest del;
  del.set_collection("img");
  for (int i = 0; i < 10; ++i) del.add_ids("i" + std::to_string(i));
  v1::DeleteItemsResponse deleted;
  ASSERT_TRUE(items_->DeleteItems(Ctx().get(), del, &deleted).ok());
  ASSERT_TRUE(Eventually([&] { return std::get<1>(replica.Stats("img")) == 60; }));
  ASSERT_TRUE(Eventually([&] {
    return replica.Neighbours("img", "i55", 8) == primary_client_->Neighbours("img", "i55", 8);
  })) << replica.Neighbours("img", "i55", 8)
      << " vs " << primary_client_->Neighbours("img", "i55", 8);
  EXPECT_EQ(replica.Neighbours("img", "i3", 1).rfind("error:", 0), 0u);  // Deleted.

  // A neighbour relabelled on the primary shows its new label on the follower (whose searches
  // had cached the old one).
  EXPECT_EQ(replica.LabelOf("img", "i55", "i56"), "");
  {
    v1::UpsertRequest relabel;
    relabel.set_collection("img");
    v1::Item* item = relabel.add_items();
    item->set_id("i56");
    *item->mutable_input() = Image(56);
    item->set_label("moved");
    v1::UpsertResponse r;
    ASSERT_TRUE(items_->Upsert(Ctx().get(), relabel, &r).ok());
  }
  EXPECT_EQ(primary_client_->LabelOf("img", "i55", "i56"), "moved");
  EXPECT_TRUE(Eventually([&] { return replica.LabelOf("img", "i55", "i56") == "moved"; }))
      << replica.LabelOf("img", "i55", "i56");

  // A new model promoted on the primary (code size 6) is served by the follower.
  Train(6);
  ASSERT_TRUE(Eventually([&] { return std::get<2>(replica.Stats("img")) == 2; }));
  v1::SearchRequest by_code;
  by_code.set_collection("img");
  for (int i = 0; i < 6; ++i) by_code.mutable_code()->mutable_float_code()->add_values(0.1f * i);
  v1::SearchResponse found;
  grpc::Status s = replica.query->Search(Ctx().get(), by_code, &found);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(found.neighbors_size(), 10);

  // Writes are refused and change nothing.
  create.set_name("other");
  EXPECT_EQ(replica.collections->CreateCollection(Ctx().get(), create, &c).error_code(),
            Code::FAILED_PRECONDITION);
  v1::DeleteCollectionRequest drop;
  drop.set_name("img");
  v1::DeleteCollectionResponse dropped;
  EXPECT_EQ(replica.collections->DeleteCollection(Ctx().get(), drop, &dropped).error_code(),
            Code::FAILED_PRECONDITION);
  v1::PromoteModelRequest promote;
  promote.set_collection("img");
  promote.set_version(1);
  v1::Promotion promotion;
  EXPECT_EQ(replica.models->PromoteModel(Ctx().get(), promote, &promotion).error_code(),
            Code::FAILED_PRECONDITION);
  EXPECT_EQ(std::get<2>(primary_client_->Stats("img")), 2u);

  // A collection deleted on the primary disappears from the follower.
  ASSERT_TRUE(primary_client_->collections->DeleteCollection(Ctx().get(), drop, &dropped).ok());
  EXPECT_TRUE(Eventually([&] { return std::get<0>(replica.Stats("img")) == Code::NOT_FOUND; }));
}

TEST_F(FollowerTest, RefusesToFollowADirectoryWithoutADatabase) {
  std::string error;
  auto follower =
      ServerProcess::Start(dir_.Sub("follower"), {"--follow", dir_.Sub("nothing-here")}, &error);
  EXPECT_EQ(follower, nullptr);
  EXPECT_NE(error.find("cannot follow"), std::string::npos) << error;
}

}  // namespace
}  // namespace bn::testing
