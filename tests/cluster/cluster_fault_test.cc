// Cluster mode under faults, each with an oracle of acknowledged writes (as
// tests/integration/crash_test.cc for a single node): the NATS server leading the collection's
// log killed while writes and searches go on; a replica killed during ingest (searches keep
// answering, it catches up after its restart); a replica killed and its disk wiped (it rebuilds
// from the shard's snapshot and the log); and randomised kill cycles (a bottleneckd SIGKILLed and
// restarted, with or without its disk, or a NATS server killed and restarted) during a workload of
// upserts, deletes and searches through the live nodes. After every cycle each acknowledged item is
// there, as last written, every acknowledged delete stays deleted, and the shards' replicas agree.
//
// BN_CLUSTER_KILL_CYCLES sets the number of cycles (default 5; the long run: 50).
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <cstdlib>
#include <iostream>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "server/cluster/nats_client.h"
#include "tests/cluster/cluster_harness.h"
#include "tests/cluster/fashion_util.h"
#include "tests/integration/client_util.h"

namespace bn::testing {
namespace {

namespace v1 = ::bottleneck::v1;

constexpr int kIds = 400;      // Item ids the workload writes (and rewrites, and deletes).
constexpr int kImages = 1000;  // Test images items are made of.
// Time JetStream and the clients get to fail over after a NATS server's loss.
constexpr int kFailoverSeconds = 12;

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

int Cycles() {
  const char* value = std::getenv("BN_CLUSTER_KILL_CYCLES");
  return value != nullptr && std::atoi(value) > 0 ? std::atoi(value) : 5;
}

// What the cluster acknowledged for each id: the image it holds (-1: deleted). Writes that
// failed make the id uncertain until an acknowledged write settles it.
class Oracle {
 public:
  void Acknowledged(const std::string& id, int image, uint64_t sequence) {
    std::lock_guard<std::mutex> lock(mutex_);
    state_[id] = image;
    uncertain_.erase(id);
    last_ = std::max(last_, sequence);
  }
  void Failed(const std::string& id) {
    std::lock_guard<std::mutex> lock(mutex_);
    uncertain_.insert(id);
  }
  std::map<std::string, int> Settled() const {
    std::lock_guard<std::mutex> lock(mutex_);
    std::map<std::string, int> out;
    for (const auto& [id, image] : state_) {
      if (uncertain_.count(id) == 0) out[id] = image;
    }
    return out;
  }
  uint64_t last() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return last_;
  }

 private:
  mutable std::mutex mutex_;
  std::map<std::string, int> state_;
  std::set<std::string> uncertain_;
  uint64_t last_ = 0;
};

class ClusterFaultTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string error;
    ASSERT_TRUE(cluster_.StartNats(&error)) << error;
    for (const std::string& id : nodes_) ASSERT_TRUE(Start(id, &error)) << error;
    Api a(cluster_.Channel("a"));
    ASSERT_TRUE(CreateFashionCollection(a, "fashion", 3, 2).ok());
    ASSERT_TRUE(UploadFashion(a, "fashion", "train", 1000).ok());
    ASSERT_EQ(TrainPca(a, "fashion", "train", 16, true).model_version(), 1u);
    ASSERT_TRUE(WaitForServing(a, "fashion", 1));
    ASSERT_TRUE(cluster_.WaitForReady("a", "fashion", 2, 1)) << cluster_.last_seen();
  }

  // Snapshots every 2 s (so logs are trimmed), and the blob collector deleting unnamed blobs
  // (those of killed snapshot writers) 10 s after they were written, during the faults.
  bool Start(const std::string& id, std::string* error) {
    return cluster_.StartNode(
        id, {"--shard-snapshot-interval-seconds", "2", "--blob-gc-grace-seconds", "10"}, error);
  }

  std::vector<std::string> Live() {
    std::lock_guard<std::mutex> lock(live_mutex_);
    std::vector<std::string> out;
    for (const std::string& id : nodes_) {
      if (cluster_.running(id)) out.push_back(id);
    }
    return out;
  }

  // One write through a random live node: an upsert of a few ids or a delete of a few.
  void WriteOnce(std::mt19937* random) {
    const std::vector<std::string> live = Live();
    if (live.empty()) return;
    Api api(cluster_.Channel(live[(*random)() % live.size()]));
    std::map<std::string, int> batch;
    const bool remove = (*random)() % 4 == 0;
    for (int i = 0; i < (remove ? 3 : 8); ++i) {
      batch["k-" + std::to_string((*random)() % kIds)] = remove ? -1 : (*random)() % kImages;
    }
    grpc::Status status;
    uint64_t sequence = 0;
    if (remove) {
      v1::DeleteItemsRequest request;
      request.set_collection("fashion");
      for (const auto& [id, image] : batch) request.add_ids(id);
      v1::DeleteItemsResponse response;
      status = api.items->DeleteItems(Ctx(20).get(), request, &response);
      sequence = response.sequence();
    } else {
      v1::UpsertRequest request;
      request.set_collection("fashion");
      const LabeledImages& images = Fashion(DatasetSplit::kTest, kImages);
      for (const auto& [id, image] : batch) {
        v1::Item* item = request.add_items();
        item->set_id(id);
        *item->mutable_input() = FashionInput(images, image);
        item->set_label(std::to_string(image));
      }
      v1::UpsertResponse response;
      status = api.items->Upsert(Ctx(20).get(), request, &response);
      sequence = response.sequence();
    }
    for (const auto& [id, image] : batch) {
      if (status.ok()) {
        oracle_.Acknowledged(id, image, sequence);
      } else {
        oracle_.Failed(id);
      }
    }
    if (status.ok()) {
      const int64_t now = NowMs(), last = last_ack_ms_.exchange(now);
      if (last > 0 && now - last > max_gap_ms_) max_gap_ms_ = now - last;
    }
    writes_ += status.ok() ? 1 : 0;
    failed_writes_ += status.ok() ? 0 : 1;
  }

  void SearchOnce(std::mt19937* random) {
    const std::vector<std::string> live = Live();
    if (live.empty()) return;
    Api api(cluster_.Channel(live[(*random)() % live.size()]));
    v1::SearchRequest request;
    request.set_collection("fashion");
    *request.mutable_input() =
        FashionInput(Fashion(DatasetSplit::kTest, kImages), (*random)() % kImages);
    v1::SearchResponse response;
    grpc::Status status = api.query->Search(Ctx(10).get(), request, &response);
    (status.ok() ? searches_ : failed_searches_)++;
    if (!status.ok()) {
      std::lock_guard<std::mutex> lock(live_mutex_);
      if (search_errors_.size() < 5) search_errors_.push_back(status.error_message());
    }
  }

  // The workload on two threads until `stop`.
  void RunWorkload(std::atomic<bool>* stop) {
    std::thread writer([&] {
      std::mt19937 random(1);
      while (!stop->load()) WriteOnce(&random);
    });
    std::thread searcher([&] {
      std::mt19937 random(2);
      while (!stop->load()) {
        SearchOnce(&random);
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
    });
    writer.join();
    searcher.join();
  }

  // Every settled id through a live node, as of the last acknowledged write; the replicas of
  // every shard agree.
  void CheckOracle(const std::string& when) {
    const std::vector<std::string> live = Live();
    ASSERT_FALSE(live.empty());
    ASSERT_TRUE(cluster_.WaitForReady(live[0], "fashion", 2, 1, 120))
        << when << "\n"
        << cluster_.last_seen() << NodeLogs();
    const uint64_t last = oracle_.last();
    int checked = 0;
    for (const auto& [id, image] : oracle_.Settled()) {
      Api api(cluster_.Channel(live[checked++ % live.size()]));
      v1::GetItemRequest get;
      get.set_collection("fashion");
      get.set_id(id);
      get.set_min_sequence(last);
      v1::GetItemResponse got;
      grpc::Status status = GetRetryingUnavailable(api, get, &got);
      if (image < 0) {
        EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND)
            << when << ": deleted " << id << " came back: " << status.error_message();
      } else {
        ASSERT_TRUE(status.ok()) << when << ": acknowledged " << id
                                 << " lost: " << status.error_message();
        EXPECT_EQ(got.item().label(), std::to_string(image)) << when << ": " << id;
      }
    }
    // Every replica of every shard holds the same items once it caught up with the log.
    Api api(cluster_.Channel(live[0]));
    EXPECT_TRUE(WaitFor(
        [&] {
          v1::GetCollectionRequest get;
          get.set_name("fashion");
          v1::Collection described;
          if (!api.collections->GetCollection(Ctx().get(), get, &described).ok()) return false;
          for (const auto& shard : described.cluster().shard_status()) {
            std::set<uint64_t> counts, applied;
            for (const auto& replica : shard.replicas()) {
              if (!replica.live()) continue;
              counts.insert(replica.item_count());
              applied.insert(replica.applied_sequence());
            }
            if (counts.size() != 1 || applied.size() != 1) return false;
          }
          return true;
        },
        30))
        << when << ": replicas disagree";
  }

  // GetItem, retried for up to 30 s while it is UNAVAILABLE: right after a NATS server's
  // restart, heartbeats can miss the test's short lease (1.5 s) and a shard's replicas read as
  // down for a moment. This check is about lost writes; availability is counted elsewhere.
  grpc::Status GetRetryingUnavailable(Api& api, const v1::GetItemRequest& get,
                                      v1::GetItemResponse* got) {
    grpc::Status status;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    do {
      status = api.items->GetItem(Ctx(30).get(), get, got);
      if (status.error_code() != grpc::StatusCode::UNAVAILABLE) return status;
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    } while (std::chrono::steady_clock::now() < deadline);
    return status;
  }

  // The end of every running node's log (for failure messages).
  std::string NodeLogs() {
    std::string out;
    for (const std::string& id : Live()) {
      const std::string log = cluster_.NodeStderr(id);
      out +=
          "\n--- log of " + id + ":\n" + (log.size() > 6000 ? log.substr(log.size() - 6000) : log);
    }
    return out;
  }

  // The shards of "fashion" placed on `node`. Placement is rendezvous hashing over the
  // collection's random incarnation, so with 3 shards x 2 replicas on 3 nodes a given node holds
  // no shard in 1 collection of 27: a test about a replica must pick a node that holds one.
  std::vector<uint32_t> ShardsOn(const std::string& node) {
    Api api(cluster_.Channel(Live()[0]));
    v1::GetCollectionRequest get;
    get.set_name("fashion");
    v1::Collection described;
    std::vector<uint32_t> out;
    if (!api.collections->GetCollection(Ctx().get(), get, &described).ok()) return out;
    for (const auto& shard : described.cluster().shard_status()) {
      for (const std::string& placed : shard.placement()) {
        if (placed == node) out.push_back(shard.shard());
      }
    }
    return out;
  }

  // The last node of `preferred` that holds a replica of some shard ("" if none does).
  std::string NodeWithReplicas(const std::vector<std::string>& preferred) {
    for (auto it = preferred.rbegin(); it != preferred.rend(); ++it) {
      if (!ShardsOn(*it).empty()) return *it;
    }
    return "";
  }

  // Whether some live node wrote a snapshot of each of `shards` (its log says so).
  bool SnapshotsWritten(const std::vector<uint32_t>& shards) {
    for (uint32_t shard : shards) {
      const std::string line = "shard fashion__s" + std::to_string(shard) + ": snapshot of ";
      bool found = false;
      for (const std::string& id : Live()) {
        found = found || cluster_.NodeStderr(id).find(line) != std::string::npos;
      }
      if (!found) return false;
    }
    return true;
  }

  // Every acknowledged item through `node`, as of the last acknowledged write.
  void CheckThrough(const std::string& node) {
    Api api(cluster_.Channel(node));
    for (const auto& [id, image] : oracle_.Settled()) {
      if (image < 0) continue;
      v1::GetItemRequest get;
      get.set_collection("fashion");
      get.set_id(id);
      get.set_min_sequence(oracle_.last());
      v1::GetItemResponse got;
      grpc::Status status = GetRetryingUnavailable(api, get, &got);
      ASSERT_TRUE(status.ok()) << node << ": " << id << ": " << status.error_message();
      EXPECT_EQ(got.item().label(), std::to_string(image)) << node << ": " << id;
    }
  }

  ClusterHarness cluster_;
  const std::vector<std::string> nodes_ = {"a", "b", "c"};
  std::mutex live_mutex_;
  Oracle oracle_;
  std::atomic<int> writes_{0}, failed_writes_{0}, searches_{0}, failed_searches_{0};
  std::vector<std::string> search_errors_;
  // The longest time between two acknowledged writes (the writer thread alone updates it).
  std::atomic<int64_t> last_ack_ms_{0}, max_gap_ms_{0};
};

TEST_F(ClusterFaultTest, NatsServerKilledWritesAndSearchesContinue) {
  std::atomic<bool> stop{false};
  std::thread workload([&] { RunWorkload(&stop); });
  std::this_thread::sleep_for(std::chrono::seconds(2));
  // The server leading the collection's log: JetStream elects a new leader among the other two
  // (Raft election timeouts of several seconds) while clients connected to it reconnect.
  const int leader = cluster_.nats().StreamLeader("bottleneck_LOG_fashion");
  ASSERT_GE(leader, 0) << "no leader found for the collection's log stream";
  cluster_.nats().Kill(leader);
  const auto killed = std::chrono::steady_clock::now();
  const int writes_at_kill = writes_.load(), searches_at_kill = searches_.load();
  std::this_thread::sleep_for(std::chrono::seconds(kFailoverSeconds));
  const int writes_failover = writes_.load() - writes_at_kill;
  const int writes_before = writes_.load(), searches_before = searches_.load();
  const int failed_before = failed_searches_.load();
  std::this_thread::sleep_for(std::chrono::seconds(8));
  const int writes_during = writes_.load() - writes_before;
  const int searches_during = searches_.load() - searches_before;
  const int failed_during = failed_searches_.load() - failed_before;
  const double down =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - killed).count();
  std::string error;
  ASSERT_TRUE(cluster_.nats().Restart(leader, &error)) << error;
  std::this_thread::sleep_for(std::chrono::seconds(2));
  stop = true;
  workload.join();
  std::cout << "NATS server " << leader << " (the log's leader) down for " << down
            << " s: " << writes_failover << " acknowledged writes in the first " << kFailoverSeconds
            << " s (fail-over), " << writes_during << " writes and " << searches_during
            << " searches (" << failed_during << " failed) in the 8 s after; overall "
            << failed_writes_ << " failed writes, " << failed_searches_ << " failed searches of "
            << searches_.load() + failed_searches_.load()
            << " (since the kill: " << searches_.load() - searches_at_kill
            << " answered); longest time without an acknowledged "
            << "write: " << max_gap_ms_.load() << " ms\n";
  EXPECT_GT(writes_during, 10) << "writes continue with 2 of 3 NATS servers";
  EXPECT_GT(searches_during, 10) << "searches continue";
  EXPECT_EQ(failed_during, 0) << (search_errors_.empty() ? "" : search_errors_[0]);
  CheckOracle("after a NATS server's loss");
}

// Two of the three NATS servers killed: JetStream has no quorum, so writes fail, but searches
// read only the nodes' memory and local shards and must keep answering, during the outage and
// after it. (Before liveness paused the lease while a node's own heartbeat was not coming back,
// a node could judge its peers dead at either end of such an outage: "no live ready replica
// (b down)".) Writes resume once the servers are back, and nothing acknowledged is lost.
TEST_F(ClusterFaultTest, NatsQuorumLostSearchesContinueAndWritesResume) {
  std::atomic<bool> stop{false};
  std::thread workload([&] { RunWorkload(&stop); });
  std::this_thread::sleep_for(std::chrono::seconds(2));
  cluster_.nats().Kill(1);
  cluster_.nats().Kill(2);
  const int searches_at_kill = searches_.load(), failed_at_kill = failed_searches_.load();
  std::this_thread::sleep_for(std::chrono::seconds(6));  // Four leases of the harness's nodes.
  const int searches_outage = searches_.load() - searches_at_kill;
  const int failed_outage = failed_searches_.load() - failed_at_kill;
  std::string error;
  ASSERT_TRUE(cluster_.nats().Restart(1, &error)) << error;
  ASSERT_TRUE(cluster_.nats().Restart(2, &error)) << error;
  const int writes_at_restart = writes_.load();
  const auto restarted = std::chrono::steady_clock::now();
  const bool resumed = WaitFor([&] { return writes_.load() > writes_at_restart + 5; }, 60);
  const double resume_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - restarted).count();
  std::this_thread::sleep_for(std::chrono::seconds(3));
  stop = true;
  workload.join();
  const int failed_total = failed_searches_.load() - failed_at_kill;
  std::cout << "2 of 3 NATS servers down for 6 s: " << searches_outage << " searches answered, "
            << failed_outage << " failed; writes resumed " << resume_s
            << " s after the restart; searches failed from the kill to the end: " << failed_total
            << " of " << searches_.load() - searches_at_kill + failed_total << "; failed writes "
            << failed_writes_ << "\n";
  EXPECT_GT(searches_outage, 10) << "searches continue without a NATS quorum";
  EXPECT_EQ(failed_total, 0) << (search_errors_.empty() ? "" : search_errors_[0]);
  EXPECT_TRUE(resumed) << "no write acknowledged within 60 s of the restart";
  CheckOracle("after the NATS quorum came back");
}

TEST_F(ClusterFaultTest, ReplicaKilledDuringIngestSearchesContinueAndItCatchesUp) {
  // b unless b holds no replica of this collection (then c, then a).
  const std::string node = NodeWithReplicas({"a", "c", "b"});
  ASSERT_FALSE(node.empty()) << "no node holds a replica";
  std::atomic<bool> stop{false};
  std::thread workload([&] { RunWorkload(&stop); });
  std::this_thread::sleep_for(std::chrono::seconds(2));
  {
    std::lock_guard<std::mutex> lock(live_mutex_);
    cluster_.KillNode(node);
  }
  const int writes_before = writes_.load(), searches_before = searches_.load();
  const int failed_before = failed_searches_.load();
  std::this_thread::sleep_for(std::chrono::seconds(5));
  const int writes_during = writes_.load() - writes_before;
  const int searches_during = searches_.load() - searches_before;
  const int failed_during = failed_searches_.load() - failed_before;
  std::string error;
  {
    std::lock_guard<std::mutex> lock(live_mutex_);
    ASSERT_TRUE(Start(node, &error)) << error;
  }
  std::this_thread::sleep_for(std::chrono::seconds(2));
  stop = true;
  workload.join();
  std::cout << "with " << node << " down for 5 s: " << writes_during << " acknowledged writes, "
            << searches_during << " searches answered, " << failed_during << " failed\n";
  EXPECT_GT(writes_during, 10) << "writes continue";
  EXPECT_GT(searches_during, 10) << "searches continue from the other replicas";
  // A search already on its way to the node when it died may fail; none after.
  EXPECT_LE(failed_during, 1) << (search_errors_.empty() ? "" : search_errors_[0]);
  CheckOracle("after " + node + " was killed during ingest");
  CheckThrough(node);
}

TEST_F(ClusterFaultTest, WipedReplicaRebuildsFromSnapshotAndLog) {
  std::mt19937 random(3);
  for (int i = 0; i < 80; ++i) WriteOnce(&random);
  // The node to wipe: c unless c holds no replica of this collection (then b, then a).
  const std::string node = NodeWithReplicas(nodes_);
  ASSERT_FALSE(node.empty()) << "no node holds a replica";
  const std::vector<uint32_t> shards = ShardsOn(node);
  // Snapshots every 2 s: wait until each of the node's shards has one.
  ASSERT_TRUE(WaitFor([&] { return SnapshotsWritten(shards); }, 60)) << NodeLogs();
  cluster_.KillNode(node);
  cluster_.WipeNode(node);
  for (int i = 0; i < 40; ++i) WriteOnce(&random);  // Writes the node must replay from the log.
  std::string error;
  ASSERT_TRUE(Start(node, &error)) << error;
  CheckOracle("after " + node + " was wiped");
  const std::string log = cluster_.NodeStderr(node);
  for (uint32_t shard : shards) {
    EXPECT_NE(log.find("shard fashion__s" + std::to_string(shard) +
                       ": restoring the snapshot at log position"),
              std::string::npos)
        << node << ", shard " << shard << ":\n"
        << log;
  }
  // A snapshot replaced while the node read it is not an error (it replays the whole log).
  std::cout << node << " (shards " << shards.size() << ") restored; whole-log replays after an "
            << "unreadable snapshot: "
            << (log.find("snapshot not restored") == std::string::npos ? "none" : "some") << "\n";
  CheckThrough(node);
}

TEST_F(ClusterFaultTest, RandomKillCyclesLoseNoAcknowledgedWrite) {
  const char* seed_env = std::getenv("BN_CLUSTER_SEED");
  const unsigned seed = seed_env != nullptr ? std::atoi(seed_env) : std::random_device{}();
  std::cout << "seed " << seed << " (BN_CLUSTER_SEED replays the choice of faults)\n";
  std::mt19937 random(seed);
  const int cycles = Cycles();
  for (int cycle = 0; cycle < cycles; ++cycle) {
    std::atomic<bool> stop{false};
    std::thread workload([&] { RunWorkload(&stop); });
    std::this_thread::sleep_for(std::chrono::milliseconds(500 + random() % 1500));
    const int kind = random() % 3;
    std::string what, error;
    if (kind < 2) {
      const std::string node = nodes_[random() % nodes_.size()];
      {
        std::lock_guard<std::mutex> lock(live_mutex_);
        cluster_.KillNode(node);
      }
      if (kind == 1) cluster_.WipeNode(node);
      what = "cycle " + std::to_string(cycle) + ": " + node + " killed" +
             (kind == 1 ? " and wiped" : "");
      std::this_thread::sleep_for(std::chrono::milliseconds(500 + random() % 2500));
      std::lock_guard<std::mutex> lock(live_mutex_);
      ASSERT_TRUE(Start(node, &error)) << what << ": " << error;
    } else {
      const int server = random() % 3;
      cluster_.nats().Kill(server);
      what =
          "cycle " + std::to_string(cycle) + ": NATS server " + std::to_string(server) + " killed";
      std::this_thread::sleep_for(std::chrono::milliseconds(1000 + random() % 3000));
      ASSERT_TRUE(cluster_.nats().Restart(server, &error)) << what << ": " << error;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    stop = true;
    workload.join();
    std::cout << what << "; " << writes_ << " writes acknowledged, " << failed_writes_
              << " failed; " << searches_ << " searches answered, " << failed_searches_
              << " failed\n";
    CheckOracle(what);
    if (HasFatalFailure()) return;
  }
  EXPECT_GT(writes_.load(), cycles * 10);
  // With a snapshot every 2 s the log trimmer (log_trimmer.h) keeps the log short meanwhile.
  v1::GetCollectionRequest get;
  get.set_name("fashion");
  v1::Collection described;
  Api api(cluster_.Channel(nodes_[0]));
  if (api.collections->GetCollection(Ctx().get(), get, &described).ok()) {
    if (auto nats = cluster_.nats().Connect(); nats.ok()) {
      if (auto log = (*nats)->GetStream(described.cluster().stream()); log.ok()) {
        std::cout << "the log holds " << log->messages << " of its " << log->last_sequence
                  << " messages (first sequence " << log->first_sequence << ")\n";
      }
    }
  }
  // Searches go through live nodes; a replica killed a moment ago is skipped for the next one.
  EXPECT_LE(failed_searches_.load(), searches_.load() / 50)
      << (search_errors_.empty() ? "" : search_errors_[0]);
}

// A replica whose durable consumer disappears while no pull request of it is open (the node
// paused past the request's expiry, then the consumer deleted) notices that its requests go
// unanswered, creates the consumer again and applies the writes made meanwhile. Before, it
// re-sent requests to the missing consumer forever and called itself caught up.
TEST(ClusterConsumerTest, AReplicaWhoseConsumerVanishesCreatesItAgainAndCatchesUp) {
  std::string error;
  ClusterHarness cluster;
  ASSERT_TRUE(cluster.StartNats(&error, 1)) << error;
  ASSERT_TRUE(cluster.StartNode("a", {}, &error)) << error;
  Api a(cluster.Channel("a"));
  ASSERT_TRUE(CreateFashionCollection(a, "f", 1, 1).ok());
  ASSERT_TRUE(UploadFashion(a, "f", "train", 100).ok());
  ASSERT_EQ(TrainPca(a, "f", "train", 8, /*promote=*/true).model_version(), 1u);
  ASSERT_TRUE(WaitForServing(a, "f", 1));
  const LabeledImages& images = Fashion(DatasetSplit::kTest, 20);
  UpsertFashion(a, "f", images, 0, 10, "before-");
  v1::GetCollectionRequest get;
  get.set_name("f");
  v1::Collection collection;
  ASSERT_TRUE(a.collections->GetCollection(Ctx().get(), get, &collection).ok());
  // Paused for 3 s, its open pull request (1 s) expires; the consumer is deleted meanwhile.
  ASSERT_EQ(kill(cluster.Pid("a"), SIGSTOP), 0);
  std::this_thread::sleep_for(std::chrono::seconds(3));
  auto connection = cluster.nats().Connect();
  ASSERT_TRUE(connection.ok()) << connection.status();
  ASSERT_TRUE((*connection)->DeleteConsumer(collection.cluster().stream(), "a_s0").ok());
  ASSERT_EQ(kill(cluster.Pid("a"), SIGCONT), 0);
  const uint64_t sequence = UpsertFashion(a, "f", images, 10, 20, "after-");
  ASSERT_GT(sequence, 0u);
  v1::GetItemRequest item;
  item.set_collection("f");
  item.set_id("after-19");
  item.set_min_sequence(sequence);
  v1::GetItemResponse response;
  const auto start = std::chrono::steady_clock::now();
  grpc::Status status = a.items->GetItem(Ctx(30).get(), item, &response);
  ASSERT_TRUE(status.ok()) << status.error_message() << "\n" << cluster.NodeStderr("a");
  std::cout << "the replica applied the write "
            << std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count()
            << " s after it was acknowledged\n";
  EXPECT_NE(cluster.NodeStderr("a").find("answered none of its last 2 pull requests"),
            std::string::npos);
}

}  // namespace
}  // namespace bn::testing
