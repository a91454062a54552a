#include "server/core/model_record.h"

#include "engine/util/bytes.h"

namespace bn {

namespace {
constexpr uint32_t kRecordFormat = 1;
}  // namespace

std::string EncodeModelRecord(const ModelRecord& record) {
  std::string out;
  ByteWriter w(&out);
  w.U32(kRecordFormat);
  w.Str(record.meta.SerializeAsString());
  w.Str(record.model_file);
  w.Str(record.text);
  return out;
}

absl::StatusOr<ModelRecord> DecodeModelRecord(absl::string_view blob) {
  ByteReader r(blob);
  uint32_t format = 0;
  std::string meta;
  ModelRecord record;
  if (!r.U32(&format) || format != kRecordFormat || !r.Str(&meta) || !r.Str(&record.model_file) ||
      !r.Str(&record.text) || !r.at_end() || !record.meta.ParseFromString(meta)) {
    return absl::DataLossError("malformed model record");
  }
  return record;
}

}  // namespace bn
