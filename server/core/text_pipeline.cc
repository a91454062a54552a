#include "server/core/text_pipeline.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "engine/input/text.h"
#include "engine/util/bytes.h"
#include "server/core/specs.h"

namespace bn {

namespace v1 = ::bottleneck::v1;

namespace {

// Format 1: u32 1 | u32 representation | str vocabulary (always learned).
// Format 2: u32 2 | u32 representation | u32 VocabularySource | str vocabulary.
constexpr uint32_t kFormat = 2;

TokenizerOptions TokenizerFor(const v1::TextOptions& options) {
  TokenizerOptions t;
  t.min_length = options.min_word_length() == 0 ? 2 : static_cast<int>(options.min_word_length());
  t.remove_stop_words = !options.keep_stop_words();
  t.max_length = static_cast<int>(options.max_word_length() == 0 ? kDefaultMaxWordLength
                                                                 : options.max_word_length());
  t.strip_headers = !options.keep_headers();
  t.strip_quoted = !options.keep_quoted_lines();
  t.strip_encoded = !options.keep_encoded_blocks();
  t.strip_markup = !options.keep_markup();
  return t;
}

// The vocabulary kind each source has.
VocabularyKind KindOf(v1::VocabularySource source) {
  switch (source) {
    case v1::VOCABULARY_SOURCE_DATASET:
    case v1::VOCABULARY_SOURCE_COLLECTION:
      return VocabularyKind::kSupplied;
    case v1::VOCABULARY_SOURCE_WORD_IDS:
      return VocabularyKind::kIdOnly;
    default:
      return VocabularyKind::kLearned;
  }
}

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

// The document's word counts against `vocabulary` (Count* of engine/input/text.h).
absl::StatusOr<SparseVector> Counts(const Vocabulary& vocabulary, const v1::Document& document) {
  switch (document.content_case()) {
    case v1::Document::kText:
      return CountWords(vocabulary, document.text());
    case v1::Document::kWordIds: {
      auto counts = WholeCounts(document.word_ids().counts());
      if (!counts.ok()) return counts.status();
      std::vector<int64_t> ids(document.word_ids().ids().begin(), document.word_ids().ids().end());
      return CountWordIds(vocabulary, ids, *counts);
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
      return CountWordStrings(vocabulary, words, *counts);
    }
    default:
      return absl::InvalidArgumentError("document needs text, word_ids or words");
  }
}

// Counts, for each word, the corpus documents it occurs in (documents that map to nothing,
// e.g. texts without a vocabulary word, count for no word).
absl::StatusOr<Vocabulary> CountDocumentFrequencies(
    const Vocabulary& vocabulary, const std::vector<const v1::Document*>& corpus) {
  std::vector<int64_t> df(static_cast<size_t>(vocabulary.size()), 0);
  for (const v1::Document* document : corpus) {
    if (!vocabulary.has_words() && !document->has_word_ids()) continue;
    absl::StatusOr<SparseVector> counts = Counts(vocabulary, *document);
    if (!counts.ok()) continue;
    for (int32_t id : counts->ids) ++df[id];
  }
  return vocabulary.WithDocumentFrequencies(std::move(df), static_cast<int64_t>(corpus.size()));
}

class VocabularyPipeline final : public TextPipeline {
 public:
  VocabularyPipeline(Vocabulary vocabulary, v1::DocumentRepresentation representation,
                     v1::VocabularySource source)
      : vocabulary_(std::move(vocabulary)), representation_(representation), source_(source) {}

  std::string Serialize() const override {
    std::string out;
    ByteWriter w(&out);
    w.U32(kFormat);
    w.U32(static_cast<uint32_t>(representation_));
    w.U32(static_cast<uint32_t>(source_));
    w.Str(vocabulary_.Serialize());
    return out;
  }

  uint32_t vocabulary_size() const override { return static_cast<uint32_t>(vocabulary_.size()); }
  v1::VocabularySource source() const override { return source_; }

  absl::Status ToVector(const v1::Document& document, std::vector<float>* out,
                        float* length) const override {
    if (!vocabulary_.has_words() && (document.has_text() || document.has_words())) {
      return absl::FailedPreconditionError(
          "this model version was trained on word ids without a vocabulary, so it knows no "
          "words: send word_ids, or train a model with a vocabulary "
          "(UploadDatasetRequest.vocabulary_words or the collection's "
          "DocumentGeometry.vocabulary_words)");
    }
    absl::StatusOr<SparseVector> counts = Counts(vocabulary_, document);
    if (!counts.ok()) return counts.status();
    absl::StatusOr<SparseVector> represented =
        Represent(vocabulary_, *counts, ToEngine(representation_));
    if (!represented.ok()) return represented.status();
    absl::StatusOr<std::vector<float>> x = Densify(vocabulary_, *represented);
    if (!x.ok()) return x.status();
    if (length != nullptr) {
      double total = 0;
      for (float c : counts->values) total += c;
      *length = static_cast<float>(total);
    }
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
  v1::VocabularySource source_;
};

// A vocabulary learned from the corpus' texts and words.
absl::StatusOr<Vocabulary> LearnVocabulary(const std::vector<const v1::Document*>& corpus,
                                           uint32_t vocabulary_size,
                                           const TokenizerOptions& tokenizer) {
  VocabularyOptions options;
  options.max_words = static_cast<int>(vocabulary_size);
  options.tokenizer = tokenizer;
  VocabularyBuilder builder(options);
  for (size_t d = 0; d < corpus.size(); ++d) {
    const v1::Document& document = *corpus[d];
    absl::Status s = absl::OkStatus();
    if (document.has_text()) {
      s = builder.AddText(document.text());
    } else if (document.has_words()) {
      std::vector<std::string> words;
      for (const v1::WordCount& w : document.words().counts()) words.push_back(w.word());
      s = builder.AddWords(words);
    }
    if (!s.ok()) {
      return absl::Status(s.code(),
                          "document " + std::to_string(d) + ": " + std::string(s.message()));
    }
  }
  return builder.Finish();
}

}  // namespace

absl::StatusOr<std::unique_ptr<TextPipeline>> TextPipeline::Learn(
    const std::vector<const v1::Document*>& corpus, const v1::DocumentGeometry& geometry,
    const v1::TextOptions& options, const std::vector<std::string>& dataset_vocabulary) {
  // Deserialize refuses unknown representations, so a pipeline learned with one could be stored
  // but never loaded again.
  if (!v1::DocumentRepresentation_IsValid(options.representation())) {
    return absl::InvalidArgumentError("text.representation is unknown");
  }
  if (corpus.empty()) return absl::FailedPreconditionError("the dataset has no documents");
  const TokenizerOptions tokenizer = TokenizerFor(options);
  absl::StatusOr<Vocabulary> vocabulary;
  v1::VocabularySource source = v1::VOCABULARY_SOURCE_LEARNED;
  if (!dataset_vocabulary.empty() || !geometry.vocabulary_words().empty()) {
    source = dataset_vocabulary.empty() ? v1::VOCABULARY_SOURCE_COLLECTION
                                        : v1::VOCABULARY_SOURCE_DATASET;
    const std::vector<std::string> words =
        dataset_vocabulary.empty() ? std::vector<std::string>(geometry.vocabulary_words().begin(),
                                                              geometry.vocabulary_words().end())
                                   : dataset_vocabulary;
    if (words.size() != geometry.vocabulary_size()) {
      return absl::FailedPreconditionError("the vocabulary has " + std::to_string(words.size()) +
                                           " words but the collection's vocabulary_size is " +
                                           std::to_string(geometry.vocabulary_size()));
    }
    vocabulary = Vocabulary::FromWords(words, tokenizer);
    if (!vocabulary.ok()) return vocabulary.status();
    vocabulary = CountDocumentFrequencies(*vocabulary, corpus);
  } else {
    bool ids = false, words = false;
    for (const v1::Document* document : corpus) {
      ids |= document->has_word_ids();
      words |= document->has_text() || document->has_words();
    }
    if (ids && words) {
      return absl::FailedPreconditionError(
          "the dataset mixes word_ids with text or words documents and has no vocabulary to "
          "map the ids onto: upload it with UploadDatasetRequest.vocabulary_words, or create the "
          "collection with DocumentGeometry.vocabulary_words");
    }
    if (ids) {
      source = v1::VOCABULARY_SOURCE_WORD_IDS;
      vocabulary = Vocabulary::IdOnly(static_cast<int>(geometry.vocabulary_size()), tokenizer);
      if (!vocabulary.ok()) return vocabulary.status();
      vocabulary = CountDocumentFrequencies(*vocabulary, corpus);
    } else {
      vocabulary = LearnVocabulary(corpus, geometry.vocabulary_size(), tokenizer);
    }
  }
  if (!vocabulary.ok()) return vocabulary.status();
  return std::unique_ptr<TextPipeline>(
      new VocabularyPipeline(std::move(*vocabulary), options.representation(), source));
}

absl::StatusOr<std::unique_ptr<TextPipeline>> TextPipeline::Deserialize(absl::string_view bytes) {
  ByteReader r(bytes);
  uint32_t format = 0, representation = 0, source = v1::VOCABULARY_SOURCE_LEARNED;
  std::string vocabulary_bytes;
  if (!r.U32(&format) || (format != 1 && format != kFormat) || !r.U32(&representation) ||
      !v1::DocumentRepresentation_IsValid(static_cast<int>(representation)) ||
      (format >= 2 && !r.U32(&source)) || !v1::VocabularySource_IsValid(static_cast<int>(source)) ||
      source == v1::VOCABULARY_SOURCE_UNSPECIFIED || !r.Str(&vocabulary_bytes) || !r.at_end()) {
    return absl::DataLossError("malformed text pipeline");
  }
  auto vocabulary = Vocabulary::Deserialize(vocabulary_bytes);
  if (!vocabulary.ok()) return vocabulary.status();
  const auto vocabulary_source = static_cast<v1::VocabularySource>(source);
  if (vocabulary->kind() != KindOf(vocabulary_source)) {
    return absl::DataLossError("malformed text pipeline: the vocabulary does not fit its source");
  }
  return std::unique_ptr<TextPipeline>(new VocabularyPipeline(
      std::move(*vocabulary), static_cast<v1::DocumentRepresentation>(representation),
      vocabulary_source));
}

}  // namespace bn
