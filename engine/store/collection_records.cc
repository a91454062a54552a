#include "engine/store/collection_records.h"

#include "engine/store/keys.h"
#include "engine/store/rocks_status.h"
#include "engine/util/bytes.h"

namespace bn::collection_records {
namespace {

// Format 2 appends log_position; it is written only when a log position was ever set, so a
// single-node store keeps format 1 (readable by earlier builds).
constexpr uint32_t kStateFormat = 1;
constexpr uint32_t kStateFormatWithLog = 2;

}  // namespace

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

absl::Status ReadState(Store* store, const rocksdb::ReadOptions& ro, absl::string_view c,
                       CollectionState* st) {
  std::string value;
  rocksdb::Status s = store->db()->Get(ro, store->handle(ColumnFamily::kCollections),
                                       keys::CollectionStateKey(c), &value);
  if (s.IsNotFound()) return absl::NotFoundError("collection '" + std::string(c) + "' not found");
  if (!s.ok()) return FromRocks("reading collection state", s);
  return DecodeState(value, st);
}

}  // namespace bn::collection_records
