// Collection aliases (issue 24) against the real server over gRPC: item writes, item reads and
// searches resolve an alias; SwitchAlias moves it atomically (concurrent readers see the old or
// the new collection, never an error); aliases survive a restart and reach a follower; bad input
// gets precise statuses and changes nothing; the CLI drives them.
#include <signal.h>
#include <sys/wait.h>

#include <atomic>
#include <random>
#include <thread>

#include "bottleneck/v1/collection.grpc.pb.h"
#include "bottleneck/v1/item.grpc.pb.h"
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

constexpr int kSide = 8;

v1::Input RandomImage(std::mt19937* rng) {
  std::string pixels(kSide * kSide, '\0');
  for (char& p : pixels) p = static_cast<char>((*rng)() & 0xff);
  return RawGrey(kSide, kSide, pixels);
}

class AliasTest : public ::testing::Test {
 protected:
  void SetUp() override { StartServer(); }

  void StartServer() {
    std::string error;
    server_ = ServerProcess::Start(dir_.Sub("data"), {}, &error);
    ASSERT_NE(server_, nullptr) << error;
    collections_ = v1::CollectionService::NewStub(server_->Channel());
    items_ = v1::ItemService::NewStub(server_->Channel());
    query_ = v1::QueryService::NewStub(server_->Channel());
  }

  // A collection with a PCA model serving it and `n` items "<name>-<i>".
  void MakeCollection(const std::string& name, int n) {
    v1::CreateCollectionRequest create;
    create.set_name(name);
    create.mutable_spec()->mutable_image()->set_height(kSide);
    create.mutable_spec()->mutable_image()->set_width(kSide);
    create.mutable_spec()->mutable_image()->set_channels(1);
    v1::Collection c;
    ASSERT_TRUE(collections_->CreateCollection(Ctx().get(), create, &c).ok());
    auto training = v1::TrainingService::NewStub(server_->Channel());
    std::vector<v1::Input> examples;
    for (int i = 0; i < 40; ++i) examples.push_back(RandomImage(&rng_));
    ASSERT_TRUE(UploadExamples(training.get(), name, "train", examples).ok());
    v1::StartTrainingRequest start;
    start.set_collection(name);
    start.set_dataset("train");
    start.mutable_spec()->mutable_pca()->set_code_size(4);
    start.set_promote_when_done(true);
    v1::Job job;
    ASSERT_TRUE(training->StartTraining(Ctx().get(), start, &job).ok());
    ASSERT_TRUE(Eventually([&] {
      v1::GetCollectionRequest get;
      get.set_name(name);
      return collections_->GetCollection(Ctx().get(), get, &c).ok() &&
             c.stats().serving_model_version() == 1;
    }));
    v1::UpsertRequest upsert;
    upsert.set_collection(name);
    for (int i = 0; i < n; ++i) {
      v1::Item* item = upsert.add_items();
      item->set_id(name + "-" + std::to_string(i));
      *item->mutable_input() = RandomImage(&rng_);
    }
    v1::UpsertResponse r;
    ASSERT_TRUE(items_->Upsert(Ctx().get(), upsert, &r).ok());
  }

  grpc::Status Create(const std::string& alias, const std::string& collection) {
    v1::CreateAliasRequest request;
    request.set_name(alias);
    request.set_collection(collection);
    v1::Alias response;
    return collections_->CreateAlias(Ctx().get(), request, &response);
  }
  grpc::Status Switch(const std::string& alias, const std::string& collection) {
    v1::SwitchAliasRequest request;
    request.set_name(alias);
    request.set_collection(collection);
    v1::Alias response;
    return collections_->SwitchAlias(Ctx().get(), request, &response);
  }
  static std::vector<std::pair<std::string, std::string>> List(
      v1::CollectionService::Stub* collections) {
    v1::ListAliasesResponse response;
    EXPECT_TRUE(collections->ListAliases(Ctx().get(), {}, &response).ok());
    std::vector<std::pair<std::string, std::string>> out;
    for (const auto& a : response.aliases()) out.emplace_back(a.name(), a.collection());
    return out;
  }
  static grpc::Status Count(v1::ItemService::Stub* items, const std::string& collection,
                            uint64_t* count) {
    v1::CountItemsRequest request;
    request.set_collection(collection);
    v1::CountItemsResponse response;
    grpc::Status s = items->CountItems(Ctx().get(), request, &response);
    *count = response.count();
    return s;
  }
  // The ids a search through `collection` returns (by an input image).
  std::vector<std::string> SearchIds(const std::string& collection) {
    v1::SearchRequest search;
    search.set_collection(collection);
    std::mt19937 rng(99);
    *search.mutable_input() = RandomImage(&rng);
    search.set_k(5);
    v1::SearchResponse r;
    grpc::Status s = query_->Search(Ctx().get(), search, &r);
    EXPECT_TRUE(s.ok()) << s.error_message();
    std::vector<std::string> ids;
    for (const auto& n : r.neighbors()) ids.push_back(n.id());
    return ids;
  }

  std::mt19937 rng_{5};
  TempDir dir_;
  std::unique_ptr<ServerProcess> server_;
  std::unique_ptr<v1::CollectionService::Stub> collections_;
  std::unique_ptr<v1::ItemService::Stub> items_;
  std::unique_ptr<v1::QueryService::Stub> query_;
};

TEST_F(AliasTest, ResolvesForItemsAndSearchesAndSwitchesAtomically) {
  MakeCollection("blue", 30);
  MakeCollection("green", 20);
  ASSERT_TRUE(Create("live", "blue").ok());
  uint64_t count = 0;
  ASSERT_TRUE(Count(items_.get(), "live", &count).ok());
  EXPECT_EQ(count, 30u);
  EXPECT_EQ(SearchIds("live"), SearchIds("blue"));
  v1::GetItemRequest get;
  get.set_collection("live");
  get.set_id("blue-3");
  v1::GetItemResponse item;
  ASSERT_TRUE(items_->GetItem(Ctx().get(), get, &item).ok());
  EXPECT_EQ(item.item().id(), "blue-3");

  // Readers through the alias while it is switched back and forth: each sees one collection.
  std::atomic<bool> stop{false};
  std::atomic<int> blue_seen{0}, green_seen{0}, other{0};
  std::thread reader([&] {
    auto items = v1::ItemService::NewStub(server_->Channel());
    while (!stop) {
      uint64_t n = 0;
      grpc::Status s = Count(items.get(), "live", &n);
      if (s.ok() && n == 30) {
        ++blue_seen;
      } else if (s.ok() && n == 20) {
        ++green_seen;
      } else {
        ++other;
      }
    }
  });
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(Switch("live", i % 2 == 0 ? "green" : "blue").ok());
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  stop = true;
  reader.join();
  EXPECT_EQ(other.load(), 0);
  EXPECT_GT(blue_seen.load() + green_seen.load(), 0);

  // Blue/green: after the switch, searches, reads and writes through the alias go to green.
  ASSERT_TRUE(Switch("live", "green").ok());
  EXPECT_EQ(SearchIds("live"), SearchIds("green"));
  for (const std::string& id : SearchIds("live")) EXPECT_EQ(id.rfind("green-", 0), 0u) << id;
  v1::UpsertRequest upsert;
  upsert.set_collection("live");
  v1::Item* added = upsert.add_items();
  added->set_id("via-alias");
  *added->mutable_input() = RandomImage(&rng_);
  v1::UpsertResponse upserted;
  ASSERT_TRUE(items_->Upsert(Ctx().get(), upsert, &upserted).ok());
  ASSERT_TRUE(Count(items_.get(), "green", &count).ok());
  EXPECT_EQ(count, 21u);
  ASSERT_TRUE(Count(items_.get(), "blue", &count).ok());
  EXPECT_EQ(count, 30u);
  v1::DeleteItemsRequest del;
  del.set_collection("live");
  del.add_ids("via-alias");
  v1::DeleteItemsResponse deleted;
  ASSERT_TRUE(items_->DeleteItems(Ctx().get(), del, &deleted).ok());
  ASSERT_TRUE(Count(items_.get(), "green", &count).ok());
  EXPECT_EQ(count, 20u);

  // Stored: a restarted server has it; deleting it frees the collection.
  ASSERT_EQ(server_->SignalAndWait(SIGTERM, 30), 0);
  server_.reset();
  StartServer();
  const std::vector<std::pair<std::string, std::string>> expected = {{"live", "green"}};
  EXPECT_EQ(List(collections_.get()), expected);
  ASSERT_TRUE(Count(items_.get(), "live", &count).ok());
  EXPECT_EQ(count, 20u);
  v1::DeleteAliasRequest drop;
  drop.set_name("live");
  v1::DeleteAliasResponse dropped;
  ASSERT_TRUE(collections_->DeleteAlias(Ctx().get(), drop, &dropped).ok());
  EXPECT_TRUE(List(collections_.get()).empty());
  EXPECT_EQ(Count(items_.get(), "live", &count).error_code(), Code::NOT_FOUND);
}

TEST_F(AliasTest, BadInputGetsPreciseStatusesAndChangesNothing) {
  MakeCollection("blue", 5);
  ASSERT_TRUE(Create("live", "blue").ok());
  const std::vector<std::pair<std::string, std::string>> before = {{"live", "blue"}};
  struct Case {
    grpc::Status status;
    Code code;
    std::string message;
  };
  v1::Collection c;
  v1::CreateCollectionRequest create;
  create.set_name("live");
  create.mutable_spec()->mutable_image()->set_height(kSide);
  create.mutable_spec()->mutable_image()->set_width(kSide);
  create.mutable_spec()->mutable_image()->set_channels(1);
  v1::DeleteCollectionRequest delete_blue;
  delete_blue.set_name("blue");
  v1::DeleteCollectionResponse deleted;
  v1::DeleteAliasRequest delete_unknown;
  delete_unknown.set_name("nope");
  v1::DeleteAliasResponse dropped;
  const std::vector<Case> cases = {
      {Create("other", "missing"), Code::NOT_FOUND, "collection 'missing' not found"},
      {Create("blue", "blue"), Code::ALREADY_EXISTS, "is the name of a collection"},
      {Create("live", "blue"), Code::ALREADY_EXISTS, "alias 'live' already exists"},
      {Create("chain", "live"), Code::NOT_FOUND, "it is an alias"},
      {Create("a/b", "blue"), Code::INVALID_ARGUMENT, "may only contain"},
      {Create("", "blue"), Code::INVALID_ARGUMENT, "must not be empty"},
      {Switch("nope", "blue"), Code::NOT_FOUND, "alias 'nope' not found"},
      {Switch("live", "missing"), Code::NOT_FOUND, "collection 'missing' not found"},
      {collections_->CreateCollection(Ctx().get(), create, &c), Code::ALREADY_EXISTS,
       "is the name of an alias"},
      {collections_->DeleteCollection(Ctx().get(), delete_blue, &deleted),
       Code::FAILED_PRECONDITION, "alias 'live' points at collection 'blue'"},
      {collections_->DeleteAlias(Ctx().get(), delete_unknown, &dropped), Code::NOT_FOUND,
       "alias 'nope' not found"},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    EXPECT_EQ(cases[i].status.error_code(), cases[i].code)
        << i << ": " << cases[i].status.error_message();
    EXPECT_NE(cases[i].status.error_message().find(cases[i].message), std::string::npos)
        << i << ": " << cases[i].status.error_message();
  }
  EXPECT_EQ(List(collections_.get()), before);
  uint64_t count = 0;
  ASSERT_TRUE(Count(items_.get(), "blue", &count).ok());  // Not deleted.
  EXPECT_EQ(count, 5u);
  // Admin methods take collection names only.
  v1::GetCollectionRequest get;
  get.set_name("live");
  EXPECT_EQ(collections_->GetCollection(Ctx().get(), get, &c).error_code(), Code::NOT_FOUND);
}

TEST_F(AliasTest, FollowerSeesAliasesAfterCatchUp) {
  MakeCollection("blue", 6);
  MakeCollection("green", 4);
  ASSERT_TRUE(Create("live", "blue").ok());
  std::string error;
  auto follower = ServerProcess::Start(
      dir_.Sub("follower"), {"--follow", dir_.Sub("data"), "--follow-interval-ms", "50"}, &error);
  ASSERT_NE(follower, nullptr) << error;
  auto f_collections = v1::CollectionService::NewStub(follower->Channel());
  auto f_query = v1::QueryService::NewStub(follower->Channel());  // A follower has no ItemService.
  // The collection a search through the alias on the follower answers from.
  auto searched = [&]() -> std::string {
    v1::SearchRequest search;
    search.set_collection("live");
    std::mt19937 rng(3);
    *search.mutable_input() = RandomImage(&rng);
    search.set_k(3);
    v1::SearchResponse r;
    if (!f_query->Search(Ctx().get(), search, &r).ok() || r.neighbors_size() != 3) return "";
    const std::string id = r.neighbors(0).id();
    return id.substr(0, id.find('-'));
  };
  EXPECT_EQ(searched(), "blue");
  const std::vector<std::pair<std::string, std::string>> blue = {{"live", "blue"}};
  EXPECT_EQ(List(f_collections.get()), blue);
  ASSERT_TRUE(Switch("live", "green").ok());
  EXPECT_TRUE(Eventually([&] { return searched() == "green"; }));
  // The follower refuses alias writes (they go to the primary).
  v1::CreateAliasRequest request;
  request.set_name("other");
  request.set_collection("blue");
  v1::Alias alias;
  EXPECT_EQ(f_collections->CreateAlias(Ctx().get(), request, &alias).error_code(),
            Code::FAILED_PRECONDITION);
}

TEST_F(AliasTest, CliManagesAliases) {
  MakeCollection("blue", 3);
  MakeCollection("green", 2);
  auto cli = [&](std::vector<std::string> args, std::string* out) {
    args.insert(args.begin(), {BN_CLI, "--server", server_->address()});
    const int status = RunProgram(args, out);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  };
  std::string out;
  EXPECT_EQ(cli({"aliases", "create", "live", "blue"}, &out), 0) << out;
  EXPECT_NE(out.find("live -> blue"), std::string::npos) << out;
  EXPECT_EQ(cli({"aliases", "switch", "live", "green"}, &out), 0) << out;
  EXPECT_EQ(cli({"items", "count", "live"}, &out), 0) << out;
  EXPECT_NE(out.find("2\n"), std::string::npos) << out;
  EXPECT_EQ(cli({"--json", "aliases", "list"}, &out), 0) << out;
  EXPECT_NE(out.find(R"("name":"live","collection":"green")"), std::string::npos) << out;
  EXPECT_EQ(cli({"aliases", "create", "x", "missing"}, &out), 1) << out;
  EXPECT_NE(out.find("NOT_FOUND"), std::string::npos) << out;
  EXPECT_EQ(cli({"aliases", "create", "x"}, &out), 2) << out;
  EXPECT_EQ(cli({"aliases", "delete", "live"}, &out), 0) << out;
  EXPECT_TRUE(List(collections_.get()).empty());
}

}  // namespace
}  // namespace bn::testing
