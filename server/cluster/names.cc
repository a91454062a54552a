#include "server/cluster/names.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

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

namespace {

std::vector<std::vector<std::string>> ComputePlacement(absl::string_view collection,
                                                       uint64_t incarnation, uint32_t shards,
                                                       uint32_t replicas, uint32_t scheme,
                                                       const std::vector<std::string>& members) {
  // Rendezvous placement first: each shard on its `replicas` best-ranked members.
  std::vector<std::vector<std::string>> ranked(shards);
  std::vector<std::vector<std::string>> out(shards);
  for (uint32_t s = 0; s < shards; ++s) {
    ranked[s] = Ranked(collection, incarnation, s, members);
    out[s].assign(ranked[s].begin(),
                  ranked[s].begin() + std::min<size_t>(replicas, ranked[s].size()));
  }
  if (scheme != static_cast<uint32_t>(PlacementScheme::kBalanced) || shards == 0 ||
      ranked[0].empty()) {
    return out;
  }
  // Balanced: the fewest moves from there that give every member floor(T / N) or ceil(T / N) of
  // the T replicas. The members already holding the most get the ceil; then, while a member holds
  // more than its target, one of its replicas moves to a member below target that the shard
  // does not hold, the one ranked best for that shard.
  const std::vector<std::string>& nodes = ranked[0];  // Every distinct member, once.
  std::map<std::string, int64_t> load, target;
  for (const std::string& node : nodes) load[node] = 0;
  int64_t total = 0;
  for (const auto& shard : out) {
    for (const std::string& node : shard) ++load[node];
    total += shard.size();
  }
  std::vector<std::string> by_load = nodes;
  std::sort(by_load.begin(), by_load.end(), [&](const std::string& a, const std::string& b) {
    return load[a] != load[b] ? load[a] > load[b] : a < b;
  });
  const int64_t n = by_load.size();
  for (int64_t i = 0; i < n; ++i) target[by_load[i]] = total / n + (i < total % n ? 1 : 0);
  std::vector<std::map<std::string, size_t>> rank(shards);
  for (uint32_t s = 0; s < shards; ++s) {
    for (size_t i = 0; i < ranked[s].size(); ++i) rank[s][ranked[s][i]] = i;
  }
  for (;;) {
    const std::string* over = nullptr;
    for (const std::string& node : by_load) {
      if (load[node] > target[node] &&
          (over == nullptr || load[node] - target[node] > load[*over] - target[*over])) {
        over = &node;
      }
    }
    if (over == nullptr) break;
    uint32_t best_shard = 0;
    const std::string* best = nullptr;
    for (uint32_t s = 0; s < shards; ++s) {
      auto& shard = out[s];
      if (std::find(shard.begin(), shard.end(), *over) == shard.end()) continue;
      for (const std::string& node : ranked[s]) {  // Best ranked first.
        if (load[node] >= target[node]) continue;
        if (std::find(shard.begin(), shard.end(), node) != shard.end()) continue;
        if (best == nullptr || rank[s][node] < rank[best_shard][*best]) {
          best = &node;
          best_shard = s;
        }
        break;
      }
    }
    if (best == nullptr)
      break;  // Cannot happen: a member above target shares no shard with
              // one below only if it holds no more than it.
    auto& shard = out[best_shard];
    *std::find(shard.begin(), shard.end(), *over) = *best;
    --load[*over];
    ++load[*best];
  }
  for (uint32_t s = 0; s < shards; ++s) {  // Best ranked first, as rendezvous placement.
    std::sort(out[s].begin(), out[s].end(),
              [&](const std::string& a, const std::string& b) { return rank[s][a] < rank[s][b]; });
  }
  return out;
}

}  // namespace

std::shared_ptr<const ShardPlacement> PlaceShards(absl::string_view collection,
                                                  uint64_t incarnation, uint32_t shards,
                                                  uint32_t replicas, uint32_t scheme,
                                                  const std::vector<std::string>& members) {
  // Routing asks for every search: computed once per collection and membership (placing 400
  // shards over 100 members takes milliseconds).
  static std::mutex mutex;
  static std::map<std::string, std::shared_ptr<const ShardPlacement>>* cache =
      new std::map<std::string, std::shared_ptr<const ShardPlacement>>();
  std::string key = absl::StrCat(collection, "/", incarnation, "/", shards, "/", replicas, "/",
                                 scheme, "/", absl::StrJoin(members, ","));
  {
    std::lock_guard<std::mutex> lock(mutex);
    auto it = cache->find(key);
    if (it != cache->end()) return it->second;
  }
  auto placed = std::make_shared<const ShardPlacement>(
      ComputePlacement(collection, incarnation, shards, replicas, scheme, members));
  std::lock_guard<std::mutex> lock(mutex);
  if (cache->size() >= 256) cache->clear();  // Old memberships and deleted collections.
  cache->emplace(std::move(key), placed);
  return placed;
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

std::string Names::LogTrimKey(absl::string_view collection, uint64_t incarnation) {
  return absl::StrCat(collection, ".", Hex(incarnation), ".trim");
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
