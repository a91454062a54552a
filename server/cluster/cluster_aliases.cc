// Collection aliases in cluster mode (ClusterCollections, cluster_collections.h): the aliases
// bucket maps an alias to a collection's name. Writes are conditioned in the bucket, so that two
// nodes racing cannot both win: CreateAlias is a KV create (ALREADY_EXISTS for the loser),
// SwitchAlias an update conditioned on the revision it read (it never revives an alias deleted
// meanwhile). JetStream has no transaction over two keys, so the rules that span an alias and a
// collection (an alias never shares a collection's name; it names an existing collection) are
// kept by writing first and then re-reading the other key through the stream leader, undoing
// the write on a clash: CreateCollection does the same for aliases (cluster_collections.cc), and
// of two racing writes at least one sees the other. DeleteCollection marks the collection's
// record (CollectionEntry.deleting_unix_ms) before it looks for aliases, and an alias write that
// re-reads a marked record is undone with FAILED_PRECONDITION, so a delete and an alias write
// racing on two nodes never leave an alias pointing at no collection (at worst both are refused).
#include <algorithm>
#include <iterator>

#include "absl/strings/str_cat.h"
#include "engine/util/log.h"
#include "server/cluster/cluster_collections.h"
#include "server/core/validation.h"

namespace bn::cluster {
namespace {

namespace v1 = ::bottleneck::v1;

v1::Alias MakeAlias(const std::string& name, const std::string& collection) {
  v1::Alias alias;
  alias.set_name(name);
  alias.set_collection(collection);
  return alias;
}

absl::Status BeingDeletedError(const std::string& collection) {
  return absl::FailedPreconditionError("collection '" + collection +
                                       "' is being deleted (a DeleteCollection is running)");
}

// Aliases cached at most: past it, expired entries are dropped (then all, if none had expired).
constexpr size_t kMaxCachedAliases = 4096;
// Attempts of SwitchAlias's read-update cycle when other switches of the alias keep winning.
constexpr int kSwitchAttempts = 8;

}  // namespace

absl::StatusOr<std::optional<nats::KvEntry>> ClusterCollections::ReadAlias(
    const std::string& name) {
  return context_.metadata->aliases().Get(name);
}

void ClusterCollections::CacheAlias(const std::string& name, std::optional<std::string> target,
                                    Clock::time_point as_of) {
  std::lock_guard<std::mutex> lock(alias_mutex_);
  auto it = alias_cache_.find(name);
  if (it != alias_cache_.end() && it->second.as_of > as_of) return;  // A newer answer is there.
  if (it == alias_cache_.end() && alias_cache_.size() >= kMaxCachedAliases) {
    const auto now = Clock::now();
    for (auto e = alias_cache_.begin(); e != alias_cache_.end();) {
      e = now - e->second.as_of >= kAliasCacheTtl ? alias_cache_.erase(e) : std::next(e);
    }
    if (alias_cache_.size() >= kMaxCachedAliases) alias_cache_.clear();
  }
  alias_cache_[name] = CachedAlias{std::move(target), as_of, false};
}

absl::StatusOr<std::optional<std::string>> ClusterCollections::AliasTarget(
    const std::string& name) {
  const auto now = Clock::now();
  std::optional<CachedAlias> cached;
  {
    std::lock_guard<std::mutex> lock(alias_mutex_);
    auto it = alias_cache_.find(name);
    if (it != alias_cache_.end()) {
      if (now - it->second.as_of < kAliasCacheTtl) return it->second.target;
      // One re-read at a time per alias; the others meanwhile use the cached target (a read
      // takes about a millisecond, but up to the request timeout while NATS does not answer).
      if (it->second.refreshing) return it->second.target;
      it->second.refreshing = true;
      cached = it->second;
    }
  }
  auto entry = ReadAlias(name);
  if (!entry.ok()) {
    if (!cached.has_value()) return entry.status();
    // Keep serving the cached target; the next re-read comes a TTL after this one failed (it
    // may have waited for the NATS request timeout), so that an outage of NATS costs one slow
    // request per alias per TTL, not one per request.
    BN_LOG(WARNING) << "alias " << name << ": re-reading it failed (" << entry.status()
                    << "); using the cached target";
    std::lock_guard<std::mutex> lock(alias_mutex_);
    auto it = alias_cache_.find(name);
    if (it != alias_cache_.end() && it->second.as_of == cached->as_of) {  // Not replaced since.
      it->second.as_of = Clock::now();
      it->second.refreshing = false;
    }
    return cached->target;
  }
  std::optional<std::string> target;
  if (entry->has_value()) target = (*entry)->value;
  CacheAlias(name, target, now);
  return target;
}

absl::StatusOr<Metadata::CollectionView> ClusterCollections::Lookup(const std::string& name) {
  if (absl::Status s = ValidateName("collection", name); !s.ok()) return s;
  // A collection's name is never an alias: only names that are not collections are looked up.
  if (auto view = context_.metadata->Collection(name); view.has_value()) return *view;
  auto target = AliasTarget(name);
  if (!target.ok()) return target.status();
  if (!target->has_value()) return absl::NotFoundError("collection '" + name + "' not found");
  auto view = context_.metadata->Collection(**target);
  if (!view.has_value()) {
    return absl::NotFoundError("collection '" + **target + "' of alias '" + name + "' not found");
  }
  return *view;
}

absl::StatusOr<std::vector<std::string>> ClusterCollections::AliasesOf(
    const std::string& collection) {
  auto listed = ListAliases();
  if (!listed.ok()) return listed.status();
  std::vector<std::string> out;
  for (const v1::Alias& alias : listed->aliases()) {
    if (alias.collection() == collection) out.push_back(alias.name());
  }
  return out;
}

absl::StatusOr<v1::Alias> ClusterCollections::CreateAlias(const v1::CreateAliasRequest& request) {
  const std::string& name = request.name();
  const std::string& collection = request.collection();
  if (absl::Status s = ValidateName("name", name); !s.ok()) return s;
  if (absl::Status s = ValidateName("collection", collection); !s.ok()) return s;
  const absl::Status name_is_collection = absl::AlreadyExistsError(
      "'" + name + "' is the name of a collection; an alias needs another name");
  const absl::Status being_deleted = BeingDeletedError(collection);
  auto clash = context_.metadata->ReadCollection(name);
  if (!clash.ok()) return clash.status();
  if (clash->has_value()) return name_is_collection;
  auto existing = ReadAlias(name);
  if (!existing.ok()) return existing.status();
  auto already = [&](const nats::KvEntry& entry) {
    return absl::AlreadyExistsError("alias '" + name + "' already exists (of '" + entry.value +
                                    "'); SwitchAlias changes its collection");
  };
  if (existing->has_value()) return already(**existing);
  auto target = context_.metadata->ReadCollection(collection);
  if (!target.ok()) return target.status();
  if (!target->has_value()) {
    auto chained = ReadAlias(collection);
    const bool is_alias = chained.ok() && chained->has_value();
    return absl::NotFoundError(
        "collection '" + collection + "' not found" +
        (is_alias ? " (it is an alias; an alias must name a collection)" : ""));
  }
  if (BeingDeleted((*target)->entry)) return being_deleted;
  auto revision = context_.metadata->aliases().Create(name, collection);
  if (!revision.ok()) {
    if (revision.status().code() != absl::StatusCode::kAlreadyExists) return revision.status();
    auto winner = ReadAlias(name);  // Created meanwhile, through another node.
    if (winner.ok() && winner->has_value()) return already(**winner);
    return absl::AlreadyExistsError("alias '" + name + "' already exists");
  }
  // Re-read what a racing request on another node may have written in between.
  auto after_clash = context_.metadata->ReadCollection(name);
  auto after_target = context_.metadata->ReadCollection(collection);
  const bool clashes = !after_clash.ok() || after_clash->has_value();
  const bool target_gone = !after_target.ok() || !after_target->has_value();
  const bool deleting = !target_gone && BeingDeleted((*after_target)->entry);
  if (clashes || target_gone || deleting) {
    if (absl::Status s = context_.metadata->aliases().Delete(name); !s.ok()) {
      BN_LOG(WARNING) << "alias " << name << ": undoing its creation failed: " << s;
    }
    if (!after_clash.ok()) return after_clash.status();
    if (clashes) return name_is_collection;
    if (!after_target.ok()) return after_target.status();
    if (deleting) return being_deleted;
    return absl::NotFoundError("collection '" + collection + "' not found (deleted meanwhile)");
  }
  CacheAlias(name, collection, Clock::now());
  BN_LOG(INFO) << "created alias " << name << " -> " << collection;
  return MakeAlias(name, collection);
}

absl::StatusOr<v1::Alias> ClusterCollections::SwitchAlias(const v1::SwitchAliasRequest& request) {
  const std::string& name = request.name();
  const std::string& collection = request.collection();
  if (absl::Status s = ValidateName("name", name); !s.ok()) return s;
  if (absl::Status s = ValidateName("collection", collection); !s.ok()) return s;
  for (int attempt = 0; attempt < kSwitchAttempts; ++attempt) {
    auto current = ReadAlias(name);
    if (!current.ok()) return current.status();
    if (!current->has_value()) return absl::NotFoundError("alias '" + name + "' not found");
    const std::string previous = (*current)->value;
    auto target = context_.metadata->ReadCollection(collection);
    if (!target.ok()) return target.status();
    if (!target->has_value()) {
      return absl::NotFoundError("collection '" + collection + "' not found");
    }
    if (BeingDeleted((*target)->entry)) return BeingDeletedError(collection);
    auto revision = context_.metadata->aliases().Update(name, collection, (*current)->revision);
    if (!revision.ok()) {
      // Another switch or a delete came first: decide again on what the bucket holds now.
      if (revision.status().code() == absl::StatusCode::kFailedPrecondition) continue;
      return revision.status();
    }
    auto after = context_.metadata->ReadCollection(collection);
    const bool deleting = after.ok() && after->has_value() && BeingDeleted((*after)->entry);
    if (!after.ok() || !after->has_value() || deleting) {
      // The target was deleted (or is being deleted) meanwhile: put the previous one back unless
      // the alias moved on.
      auto undone = context_.metadata->aliases().Update(name, previous, *revision);
      if (!undone.ok())
        BN_LOG(WARNING) << "alias " << name << ": undoing the switch: " << undone.status();
      if (!after.ok()) return after.status();
      if (deleting) return BeingDeletedError(collection);
      return absl::NotFoundError("collection '" + collection + "' not found (deleted meanwhile)");
    }
    CacheAlias(name, collection, Clock::now());
    BN_LOG(INFO) << "switched alias " << name << " from " << previous << " to " << collection;
    return MakeAlias(name, collection);
  }
  return absl::AbortedError(absl::StrCat("alias '", name, "' was changed by ", kSwitchAttempts,
                                         " other requests while switching it: retry"));
}

absl::Status ClusterCollections::DeleteAlias(const std::string& name) {
  if (absl::Status s = ValidateName("name", name); !s.ok()) return s;
  auto current = ReadAlias(name);
  if (!current.ok()) return current.status();
  if (!current->has_value()) return absl::NotFoundError("alias '" + name + "' not found");
  if (absl::Status s = context_.metadata->aliases().Delete(name); !s.ok()) return s;
  CacheAlias(name, std::nullopt, Clock::now());
  BN_LOG(INFO) << "deleted alias " << name;
  return absl::OkStatus();
}

absl::StatusOr<v1::ListAliasesResponse> ClusterCollections::ListAliases() {
  auto keys = context_.metadata->aliases().Keys();
  if (!keys.ok()) return keys.status();
  std::sort(keys->begin(), keys->end());
  v1::ListAliasesResponse response;
  for (const std::string& key : *keys) {
    auto entry = ReadAlias(key);
    if (!entry.ok()) return entry.status();
    if (entry->has_value()) *response.add_aliases() = MakeAlias(key, (*entry)->value);
  }
  return response;
}

}  // namespace bn::cluster
