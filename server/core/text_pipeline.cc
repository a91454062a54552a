#include "server/core/text_pipeline.h"

namespace bn {

// Document collections need the engine's tokenizer and vocabulary (engine/input/text.h), which
// are not part of this build yet: say so instead of pretending.
absl::StatusOr<std::unique_ptr<TextPipeline>> TextPipeline::Learn(
    const std::vector<const bottleneck::v1::Document*>&, uint32_t,
    const bottleneck::v1::TextOptions&) {
  return absl::UnimplementedError("training on documents is not available in this version yet");
}

absl::StatusOr<std::unique_ptr<TextPipeline>> TextPipeline::Deserialize(absl::string_view) {
  return absl::UnimplementedError("document models are not available in this version yet");
}

}  // namespace bn
