// How a document collection's model version turns documents into input vectors: the vocabulary
// (supplied with the dataset or the collection, learned from the training dataset, or id-only;
// proto/bottleneck/v1/common.proto's DocumentGeometry has the rules), the tokenizer and its
// clean-up options, the document representation and (for tf-idf) the document frequencies.
// Stored with each model version, so the same document always maps to the same vector for that
// version.
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

  // Makes the pipeline of a training corpus. The vocabulary is `dataset_vocabulary` if not empty,
  // else geometry.vocabulary_words() if not empty (both already checked by NormalizeVocabularyList;
  // their document frequencies are counted over the corpus), else learned from the corpus'
  // texts and words (the geometry.vocabulary_size() words of highest document frequency), else
  // (a corpus of word ids only) ids 0..vocabulary_size-1 without words.
  // FailedPrecondition for a corpus that mixes word ids with texts or words without a supplied
  // vocabulary, or has no documents; InvalidArgument for an unknown representation or a corpus
  // without a single word.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<TextPipeline>> Learn(
      const std::vector<const bottleneck::v1::Document*>& corpus,
      const bottleneck::v1::DocumentGeometry& geometry, const bottleneck::v1::TextOptions& options,
      const std::vector<std::string>& dataset_vocabulary);
  // Reads Serialize()'s bytes, and format 1 (before vocabulary sources: a learned vocabulary).
  // DataLoss for malformed bytes.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<TextPipeline>> Deserialize(
      absl::string_view bytes);

  virtual std::string Serialize() const = 0;
  virtual uint32_t vocabulary_size() const = 0;
  virtual bottleneck::v1::VocabularySource source() const = 0;
  // Appends the document's vector (vocabulary_size() floats) to *out and, if `length` is not
  // null, sets it to the document's number of counted in-vocabulary words (the N of the
  // normalised counts). InvalidArgument for invalid UTF-8, an unknown word id, or a document
  // with no word of the vocabulary; FailedPrecondition for text or words on an id-only
  // vocabulary. Nothing is appended on error.
  [[nodiscard]] virtual absl::Status ToVector(const bottleneck::v1::Document& document,
                                              std::vector<float>* out, float* length) const = 0;
  // The `top` largest entries of a decoder output as words (empty words for an id-only
  // vocabulary).
  virtual bottleneck::v1::WordDistribution TopWords(const float* x, uint32_t top) const = 0;
};

}  // namespace bn

#endif  // BOTTLENECK_SERVER_CORE_TEXT_PIPELINE_H_
