#include "engine/model/model_file.h"

#include <map>
#include <mutex>

#include "engine/util/bytes.h"

namespace bn {
namespace {

constexpr char kMagic[8] = {'B', 'N', 'M', 'O', 'D', 'E', 'L', '\0'};
constexpr size_t kHeaderSize = 24;

struct Registry {
  std::mutex mutex;
  std::map<ModelKind, ModelPayloadLoader> loaders;
};

Registry& GetRegistry() {
  static auto* registry = new Registry();
  return *registry;
}

}  // namespace

bool RegisterModelLoader(ModelKind kind, ModelPayloadLoader loader) {
  Registry& registry = GetRegistry();
  std::lock_guard<std::mutex> lock(registry.mutex);
  registry.loaders[kind] = std::move(loader);
  return true;
}

absl::StatusOr<std::string> SerializeModel(const Model& model) {
  std::string payload;
  if (absl::Status s = model.SavePayload(&payload); !s.ok()) return s;
  std::string out;
  ByteWriter w(&out);
  w.Raw(kMagic, sizeof(kMagic));
  w.U32(kModelFormatVersion);
  w.U32(static_cast<uint32_t>(model.kind()));
  w.U64(payload.size());
  out += payload;
  w.U32(Crc32(out));
  return out;
}

absl::StatusOr<std::unique_ptr<Model>> DeserializeModel(absl::string_view bytes) {
  if (bytes.size() < kHeaderSize + 4) {
    return absl::DataLossError("model file truncated: " + std::to_string(bytes.size()) +
                               " bytes");
  }
  ByteReader r(bytes);
  char magic[8];
  uint32_t version = 0, kind = 0;
  uint64_t length = 0;
  if (!r.Raw(magic, sizeof(magic)) || std::memcmp(magic, kMagic, sizeof(kMagic)) != 0) {
    return absl::DataLossError("not a Bottleneck model file (bad magic)");
  }
  if (!r.U32(&version) || !r.U32(&kind) || !r.U64(&length)) {
    return absl::DataLossError("model file header truncated");
  }
  if (version > kModelFormatVersion) {
    return absl::FailedPreconditionError("model file format " + std::to_string(version) +
                                         " is newer than this build's " +
                                         std::to_string(kModelFormatVersion));
  }
  if (length != bytes.size() - kHeaderSize - 4) {
    return absl::DataLossError("model file truncated or padded: payload length " +
                               std::to_string(length) + " does not match the file size");
  }
  uint32_t stored_crc = 0;
  std::memcpy(&stored_crc, bytes.data() + kHeaderSize + length, 4);
  if (Crc32(bytes.substr(0, kHeaderSize + length)) != stored_crc) {
    return absl::DataLossError("model file checksum mismatch");
  }
  ModelPayloadLoader loader;
  {
    Registry& registry = GetRegistry();
    std::lock_guard<std::mutex> lock(registry.mutex);
    auto it = registry.loaders.find(static_cast<ModelKind>(kind));
    if (it == registry.loaders.end()) {
      return absl::InvalidArgumentError("unknown model kind " + std::to_string(kind));
    }
    loader = it->second;
  }
  return loader(bytes.substr(kHeaderSize, length));
}

}  // namespace bn
