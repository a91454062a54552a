#include "engine/store/collection_store.h"

#include <algorithm>
#include <map>
#include <memory>

#include "engine/store/keys.h"
#include "engine/store/rocks_status.h"
#include "engine/util/bytes.h"
#include "rocksdb/db.h"
#include "rocksdb/write_batch.h"

namespace bn {
namespace {

// Format 2 appends log_position; it is written only when a log position was ever set, so a
// single-node store keeps format 1 (readable by earlier builds).
constexpr uint32_t kStateFormat = 1;
constexpr uint32_t kStateFormatWithLog = 2;
constexpr char kNextIncarnationKey[] = "next_incarnation";

std::string EncodeState(const CollectionState& st) {
  std::string out;
  ByteWriter w(&out);
  w.U32(st.log_position != 0 ? kStateFormatWithLog : kStateFormat);
  w.U64(st.incarnation);
  w.U64(st.next_item_no);
  w.U64(st.change_counter);
  w.U64(st.item_count);
  w.U64(st.code_versions.size());
  for (uint64_t v : st.code_versions) w.U64(v);
  if (st.log_position != 0) w.U64(st.log_position);
  return out;
}

absl::Status DecodeState(absl::string_view in, CollectionState* st) {
  ByteReader r(in);
  uint32_t format = 0;
  uint64_t n = 0;
  if (!r.U32(&format) || (format != kStateFormat && format != kStateFormatWithLog) ||
      !r.U64(&st->incarnation) || !r.U64(&st->next_item_no) || !r.U64(&st->change_counter) ||
      !r.U64(&st->item_count) || !r.U64(&n) || n > r.remaining() / 8) {
    return absl::DataLossError("corrupt collection state record");
  }
  st->code_versions.resize(n);
  for (auto& v : st->code_versions) {
    if (!r.U64(&v)) return absl::DataLossError("corrupt collection state record");
  }
  st->log_position = 0;
  if (format == kStateFormatWithLog && !r.U64(&st->log_position)) {
    return absl::DataLossError("corrupt collection state record");
  }
  return absl::OkStatus();
}

std::string EncodeItemValue(uint64_t item_no, absl::string_view record) {
  std::string out;
  ByteWriter w(&out);
  w.U64(item_no);
  w.Raw(record.data(), record.size());
  return out;
}

absl::Status DecodeItemValue(absl::string_view in, uint64_t* item_no, std::string* record) {
  ByteReader r(in);
  if (!r.U64(item_no)) return absl::DataLossError("corrupt item record");
  if (record != nullptr) record->assign(in.data() + 8, in.size() - 8);
  return absl::OkStatus();
}

absl::Status ValidateCollectionName(absl::string_view c) {
  if (c.empty() || c.size() > kMaxCollectionNameBytes) {
    return absl::InvalidArgumentError("collection name must have 1.." +
                                      std::to_string(kMaxCollectionNameBytes) + " bytes");
  }
  return absl::OkStatus();
}

// RAII RocksDB snapshot. A follower (secondary instance) has no snapshots; its view changes only
// when it catches up with the primary, and each iterator is consistent by itself.
class DbSnapshot {
 public:
  explicit DbSnapshot(const Store* store)
      : db_(store->db()), snap_(store->read_only() ? nullptr : db_->GetSnapshot()) {
    options_.snapshot = snap_;
  }
  ~DbSnapshot() {
    if (snap_ != nullptr) db_->ReleaseSnapshot(snap_);
  }
  const rocksdb::ReadOptions& options() const { return options_; }

 private:
  rocksdb::DB* db_;
  const rocksdb::Snapshot* snap_;
  rocksdb::ReadOptions options_;
};

}  // namespace

void ItemBatch::Upsert(std::string id, std::string record,
                       std::vector<std::pair<uint64_t, std::string>> codes) {
  ops_.push_back(Op{OpKind::kUpsert, std::move(id), std::move(record), std::move(codes)});
}
void ItemBatch::PutCode(std::string id, uint64_t model_version, std::string code) {
  std::vector<std::pair<uint64_t, std::string>> codes;
  codes.emplace_back(model_version, std::move(code));
  ops_.push_back(Op{OpKind::kPutCode, std::move(id), std::string(), std::move(codes)});
}
void ItemBatch::Delete(std::string id) {
  ops_.push_back(Op{OpKind::kDelete, std::move(id), std::string(), {}});
}

// Reads the state with the given read options (NotFound when the collection does not exist).
static absl::Status ReadState(Store* store, const rocksdb::ReadOptions& ro, absl::string_view c,
                              CollectionState* st) {
  std::string value;
  rocksdb::Status s = store->db()->Get(ro, store->handle(ColumnFamily::kCollections),
                                       keys::CollectionStateKey(c), &value);
  if (s.IsNotFound()) return absl::NotFoundError("collection '" + std::string(c) + "' not found");
  if (!s.ok()) return FromRocks("reading collection state", s);
  return DecodeState(value, st);
}

absl::Status CollectionStore::PutCollection(absl::string_view collection, absl::string_view spec) {
  if (absl::Status s = ValidateCollectionName(collection); !s.ok()) return s;
  std::lock_guard<std::mutex> lock(store_->CollectionMutex(collection));
  rocksdb::WriteBatch wb;
  CollectionState st;
  absl::Status read = ReadState(store_, rocksdb::ReadOptions(), collection, &st);
  if (absl::IsNotFound(read)) {
    std::lock_guard<std::mutex> meta_lock(store_->MetaMutex());
    std::string value;
    rocksdb::Status s = store_->db()->Get(
        rocksdb::ReadOptions(), store_->handle(ColumnFamily::kMeta), kNextIncarnationKey, &value);
    uint64_t next = 1;
    if (s.ok()) {
      ByteReader r(value);
      if (!r.U64(&next)) return absl::DataLossError("corrupt next_incarnation record");
    } else if (!s.IsNotFound()) {
      return FromRocks("reading next_incarnation", s);
    }
    st = CollectionState();
    st.incarnation = next;
    std::string next_value;
    ByteWriter(&next_value).U64(next + 1);
    rocksdb::WriteBatch meta;
    if (!(s = meta.Put(store_->handle(ColumnFamily::kMeta), kNextIncarnationKey, next_value))
             .ok()) {
      return FromRocks("batch", s);
    }
    rocksdb::WriteOptions wo;
    wo.sync = true;  // An incarnation must never be handed out twice.
    s = store_->db()->Write(wo, &meta);
    if (!s.ok()) return FromRocks("writing next_incarnation", s);
    if (!(s = wb.Put(store_->handle(ColumnFamily::kCollections),
                     keys::CollectionStateKey(collection), EncodeState(st)))
             .ok()) {
      return FromRocks("batch", s);
    }
  } else if (!read.ok()) {
    return read;
  }
  rocksdb::Status s = wb.Put(store_->handle(ColumnFamily::kCollections),
                             keys::CollectionSpecKey(collection), ToSlice(spec));
  if (!s.ok()) return FromRocks("batch", s);
  rocksdb::WriteOptions wo;
  wo.sync = store_->options().sync_writes;
  return FromRocks("writing collection", store_->db()->Write(wo, &wb));
}

absl::StatusOr<std::string> CollectionStore::GetCollectionSpec(absl::string_view collection) {
  std::string value;
  rocksdb::Status s =
      store_->db()->Get(rocksdb::ReadOptions(), store_->handle(ColumnFamily::kCollections),
                        keys::CollectionSpecKey(collection), &value);
  if (s.IsNotFound()) {
    return absl::NotFoundError("collection '" + std::string(collection) + "' not found");
  }
  if (!s.ok()) return FromRocks("reading collection spec", s);
  return value;
}

absl::StatusOr<CollectionState> CollectionStore::GetCollectionState(absl::string_view collection) {
  CollectionState st;
  if (absl::Status s = ReadState(store_, rocksdb::ReadOptions(), collection, &st); !s.ok()) {
    return s;
  }
  return st;
}

absl::StatusOr<std::vector<std::string>> CollectionStore::ListCollections() {
  std::vector<std::string> names;
  std::unique_ptr<rocksdb::Iterator> it(store_->db()->NewIterator(
      rocksdb::ReadOptions(), store_->handle(ColumnFamily::kCollections)));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    std::string name;
    if (keys::ParseCollectionSpecKey(ToView(it->key()), &name)) names.push_back(std::move(name));
  }
  if (!it->status().ok()) return FromRocks("listing collections", it->status());
  return names;
}

absl::Status CollectionStore::DeleteCollection(absl::string_view collection) {
  std::lock_guard<std::mutex> lock(store_->CollectionMutex(collection));
  CollectionState st;
  if (absl::Status s = ReadState(store_, rocksdb::ReadOptions(), collection, &st); !s.ok()) {
    return s;
  }
  const std::string begin = keys::CollectionPrefix(collection);
  const std::string end = keys::CollectionPrefixEnd(collection);
  rocksdb::WriteBatch wb;
  for (int cf = 0; cf < kNumColumnFamilies; ++cf) {
    if (static_cast<ColumnFamily>(cf) == ColumnFamily::kMeta) continue;
    rocksdb::Status s = wb.DeleteRange(store_->handle(static_cast<ColumnFamily>(cf)), begin, end);
    if (!s.ok()) return FromRocks("batch", s);
  }
  rocksdb::WriteOptions wo;
  wo.sync = true;
  return FromRocks("deleting collection", store_->db()->Write(wo, &wb));
}

absl::StatusOr<ItemBatchResult> CollectionStore::Write(absl::string_view collection,
                                                       const ItemBatch& batch) {
  if (batch.empty()) return absl::InvalidArgumentError("empty item batch");
  for (const auto& op : batch.ops()) {
    if (op.id.empty() || op.id.size() > kMaxItemIdBytes) {
      return absl::InvalidArgumentError("item id must have 1.." + std::to_string(kMaxItemIdBytes) +
                                        " bytes");
    }
  }
  std::lock_guard<std::mutex> lock(store_->CollectionMutex(collection));
  CollectionState st;
  if (absl::Status s = ReadState(store_, rocksdb::ReadOptions(), collection, &st); !s.ok()) {
    return s;
  }
  auto* items = store_->handle(ColumnFamily::kItems);
  auto* codes = store_->handle(ColumnFamily::kCodes);
  // Item numbers of ids as of the batch so far (0 = absent).
  std::map<std::string, uint64_t> overlay;
  auto current_label = [&](const std::string& id) -> absl::StatusOr<uint64_t> {
    auto it = overlay.find(id);
    if (it != overlay.end()) return it->second;
    std::string value;
    rocksdb::Status s =
        store_->db()->Get(rocksdb::ReadOptions(), items, keys::ItemKey(collection, id), &value);
    if (s.IsNotFound()) return uint64_t{0};
    if (!s.ok()) return FromRocks("reading item", s);
    uint64_t item_no = 0;
    if (absl::Status d = DecodeItemValue(value, &item_no, nullptr); !d.ok()) return d;
    return item_no;
  };
  auto note_version = [&](uint64_t v) {
    auto pos = std::lower_bound(st.code_versions.begin(), st.code_versions.end(), v);
    if (pos == st.code_versions.end() || *pos != v) st.code_versions.insert(pos, v);
  };

  rocksdb::WriteBatch wb;
  rocksdb::Status rs;
  ItemBatchResult result;
  std::string log;
  ByteWriter log_writer(&log);
  log_writer.U64(batch.size());
  auto check = [&]() -> absl::Status { return FromRocks("batch", rs); };
  for (const auto& op : batch.ops()) {
    absl::StatusOr<uint64_t> existing = current_label(op.id);
    if (!existing.ok()) return existing.status();
    uint64_t item_no = *existing;
    switch (op.kind) {
      case ItemBatch::OpKind::kUpsert: {
        if (item_no == 0) {
          item_no = st.next_item_no++;
          ++st.item_count;
          if (!(rs = wb.Put(items, keys::ItemNoKey(collection, item_no), op.id)).ok())
            return check();
        }
        for (const auto& [version, code] : op.codes) note_version(version);
        for (uint64_t v : st.code_versions) {
          bool given = std::any_of(op.codes.begin(), op.codes.end(),
                                   [v](const auto& c) { return c.first == v; });
          if (!given && !(rs = wb.Delete(codes, keys::CodeKey(collection, v, item_no))).ok()) {
            return check();
          }
        }
        for (const auto& [version, code] : op.codes) {
          if (!(rs = wb.Put(codes, keys::CodeKey(collection, version, item_no), code)).ok()) {
            return check();
          }
        }
        if (!(rs = wb.Put(items, keys::ItemKey(collection, op.id),
                          EncodeItemValue(item_no, op.record)))
                 .ok()) {
          return check();
        }
        log_writer.U8(static_cast<uint8_t>(ChangeKind::kUpsert));
        break;
      }
      case ItemBatch::OpKind::kPutCode: {
        if (item_no == 0) {
          return absl::NotFoundError("item '" + op.id + "' not found in collection '" +
                                     std::string(collection) + "'");
        }
        note_version(op.codes[0].first);
        if (!(rs = wb.Put(codes, keys::CodeKey(collection, op.codes[0].first, item_no),
                          op.codes[0].second))
                 .ok()) {
          return check();
        }
        log_writer.U8(static_cast<uint8_t>(ChangeKind::kUpsert));
        break;
      }
      case ItemBatch::OpKind::kDelete: {
        if (item_no != 0) {
          --st.item_count;
          for (uint64_t v : st.code_versions) {
            if (!(rs = wb.Delete(codes, keys::CodeKey(collection, v, item_no))).ok())
              return check();
          }
          if (!(rs = wb.Delete(items, keys::ItemKey(collection, op.id))).ok()) return check();
          if (!(rs = wb.Delete(items, keys::ItemNoKey(collection, item_no))).ok()) return check();
        }
        log_writer.U8(static_cast<uint8_t>(ChangeKind::kDelete));
        break;
      }
    }
    log_writer.U64(item_no);
    result.item_nos.push_back(item_no);
    overlay[op.id] = op.kind == ItemBatch::OpKind::kDelete ? 0 : item_no;
  }
  ++st.change_counter;
  if (batch.log_position() != 0) st.log_position = batch.log_position();
  result.change_counter = st.change_counter;
  if (!(rs = wb.Put(items, keys::ChangeKey(collection, st.change_counter), log)).ok()) {
    return check();
  }
  if (!(rs = wb.Put(store_->handle(ColumnFamily::kCollections),
                    keys::CollectionStateKey(collection), EncodeState(st)))
           .ok()) {
    return check();
  }
  // Upserts add data: refused below the disk's flood threshold. Deletes (which free space in
  // the end) and promotion codes go through.
  const bool adds = std::any_of(batch.ops().begin(), batch.ops().end(), [](const auto& op) {
    return op.kind == ItemBatch::OpKind::kUpsert;
  });
  if (adds) {
    if (absl::Status s = store_->CheckWrite(wb.GetDataSize()); !s.ok()) return s;
  }
  rocksdb::WriteOptions wo;
  wo.sync = store_->options().sync_writes;
  if (absl::Status s = FromRocks("writing item batch", store_->db()->Write(wo, &wb)); !s.ok()) {
    return s;
  }
  return result;
}

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
