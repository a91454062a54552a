// Regression tests for malformed hnswlib bodies (found by tests/fuzz/snapshot_fuzzer.cc): hnswlib
// 0.6.2's loadIndex trusts its input, so HnswIndex::Deserialize must refuse, with DataLoss, every
// body whose counts, offsets or links would later be used out of bounds; and an index it accepts
// must be fully usable.
#include <cstring>
#include <random>
#include <string>

#include "engine/index/hnsw_index.h"
#include "engine/index/serving_index.h"
#include "engine/store/collection_store.h"
#include "engine/util/atomic_file.h"
#include "engine/util/bytes.h"
#include "gtest/gtest.h"
#include "tests/util/temp_dir.h"

namespace bn {
namespace {

// Offsets in hnswlib 0.6.2's saveIndex header (size_t fields are 8 bytes on this platform).
constexpr size_t kMaxElements = 8, kCount = 16, kSizeDataPerElement = 24, kMaxLevel = 48,
                 kEnterpoint = 52, kMaxM = 56, kM = 72, kMult = 80, kNodes = 96;

template <typename T>
T Get(const std::string& body, size_t offset) {
  T v;
  std::memcpy(&v, body.data() + offset, sizeof(T));
  return v;
}

template <typename T>
std::string With(std::string body, size_t offset, T v) {
  std::memcpy(&body[offset], &v, sizeof(T));
  return body;
}

IndexConfig Config(Metric metric = Metric::kL2, uint32_t dim = 4) {
  IndexConfig c;
  c.metric = metric;
  c.dim = dim;
  c.M = 4;
  c.ef_construction = 20;
  c.initial_capacity = 16;
  return c;
}

std::string RandomCode(const IndexConfig& c, std::mt19937* rng) {
  std::string code(CodeBytes(c), '\0');
  if (c.metric == Metric::kHamming) {
    for (char& b : code) b = static_cast<char>((*rng)() & 0xff);
    return code;
  }
  std::normal_distribution<float> n(0, 1);
  for (uint32_t i = 0; i < c.dim; ++i) {
    const float v = n(*rng);
    std::memcpy(&code[4 * i], &v, 4);
  }
  return code;
}

// A real body of `n` nodes (the deterministic seed gives some nodes upper levels).
std::string Body(const IndexConfig& c, int n) {
  auto index = HnswIndex::Create(c);
  EXPECT_TRUE(index.ok());
  std::mt19937 rng(5);
  for (int i = 0; i < n; ++i) EXPECT_TRUE((*index)->Upsert(i, RandomCode(c, &rng)).ok());
  std::string body;
  EXPECT_TRUE((*index)->Serialize(&body).ok());
  return body;
}

void ExpectDataLoss(const std::string& body, const char* what) {
  auto loaded = HnswIndex::Deserialize(Config(), body);
  ASSERT_FALSE(loaded.ok()) << what;
  EXPECT_TRUE(absl::IsDataLoss(loaded.status())) << what << ": " << loaded.status();
}

// The offset of node i's level-0 link list, and the size of one node record.
size_t NodeOffset(const std::string& body, size_t i) {
  return kNodes + i * Get<size_t>(body, kSizeDataPerElement);
}

TEST(HnswBodyValidationTest, AValidBodyLoadsAndWorks) {
  const std::string body = Body(Config(), 50);
  auto loaded = HnswIndex::Deserialize(Config(), body);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ((*loaded)->size(), 50u);
  std::mt19937 rng(9);
  EXPECT_TRUE((*loaded)->Search(RandomCode(Config(), &rng), 5).ok());
  EXPECT_TRUE((*loaded)->Upsert(1000, RandomCode(Config(), &rng)).ok());
  // The empty index round-trips too.
  auto empty = HnswIndex::Deserialize(Config(), Body(Config(), 0));
  ASSERT_TRUE(empty.ok()) << empty.status();
  EXPECT_EQ((*empty)->size(), 0u);
  EXPECT_TRUE((*empty)->Upsert(1, RandomCode(Config(), &rng)).ok());
}

TEST(HnswBodyValidationTest, EntryPointAndLevelsOutOfRangeAreRefused) {
  const std::string body = Body(Config(), 50);
  // The fuzzer's first find: an entry point past the nodes made Search read out of bounds.
  ExpectDataLoss(With<uint32_t>(body, kEnterpoint, 50), "entry point == count");
  ExpectDataLoss(With<uint32_t>(body, kEnterpoint, 0xfffffff0u), "entry point huge");
  ExpectDataLoss(With<int>(body, kMaxLevel, Get<int>(body, kMaxLevel) + 1), "max level too high");
  ExpectDataLoss(With<int>(body, kMaxLevel, -1), "negative max level with nodes");
}

TEST(HnswBodyValidationTest, LinksToMissingNodesAreRefused) {
  const std::string body = Body(Config(), 50);
  // Node 3's first level-0 neighbour points past the last node.
  ExpectDataLoss(With<uint32_t>(body, NodeOffset(body, 3) + 4, 50), "level-0 link == count");
  // More links than the list holds (maxM0 = 8).
  ExpectDataLoss(With<uint16_t>(body, NodeOffset(body, 3), 9), "level-0 link count > maxM0");
}

TEST(HnswBodyValidationTest, UpperLinksMustStayOnTheirLevel) {
  const IndexConfig c = Config();
  const std::string body = Body(c, 200);
  const size_t count = Get<size_t>(body, kCount);
  const size_t per_node = Get<size_t>(body, kSizeDataPerElement);
  const size_t links_bytes = 4 * Get<size_t>(body, kMaxM) + 4;
  // Find a node with an upper level and a non-empty level-1 list, and a node without levels.
  size_t pos = kNodes + count * per_node, upper_list = 0, flat_node = count;
  for (size_t i = 0; i < count; ++i) {
    const uint32_t bytes = Get<uint32_t>(body, pos);
    if (bytes == 0 && flat_node == count) flat_node = i;
    if (bytes > 0 && upper_list == 0 && Get<uint16_t>(body, pos + 4) > 0) upper_list = pos + 4;
    pos += 4 + bytes;
  }
  ASSERT_EQ(pos, body.size());
  ASSERT_NE(upper_list, 0u) << "no node with level-1 links in the test graph";
  ASSERT_LT(flat_node, count);
  ASSERT_TRUE(HnswIndex::Deserialize(c, body).ok());
  // A level-1 link to a node that has no level 1: searches would read its missing list.
  ExpectDataLoss(With<uint32_t>(body, upper_list + 4, static_cast<uint32_t>(flat_node)),
                 "level-1 link to a level-0 node");
  ExpectDataLoss(With<uint16_t>(body, upper_list, static_cast<uint16_t>(links_bytes)),
                 "level-1 link count > maxM");
}

TEST(HnswBodyValidationTest, SizesAndLayoutMustMatch) {
  const std::string body = Body(Config(), 50);
  ExpectDataLoss(body.substr(0, 50), "truncated header");
  ExpectDataLoss(body.substr(0, body.size() - 1), "truncated link lists");
  ExpectDataLoss(body + "x", "trailing byte");
  ExpectDataLoss(With<size_t>(body, kCount, size_t{1} << 40), "count beyond the body");
  ExpectDataLoss(With<size_t>(body, kCount, 49), "count one short");
  ExpectDataLoss(With<size_t>(body, kMaxElements, 10), "capacity below count");
  ExpectDataLoss(With<size_t>(body, kM, 5), "M differs from maxM");
  ExpectDataLoss(With<double>(body, kMult, 1e9), "level multiplier");
  ExpectDataLoss(
      With<size_t>(body, kSizeDataPerElement, Get<size_t>(body, kSizeDataPerElement) + 8),
      "node size");
  // Duplicate item numbers: node 1 gets node 0's item number.
  const size_t label_at = Get<size_t>(body, kSizeDataPerElement) - 8;
  const uint64_t label0 = Get<uint64_t>(body, NodeOffset(body, 0) + label_at);
  ExpectDataLoss(With<uint64_t>(body, NodeOffset(body, 1) + label_at, label0),
                 "duplicate item number");
}

TEST(HnswBodyValidationTest, AHugeSavedCapacityIsNotAllocated) {
  const std::string body = With<size_t>(Body(Config(), 50), kMaxElements, size_t{1} << 40);
  auto loaded = HnswIndex::Deserialize(Config(), body);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_GE((*loaded)->capacity(), 50u);
  EXPECT_LE((*loaded)->capacity(), 100u);
  std::mt19937 rng(2);
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE((*loaded)->Upsert(5000 + i, RandomCode(Config(), &rng)).ok());
  }
  EXPECT_EQ((*loaded)->size(), 150u);
}

TEST(HnswBodyValidationTest, HammingCodesAtUnalignedOffsetsRoundTrip) {
  // With M = 4 the vectors sit at offset 36 of each node (4-byte aligned only); the Hamming
  // distance loads its 64-bit words without assuming alignment (UBSan found the misaligned load).
  const IndexConfig c = Config(Metric::kHamming, 100);
  auto index = HnswIndex::Create(c);
  ASSERT_TRUE(index.ok());
  std::mt19937 rng(4);
  std::vector<std::string> codes;
  for (int i = 0; i < 30; ++i) {
    codes.push_back(RandomCode(c, &rng));
    codes.back().back() = static_cast<char>(codes.back().back() & 0x0f);  // 100 bits
    ASSERT_TRUE((*index)->Upsert(i, codes.back()).ok());
  }
  std::string body;
  ASSERT_TRUE((*index)->Serialize(&body).ok());
  auto loaded = HnswIndex::Deserialize(c, body);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  for (int i = 0; i < 30; ++i) {
    auto nn = (*loaded)->SearchExact(codes[i], 1);
    ASSERT_TRUE(nn.ok());
    ASSERT_EQ(nn->size(), 1u);
    EXPECT_EQ((*nn)[0].distance, 0.0f);
  }
}

// The same through a snapshot file whose checksums were recomputed over the corrupt body (as the
// fuzzer does): OpenServingIndex rebuilds from the store instead of handing it to hnswlib.
TEST(HnswBodyValidationTest, ASnapshotWithACorruptBodyAndValidChecksumsRebuilds) {
  testing::TempDir dir;
  StoreOptions options;
  options.sync_writes = false;
  auto store = Store::Open(dir.Sub("db"), options);
  ASSERT_TRUE(store.ok()) << store.status();
  CollectionStore cs(store->get());
  ASSERT_TRUE(cs.PutCollection("c", "spec").ok());
  std::mt19937 rng(1);
  ItemBatch batch;
  for (int i = 0; i < 40; ++i)
    batch.Upsert("i" + std::to_string(i), "r", {{1, RandomCode(Config(), &rng)}});
  ASSERT_TRUE(cs.Write("c", batch).ok());
  const std::string snapshots = dir.Sub("snapshots");
  {
    auto si = OpenServingIndex(store->get(), "c", 1, Config(), snapshots);
    ASSERT_TRUE(si.ok()) << si.status();
    ASSERT_TRUE((*si)->SaveSnapshot().ok());
  }
  const std::string path = ServingIndex::SnapshotPath(snapshots, "c", 1);
  auto file = ReadFileToString(path);
  ASSERT_TRUE(file.ok());
  constexpr size_t kHeader =
      73;  // serving_index.h's snapshot header; body CRC at 65, header CRC at 69.
  std::string corrupt = With<uint32_t>(*file, kHeader + kEnterpoint, 40);
  const uint32_t body_crc = Crc32(absl::string_view(corrupt).substr(kHeader));
  corrupt = With<uint32_t>(corrupt, 65, body_crc);
  corrupt = With<uint32_t>(corrupt, 69, Crc32(absl::string_view(corrupt).substr(0, kHeader - 4)));
  ASSERT_TRUE(WriteFileAtomically(path, corrupt).ok());
  auto si = OpenServingIndex(store->get(), "c", 1, Config(), snapshots);
  ASSERT_TRUE(si.ok()) << si.status();
  EXPECT_FALSE((*si)->open_report().from_snapshot);
  EXPECT_NE((*si)->open_report().rebuild_reason.find("entry point"), std::string::npos)
      << (*si)->open_report().rebuild_reason;
  EXPECT_EQ((*si)->index().size(), 40u);
  EXPECT_TRUE((*si)->Search(RandomCode(Config(), &rng), 5).ok());
}

}  // namespace
}  // namespace bn
