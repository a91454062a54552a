// CollectionRegistry's aliases: a second name for a collection, resolved by Lookup() for item
// writes, item reads and queries, and switched atomically (blue/green re-indexing). The store
// holds them (engine/store/alias_store.h); aliases_ mirrors it under mutex_, changed only under
// admin_mutex_ (which also serialises collection creation and deletion, so an alias never points
// at a collection being deleted, nor shares a name with one).
#include "engine/store/alias_store.h"
#include "engine/util/log.h"
#include "server/core/collection_registry.h"
#include "server/core/runtime.h"
#include "server/core/validation.h"

namespace bn {

namespace v1 = ::bottleneck::v1;

namespace {

v1::Alias MakeAlias(const std::string& name, const std::string& collection) {
  v1::Alias alias;
  alias.set_name(name);
  alias.set_collection(collection);
  return alias;
}

}  // namespace

absl::Status CollectionRegistry::LoadAliases() {
  auto stored = AliasStore(store_).List();
  if (!stored.ok()) return stored.status();
  std::unique_lock<std::shared_mutex> lock(mutex_);
  aliases_ = std::move(*stored);
  return absl::OkStatus();
}

absl::StatusOr<v1::Alias> CollectionRegistry::CreateAlias(const v1::CreateAliasRequest& request) {
  if (absl::Status s = CheckWritable(); !s.ok()) return s;
  if (absl::Status s = ValidateName("name", request.name()); !s.ok()) return s;
  if (absl::Status s = ValidateName("collection", request.collection()); !s.ok()) return s;
  std::lock_guard<std::mutex> admin(admin_mutex_);
  {
    std::shared_lock<std::shared_mutex> lock(mutex_);
    if (collections_.count(request.name()) > 0) {
      return absl::AlreadyExistsError("'" + request.name() +
                                      "' is the name of a collection; an alias needs another name");
    }
    auto it = aliases_.find(request.name());
    if (it != aliases_.end()) {
      return absl::AlreadyExistsError("alias '" + request.name() + "' already exists (of '" +
                                      it->second + "'); SwitchAlias changes its collection");
    }
    if (collections_.count(request.collection()) == 0) {
      return absl::NotFoundError("collection '" + request.collection() + "' not found" +
                                 (aliases_.count(request.collection()) > 0
                                      ? " (it is an alias; an alias must name a collection)"
                                      : ""));
    }
  }
  if (absl::Status s = AliasStore(store_).Put(request.name(), request.collection()); !s.ok()) {
    return s;
  }
  {
    std::unique_lock<std::shared_mutex> lock(mutex_);
    aliases_[request.name()] = request.collection();
  }
  BN_LOG(INFO) << "created alias " << request.name() << " -> " << request.collection();
  return MakeAlias(request.name(), request.collection());
}

absl::StatusOr<v1::Alias> CollectionRegistry::SwitchAlias(const v1::SwitchAliasRequest& request) {
  if (absl::Status s = CheckWritable(); !s.ok()) return s;
  if (absl::Status s = ValidateName("name", request.name()); !s.ok()) return s;
  if (absl::Status s = ValidateName("collection", request.collection()); !s.ok()) return s;
  std::lock_guard<std::mutex> admin(admin_mutex_);
  std::string previous;
  {
    std::shared_lock<std::shared_mutex> lock(mutex_);
    auto it = aliases_.find(request.name());
    if (it == aliases_.end()) {
      return absl::NotFoundError("alias '" + request.name() + "' not found");
    }
    previous = it->second;
    if (collections_.count(request.collection()) == 0) {
      return absl::NotFoundError("collection '" + request.collection() + "' not found");
    }
  }
  if (absl::Status s = AliasStore(store_).Put(request.name(), request.collection()); !s.ok()) {
    return s;
  }
  {
    std::unique_lock<std::shared_mutex> lock(mutex_);
    aliases_[request.name()] = request.collection();
  }
  BN_LOG(INFO) << "switched alias " << request.name() << " from " << previous << " to "
               << request.collection();
  return MakeAlias(request.name(), request.collection());
}

absl::Status CollectionRegistry::DeleteAlias(const std::string& name) {
  if (absl::Status s = CheckWritable(); !s.ok()) return s;
  if (absl::Status s = ValidateName("name", name); !s.ok()) return s;
  std::lock_guard<std::mutex> admin(admin_mutex_);
  {
    std::shared_lock<std::shared_mutex> lock(mutex_);
    if (aliases_.count(name) == 0) return absl::NotFoundError("alias '" + name + "' not found");
  }
  if (absl::Status s = AliasStore(store_).Delete(name); !s.ok()) return s;
  {
    std::unique_lock<std::shared_mutex> lock(mutex_);
    aliases_.erase(name);
  }
  BN_LOG(INFO) << "deleted alias " << name;
  return absl::OkStatus();
}

absl::StatusOr<v1::ListAliasesResponse> CollectionRegistry::ListAliases() const {
  v1::ListAliasesResponse response;
  std::shared_lock<std::shared_mutex> lock(mutex_);
  for (const auto& [name, collection] : aliases_)
    *response.add_aliases() = MakeAlias(name, collection);
  return response;
}

}  // namespace bn
