#include "server/core/text_pipeline.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "engine/input/text.h"
#include "engine/util/bytes.h"

namespace bn {

namespace v1 = ::bottleneck::v1;

namespace {

constexpr uint32_t kFormat = 1;

DocumentRepresentation ToEngine(v1::DocumentRepresentation r) {
  switch (r) {
    case v1::DOCUMENT_REPRESENTATION_LOG_TF:
      return DocumentRepresentation::kLogTf;
    case v1::DOCUMENT_REPRESENTATION_TF_IDF:
      return DocumentRepresentation::kTfIdf;
    default:
      return DocumentRepresentation::kNormalizedCounts;
  }
}

// API counts are floats; the engine counts whole words.
absl::StatusOr<std::vector<int64_t>> WholeCounts(const google::protobuf::RepeatedField<float>& in) {
  std::vector<int64_t> out;
  out.reserve(in.size());
  for (float c : in) {
    if (!std::isfinite(c) || c < 0.5f || c > 1e9f) {
      return absl::InvalidArgumentError("word counts must be whole numbers >= 1");
    }
    out.push_back(std::llround(c));
  }
  return out;
}

class VocabularyPipeline final : public TextPipeline {
 public:
  VocabularyPipeline(Vocabulary vocabulary, v1::DocumentRepresentation representation)
      : vocabulary_(std::move(vocabulary)), representation_(representation) {}

  std::string Serialize() const override {
    std::string out;
    ByteWriter w(&out);
    w.U32(kFormat);
    w.U32(static_cast<uint32_t>(representation_));
    w.Str(vocabulary_.Serialize());
    return out;
  }

  uint32_t vocabulary_size() const override { return static_cast<uint32_t>(vocabulary_.size()); }

  absl::Status ToVector(const v1::Document& document, std::vector<float>* out) const override {
    absl::StatusOr<std::vector<float>> x;
    const DocumentRepresentation rep = ToEngine(representation_);
    switch (document.content_case()) {
      case v1::Document::kText:
        x = TextToInput(vocabulary_, document.text(), rep);
        break;
      case v1::Document::kWordIds: {
        auto counts = WholeCounts(document.word_ids().counts());
        if (!counts.ok()) return counts.status();
        std::vector<int64_t> ids(document.word_ids().ids().begin(),
                                 document.word_ids().ids().end());
        x = WordIdsToInput(vocabulary_, ids, *counts, rep);
        break;
      }
      case v1::Document::kWords: {
        std::vector<std::string> words;
        google::protobuf::RepeatedField<float> raw_counts;
        for (const v1::WordCount& w : document.words().counts()) {
          words.push_back(w.word());
          raw_counts.Add(w.count());
        }
        auto counts = WholeCounts(raw_counts);
        if (!counts.ok()) return counts.status();
        x = WordStringsToInput(vocabulary_, words, *counts, rep);
        break;
      }
      default:
        return absl::InvalidArgumentError("document needs text, word_ids or words");
    }
    if (!x.ok()) return x.status();
    out->insert(out->end(), x->begin(), x->end());
    return absl::OkStatus();
  }

  v1::WordDistribution TopWords(const float* x, uint32_t top) const override {
    std::vector<int> order(vocabulary_.size());
    std::iota(order.begin(), order.end(), 0);
    const size_t n = std::min<size_t>(top, order.size());
    std::partial_sort(order.begin(), order.begin() + n, order.end(),
                      [x](int a, int b) { return x[a] > x[b] || (x[a] == x[b] && a < b); });
    v1::WordDistribution out;
    for (size_t i = 0; i < n; ++i) {
      v1::WordWeight* w = out.add_words();
      w->set_id(order[i]);
      w->set_word(vocabulary_.word(order[i]));
      w->set_weight(x[order[i]]);
    }
    return out;
  }

 private:
  Vocabulary vocabulary_;
  v1::DocumentRepresentation representation_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<TextPipeline>> TextPipeline::Learn(
    const std::vector<const v1::Document*>& corpus, uint32_t vocabulary_size,
    const v1::TextOptions& options) {
  // Deserialize refuses unknown representations, so a pipeline learned with one could be stored
  // but never loaded again.
  if (!v1::DocumentRepresentation_IsValid(options.representation())) {
    return absl::InvalidArgumentError("text.representation is unknown");
  }
  std::vector<std::string> texts;
  for (const v1::Document* document : corpus) {
    if (document->has_text()) texts.push_back(document->text());
  }
  if (texts.empty()) {
    return absl::FailedPreconditionError(
        "training on documents needs raw-text examples to learn the vocabulary from");
  }
  VocabularyOptions vocabulary_options;
  vocabulary_options.max_words = static_cast<int>(vocabulary_size);
  vocabulary_options.tokenizer.min_length =
      options.min_word_length() == 0 ? 2 : static_cast<int>(options.min_word_length());
  vocabulary_options.tokenizer.remove_stop_words = !options.keep_stop_words();
  auto vocabulary = Vocabulary::Build(texts, vocabulary_options);
  if (!vocabulary.ok()) return vocabulary.status();
  return std::unique_ptr<TextPipeline>(
      new VocabularyPipeline(std::move(*vocabulary), options.representation()));
}

absl::StatusOr<std::unique_ptr<TextPipeline>> TextPipeline::Deserialize(absl::string_view bytes) {
  ByteReader r(bytes);
  uint32_t format = 0, representation = 0;
  std::string vocabulary_bytes;
  if (!r.U32(&format) || format != kFormat || !r.U32(&representation) ||
      !v1::DocumentRepresentation_IsValid(static_cast<int>(representation)) ||
      !r.Str(&vocabulary_bytes) || !r.at_end()) {
    return absl::DataLossError("malformed text pipeline");
  }
  auto vocabulary = Vocabulary::Deserialize(vocabulary_bytes);
  if (!vocabulary.ok()) return vocabulary.status();
  return std::unique_ptr<TextPipeline>(new VocabularyPipeline(
      std::move(*vocabulary), static_cast<v1::DocumentRepresentation>(representation)));
}

}  // namespace bn
