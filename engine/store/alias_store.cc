#include "engine/store/alias_store.h"

#include <memory>

#include "engine/store/rocks_status.h"
#include "rocksdb/db.h"

namespace bn {
namespace {

constexpr absl::string_view kAliasPrefix = "alias:";

std::string AliasKey(absl::string_view alias) {
  return std::string(kAliasPrefix) + std::string(alias);
}

}  // namespace

absl::Status AliasStore::Put(absl::string_view alias, absl::string_view collection) {
  if (store_->read_only()) return absl::FailedPreconditionError("the store is read-only");
  rocksdb::WriteOptions wo;
  wo.sync = store_->options().sync_writes;
  return FromRocks("writing alias", store_->db()->Put(wo, store_->handle(ColumnFamily::kMeta),
                                                      AliasKey(alias), ToSlice(collection)));
}

absl::Status AliasStore::Delete(absl::string_view alias) {
  if (store_->read_only()) return absl::FailedPreconditionError("the store is read-only");
  rocksdb::WriteOptions wo;
  wo.sync = store_->options().sync_writes;
  return FromRocks("deleting alias",
                   store_->db()->Delete(wo, store_->handle(ColumnFamily::kMeta), AliasKey(alias)));
}

absl::StatusOr<std::map<std::string, std::string>> AliasStore::List() const {
  std::map<std::string, std::string> aliases;
  std::unique_ptr<rocksdb::Iterator> it(
      store_->db()->NewIterator(rocksdb::ReadOptions(), store_->handle(ColumnFamily::kMeta)));
  for (it->Seek(ToSlice(kAliasPrefix)); it->Valid(); it->Next()) {
    const rocksdb::Slice key = it->key();
    if (!key.starts_with(ToSlice(kAliasPrefix))) break;
    aliases.emplace(std::string(key.data() + kAliasPrefix.size(), key.size() - kAliasPrefix.size()),
                    it->value().ToString());
  }
  if (!it->status().ok()) return FromRocks("listing aliases", it->status());
  return aliases;
}

}  // namespace bn
