// The versioned model file format shared by every model kind:
//
//   offset  size  field
//   0       8     magic "BNMODEL\0"
//   8       4     format version (u32, currently 1)
//   12      4     ModelKind (u32)
//   16      8     payload length P (u64)
//   24      P     payload (written by Model::SavePayload, read by the kind's loader)
//   24+P    4     CRC-32 of bytes [0, 24+P)
//
// All integers little-endian. Loading checks every field and the checksum before parsing the
// payload; a corrupt, truncated or foreign file is an error, never a crash.
#ifndef BOTTLENECK_ENGINE_MODEL_MODEL_FILE_H_
#define BOTTLENECK_ENGINE_MODEL_MODEL_FILE_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "engine/model/model.h"

namespace bn {

inline constexpr uint32_t kModelFormatVersion = 1;

// Serializes a model into the format above.
[[nodiscard]] absl::StatusOr<std::string> SerializeModel(const Model& model);

// Parses a model file. DataLoss for a bad magic, checksum or truncation; FailedPrecondition for a
// newer format version; InvalidArgument for an unknown kind or a payload its loader rejects.
[[nodiscard]] absl::StatusOr<std::unique_ptr<Model>> DeserializeModel(absl::string_view bytes);

// Each model kind registers the loader of its payload (see BN_REGISTER_MODEL_LOADER). Loaders
// must validate everything they read (sizes against the remaining bytes, finite weights).
using ModelPayloadLoader =
    std::function<absl::StatusOr<std::unique_ptr<Model>>(absl::string_view payload)>;
bool RegisterModelLoader(ModelKind kind, ModelPayloadLoader loader);

}  // namespace bn

// Registers a loader at static-initialisation time, in the kind's .cc file:
//   BN_REGISTER_MODEL_LOADER(kPca, &PcaModel::LoadPayload);
#define BN_REGISTER_MODEL_LOADER(kind, loader)          \
  static const bool bn_model_loader_registered_##kind = \
      ::bn::RegisterModelLoader(::bn::ModelKind::kind, loader)

#endif  // BOTTLENECK_ENGINE_MODEL_MODEL_FILE_H_
