// Collection aliases in the store: alias name -> collection name, in the meta column family under
// the key "alias:" + name (engine/store/keys.h). The engine does not validate names, nor that a
// collection exists: the service does (server/core/collection_registry.h).
//
// Durability: every write is one RocksDB write, WAL-synced when StoreOptions::sync_writes.
// Thread safety: stateless view of a Store (which must outlive it); safe from any threads. Callers
// serialise read-modify-write sequences themselves.
#ifndef BOTTLENECK_ENGINE_STORE_ALIAS_STORE_H_
#define BOTTLENECK_ENGINE_STORE_ALIAS_STORE_H_

#include <map>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "engine/store/store.h"

namespace bn {

class AliasStore {
 public:
  explicit AliasStore(Store* store) : store_(store) {}

  // Creates or replaces the alias (one write: readers see the old or the new target).
  [[nodiscard]] absl::Status Put(absl::string_view alias, absl::string_view collection);
  // OK if absent.
  [[nodiscard]] absl::Status Delete(absl::string_view alias);
  // Every alias with its collection (a consistent read).
  [[nodiscard]] absl::StatusOr<std::map<std::string, std::string>> List() const;

 private:
  Store* store_;  // Not owned.
};

}  // namespace bn

#endif  // BOTTLENECK_ENGINE_STORE_ALIAS_STORE_H_
