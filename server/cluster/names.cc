#include "server/cluster/names.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <utility>

#include "absl/strings/str_cat.h"

namespace bn::cluster {
namespace {

uint64_t Fnv1a(absl::string_view bytes, uint64_t hash = 0xcbf29ce484222325ull) {
  for (unsigned char c : bytes) {
    hash ^= c;
    hash *= 0x100000001b3ull;
  }
  return hash;
}

// splitmix64's finaliser: spreads FNV's low-entropy high bits.
uint64_t Mix(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebull;
  x ^= x >> 31;
  return x;
}

bool TokenChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-';
}

}  // namespace

uint32_t ShardOf(absl::string_view id, uint32_t shards) {
  if (shards <= 1) return 0;
  return static_cast<uint32_t>(Fnv1a(id) % shards);
}

namespace {

// Members by rendezvous hash of (collection, incarnation, shard, node), best first, without
// duplicates.
std::vector<std::string> Ranked(absl::string_view collection, uint64_t incarnation, uint32_t shard,
                                const std::vector<std::string>& members) {
  const std::string key = absl::StrCat(collection, "/", incarnation, "/", shard, "/");
  std::vector<std::pair<uint64_t, std::string>> scored;
  scored.reserve(members.size());
  for (const std::string& node : members) {
    scored.emplace_back(Mix(Fnv1a(node, Fnv1a(key))), node);
  }
  std::sort(scored.begin(), scored.end(), [](const auto& a, const auto& b) {
    return a.first != b.first ? a.first > b.first : a.second < b.second;
  });
  std::vector<std::string> out;
  for (size_t i = 0; i < scored.size(); ++i) {
    if (i > 0 && scored[i].second == scored[i - 1].second) continue;  // Duplicate member.
    out.push_back(scored[i].second);
  }
  return out;
}

}  // namespace

std::vector<std::vector<std::string>> PlaceShards(absl::string_view collection,
                                                  uint64_t incarnation, uint32_t shards,
                                                  uint32_t replicas, uint32_t scheme,
                                                  const std::vector<std::string>& members) {
  std::vector<std::vector<std::string>> out(shards);
  std::map<std::string, uint32_t> load;  // This collection's replicas per member so far.
  const bool balanced = scheme == static_cast<uint32_t>(PlacementScheme::kBalanced);
  for (uint32_t s = 0; s < shards; ++s) {
    std::vector<std::string> ranked = Ranked(collection, incarnation, s, members);
    if (balanced) {  // The least loaded first; the rendezvous rank among equals.
      std::stable_sort(
          ranked.begin(), ranked.end(),
          [&](const std::string& a, const std::string& b) { return load[a] < load[b]; });
    }
    if (ranked.size() > replicas) ranked.resize(replicas);
    for (const std::string& node : ranked) ++load[node];
    out[s] = std::move(ranked);
  }
  return out;
}

absl::Status ValidateToken(absl::string_view field, absl::string_view value) {
  if (value.empty() || value.size() > 64 || !std::all_of(value.begin(), value.end(), TokenChar)) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, " must be 1-64 characters of [A-Za-z0-9_-], got '", value, "'"));
  }
  return absl::OkStatus();
}

std::string NodeIdFromHostname(absl::string_view hostname) {
  std::string out;
  for (char c : hostname.substr(0, 64)) out.push_back(TokenChar(c) ? c : '-');
  return out.empty() ? "node" : out;
}

std::string Hex(uint64_t value) {
  char buffer[17];
  std::snprintf(buffer, sizeof(buffer), "%016llx", static_cast<unsigned long long>(value));
  return buffer;
}

std::string Names::BlobSubject(absl::string_view id) const {
  return absl::StrCat(cluster_, ".blob.", id);
}

std::string Names::SnapshotSubject(absl::string_view id) const {
  return absl::StrCat(cluster_, ".snap.", id);
}

std::string Names::LogStream(absl::string_view collection, uint64_t incarnation) const {
  return absl::StrCat(cluster_, "_LOG_", collection, "_", Hex(incarnation));
}

std::string Names::LogSubjects(absl::string_view collection, uint64_t incarnation) const {
  return absl::StrCat(cluster_, ".log.", collection, ".", Hex(incarnation), ".*");
}

std::string Names::LogSubject(absl::string_view collection, uint64_t incarnation,
                              uint32_t shard) const {
  return absl::StrCat(cluster_, ".log.", collection, ".", Hex(incarnation), ".", shard);
}

std::string Names::ReplicaConsumer(absl::string_view node, uint32_t shard) {
  return absl::StrCat(node, "_s", shard);
}

std::string Names::ModelKey(absl::string_view collection, uint64_t incarnation, uint64_t version) {
  return absl::StrCat(ModelKeyPrefix(collection, incarnation), version);
}

std::string Names::ModelKeyPrefix(absl::string_view collection, uint64_t incarnation) {
  return absl::StrCat(collection, ".", Hex(incarnation), ".");
}

std::string Names::SnapshotKey(absl::string_view collection, uint64_t incarnation, uint32_t shard) {
  return absl::StrCat(collection, ".", Hex(incarnation), ".", shard);
}

std::string Names::DatasetKey(absl::string_view collection, uint64_t incarnation,
                              absl::string_view dataset) {
  return absl::StrCat(DatasetKeyPrefix(collection, incarnation), dataset);
}

std::string Names::DatasetKeyPrefix(absl::string_view collection, uint64_t incarnation) {
  return absl::StrCat(collection, ".", Hex(incarnation), ".");
}

std::string Names::LocalShard(absl::string_view collection, uint32_t shard) {
  return absl::StrCat(collection, "__s", shard);
}

std::string Names::LocalTraining(absl::string_view collection) {
  return absl::StrCat(collection, "__t");
}

}  // namespace bn::cluster
