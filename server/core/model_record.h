// A stored model version: its metadata (v1::Model), the engine model file, and the text
// preprocessing (vocabulary) for document collections, in one blob:
//
//   u32 record format (1) | str Model proto | str engine model file | str text pipeline bytes
//
// (str = u64 length + bytes, see engine/util/bytes.h). The engine model file has its own CRC.
#ifndef BOTTLENECK_SERVER_CORE_MODEL_RECORD_H_
#define BOTTLENECK_SERVER_CORE_MODEL_RECORD_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "bottleneck/v1/model.pb.h"
#include "engine/model/model.h"

namespace bn {

struct ModelRecord {
  bottleneck::v1::Model meta;
  std::string model_file;  // SerializeModel() output.
  std::string text;        // Serialized text pipeline (documents); empty for images.
};

std::string EncodeModelRecord(const ModelRecord& record);
// DataLoss for a malformed blob.
[[nodiscard]] absl::StatusOr<ModelRecord> DecodeModelRecord(absl::string_view blob);

}  // namespace bn

#endif  // BOTTLENECK_SERVER_CORE_MODEL_RECORD_H_
