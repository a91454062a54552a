// The blob collector (server/cluster/blob_collector.h) on a real node: blobs that no metadata
// names (as a node killed mid-write leaves them) are deleted once their grace period is over,
// on both blob streams, and every named blob (the model, the dataset, the shard's snapshot)
// stays: the node, wiped and restarted, restores the shard and trains from the dataset again.
#include <gtest/gtest.h>

#include <thread>

#include "server/cluster/blob_channel.h"
#include "server/cluster/names.h"
#include "server/cluster/nats_client.h"
#include "tests/cluster/cluster_harness.h"
#include "tests/cluster/fashion_util.h"
#include "tests/integration/client_util.h"

namespace bn::testing {
namespace {

namespace v1 = ::bottleneck::v1;
using cluster::BlobChannel;
using cluster::Names;

TEST(BlobCollectorTest, DeletesUnnamedBlobsAfterTheirGraceAndKeepsNamedOnes) {
  std::string error;
  ClusterHarness cluster;
  ASSERT_TRUE(cluster.StartNats(&error, 1)) << error;
  const std::vector<std::string> flags = {"--blob-gc-grace-seconds", "3",
                                          "--shard-snapshot-interval-seconds", "1"};
  ASSERT_TRUE(cluster.StartNode("a", flags, &error)) << error;
  Api a(cluster.Channel("a"));
  ASSERT_TRUE(CreateFashionCollection(a, "f", 1, 1).ok());
  ASSERT_TRUE(UploadFashion(a, "f", "train", 100).ok());
  ASSERT_EQ(TrainPca(a, "f", "train", 8, /*promote=*/true).model_version(), 1u);
  ASSERT_TRUE(WaitForServing(a, "f", 1));
  const LabeledImages& images = Fashion(DatasetSplit::kTest, 50);
  ASSERT_GT(UpsertFashion(a, "f", images, 0, 50, "item-"), 0u);

  auto connection = cluster.nats().Connect();
  ASSERT_TRUE(connection.ok()) << connection.status();
  nats::Connection* nats = connection->get();
  const Names names("bottleneck");
  BlobChannel blobs(nats, names, /*chunk_bytes=*/1000);
  BlobChannel snapshots(nats, names, 1000, BlobChannel::Kind::kSnapshots);
  // What a writer killed before naming its blob leaves: chunks no bucket value names.
  auto orphan = blobs.Put(std::string(2500, 'm'));
  auto orphan_snapshot = snapshots.Put(std::string(1500, 's'));
  ASSERT_TRUE(orphan.ok() && orphan_snapshot.ok());
  auto present = [&](const std::string& stream, const std::string& subject) {
    auto subjects = nats->StreamSubjects(stream, subject);
    EXPECT_TRUE(subjects.ok()) << subjects.status();
    return subjects.ok() && subjects->count(subject) > 0;
  };
  const std::string orphan_subject = names.BlobSubject(orphan->id());
  const std::string orphan_snapshot_subject = names.SnapshotSubject(orphan_snapshot->id());
  // Within its grace (3 s) an unnamed blob may be one being written: it stays.
  std::this_thread::sleep_for(std::chrono::seconds(1));
  EXPECT_TRUE(present(names.BlobStream(), orphan_subject));
  EXPECT_TRUE(present(names.SnapshotStream(), orphan_snapshot_subject));
  ASSERT_TRUE(WaitFor(
      [&] {
        return !present(names.BlobStream(), orphan_subject) &&
               !present(names.SnapshotStream(), orphan_snapshot_subject);
      },
      30))
      << cluster.NodeStderr("a");
  const std::string log = cluster.NodeStderr("a");
  EXPECT_NE(log.find("deleted blob " + orphan->id()), std::string::npos) << log;
  EXPECT_NE(log.find("deleted blob " + orphan_snapshot->id()), std::string::npos) << log;

  // Several more passes over the named blobs, then the node loses its disk: it restores the
  // shard from its snapshot and the model from its blob, and the dataset still trains.
  std::this_thread::sleep_for(std::chrono::seconds(5));
  cluster.KillNode("a");
  cluster.WipeNode("a");
  ASSERT_TRUE(cluster.StartNode("a", flags, &error)) << error;
  ASSERT_TRUE(cluster.WaitForReady("a", "f", 1, 1, 60)) << cluster.last_seen();
  Api again(cluster.Channel("a"));
  for (int i = 0; i < 50; ++i) {
    v1::GetItemRequest get;
    get.set_collection("f");
    get.set_id("item-" + std::to_string(i));
    v1::GetItemResponse item;
    grpc::Status status = again.items->GetItem(Ctx(10).get(), get, &item);
    ASSERT_TRUE(status.ok()) << get.id() << ": " << status.error_message();
  }
  EXPECT_NE(cluster.NodeStderr("a").find("restoring the snapshot at log position"),
            std::string::npos);
  EXPECT_EQ(TrainPca(again, "f", "train", 8, /*promote=*/false).model_version(), 2u);
}

}  // namespace
}  // namespace bn::testing
