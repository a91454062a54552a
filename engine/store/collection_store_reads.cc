// CollectionStore's reads of items, codes and the change log, and its size estimate (the
// collections and the write path are in collection_store.cc).
#include <algorithm>
#include <map>
#include <memory>

#include "engine/store/collection_records.h"
#include "engine/store/collection_store.h"
#include "engine/store/keys.h"
#include "engine/store/rocks_status.h"
#include "engine/util/bytes.h"
#include "rocksdb/db.h"

namespace bn {

using collection_records::DbSnapshot;
using collection_records::DecodeItemValue;
using collection_records::DecodeState;
using collection_records::EncodeItemValue;
using collection_records::EncodeState;
using collection_records::ReadState;

absl::StatusOr<Item> CollectionStore::GetItem(absl::string_view collection, absl::string_view id) {
  std::string value;
  rocksdb::Status s =
      store_->db()->Get(rocksdb::ReadOptions(), store_->handle(ColumnFamily::kItems),
                        keys::ItemKey(collection, id), &value);
  if (s.IsNotFound()) return absl::NotFoundError("item '" + std::string(id) + "' not found");
  if (!s.ok()) return FromRocks("reading item", s);
  Item item;
  item.id = std::string(id);
  if (absl::Status d = DecodeItemValue(value, &item.item_no, &item.record); !d.ok()) return d;
  return item;
}

absl::StatusOr<std::vector<std::optional<Item>>> CollectionStore::GetItems(
    absl::string_view collection, const std::vector<std::string>& ids) {
  std::vector<std::string> key_storage;
  key_storage.reserve(ids.size());
  for (const std::string& id : ids) key_storage.push_back(keys::ItemKey(collection, id));
  std::vector<rocksdb::Slice> key_slices(key_storage.begin(), key_storage.end());
  std::vector<rocksdb::ColumnFamilyHandle*> cfs(ids.size(), store_->handle(ColumnFamily::kItems));
  std::vector<std::string> values;
  std::vector<rocksdb::Status> statuses =
      store_->db()->MultiGet(rocksdb::ReadOptions(), cfs, key_slices, &values);
  std::vector<std::optional<Item>> out(ids.size());
  for (size_t i = 0; i < ids.size(); ++i) {
    if (statuses[i].IsNotFound()) continue;
    if (!statuses[i].ok()) return FromRocks("reading items", statuses[i]);
    Item item;
    item.id = ids[i];
    if (absl::Status d = DecodeItemValue(values[i], &item.item_no, &item.record); !d.ok()) return d;
    out[i] = std::move(item);
  }
  return out;
}

absl::StatusOr<std::vector<std::optional<std::string>>> CollectionStore::LookupIds(
    absl::string_view collection, const std::vector<uint64_t>& item_nos) {
  std::vector<std::string> key_storage;
  key_storage.reserve(item_nos.size());
  for (uint64_t l : item_nos) key_storage.push_back(keys::ItemNoKey(collection, l));
  std::vector<rocksdb::Slice> key_slices(key_storage.begin(), key_storage.end());
  std::vector<rocksdb::ColumnFamilyHandle*> cfs(item_nos.size(),
                                                store_->handle(ColumnFamily::kItems));
  std::vector<std::string> values;
  std::vector<rocksdb::Status> statuses =
      store_->db()->MultiGet(rocksdb::ReadOptions(), cfs, key_slices, &values);
  std::vector<std::optional<std::string>> out(item_nos.size());
  for (size_t i = 0; i < item_nos.size(); ++i) {
    if (statuses[i].ok()) {
      out[i] = std::move(values[i]);
    } else if (!statuses[i].IsNotFound()) {
      return FromRocks("looking up item numbers", statuses[i]);
    }
  }
  return out;
}

absl::StatusOr<uint64_t> CollectionStore::CountItems(absl::string_view collection) {
  absl::StatusOr<CollectionState> st = GetCollectionState(collection);
  if (!st.ok()) return st.status();
  return st->item_count;
}

absl::Status CollectionStore::ScanItems(absl::string_view collection,
                                        const std::function<bool(const Item&)>& fn) {
  DbSnapshot snap(store_);
  CollectionState st;
  if (absl::Status s = ReadState(store_, snap.options(), collection, &st); !s.ok()) return s;
  const std::string prefix = keys::ItemKeyPrefix(collection);
  std::unique_ptr<rocksdb::Iterator> it(
      store_->db()->NewIterator(snap.options(), store_->handle(ColumnFamily::kItems)));
  Item item;
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    item.id.assign(it->key().data() + prefix.size(), it->key().size() - prefix.size());
    if (absl::Status d = DecodeItemValue(ToView(it->value()), &item.item_no, &item.record);
        !d.ok()) {
      return d;
    }
    if (!fn(item)) break;
  }
  return FromRocks("scanning items", it->status());
}

absl::Status CollectionStore::ScanItemsAfter(absl::string_view collection, absl::string_view after,
                                             const std::function<bool(const Item&)>& fn) {
  DbSnapshot snap(store_);
  CollectionState st;
  if (absl::Status s = ReadState(store_, snap.options(), collection, &st); !s.ok()) return s;
  const std::string prefix = keys::ItemKeyPrefix(collection);
  const std::string start = prefix + std::string(after);
  std::unique_ptr<rocksdb::Iterator> it(
      store_->db()->NewIterator(snap.options(), store_->handle(ColumnFamily::kItems)));
  Item item;
  for (it->Seek(start); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    item.id.assign(it->key().data() + prefix.size(), it->key().size() - prefix.size());
    if (!after.empty() && item.id == after) continue;
    if (absl::Status d = DecodeItemValue(ToView(it->value()), &item.item_no, &item.record);
        !d.ok()) {
      return d;
    }
    if (!fn(item)) break;
  }
  return FromRocks("scanning items", it->status());
}

absl::Status CollectionStore::ScanItemsWithCodes(
    absl::string_view collection, uint64_t model_version,
    const std::function<bool(const Item&, absl::string_view)>& fn, CollectionState* state,
    const std::function<void()>& taken) {
  DbSnapshot snap(store_);
  if (taken) taken();
  CollectionState st;
  if (absl::Status s = ReadState(store_, snap.options(), collection, &st); !s.ok()) return s;
  if (state != nullptr) *state = st;
  const std::string prefix = keys::ItemKeyPrefix(collection);
  std::unique_ptr<rocksdb::Iterator> it(
      store_->db()->NewIterator(snap.options(), store_->handle(ColumnFamily::kItems)));
  Item item;
  std::string code;
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    item.id.assign(it->key().data() + prefix.size(), it->key().size() - prefix.size());
    if (absl::Status d = DecodeItemValue(ToView(it->value()), &item.item_no, &item.record);
        !d.ok()) {
      return d;
    }
    code.clear();
    if (model_version != 0) {
      rocksdb::Status s =
          store_->db()->Get(snap.options(), store_->handle(ColumnFamily::kCodes),
                            keys::CodeKey(collection, model_version, item.item_no), &code);
      if (s.IsNotFound()) {
        code.clear();
      } else if (!s.ok()) {
        return FromRocks("reading code", s);
      }
    }
    if (!fn(item, code)) break;
  }
  return FromRocks("scanning items", it->status());
}

absl::StatusOr<std::string> CollectionStore::GetCode(absl::string_view collection,
                                                     uint64_t model_version, uint64_t item_no) {
  std::string value;
  rocksdb::Status s =
      store_->db()->Get(rocksdb::ReadOptions(), store_->handle(ColumnFamily::kCodes),
                        keys::CodeKey(collection, model_version, item_no), &value);
  if (s.IsNotFound()) return absl::NotFoundError("code not found");
  if (!s.ok()) return FromRocks("reading code", s);
  return value;
}

absl::Status CollectionStore::ScanCodes(absl::string_view collection, uint64_t model_version,
                                        const std::function<bool(uint64_t, absl::string_view)>& fn,
                                        CollectionState* state) {
  DbSnapshot snap(store_);
  CollectionState st;
  if (absl::Status s = ReadState(store_, snap.options(), collection, &st); !s.ok()) return s;
  if (state != nullptr) *state = st;
  const std::string prefix = keys::CodeKeyPrefix(collection, model_version);
  std::unique_ptr<rocksdb::Iterator> it(
      store_->db()->NewIterator(snap.options(), store_->handle(ColumnFamily::kCodes)));
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    absl::string_view rest = ToView(it->key());
    rest.remove_prefix(prefix.size());
    uint64_t item_no = 0;
    if (!keys::ConsumeU64(&rest, &item_no) || !rest.empty()) {
      return absl::DataLossError("malformed code key");
    }
    if (!fn(item_no, ToView(it->value()))) break;
  }
  return FromRocks("scanning codes", it->status());
}

absl::Status CollectionStore::DeleteCodes(absl::string_view collection, uint64_t model_version) {
  std::lock_guard<std::mutex> lock(store_->CollectionMutex(collection));
  const std::string prefix = keys::CodeKeyPrefix(collection, model_version);
  rocksdb::WriteOptions wo;
  wo.sync = store_->options().sync_writes;
  return FromRocks("deleting codes",
                   store_->db()->DeleteRange(wo, store_->handle(ColumnFamily::kCodes), prefix,
                                             keys::PrefixEnd(prefix)));
}

absl::StatusOr<VersionChanges> CollectionStore::ReadChangesForVersion(absl::string_view collection,
                                                                      uint64_t model_version,
                                                                      uint64_t after_counter) {
  DbSnapshot snap(store_);
  VersionChanges out;
  if (absl::Status s = ReadState(store_, snap.options(), collection, &out.state); !s.ok()) {
    return s;
  }
  if (after_counter >= out.state.change_counter) {
    out.complete = after_counter == out.state.change_counter;
    return out;
  }
  const std::string prefix = keys::ChangeKeyPrefix(collection);
  std::unique_ptr<rocksdb::Iterator> it(
      store_->db()->NewIterator(snap.options(), store_->handle(ColumnFamily::kItems)));
  uint64_t expected = after_counter + 1;
  std::vector<uint64_t> item_nos;
  for (it->Seek(keys::ChangeKey(collection, expected));
       it->Valid() && it->key().starts_with(prefix); it->Next()) {
    absl::string_view rest = ToView(it->key());
    rest.remove_prefix(prefix.size());
    uint64_t counter = 0;
    if (!keys::ConsumeU64(&rest, &counter)) return absl::DataLossError("malformed change key");
    if (counter != expected) break;
    ++expected;
    ByteReader r(ToView(it->value()));
    uint64_t n = 0;
    if (!r.U64(&n) || n > r.remaining() / 9) return absl::DataLossError("corrupt change entry");
    for (uint64_t i = 0; i < n; ++i) {
      uint8_t kind = 0;
      uint64_t item_no = 0;
      if (!r.U8(&kind) || !r.U64(&item_no)) return absl::DataLossError("corrupt change entry");
      if (item_no != 0) item_nos.push_back(item_no);
    }
  }
  if (!it->status().ok()) return FromRocks("reading change log", it->status());
  if (expected != out.state.change_counter + 1) {
    out.complete = false;
    return out;
  }
  std::vector<std::string> key_storage;
  key_storage.reserve(item_nos.size());
  for (uint64_t l : item_nos) key_storage.push_back(keys::CodeKey(collection, model_version, l));
  std::vector<rocksdb::Slice> key_slices(key_storage.begin(), key_storage.end());
  std::vector<rocksdb::ColumnFamilyHandle*> cfs(item_nos.size(),
                                                store_->handle(ColumnFamily::kCodes));
  std::vector<std::string> values;
  std::vector<rocksdb::Status> statuses =
      store_->db()->MultiGet(snap.options(), cfs, key_slices, &values);
  out.entries.reserve(item_nos.size());
  for (size_t i = 0; i < item_nos.size(); ++i) {
    VersionChanges::Entry e{item_nos[i], std::nullopt};
    if (statuses[i].ok()) {
      e.code = std::move(values[i]);
    } else if (!statuses[i].IsNotFound()) {
      return FromRocks("reading codes", statuses[i]);
    }
    out.entries.push_back(std::move(e));
  }
  return out;
}

absl::Status CollectionStore::TrimChangeLog(absl::string_view collection, uint64_t up_to) {
  rocksdb::WriteOptions wo;
  wo.sync = store_->options().sync_writes;
  return FromRocks("trimming change log",
                   store_->db()->DeleteRange(wo, store_->handle(ColumnFamily::kItems),
                                             keys::ChangeKey(collection, 0),
                                             keys::ChangeKey(collection, up_to + 1)));
}

absl::StatusOr<CollectionStorageSize> CollectionStore::ApproximateSize(
    absl::string_view collection) {
  const std::string begin = keys::CollectionPrefix(collection);
  const std::string end = keys::CollectionPrefixEnd(collection);
  rocksdb::Range range(begin, end);
  rocksdb::SizeApproximationOptions options;
  options.include_memtables = true;
  options.include_files = true;
  CollectionStorageSize out;
  for (int cf = 1; cf < kNumColumnFamilies; ++cf) {
    uint64_t size = 0;
    rocksdb::Status s = store_->db()->GetApproximateSizes(
        options, store_->handle(static_cast<ColumnFamily>(cf)), &range, 1, &size);
    if (!s.ok()) return FromRocks("estimating sizes", s);
    switch (static_cast<ColumnFamily>(cf)) {
      case ColumnFamily::kItems:
        out.items_bytes += size;
        break;
      case ColumnFamily::kCodes:
        out.codes_bytes += size;
        break;
      default:
        out.other_bytes += size;
    }
  }
  return out;
}

}  // namespace bn
