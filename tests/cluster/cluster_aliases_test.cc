// Cluster mode, collection aliases (issue 24 on issue 19's cluster): an alias created on one node
// resolves on another for searches and writes; a switch on one node is seen at once there and by
// every search on another node that starts kAliasCacheTtl after it was acknowledged, and no search
// through the alias fails meanwhile; racing creations on two nodes have one winner; aliases
// survive a restart of every bottleneckd; bad input gets the single node's statuses.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <iostream>
#include <thread>

#include "server/cluster/cluster_collections.h"
#include "server/cluster/nats_client.h"
#include "tests/cluster/cluster_harness.h"
#include "tests/cluster/fashion_util.h"
#include "tests/integration/client_util.h"

namespace bn::testing {
namespace {

namespace v1 = ::bottleneck::v1;
using Code = grpc::StatusCode;
using Clock = std::chrono::steady_clock;
using Pairs = std::vector<std::pair<std::string, std::string>>;

grpc::Status CreateAlias(Api& api, const std::string& name, const std::string& collection) {
  v1::CreateAliasRequest request;
  request.set_name(name);
  request.set_collection(collection);
  v1::Alias alias;
  return api.collections->CreateAlias(Ctx().get(), request, &alias);
}

grpc::Status SwitchAlias(Api& api, const std::string& name, const std::string& collection) {
  v1::SwitchAliasRequest request;
  request.set_name(name);
  request.set_collection(collection);
  v1::Alias alias;
  return api.collections->SwitchAlias(Ctx().get(), request, &alias);
}

grpc::Status DeleteAlias(Api& api, const std::string& name) {
  v1::DeleteAliasRequest request;
  request.set_name(name);
  v1::DeleteAliasResponse response;
  return api.collections->DeleteAlias(Ctx().get(), request, &response);
}

Pairs ListAliases(Api& api) {
  v1::ListAliasesResponse response;
  grpc::Status status = api.collections->ListAliases(Ctx().get(), {}, &response);
  EXPECT_TRUE(status.ok()) << status.error_message();
  Pairs out;
  for (const auto& a : response.aliases()) out.emplace_back(a.name(), a.collection());
  return out;
}

grpc::Status Count(Api& api, const std::string& collection, uint64_t* count) {
  v1::CountItemsRequest request;
  request.set_collection(collection);
  v1::CountItemsResponse response;
  grpc::Status status = api.items->CountItems(Ctx().get(), request, &response);
  *count = response.count();
  return status;
}

// The collection a search through `collection` answered from (its items are "<collection>-<i>"),
// or the status when it failed.
grpc::Status SearchedCollection(Api& api, const std::string& collection, std::string* answered,
                                uint64_t min_sequence = 0) {
  const LabeledImages& images = Fashion(DatasetSplit::kTest, 200);
  v1::SearchRequest request;
  request.set_collection(collection);
  *request.mutable_input() = FashionInput(images, 150);
  request.set_k(3);
  request.set_min_sequence(min_sequence);
  v1::SearchResponse response;
  grpc::Status status = api.query->Search(Ctx().get(), request, &response);
  if (!status.ok()) return status;
  if (response.neighbors_size() == 0) return grpc::Status(Code::INTERNAL, "no neighbours");
  const std::string& id = response.neighbors(0).id();
  *answered = id.substr(0, id.find('-'));
  for (const auto& n : response.neighbors()) {
    if (n.id().substr(0, n.id().find('-')) != *answered) {
      return grpc::Status(Code::INTERNAL, "neighbours from two collections");
    }
  }
  return status;
}

// Two fashion collections of 2 shards x 1 replica on nodes a and b, each serving a PCA model:
// "blue" holds test images 0..59, "green" 60..99 (ids "<collection>-<i>").
class ClusterAliasesTest : public ::testing::Test {
 protected:
  void StartCluster(bool trained) {
    std::string error;
    ASSERT_TRUE(cluster_.StartNats(&error)) << error;
    for (const char* id : {"a", "b"}) ASSERT_TRUE(cluster_.StartNode(id, {}, &error)) << error;
    a_ = std::make_unique<Api>(cluster_.Channel("a"));
    b_ = std::make_unique<Api>(cluster_.Channel("b"));
    const LabeledImages& images = Fashion(DatasetSplit::kTest, 200);
    for (const auto& [name, begin, end] :
         {std::tuple<std::string, int, int>{"blue", 0, 60}, {"green", 60, 100}}) {
      ASSERT_TRUE(CreateFashionCollection(*a_, name, 2, 1).ok());
      ASSERT_TRUE(cluster_.WaitForReady("b", name, 1)) << cluster_.last_seen();
      if (!trained) continue;
      ASSERT_TRUE(UploadFashion(*a_, name, "train", 300).ok());
      ASSERT_EQ(TrainPca(*a_, name, "train", 8, /*promote=*/true).model_version(), 1u);
      ASSERT_TRUE(WaitForServing(*b_, name, 1)) << cluster_.NodeStderr("b");
      sequence_ = std::max(sequence_, UpsertFashion(*a_, name, images, begin, end, name + "-"));
    }
  }

  ClusterHarness cluster_;
  std::unique_ptr<Api> a_, b_;
  uint64_t sequence_ = 0;
};

TEST_F(ClusterAliasesTest, ResolvedOnEveryNodeSwitchedWithinTheBoundAndKeptOverRestarts) {
  ASSERT_NO_FATAL_FAILURE(StartCluster(/*trained=*/true));
  ASSERT_TRUE(CreateAlias(*a_, "live", "blue").ok());

  // Created on a, resolved on b: searches, writes and reads.
  std::string answered;
  grpc::Status status = SearchedCollection(*b_, "live", &answered, sequence_);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(answered, "blue");
  v1::UpsertRequest upsert;
  upsert.set_collection("live");
  v1::Item* added = upsert.add_items();
  added->set_id("blue-via-alias");
  *added->mutable_input() = FashionInput(Fashion(DatasetSplit::kTest, 200), 199);
  v1::UpsertResponse upserted;
  status = b_->items->Upsert(Ctx().get(), upsert, &upserted);
  ASSERT_TRUE(status.ok()) << status.error_message();
  v1::GetItemRequest get;
  get.set_collection("blue");
  get.set_id("blue-via-alias");
  get.set_min_sequence(upserted.sequence());
  v1::GetItemResponse got;
  status = a_->items->GetItem(Ctx().get(), get, &got);
  EXPECT_TRUE(status.ok()) << "the write through the alias went to blue: "
                           << status.error_message();
  get.set_collection("green");
  EXPECT_EQ(a_->items->GetItem(Ctx().get(), get, &got).error_code(), Code::NOT_FOUND);

  // Searches through the alias on a while b switches it: each answers from one collection, none
  // fails, and every search that starts kAliasCacheTtl after the switch answers from green.
  std::atomic<bool> stop{false};
  std::atomic<Clock::rep> switched_at{Clock::time_point::max().time_since_epoch().count()};
  std::atomic<int> failed{0}, blue_late{0}, searches{0};
  std::atomic<Clock::rep> first_green{0};  // Start of a's first search answered from green.
  std::string failure;
  std::thread reader([&] {
    Api a(cluster_.Channel("a"));
    while (!stop) {
      const auto start = Clock::now();
      std::string from;
      grpc::Status s = SearchedCollection(a, "live", &from);
      ++searches;
      if (!s.ok()) {
        if (failed++ == 0) failure = s.error_message();
      } else if (from == "green") {
        Clock::rep expected = 0;
        first_green.compare_exchange_strong(expected, start.time_since_epoch().count());
      } else if (start - Clock::time_point(Clock::duration(switched_at.load())) >=
                 cluster::ClusterCollections::kAliasCacheTtl) {
        ++blue_late;
      }
    }
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  ASSERT_TRUE(SwitchAlias(*b_, "live", "green").ok());
  switched_at = Clock::now().time_since_epoch().count();
  // The node that switched sees it at once.
  status = SearchedCollection(*b_, "live", &answered);
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(answered, "green");
  std::this_thread::sleep_for(cluster::ClusterCollections::kAliasCacheTtl +
                              std::chrono::milliseconds(1500));
  stop = true;
  reader.join();
  EXPECT_EQ(failed.load(), 0) << failure;
  EXPECT_EQ(blue_late.load(), 0);
  EXPECT_GT(searches.load(), 5);
  std::cout << "searches on a during the switch: " << searches.load() << "; the first from green "
            << "started "
            << std::chrono::duration_cast<std::chrono::milliseconds>(
                   Clock::duration(first_green.load() - switched_at.load()))
                   .count()
            << " ms after b's switch was acknowledged\n";
  status = SearchedCollection(*a_, "live", &answered);
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(answered, "green");
  uint64_t count = 0;
  ASSERT_TRUE(Count(*a_, "live", &count).ok());
  EXPECT_EQ(count, 40u);

  // Every bottleneckd restarted: the alias is still there and resolves.
  cluster_.StopNode("a");
  cluster_.StopNode("b");
  std::string error;
  for (const char* id : {"a", "b"}) ASSERT_TRUE(cluster_.StartNode(id, {}, &error)) << error;
  ASSERT_TRUE(cluster_.WaitForReady("a", "green", 1)) << cluster_.last_seen();
  Api a(cluster_.Channel("a")), b(cluster_.Channel("b"));
  const Pairs expected = {{"live", "green"}};
  EXPECT_EQ(ListAliases(a), expected);
  EXPECT_EQ(ListAliases(b), expected);
  ASSERT_TRUE(WaitFor([&] { return SearchedCollection(b, "live", &answered).ok(); }, 30));
  EXPECT_EQ(answered, "green");

  // Deleted on a: gone on a at once, on b within the bound.
  ASSERT_TRUE(DeleteAlias(a, "live").ok());
  const auto deleted_at = Clock::now();
  EXPECT_EQ(SearchedCollection(a, "live", &answered).error_code(), Code::NOT_FOUND);
  std::this_thread::sleep_until(deleted_at + cluster::ClusterCollections::kAliasCacheTtl);
  status = SearchedCollection(b, "live", &answered);
  EXPECT_EQ(status.error_code(), Code::NOT_FOUND) << status.error_message();
  EXPECT_EQ(status.error_message(), "collection 'live' not found");
  EXPECT_TRUE(ListAliases(b).empty());
}

TEST_F(ClusterAliasesTest, RacesHaveOneWinnerAndBadInputGetsTheSingleNodesStatuses) {
  ASSERT_NO_FATAL_FAILURE(StartCluster(/*trained=*/false));
  Api& a = *a_;
  Api& b = *b_;

  // Two nodes create the same alias at once, 5 times: exactly one wins each time.
  Pairs expected;
  for (int round = 0; round < 5; ++round) {
    const std::string name = "race-" + std::to_string(round);
    grpc::Status on_a, on_b;
    std::thread other([&] { on_b = CreateAlias(b, name, "green"); });
    on_a = CreateAlias(a, name, "blue");
    other.join();
    ASSERT_NE(on_a.ok(), on_b.ok())
        << name << ": " << on_a.error_message() << " / " << on_b.error_message();
    const grpc::Status& lost = on_a.ok() ? on_b : on_a;
    EXPECT_EQ(lost.error_code(), Code::ALREADY_EXISTS) << lost.error_message();
    expected.emplace_back(name, on_a.ok() ? "blue" : "green");
  }
  EXPECT_EQ(ListAliases(a), expected);
  EXPECT_EQ(ListAliases(b), expected);
  for (const auto& [name, collection] : expected) {
    ASSERT_TRUE(DeleteAlias(b, name).ok()) << collection;
  }

  // An alias and a collection of the same name created at once: never both.
  for (int round = 0; round < 2; ++round) {
    const std::string name = "both-" + std::to_string(round);
    grpc::Status alias, collection;
    std::thread other([&] { collection = CreateFashionCollection(b, name, 1, 1); });
    alias = CreateAlias(a, name, "blue");
    other.join();
    EXPECT_FALSE(alias.ok() && collection.ok()) << name;
    std::cout << name << ": alias " << (alias.ok() ? "created" : alias.error_message())
              << "; collection " << (collection.ok() ? "created" : collection.error_message())
              << "\n";
    if (alias.ok()) {
      ASSERT_TRUE(DeleteAlias(a, name).ok());
    }
    if (collection.ok()) {
      v1::DeleteCollectionRequest drop;
      drop.set_name(name);
      v1::DeleteCollectionResponse dropped;
      ASSERT_TRUE(a.collections->DeleteCollection(Ctx().get(), drop, &dropped).ok());
    }
  }

  // Bad input, as on a single node (tests/integration/alias_test.cc); nothing changes.
  ASSERT_TRUE(CreateAlias(a, "live", "blue").ok());
  const Pairs before = {{"live", "blue"}};
  v1::Collection c;
  v1::CreateCollectionRequest create;
  create.set_name("live");
  create.mutable_spec()->mutable_image()->set_height(28);
  create.mutable_spec()->mutable_image()->set_width(28);
  create.mutable_spec()->mutable_image()->set_channels(1);
  v1::DeleteCollectionRequest delete_blue;
  delete_blue.set_name("blue");
  v1::DeleteCollectionResponse deleted;
  struct Case {
    grpc::Status status;
    Code code;
    std::string message;
  };
  const std::vector<Case> cases = {
      {CreateAlias(b, "other", "missing"), Code::NOT_FOUND, "collection 'missing' not found"},
      {CreateAlias(b, "blue", "blue"), Code::ALREADY_EXISTS, "is the name of a collection"},
      {CreateAlias(b, "live", "green"), Code::ALREADY_EXISTS, "alias 'live' already exists"},
      {CreateAlias(b, "chain", "live"), Code::NOT_FOUND, "it is an alias"},
      {CreateAlias(b, "a/b", "blue"), Code::INVALID_ARGUMENT, "may only contain"},
      {CreateAlias(b, "", "blue"), Code::INVALID_ARGUMENT, "must not be empty"},
      {SwitchAlias(b, "nope", "blue"), Code::NOT_FOUND, "alias 'nope' not found"},
      {SwitchAlias(b, "live", "missing"), Code::NOT_FOUND, "collection 'missing' not found"},
      {SwitchAlias(b, "live", "a b"), Code::INVALID_ARGUMENT, "may only contain"},
      {b.collections->CreateCollection(Ctx().get(), create, &c), Code::ALREADY_EXISTS,
       "is the name of an alias"},
      {b.collections->DeleteCollection(Ctx().get(), delete_blue, &deleted),
       Code::FAILED_PRECONDITION, "alias 'live' points at collection 'blue'"},
      {DeleteAlias(b, "nope"), Code::NOT_FOUND, "alias 'nope' not found"},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    EXPECT_EQ(cases[i].status.error_code(), cases[i].code)
        << i << ": " << cases[i].status.error_message();
    EXPECT_NE(cases[i].status.error_message().find(cases[i].message), std::string::npos)
        << i << ": " << cases[i].status.error_message();
  }
  EXPECT_EQ(ListAliases(a), before);
  EXPECT_EQ(ListAliases(b), before);
  uint64_t count = 1;
  grpc::Status counted;
  EXPECT_TRUE(WaitFor([&] { return (counted = Count(b, "live", &count)).ok(); }, 30))
      << "resolved on b: " << counted.error_message();
  EXPECT_EQ(count, 0u);
  // Admin methods take collection names only.
  v1::GetCollectionRequest get;
  get.set_name("live");
  EXPECT_EQ(b.collections->GetCollection(Ctx().get(), get, &c).error_code(), Code::NOT_FOUND);
  get.set_name("blue");
  EXPECT_TRUE(b.collections->GetCollection(Ctx().get(), get, &c).ok()) << "not deleted";
  EXPECT_EQ(Count(b, "nope", &count).error_code(), Code::NOT_FOUND);

  // An alias left pointing at no collection (what a DeleteCollection racing a CreateAlias on
  // another node can leave, written here straight into the bucket): NOT_FOUND naming both.
  auto connection = cluster_.nats().Connect();
  ASSERT_TRUE(connection.ok()) << connection.status();
  nats::KvConfig config;
  config.bucket = "bottleneck_aliases";
  config.replicas = 3;
  auto bucket = (*connection)->EnsureKeyValue(config);
  ASSERT_TRUE(bucket.ok()) << bucket.status();
  ASSERT_TRUE((*bucket)->Put("dangling", "gone").ok());
  grpc::Status dangling = Count(a, "dangling", &count);
  EXPECT_EQ(dangling.error_code(), Code::NOT_FOUND);
  EXPECT_EQ(dangling.error_message(), "collection 'gone' of alias 'dangling' not found");
  EXPECT_EQ(SwitchAlias(a, "dangling", "green").error_code(), Code::OK) << "it can be repaired";
  dangling = Count(a, "dangling", &count);
  EXPECT_TRUE(dangling.ok()) << dangling.error_message();
  EXPECT_TRUE(DeleteAlias(a, "dangling").ok());

  // The CLI drives them in cluster mode too (the same RPCs).
  auto cli = [&](std::vector<std::string> args, std::string* out) {
    args.insert(args.begin(), {BN_CLI, "--server", cluster_.address("b")});
    const int status = RunProgram(args, out);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  };
  std::string out;
  EXPECT_EQ(cli({"aliases", "switch", "live", "green"}, &out), 0) << out;
  EXPECT_EQ(cli({"--json", "aliases", "list"}, &out), 0) << out;
  EXPECT_NE(out.find(R"("name":"live","collection":"green")"), std::string::npos) << out;
  EXPECT_EQ(cli({"aliases", "create", "x", "missing"}, &out), 1) << out;
  EXPECT_NE(out.find("NOT_FOUND"), std::string::npos) << out;
}

// A DeleteCollection on one node racing a CreateAlias or SwitchAlias of the same collection on
// another: the delete marks the record before it looks for aliases, and the alias write re-reads
// the record after writing, so an alias never outlives its collection. The rounds start one
// request up to 6 ms after the other, across the few milliseconds both take.
TEST_F(ClusterAliasesTest, DeleteRacingAnAliasWriteNeverLeavesTheAliasDangling) {
  ASSERT_NO_FATAL_FAILURE(StartCluster(/*trained=*/false));
  Api& a = *a_;
  Api& b = *b_;
  ASSERT_TRUE(CreateAlias(a, "moving", "blue").ok());
  int deleted = 0, aliased = 0;
  // Milliseconds the delete starts after the alias write (negative: before it).
  const std::vector<int> offsets = {0, 1, 2, 3, 4, 6, -1, -2, -3, -5};
  for (int round = 0; round < static_cast<int>(offsets.size()); ++round) {
    const std::string name = "doomed-" + std::to_string(round);
    const int offset = offsets[round];
    ASSERT_TRUE(CreateFashionCollection(a, name, 1, 1).ok()) << name;
    const bool switching = round % 2 == 1;
    const std::string alias = switching ? "moving" : "to-" + name;
    grpc::Status drop, write;
    v1::DeleteCollectionRequest request;
    request.set_name(name);
    v1::DeleteCollectionResponse response;
    std::thread other([&] {
      std::this_thread::sleep_for(std::chrono::milliseconds(std::max(0, -offset)));
      write = switching ? SwitchAlias(b, alias, name) : CreateAlias(b, alias, name);
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(std::max(0, offset)));
    // A generous deadline: a delete (record, log, models, snapshots) took over 10 s once under
    // the full cluster CTest on two busy cores.
    drop = a.collections->DeleteCollection(Ctx(60).get(), request, &response);
    other.join();
    std::cout << name << " (delete " << offset << " ms after)"
              << (switching ? " switch: " : " create: ")
              << (write.ok() ? "ok" : write.error_message())
              << "; delete: " << (drop.ok() ? "ok" : drop.error_message()) << "\n";
    EXPECT_FALSE(drop.ok() && write.ok()) << name;
    if (!drop.ok()) {
      EXPECT_EQ(drop.error_code(), Code::FAILED_PRECONDITION) << drop.error_message();
    }
    if (!write.ok()) {
      EXPECT_TRUE(write.error_code() == Code::FAILED_PRECONDITION ||
                  write.error_code() == Code::NOT_FOUND)
          << write.error_message();
    }
    deleted += drop.ok();
    aliased += write.ok();
    // What the bucket and the records hold now, read through the other node: every alias names
    // a collection that exists.
    for (const auto& [alias_name, target] : ListAliases(b)) {
      v1::GetCollectionRequest get;
      get.set_name(target);
      v1::Collection c;
      grpc::Status found = b.collections->GetCollection(Ctx().get(), get, &c);
      EXPECT_TRUE(found.ok()) << "alias " << alias_name << " -> " << target << ": "
                              << found.error_message();
    }
    // Put things back for the next round: the alias off the collection, then the collection.
    if (switching) {
      ASSERT_TRUE(SwitchAlias(a, "moving", "blue").ok());
    } else if (write.ok()) {
      ASSERT_TRUE(DeleteAlias(a, alias).ok());
    }
    if (!drop.ok()) {
      grpc::Status again = a.collections->DeleteCollection(Ctx(60).get(), request, &response);
      EXPECT_TRUE(again.ok()) << name
                              << ": the delete mark was not cleared: " << again.error_message();
    }
  }
  std::cout << "deletes won " << deleted << ", alias writes won " << aliased << " of "
            << offsets.size() << "\n";
}

}  // namespace
}  // namespace bn::testing
