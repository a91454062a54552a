// libFuzzer target: index snapshots (engine/index/serving_index.h) and the hnswlib body they
// carry (HnswIndex::Deserialize). Built by run_fuzzers.sh.
//
// A RocksDB store in a temporary directory holds two collections with codes for one model
// version: "f" (L2, 4 floats) and "h" (Hamming, 16 bits), with some items deleted. Input: byte 0
// selects the collection (bit 0) and the mode ((byte 0 >> 1) % 3); the rest is
//   mode 0: a snapshot file, written to the collection's snapshot path, then OpenServingIndex;
//   mode 1: the same, after fixing the header's body size and both CRCs (so that mutations get
//           past the checksums to the header fields and the hnswlib body);
//   mode 2: an hnswlib body for HnswIndex::Deserialize.
// Whatever the bytes, opening must succeed (a bad snapshot means a rebuild from the store), and
// the index must then answer searches, catch up, upsert, delete, compact and serialize.
//
// BN_FUZZ_WRITE_SEEDS=DIR writes seeds (real snapshots saved by ServingIndex, in each mode) and
// exits.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <string>

#include "engine/index/hnsw_index.h"
#include "engine/index/serving_index.h"
#include "engine/store/collection_store.h"
#include "engine/store/store.h"
#include "engine/util/atomic_file.h"
#include "engine/util/bytes.h"
#include "engine/util/log.h"

namespace {

constexpr uint64_t kVersion = 2;
constexpr size_t kHeaderBytes = 73;  // serving_index.h's snapshot header.

[[noreturn]] void Fail(const char* what, const absl::Status& s = absl::OkStatus()) {
  std::fprintf(stderr, "snapshot_fuzzer invariant violated: %s %s\n", what,
               std::string(s.message()).c_str());
  std::abort();
}

bn::IndexConfig Config(bool hamming) {
  bn::IndexConfig c;
  c.metric = hamming ? bn::Metric::kHamming : bn::Metric::kL2;
  c.dim = hamming ? 16 : 4;
  c.M = 4;
  c.ef_construction = 20;
  c.initial_capacity = 8;
  return c;
}

std::string RandomCode(const bn::IndexConfig& c, std::mt19937* rng) {
  std::string code(bn::CodeBytes(c), '\0');
  if (c.metric == bn::Metric::kHamming) {
    for (char& b : code) b = static_cast<char>((*rng)() & 0xff);
  } else {
    std::normal_distribution<float> n(0, 1);
    for (size_t i = 0; i < c.dim; ++i) {
      const float v = n(*rng);
      std::memcpy(&code[4 * i], &v, 4);
    }
  }
  return code;
}

struct World {
  std::string dir;
  std::unique_ptr<bn::Store> store;
  std::string snapshots;

  World() {
    char tmpl[] = "/tmp/bn-snapshot-fuzz-XXXXXX";
    if (mkdtemp(tmpl) == nullptr) Fail("mkdtemp");
    dir = tmpl;
    snapshots = dir + "/snapshots";
    bn::StoreOptions options;
    options.sync_writes = false;
    auto s = bn::Store::Open(dir + "/db", options);
    if (!s.ok()) Fail("Store::Open", s.status());
    store = std::move(*s);
    bn::CollectionStore cs(store.get());
    std::mt19937 rng(7);
    for (bool hamming : {false, true}) {
      const std::string name = Name(hamming);
      if (!cs.PutCollection(name, "spec").ok()) Fail("PutCollection");
      bn::ItemBatch batch;
      for (int i = 0; i < 40; ++i) {
        batch.Upsert("i" + std::to_string(i), "r", {{kVersion, RandomCode(Config(hamming), &rng)}});
      }
      if (!cs.Write(name, batch).ok()) Fail("Write");
      bn::ItemBatch deletes;
      for (int i = 0; i < 40; i += 7) deletes.Delete("i" + std::to_string(i));
      if (!cs.Write(name, deletes).ok()) Fail("Write");
    }
  }
  static std::string Name(bool hamming) { return hamming ? "h" : "f"; }
  std::string Path(bool hamming) const {
    return bn::ServingIndex::SnapshotPath(snapshots, Name(hamming), kVersion);
  }
};

World& GetWorld() {
  // Leaked on purpose (used until exit); its directory is removed at exit.
  static World* world = [] {
    auto* w = new World();
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(GetWorld().dir, ec);
    });
    return w;
  }();
  return *world;
}

// Searches, mutates, compacts and re-serializes an index; every call must return (OK or an
// error), and the re-serialized body must load again.
void Exercise(bn::HnswIndex* index) {
  const bn::IndexConfig& c = index->config();
  std::mt19937 rng(1);
  const std::string q = RandomCode(c, &rng);
  auto nn = index->Search(q, 3);
  auto exact = index->SearchExact(q, 3);
  if (!exact.ok()) Fail("SearchExact", exact.status());
  if (nn.ok() && nn->size() > index->size()) Fail("Search returned more than size()");
  if (exact->size() != std::min<size_t>(3, index->size())) Fail("SearchExact count");
  if (!index->Upsert(1000, q).ok()) Fail("Upsert");
  if (exact->size() > 0) {
    if (!index->Upsert((*exact)[0].item_no, RandomCode(c, &rng)).ok()) Fail("Upsert existing");
    if (!index->Delete((*exact)[0].item_no).ok()) Fail("Delete");
  }
  if (!index->Compact().ok()) Fail("Compact");
  std::string body;
  if (!index->Serialize(&body).ok()) Fail("Serialize");
  auto again = bn::HnswIndex::Deserialize(c, body);
  if (!again.ok()) Fail("re-serialized index does not load", again.status());
  if ((*again)->size() != index->size()) Fail("re-serialized index has another size");
}

void OpenSnapshot(bool hamming, const std::string& file) {
  World& w = GetWorld();
  const std::string path = w.Path(hamming);
  std::filesystem::create_directories(w.snapshots);
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(file.data(), static_cast<std::streamsize>(file.size()));
  }
  auto si = bn::OpenServingIndex(w.store.get(), World::Name(hamming), kVersion, Config(hamming),
                                 w.snapshots);
  if (!si.ok()) Fail("OpenServingIndex must rebuild from a bad snapshot", si.status());
  std::mt19937 rng(3);
  const std::string q = RandomCode(Config(hamming), &rng);
  if (!(*si)->Search(q, 5).ok() && (*si)->index().size() > 0) Fail("Search");
  if (!(*si)->SearchExact(q, 5).ok()) Fail("SearchExact");
  if (!(*si)->CatchUp().ok()) Fail("CatchUp");
  std::filesystem::remove(path);
}

// Sets the body size and both CRCs of a snapshot header to match the file.
std::string FixChecksums(std::string file) {
  if (file.size() < kHeaderBytes) return file;
  const uint64_t body_bytes = file.size() - kHeaderBytes;
  std::memcpy(&file[57], &body_bytes, 8);
  const uint32_t body_crc = bn::Crc32(absl::string_view(file).substr(kHeaderBytes));
  std::memcpy(&file[65], &body_crc, 4);
  const uint32_t header_crc = bn::Crc32(absl::string_view(file).substr(0, kHeaderBytes - 4));
  std::memcpy(&file[69], &header_crc, 4);
  return file;
}

void WriteSeeds(const std::string& dir) {
  World& w = GetWorld();
  for (bool hamming : {false, true}) {
    auto si = bn::OpenServingIndex(w.store.get(), World::Name(hamming), kVersion, Config(hamming),
                                   w.snapshots);
    if (!si.ok()) Fail("seed OpenServingIndex", si.status());
    if (!(*si)->SaveSnapshot().ok()) Fail("seed SaveSnapshot");
    auto file = bn::ReadFileToString(w.Path(hamming));
    if (!file.ok()) Fail("seed read");
    const std::string name = dir + "/" + World::Name(hamming);
    const char h = hamming ? 1 : 0;
    std::ofstream(name + ".snapshot", std::ios::binary) << static_cast<char>(h | 0) << *file;
    std::ofstream(name + ".fixed", std::ios::binary) << static_cast<char>(h | 2) << *file;
    std::ofstream(name + ".body", std::ios::binary)
        << static_cast<char>(h | 4) << file->substr(kHeaderBytes);
    std::filesystem::remove(w.Path(hamming));
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  bn::SetMinLogLevel(bn::LogLevel::kError);  // Rebuilds log a warning each.
  if (const char* dir = std::getenv("BN_FUZZ_WRITE_SEEDS")) {
    WriteSeeds(dir);
    std::exit(0);
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const bool hamming = data[0] & 1;
  const int mode = (data[0] >> 1) % 3;
  std::string rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (mode == 2) {
    auto index = bn::HnswIndex::Deserialize(Config(hamming), rest);
    if (index.ok()) Exercise(index->get());
    return 0;
  }
  OpenSnapshot(hamming, mode == 1 ? FixChecksums(std::move(rest)) : rest);
  return 0;
}
