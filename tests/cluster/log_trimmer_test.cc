// The log trimmer (server/cluster/log_trimmer.h): TrimmedPast's rule, and real nodes trimming a
// collection's log below its snapshots while a replica is down (it restores the snapshot when it
// starts) or paused past its lease (it notices after its next fetch and is replaced), each
// checked against every acknowledged write read back through that replica alone.
#include "server/cluster/log_trimmer.h"

#include <gtest/gtest.h>
#include <signal.h>

#include <iostream>
#include <thread>

#include "server/cluster/nats_client.h"
#include "tests/cluster/cluster_harness.h"
#include "tests/cluster/fashion_util.h"
#include "tests/integration/client_util.h"

namespace bn::testing {
namespace {

namespace pb = ::bottleneck::cluster;
namespace v1 = ::bottleneck::v1;

TEST(TrimmedPastTest, OnlyAReplicaBehindItsShardsSnapshotAndBelowTheDeletionsHasLostMessages) {
  pb::LogTrimEntry trim;
  trim.set_trimmed_below(100);
  trim.add_deleting_positions(90);  // Shard 0's snapshot; shard 0 has no message in (90, 100).
  trim.add_deleting_positions(40);  // Shard 1's.
  trim.set_deleting_below(80);      // A live replica at 79 held the deletions back.
  // A later announcement (newer snapshots) does not change what was deleted under the old one.
  trim.add_shard_positions(500);
  trim.add_shard_positions(600);
  // Shard 0: everything below 80 may be gone, and shard 0 had messages up to 90.
  EXPECT_TRUE(cluster::TrimmedPast(trim, 0, 10));
  EXPECT_TRUE(cluster::TrimmedPast(trim, 0, 78));
  EXPECT_FALSE(cluster::TrimmedPast(trim, 0, 79));  // Its next message is 80 at the earliest.
  EXPECT_FALSE(cluster::TrimmedPast(trim, 0, 85));
  // Shard 1: past its snapshot's 40 it has no message below 100, deleted or not.
  EXPECT_TRUE(cluster::TrimmedPast(trim, 1, 39));
  EXPECT_FALSE(cluster::TrimmedPast(trim, 1, 40));
  EXPECT_FALSE(cluster::TrimmedPast(trim, 1, 60));
  // A shard the record does not know (none when it was written): any replica below the bound.
  EXPECT_TRUE(cluster::TrimmedPast(trim, 2, 5));
  // Nothing deleted yet: nothing lost, whatever was announced.
  trim.set_deleting_below(0);
  EXPECT_FALSE(cluster::TrimmedPast(trim, 0, 0));
}

class LogTrimmerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string error;
    ASSERT_TRUE(cluster_.StartNats(&error, 1)) << error;
    for (const char* id : {"a", "b"}) {
      ASSERT_TRUE(cluster_.StartNode(id, kFlags, &error)) << error;
    }
    auto connection = cluster_.nats().Connect();
    ASSERT_TRUE(connection.ok()) << connection.status();
    nats_ = std::move(*connection);
  }

  // Writes images [begin, end) as items "<prefix><i>", one small request each (one log message
  // each), through node a.
  void Write(Api& api, int begin, int end) {
    for (int i = begin; i < end; i += 2) {
      ASSERT_GT(UpsertFashion(api, "f", images_, i, std::min(end, i + 2), "item-"), 0u);
    }
  }
  nats::StreamState Stream() {
    auto state = nats_->GetStream(stream_);
    EXPECT_TRUE(state.ok()) << state.status();
    return state.ok() ? *state : nats::StreamState{};
  }
  // Waits until every message up to `sequence` is deleted from the log.
  bool WaitForTrimPast(uint64_t sequence) {
    return WaitFor([&] { return Stream().first_sequence > sequence; }, 60);
  }
  // Reads items [0, n) through node `via` alone (node a stopped): every one is there.
  void ExpectEveryItemThrough(const std::string& via, int n) {
    Api api(cluster_.Channel(via));
    ASSERT_TRUE(cluster_.WaitForReady(via, "f", 1, 0, 60)) << cluster_.last_seen();
    int missing = 0;
    for (int i = 0; i < n; ++i) {
      v1::GetItemRequest get;
      get.set_collection("f");
      get.set_id("item-" + std::to_string(i));
      v1::GetItemResponse item;
      grpc::Status status = api.items->GetItem(Ctx(10).get(), get, &item);
      if (!status.ok()) ++missing;
    }
    EXPECT_EQ(missing, 0) << "of " << n << " acknowledged items, read through node " << via;
  }

  // Creates collection `name` (1 shard x 2 replicas) serving a PCA model; stream_ is its log.
  void CreateCollection(Api& api, const std::string& name = "f") {
    ASSERT_TRUE(CreateFashionCollection(api, name, 1, 2).ok());
    ASSERT_TRUE(UploadFashion(api, name, "train", 100).ok());
    ASSERT_EQ(TrainPca(api, name, "train", 8, /*promote=*/true).model_version(), 1u);
    ASSERT_TRUE(WaitForServing(api, name, 1));
    v1::GetCollectionRequest get;
    get.set_name(name);
    v1::Collection collection;
    ASSERT_TRUE(api.collections->GetCollection(Ctx().get(), get, &collection).ok());
    stream_ = collection.cluster().stream();
  }

  const std::vector<std::string> kFlags = {"--shard-snapshot-interval-seconds", "1"};
  ClusterHarness cluster_;
  std::unique_ptr<nats::Connection> nats_;
  std::string stream_;
  const LabeledImages& images_ = Fashion(DatasetSplit::kTest, 300);
};

TEST_F(LogTrimmerTest, TrimsBelowTheSnapshotsAndReplicasLeftBehindRestoreThem) {
  std::string error;
  Api a(cluster_.Channel("a"));
  ASSERT_NO_FATAL_FAILURE(CreateCollection(a));

  // 1. Both replicas up: the log shrinks to what the latest snapshot does not hold.
  ASSERT_NO_FATAL_FAILURE(Write(a, 0, 100));
  const uint64_t written = Stream().last_sequence;
  ASSERT_TRUE(WaitForTrimPast(written / 2)) << cluster_.NodeStderr("a");
  std::cout << "both replicas up: " << Stream().messages << " of " << written
            << " log messages left after the trim\n";

  // 2. Node b down while the log is written and trimmed past everything it applied.
  cluster_.KillNode("b");
  const uint64_t b_at = Stream().last_sequence;
  ASSERT_NO_FATAL_FAILURE(Write(a, 100, 200));
  ASSERT_TRUE(WaitForTrimPast(b_at + 1)) << cluster_.NodeStderr("a");
  ASSERT_TRUE(cluster_.StartNode("b", kFlags, &error)) << error;
  ASSERT_TRUE(cluster_.WaitForReady("a", "f", 2, 0, 60)) << cluster_.last_seen();
  EXPECT_NE(cluster_.NodeStderr("b").find("the log was trimmed past its position"),
            std::string::npos)
      << cluster_.NodeStderr("b");
  cluster_.StopNode("a");
  ASSERT_NO_FATAL_FAILURE(ExpectEveryItemThrough("b", 200));
  ASSERT_TRUE(cluster_.StartNode("a", kFlags, &error)) << error;
  ASSERT_TRUE(cluster_.WaitForReady("a", "f", 2, 0, 60)) << cluster_.last_seen();

  // 3. Node b paused past its lease (alive, but no longer counted) while the log is written and
  // trimmed past it: after it resumes, its next fetch skips sequences, it reads the trim record
  // and is replaced by a replica that restores the snapshot.
  Api restarted(cluster_.Channel("a"));  // On a new port.
  ASSERT_EQ(kill(cluster_.Pid("b"), SIGSTOP), 0);
  // Until its open pull request (500 ms) expires, NATS still sends it messages.
  std::this_thread::sleep_for(std::chrono::seconds(2));
  const uint64_t paused_at = Stream().last_sequence;
  ASSERT_NO_FATAL_FAILURE(Write(restarted, 200, 300));
  const bool trimmed = WaitForTrimPast(paused_at + 1);
  ASSERT_EQ(kill(cluster_.Pid("b"), SIGCONT), 0);
  ASSERT_TRUE(trimmed) << cluster_.NodeStderr("a");
  ASSERT_TRUE(WaitFor(
      [&] {
        return cluster_.NodeStderr("b").find("trimmed past this replica's position") !=
               std::string::npos;
      },
      30))
      << cluster_.NodeStderr("b");
  ASSERT_TRUE(cluster_.WaitForReady("a", "f", 2, 0, 60)) << cluster_.last_seen();
  cluster_.StopNode("a");
  ASSERT_NO_FATAL_FAILURE(ExpectEveryItemThrough("b", 300));
}

// A member that never reported NodeEntry.checks_log_trim (a node of an older build, down now)
// would follow a trimmed log without noticing: nothing is trimmed until it leaves.
TEST_F(LogTrimmerTest, NothingIsTrimmedWhileAMemberRunsAnOlderBuild) {
  nats::KvConfig config;
  config.bucket = "bottleneck_members";
  auto members = nats_->EnsureKeyValue(config);
  ASSERT_TRUE(members.ok()) << members.status();
  pb::MemberEntry old;
  old.set_node("old");
  ASSERT_TRUE((*members)->Put("old", old.SerializeAsString()).ok());
  Api a(cluster_.Channel("a"));
  ASSERT_NO_FATAL_FAILURE(CreateCollection(a));
  ASSERT_NO_FATAL_FAILURE(Write(a, 0, 100));
  const uint64_t written = Stream().last_sequence;
  // Snapshots every second, a lease of 1.5 s: several trims would have run by now.
  std::this_thread::sleep_for(std::chrono::seconds(8));
  EXPECT_EQ(Stream().messages, written);
  EXPECT_NE((cluster_.NodeStderr("a") + cluster_.NodeStderr("b"))
                .find("member old runs a build that does not check for trimmed logs"),
            std::string::npos);
  ASSERT_TRUE((*members)->Purge("old").ok());
  EXPECT_TRUE(WaitForTrimPast(written / 2)) << cluster_.NodeStderr("a");
}

// Several collections' trims share one lease wait on the trimmer's thread; each log is trimmed.
TEST_F(LogTrimmerTest, TrimsTheLogOfEveryCollection) {
  Api a(cluster_.Channel("a"));
  std::vector<std::string> streams;
  for (const char* name : {"g", "f"}) {  // f last: Write() writes to it.
    ASSERT_NO_FATAL_FAILURE(CreateCollection(a, name));
    streams.push_back(stream_);
  }
  ASSERT_NO_FATAL_FAILURE(Write(a, 0, 60));
  for (int i = 0; i < 60; i += 2) {
    ASSERT_GT(UpsertFashion(a, "g", images_, i, i + 2, "item-"), 0u);
  }
  for (const std::string& stream : streams) {
    stream_ = stream;
    const uint64_t written = Stream().last_sequence;
    EXPECT_TRUE(WaitForTrimPast(written / 2)) << stream << "\n" << cluster_.NodeStderr("a");
  }
}

}  // namespace
}  // namespace bn::testing
