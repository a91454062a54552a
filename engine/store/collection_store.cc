#include "engine/store/collection_store.h"

#include <algorithm>
#include <map>
#include <memory>

#include "engine/store/collection_records.h"
#include "engine/store/keys.h"
#include "engine/store/rocks_status.h"
#include "engine/util/bytes.h"
#include "rocksdb/db.h"
#include "rocksdb/write_batch.h"

namespace bn {

using collection_records::DbSnapshot;
using collection_records::DecodeItemValue;
using collection_records::DecodeState;
using collection_records::EncodeItemValue;
using collection_records::EncodeState;
using collection_records::ReadState;

namespace {

constexpr char kNextIncarnationKey[] = "next_incarnation";

absl::Status ValidateCollectionName(absl::string_view c) {
  if (c.empty() || c.size() > kMaxCollectionNameBytes) {
    return absl::InvalidArgumentError("collection name must have 1.." +
                                      std::to_string(kMaxCollectionNameBytes) + " bytes");
  }
  return absl::OkStatus();
}

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

}  // namespace bn
