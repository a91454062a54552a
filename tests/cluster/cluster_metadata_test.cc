// Cluster mode, metadata and membership: bottleneckd nodes on a real 3-server NATS cluster.
// Startup failures (unreachable or wrong NATS address, another protocol version, a duplicate
// node id), collections created on one node and seen on another, shard-count changes refused,
// the node list with liveness, RemoveNode, and the single-node server's answers.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <chrono>
#include <map>
#include <thread>

#include "bottleneck/cluster/internal.pb.h"
#include "bottleneck/v1/cluster.grpc.pb.h"
#include "bottleneck/v1/collection.grpc.pb.h"
#include "server/cluster/names.h"
#include "server/cluster/nats_client.h"
#include "tests/cluster/cluster_harness.h"
#include "tests/integration/client_util.h"

namespace bn::testing {
namespace {

namespace v1 = ::bottleneck::v1;

v1::CreateCollectionRequest ImageCollection(const std::string& name, uint32_t shards,
                                            uint32_t replicas = 0) {
  v1::CreateCollectionRequest request;
  request.set_name(name);
  auto* image = request.mutable_spec()->mutable_image();
  image->set_height(8);
  image->set_width(8);
  image->set_channels(1);
  request.set_shards(shards);
  request.set_replicas(replicas);
  return request;
}

TEST(ClusterStartupTest, UnreachableNatsAddressFailsAtStartNamingIt) {
  TempDir dir;
  const std::string url = "nats://127.0.0.1:" + std::to_string(FreePort());
  std::string output;
  const auto start = std::chrono::steady_clock::now();
  const int status = RunProgram({BN_BOTTLENECKD, "--cluster", url, "--node-id", "a", "--listen",
                                 "127.0.0.1:0", "--data-dir", dir.Sub("a")},
                                &output);
  ASSERT_TRUE(WIFEXITED(status)) << output;
  EXPECT_EQ(WEXITSTATUS(status), 1) << output;
  EXPECT_NE(output.find("cannot connect to NATS at " + url), std::string::npos) << output;
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(30));
}

TEST(ClusterStartupTest, AddressThatIsNotNatsFailsAtStart) {
  // A bottleneckd's own gRPC port is a valid address that does not speak NATS.
  TempDir dir;
  std::string error;
  auto single = ServerProcess::Start(dir.Sub("single"), {}, &error);
  ASSERT_NE(single, nullptr) << error;
  std::string output;
  const int status =
      RunProgram({BN_BOTTLENECKD, "--cluster", "nats://" + single->address(), "--node-id", "a",
                  "--listen", "127.0.0.1:0", "--data-dir", dir.Sub("a")},
                 &output);
  ASSERT_TRUE(WIFEXITED(status)) << output;
  EXPECT_EQ(WEXITSTATUS(status), 1) << output;
  EXPECT_NE(output.find("cannot connect to NATS"), std::string::npos) << output;
}

TEST(ClusterStartupTest, MalformedClusterFlagIsAUsageError) {
  TempDir dir;
  std::string output;
  const int status = RunProgram(
      {BN_BOTTLENECKD, "--cluster", "127.0.0.1:4222", "--data-dir", dir.Sub("a")}, &output);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 2) << output;
  EXPECT_NE(output.find("--cluster needs nats://HOST:PORT URLs"), std::string::npos) << output;
  const int follow = RunProgram({BN_BOTTLENECKD, "--cluster", "nats://127.0.0.1:4222", "--follow",
                                 dir.Sub("x"), "--data-dir", dir.Sub("a")},
                                &output);
  EXPECT_EQ(WEXITSTATUS(follow), 2) << output;
}

class ClusterMetadataTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string error;
    ASSERT_TRUE(cluster_.StartNats(&error)) << error;
  }
  ClusterHarness cluster_;
};

TEST_F(ClusterMetadataTest, NodeOfAnotherProtocolVersionIsRefusedAtStart) {
  auto connection = cluster_.nats().Connect();
  ASSERT_TRUE(connection.ok()) << connection.status();
  nats::KvConfig config;
  config.bucket = "bottleneck_meta";
  config.replicas = 3;
  auto meta = (*connection)->EnsureKeyValue(config);
  ASSERT_TRUE(meta.ok()) << meta.status();
  bottleneck::cluster::ClusterInfo info;
  info.set_protocol_version(999);
  ASSERT_TRUE((*meta)->Put("cluster", info.SerializeAsString()).ok());
  std::string output;
  const int status =
      RunProgram({BN_BOTTLENECKD, "--cluster", cluster_.nats().urls_joined(), "--node-id", "a",
                  "--listen", "127.0.0.1:0", "--data-dir", cluster_.DataDir("a")},
                 &output);
  ASSERT_TRUE(WIFEXITED(status)) << output;
  EXPECT_EQ(WEXITSTATUS(status), 1) << output;
  EXPECT_NE(output.find("the cluster runs protocol version 999; this bottleneckd speaks version 1"),
            std::string::npos)
      << output;
}

TEST_F(ClusterMetadataTest, SecondNodeWithALiveNodesIdIsRefused) {
  std::string error;
  ASSERT_TRUE(cluster_.StartNode("a", {}, &error)) << error;
  std::string output;
  std::vector<std::string> args = {BN_BOTTLENECKD};
  for (const auto& arg : cluster_.NodeArgs("a")) args.push_back(arg);
  for (const char* arg : {"--listen", "127.0.0.1:0", "--data-dir"}) args.push_back(arg);
  args.push_back(cluster_.DataDir("a-twin"));
  const int status = RunProgram(args, &output);
  ASSERT_TRUE(WIFEXITED(status)) << output;
  EXPECT_EQ(WEXITSTATUS(status), 1) << output;
  EXPECT_NE(output.find("node id 'a' is already live"), std::string::npos) << output;
  // A node that restarts after being killed is not a duplicate of itself.
  cluster_.KillNode("a");
  ASSERT_TRUE(cluster_.StartNode("a", {}, &error)) << error;
}

// Backups in cluster mode (cluster_backup_test.cc has the backup and restore themselves): a
// node without backups lists none and deletes none; --restore with --cluster of a directory
// that is not a cluster backup fails before touching NATS; --restore with --follow is a usage
// error.
TEST_F(ClusterMetadataTest, BackupCallsOnANodeWithoutBackupsAndRestoreArguments) {
  std::string error;
  ASSERT_TRUE(cluster_.StartNode("a", {}, &error)) << error;
  auto a = v1::CollectionService::NewStub(cluster_.Channel("a"));
  v1::ListBackupsResponse backups;
  grpc::Status listed = a->ListBackups(Ctx().get(), {}, &backups);
  ASSERT_TRUE(listed.ok()) << listed.error_message();
  EXPECT_EQ(backups.backups_size(), 0);
  v1::DeleteBackupRequest delete_backup;
  delete_backup.set_name("nightly");
  v1::DeleteBackupResponse deleted_backup;
  grpc::Status deleted = a->DeleteBackup(Ctx().get(), delete_backup, &deleted_backup);
  EXPECT_EQ(deleted.error_code(), grpc::StatusCode::NOT_FOUND) << deleted.error_message();
  delete_backup.set_name("../x");
  deleted = a->DeleteBackup(Ctx().get(), delete_backup, &deleted_backup);
  EXPECT_EQ(deleted.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << deleted.error_message();
  TempDir dir;
  std::string output;
  int status = RunProgram({BN_BOTTLENECKD, "--cluster", cluster_.nats().urls_joined(), "--restore",
                           dir.path(), "--data-dir", dir.Sub("a")},
                          &output);
  ASSERT_TRUE(WIFEXITED(status)) << output;
  EXPECT_EQ(WEXITSTATUS(status), 1) << output;
  EXPECT_NE(output.find("is not a cluster backup"), std::string::npos) << output;
  status = RunProgram({BN_BOTTLENECKD, "--follow", dir.Sub("x"), "--restore", dir.Sub("b"),
                       "--data-dir", dir.Sub("a")},
                      &output);
  ASSERT_TRUE(WIFEXITED(status)) << output;
  EXPECT_EQ(WEXITSTATUS(status), 2) << output;
  EXPECT_NE(output.find("--restore"), std::string::npos) << output;
}

TEST_F(ClusterMetadataTest, CollectionsAreSharedByEveryNodeAndTheirShardCountIsFixed) {
  std::string error;
  ASSERT_TRUE(cluster_.StartNode("a", {}, &error)) << error;
  ASSERT_TRUE(cluster_.StartNode("b", {}, &error)) << error;
  ASSERT_TRUE(cluster_.StartNode("c", {}, &error)) << error;
  auto a = v1::CollectionService::NewStub(cluster_.Channel("a"));
  auto b = v1::CollectionService::NewStub(cluster_.Channel("b"));
  v1::Collection created;
  ASSERT_TRUE(a->CreateCollection(Ctx().get(), ImageCollection("fashion", 3, 2), &created).ok());
  EXPECT_EQ(created.cluster().shards(), 3u);
  EXPECT_EQ(created.cluster().replicas(), 2u);
  EXPECT_EQ(created.spec().index().m(), 16u) << "defaults are filled in";

  // Seen through another node, with every shard placed on 2 of the 3 nodes.
  v1::Collection seen;
  ASSERT_TRUE(WaitFor(
      [&] {
        v1::GetCollectionRequest get;
        get.set_name("fashion");
        return b->GetCollection(Ctx().get(), get, &seen).ok();
      },
      10));
  EXPECT_EQ(seen.cluster().shards(), 3u);
  ASSERT_EQ(seen.cluster().shard_status_size(), 3);
  for (const auto& shard : seen.cluster().shard_status()) {
    EXPECT_EQ(shard.placement_size(), 2);
  }
  EXPECT_EQ(seen.cluster().stream(), created.cluster().stream());

  // The shard count of a live collection cannot change; the same count is ALREADY_EXISTS.
  v1::Collection ignored;
  grpc::Status changed =
      b->CreateCollection(Ctx().get(), ImageCollection("fashion", 4, 2), &ignored);
  EXPECT_EQ(changed.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(changed.error_message().find("exists with 3 shards"), std::string::npos)
      << changed.error_message();
  EXPECT_EQ(
      b->CreateCollection(Ctx().get(), ImageCollection("fashion", 3, 2), &ignored).error_code(),
      grpc::StatusCode::ALREADY_EXISTS);

  // Bad requests.
  v1::GetCollectionRequest unknown;
  unknown.set_name("nope");
  grpc::Status missing = b->GetCollection(Ctx().get(), unknown, &ignored);
  EXPECT_EQ(missing.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(missing.error_message(), "collection 'nope' not found");
  EXPECT_EQ(a->CreateCollection(Ctx().get(), ImageCollection("many", 300), &ignored).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(a->CreateCollection(Ctx().get(), ImageCollection(std::string(60, 'x'), 1), &ignored)
                .error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(a->CreateCollection(Ctx().get(), ImageCollection("bad/name", 1), &ignored).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);

  // Delete through one node: gone everywhere, and its log with it.
  v1::DeleteCollectionRequest drop;
  drop.set_name("fashion");
  v1::DeleteCollectionResponse dropped;
  ASSERT_TRUE(b->DeleteCollection(Ctx().get(), drop, &dropped).ok());
  EXPECT_TRUE(WaitFor(
      [&] {
        v1::GetCollectionRequest get;
        get.set_name("fashion");
        return a->GetCollection(Ctx().get(), get, &ignored).error_code() ==
               grpc::StatusCode::NOT_FOUND;
      },
      10));
  auto connection = cluster_.nats().Connect();
  ASSERT_TRUE(connection.ok());
  EXPECT_EQ((*connection)->GetStream(created.cluster().stream()).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(b->DeleteCollection(Ctx().get(), drop, &dropped).error_code(),
            grpc::StatusCode::NOT_FOUND);
  // Created again: a new incarnation with a new log.
  v1::Collection again;
  ASSERT_TRUE(a->CreateCollection(Ctx().get(), ImageCollection("fashion", 2), &again).ok());
  EXPECT_NE(again.cluster().stream(), created.cluster().stream());
  EXPECT_EQ(again.cluster().replicas(), 2u) << "--replicas-per-shard's default";
}

// New collections are placed balanced (every node holds its share of the replicas) once every
// member implements it; while a member's last heartbeat says it does not (an older build), they
// keep rendezvous placement, which that member computes too.
TEST_F(ClusterMetadataTest, ShardsArePlacedBalancedUnlessAMemberPredatesIt) {
  std::string error;
  for (const char* id : {"a", "b", "c"}) ASSERT_TRUE(cluster_.StartNode(id, {}, &error)) << error;
  auto a = v1::CollectionService::NewStub(cluster_.Channel("a"));
  auto admin = v1::ClusterService::NewStub(cluster_.Channel("a"));
  auto nodes_seen = [&](size_t n) {
    v1::Cluster info;
    if (!admin->GetCluster(Ctx().get(), {}, &info).ok()) return false;
    return static_cast<size_t>(info.nodes_size()) == n;
  };
  ASSERT_TRUE(WaitFor([&] { return nodes_seen(3); }, 20));
  auto connection = cluster_.nats().Connect();
  ASSERT_TRUE(connection.ok()) << connection.status();
  auto bucket = [&](const char* name) {
    nats::KvConfig config;
    config.bucket = std::string("bottleneck_") + name;
    config.replicas = 3;
    auto kv = (*connection)->EnsureKeyValue(config);
    EXPECT_TRUE(kv.ok()) << kv.status();
    return kv.ok() ? std::move(*kv) : nullptr;
  };
  auto collections = bucket("collections");
  ASSERT_NE(collections, nullptr);
  auto record = [&](const std::string& name) {
    bottleneck::cluster::CollectionEntry entry;
    auto value = collections->Get(name);
    EXPECT_TRUE(value.ok() && value->has_value()) << name;
    if (value.ok() && value->has_value()) {
      EXPECT_TRUE(entry.ParseFromString((*value)->value));
    }
    return entry;
  };
  auto shards_per_node = [&](const std::string& name) {
    v1::GetCollectionRequest get;
    get.set_name(name);
    v1::Collection seen;
    EXPECT_TRUE(a->GetCollection(Ctx().get(), get, &seen).ok());
    std::map<std::string, int> count;
    for (const auto& shard : seen.cluster().shard_status()) {
      for (const auto& node : shard.placement()) ++count[node];
    }
    return count;
  };

  v1::Collection created;
  ASSERT_TRUE(a->CreateCollection(Ctx().get(), ImageCollection("spread", 6, 1), &created).ok());
  EXPECT_EQ(record("spread").placement(), 1u);
  const std::map<std::string, int> even = {{"a", 2}, {"b", 2}, {"c", 2}};
  EXPECT_EQ(shards_per_node("spread"), even);

  // A member whose heartbeat carries no placement field: an older build.
  auto members = bucket("members");
  auto nodes = bucket("nodes");
  ASSERT_NE(members, nullptr);
  ASSERT_NE(nodes, nullptr);
  bottleneck::cluster::MemberEntry member;
  member.set_node("old");
  ASSERT_TRUE(members->Put("old", member.SerializeAsString()).ok());
  bottleneck::cluster::NodeEntry old;
  old.set_node("old");
  old.set_address("127.0.0.1:1");
  old.set_protocol_version(cluster::kProtocolVersion);
  old.set_heartbeat(1);
  ASSERT_TRUE(nodes->Put("old", old.SerializeAsString()).ok());
  ASSERT_TRUE(WaitFor([&] { return nodes_seen(4); }, 20));
  ASSERT_TRUE(a->CreateCollection(Ctx().get(), ImageCollection("legacy", 6, 1), &created).ok());
  const bottleneck::cluster::CollectionEntry legacy = record("legacy");
  EXPECT_EQ(legacy.placement(), 0u);
  const auto expected =
      *cluster::PlaceShards("legacy", legacy.incarnation(), 6, 1, 0, {"a", "b", "c", "old"});
  std::map<std::string, int> rendezvous;
  for (const auto& shard : expected) ++rendezvous[shard[0]];
  EXPECT_EQ(shards_per_node("legacy"), rendezvous);
  // The balanced collection keeps its scheme (placed now over four members).
  EXPECT_EQ(record("spread").placement(), 1u);
}

TEST_F(ClusterMetadataTest, NodesAreListedWithLivenessAndOnlyDeadOnesCanBeRemoved) {
  std::string error;
  ASSERT_TRUE(cluster_.StartNode("a", {}, &error)) << error;
  ASSERT_TRUE(cluster_.StartNode("b", {}, &error)) << error;
  auto admin = v1::ClusterService::NewStub(cluster_.Channel("a"));
  auto describe = [&] {
    v1::Cluster out;
    EXPECT_TRUE(admin->GetCluster(Ctx().get(), v1::GetClusterRequest(), &out).ok());
    return out;
  };
  auto live = [](const v1::Cluster& cluster, const std::string& id) {
    for (const auto& node : cluster.nodes()) {
      if (node.id() == id) return node.live();
    }
    return false;
  };
  ASSERT_TRUE(WaitFor([&] { return live(describe(), "b"); }, 10));
  v1::Cluster cluster = describe();
  EXPECT_EQ(cluster.name(), "bottleneck");
  EXPECT_EQ(cluster.protocol_version(), 1u);
  EXPECT_EQ(cluster.node(), "a");
  ASSERT_EQ(cluster.nodes_size(), 2);
  EXPECT_EQ(cluster.nodes(1).address(), cluster_.address("b"));
  EXPECT_TRUE(cluster.nodes(1).training());

  v1::RemoveNodeRequest remove;
  remove.set_node("b");
  v1::RemoveNodeResponse removed;
  grpc::Status refused = admin->RemoveNode(Ctx().get(), remove, &removed);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  cluster_.KillNode("b");
  ASSERT_TRUE(WaitFor([&] { return !live(describe(), "b"); }, 10)) << "the lease is 1.5 s";
  ASSERT_TRUE(admin->RemoveNode(Ctx().get(), remove, &removed).ok());
  EXPECT_TRUE(WaitFor([&] { return describe().nodes_size() == 1; }, 10));
  EXPECT_EQ(admin->RemoveNode(Ctx().get(), remove, &removed).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST(SingleNodeClusterApiTest, ClusterServiceIsUnimplementedAndShardsAreRefused) {
  TempDir dir;
  std::string error;
  auto server = ServerProcess::Start(dir.Sub("data"), {}, &error);
  ASSERT_NE(server, nullptr) << error;
  auto admin = v1::ClusterService::NewStub(server->Channel());
  v1::Cluster cluster;
  grpc::Status status = admin->GetCluster(Ctx().get(), v1::GetClusterRequest(), &cluster);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNIMPLEMENTED);
  EXPECT_NE(status.error_message().find("--cluster"), std::string::npos);
  auto collections = v1::CollectionService::NewStub(server->Channel());
  v1::Collection created;
  grpc::Status sharded =
      collections->CreateCollection(Ctx().get(), ImageCollection("c", 3), &created);
  EXPECT_EQ(sharded.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(collections->CreateCollection(Ctx().get(), ImageCollection("c", 1), &created).ok());
  EXPECT_FALSE(created.has_cluster());
}

}  // namespace
}  // namespace bn::testing
