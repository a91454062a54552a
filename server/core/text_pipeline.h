// How a document collection's model version turns documents into input vectors: the vocabulary
// learned from the training dataset, the document representation and (for tf-idf) the inverse
// document frequencies. Stored with each model version, so the same text always maps to the same
// vector for that version.
//
// Thread safety: immutable after construction; all const methods may be called concurrently.
#ifndef BOTTLENECK_SERVER_CORE_TEXT_PIPELINE_H_
#define BOTTLENECK_SERVER_CORE_TEXT_PIPELINE_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "bottleneck/v1/common.pb.h"
#include "bottleneck/v1/model.pb.h"
#include "bottleneck/v1/query.pb.h"

namespace bn {

class TextPipeline {
 public:
  virtual ~TextPipeline() = default;

  // Learns the vocabulary (the `vocabulary_size` most frequent words by document frequency) and
  // document frequencies from a corpus. FailedPrecondition when no document has raw text;
  // InvalidArgument for an unknown representation.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<TextPipeline>> Learn(
      const std::vector<const bottleneck::v1::Document*>& corpus, uint32_t vocabulary_size,
      const bottleneck::v1::TextOptions& options);
  // DataLoss for malformed bytes.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<TextPipeline>> Deserialize(
      absl::string_view bytes);

  virtual std::string Serialize() const = 0;
  virtual uint32_t vocabulary_size() const = 0;
  // Appends the document's vector (vocabulary_size() floats) to *out. InvalidArgument for
  // invalid UTF-8, an unknown word id, or a document with no word of the vocabulary.
  [[nodiscard]] virtual absl::Status ToVector(const bottleneck::v1::Document& document,
                                              std::vector<float>* out) const = 0;
  // The `top` largest entries of a decoder output as words.
  virtual bottleneck::v1::WordDistribution TopWords(const float* x, uint32_t top) const = 0;
};

}  // namespace bn

#endif  // BOTTLENECK_SERVER_CORE_TEXT_PIPELINE_H_
