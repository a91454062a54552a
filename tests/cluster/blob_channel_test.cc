// BlobChannel on a standalone nats-server: a blob is deleted message by message (its chunks'
// recorded sequences, or found by subject for a ref written before they were recorded), never by
// a purge, and deleting one blob leaves every other blob of the stream readable.
#include "server/cluster/blob_channel.h"

#include <gtest/gtest.h>

#include <string>

#include "server/cluster/nats_client.h"
#include "tests/cluster/nats_cluster.h"
#include "tests/util/temp_dir.h"

namespace bn::cluster {
namespace {

TEST(BlobChannelTest, DeleteRemovesOnlyThatBlobsChunks) {
  testing::TempDir dir;
  testing::NatsCluster nats;
  std::string error;
  ASSERT_TRUE(nats.Start(dir.path(), 1, &error)) << error;
  auto connection = nats.Connect();
  ASSERT_TRUE(connection.ok()) << connection.status();
  BlobChannel blobs(connection->get(), Names("t"), /*chunk_bytes=*/1000);
  ASSERT_TRUE(blobs.EnsureStream(1).ok());
  const std::string a(3500, 'a'), b(2500, 'b'), c(1500, 'c');
  auto ref_a = blobs.Put(a);
  auto ref_b = blobs.Put(b);
  auto ref_c = blobs.Put(c);
  ASSERT_TRUE(ref_a.ok() && ref_b.ok() && ref_c.ok());
  EXPECT_EQ(ref_a->chunks(), 4u);
  EXPECT_EQ(ref_a->sequences_size(), 4);
  ASSERT_TRUE(blobs.Delete(*ref_a).ok());
  const absl::Status again = blobs.Delete(*ref_a);
  EXPECT_TRUE(again.ok()) << "deleting twice is not an error: " << again;
  EXPECT_EQ(blobs.Get(*ref_a).status().code(), absl::StatusCode::kNotFound);
  // A ref from before sequences were recorded: its chunks are found by its subject.
  bottleneck::cluster::BlobRef old_c = *ref_c;
  old_c.clear_sequences();
  ASSERT_TRUE(blobs.Delete(old_c).ok());
  EXPECT_EQ(blobs.Get(*ref_c).status().code(), absl::StatusCode::kNotFound);
  auto read_b = blobs.Get(*ref_b);
  ASSERT_TRUE(read_b.ok()) << read_b.status();
  EXPECT_EQ(*read_b, b);
  auto state = (*connection)->GetStream("t_BLOBS");
  ASSERT_TRUE(state.ok()) << state.status();
  EXPECT_EQ(state->messages, ref_b->chunks());
}

}  // namespace
}  // namespace bn::cluster
