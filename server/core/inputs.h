// Conversion of API inputs (images, documents, codes) into the engine's float vectors and back.
#ifndef BOTTLENECK_SERVER_CORE_INPUTS_H_
#define BOTTLENECK_SERVER_CORE_INPUTS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "bottleneck/v1/collection.pb.h"
#include "bottleneck/v1/common.pb.h"
#include "bottleneck/v1/query.pb.h"
#include "engine/model/model.h"
#include "server/core/text_pipeline.h"

namespace bn {

// Checks that `input` can be used by the collection without a model (images decode within the
// limits and are of the image kind; documents are of the document kind, valid UTF-8 and, for
// word ids, within the vocabulary). InvalidArgument naming the problem otherwise. Training
// examples may be raw text even where the collection's items may not (the vocabulary is learned
// from them).
[[nodiscard]] absl::Status ValidateInput(const bottleneck::v1::CollectionSpec& spec,
                                         const bottleneck::v1::Input& input,
                                         bool training_example = false);

// The model's input vector for `input`: images converted to the collection's geometry with
// pixels in [0, 1] (HWC); documents through the model version's text pipeline. `text` may be
// null for image collections. Appends InputSize(spec) floats to *out.
[[nodiscard]] absl::Status InputToVector(const bottleneck::v1::CollectionSpec& spec,
                                         const TextPipeline* text,
                                         const bottleneck::v1::Input& input,
                                         std::vector<float>* out);

// Packs model outputs into the store's code bytes: float32 little-endian, or bits (>= 0.5 -> 1,
// bit i in byte i / 8 at position i % 8) for binary codes.
std::string CodeToBytes(const float* code, int64_t code_size, CodeType type);
// The API's Code message for code bytes.
bottleneck::v1::Code BytesToCode(const std::string& bytes, int64_t code_size, CodeType type);
// Code bytes from an API Code; InvalidArgument if its kind or size does not match the model, or
// a float is not finite. Padding bits of a binary code (past code_size) are cleared.
[[nodiscard]] absl::StatusOr<std::string> CodeFromApi(const bottleneck::v1::Code& code,
                                                      int64_t code_size, CodeType type);
// Float values of a code (bits as 0/1) for the decoder.
std::vector<float> CodeBytesToFloats(const std::string& bytes, int64_t code_size, CodeType type);

// How many words a document reconstruction shows when the request does not say.
constexpr uint32_t kDefaultTopWords = 20;

// A decoder output as an API Output: a PNG image for image collections, the top words for
// documents.
[[nodiscard]] absl::StatusOr<bottleneck::v1::Output> VectorToOutput(
    const bottleneck::v1::CollectionSpec& spec, const TextPipeline* text, const float* x,
    uint32_t top_words);

}  // namespace bn

#endif  // BOTTLENECK_SERVER_CORE_INPUTS_H_
