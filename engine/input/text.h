// Document inputs: a tokenizer for raw UTF-8 text, a vocabulary learned from a training corpus
// (stored with each model version so the same text always maps to the same vector), sparse
// bag-of-words input for clients that tokenise themselves, and the dense representations a
// document model consumes.
//
//   Vocabulary vocab = *Vocabulary::Build(training_texts, {});          // V = 2000 words
//   std::string bytes = vocab.Serialize();                                // store with the model
//   Vocabulary same = *Vocabulary::Deserialize(bytes);
//   std::vector<float> row = *TextToInput(same, "Oil prices rose ...",
//                                          DocumentRepresentation::kNormalizedCounts);
//
// Errors (all InvalidArgument, with a message naming the problem): invalid UTF-8 (with its byte
// offset), a document with no counted word ("empty document"), an unknown word id, a count < 1.
//
// Thread safety: a Vocabulary is immutable after Build/Deserialize and safe to share between
// threads; the free functions have no shared state.
#ifndef BOTTLENECK_ENGINE_INPUT_TEXT_H_
#define BOTTLENECK_ENGINE_INPUT_TEXT_H_

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "engine/util/matrix.h"

namespace bn {

struct TokenizerOptions {
  int min_length = 2;             // Tokens shorter than this (in code points) are dropped.
  bool remove_stop_words = true;  // The built-in English stop-word list (IsEnglishStopWord).
};

// Validates `text` as strict UTF-8 (no overlong forms, surrogates, code points > U+10FFFF or
// truncated sequences), lower-cases it, splits it on every character that is not a letter
// (letters: Latin incl. Latin-1 and Extended-A/B, Greek, Cyrillic; digits and everything else
// separate tokens), then drops short tokens and stop words.
[[nodiscard]] absl::StatusOr<std::vector<std::string>> Tokenize(absl::string_view text,
                                                                const TokenizerOptions& options);

// OK if `text` is valid UTF-8, else InvalidArgument naming the offending byte offset.
[[nodiscard]] absl::Status ValidateUtf8(absl::string_view text);

// The built-in English stop-word list (lower case).
bool IsEnglishStopWord(absl::string_view word);

struct VocabularyOptions {
  int max_words = 2000;  // V, as in Hinton & Salakhutdinov 2006.
  TokenizerOptions tokenizer;
};

// The V words of highest document frequency in a training corpus; ties are broken by the word's
// bytes (ascending), so a corpus always gives the same vocabulary. Word id i is the i-th word in
// that order. Keeps each word's document frequency and the corpus size for tf-idf.
class Vocabulary {
 public:
  Vocabulary() = default;

  // InvalidArgument if max_words < 1, a text is not valid UTF-8 (naming the document), or no
  // document has any counted word.
  [[nodiscard]] static absl::StatusOr<Vocabulary> Build(const std::vector<std::string>& texts,
                                                        const VocabularyOptions& options);

  // A self-describing byte string (magic, version, tokenizer options, corpus size, words with
  // document frequencies, CRC-32). Deserialize validates everything (InvalidArgument otherwise).
  std::string Serialize() const;
  [[nodiscard]] static absl::StatusOr<Vocabulary> Deserialize(absl::string_view bytes);

  int size() const { return static_cast<int>(words_.size()); }
  const std::string& word(int id) const { return words_[id]; }
  // The id of `word` (already normalised: lower case), or -1.
  int IdOf(absl::string_view word) const;
  int64_t document_frequency(int id) const { return document_frequency_[id]; }
  int64_t document_count() const { return document_count_; }
  // Smoothed inverse document frequency: ln((1 + N) / (1 + df)) + 1.
  double idf(int id) const;
  const TokenizerOptions& tokenizer() const { return tokenizer_; }

 private:
  absl::Status Index();  // Fills ids_; InvalidArgument on duplicate words.

  TokenizerOptions tokenizer_;
  int64_t document_count_ = 0;
  std::vector<std::string> words_;
  std::vector<int64_t> document_frequency_;
  std::unordered_map<std::string, int> ids_;
};

// Sparse word counts or weights: ids strictly increasing, values > 0.
struct SparseVector {
  std::vector<int32_t> ids;
  std::vector<float> values;
};

// Counts the vocabulary words of a raw text (words outside the vocabulary are ignored).
// InvalidArgument for invalid UTF-8 or when no vocabulary word occurs (empty document).
[[nodiscard]] absl::StatusOr<SparseVector> CountWords(const Vocabulary& vocab,
                                                      absl::string_view text);
// Client-tokenised input: word ids with counts (same length; duplicates are summed).
// InvalidArgument for an id outside [0, V) ("unknown word id"), a count < 1, mismatched lengths
// or no words.
[[nodiscard]] absl::StatusOr<SparseVector> CountWordIds(const Vocabulary& vocab,
                                                        const std::vector<int64_t>& ids,
                                                        const std::vector<int64_t>& counts);
// Client-tokenised input: words with counts. Words are validated as UTF-8 and lower-cased;
// words outside the vocabulary are ignored; InvalidArgument if none is in it, for a count < 1
// or mismatched lengths.
[[nodiscard]] absl::StatusOr<SparseVector> CountWordStrings(const Vocabulary& vocab,
                                                            const std::vector<std::string>& words,
                                                            const std::vector<int64_t>& counts);

enum class DocumentRepresentation {
  kNormalizedCounts,  // The paper's: count / the document's number of counted words (sums to 1).
  kLogTf,             // ln(1 + count).
  kTfIdf,             // count * idf, scaled to unit L2 norm.
};

// Applies a representation to counts (from the Count* functions). InvalidArgument if the counts
// are malformed (ids out of range or not increasing, values <= 0) or empty.
[[nodiscard]] absl::StatusOr<SparseVector> Represent(const Vocabulary& vocab,
                                                     const SparseVector& counts,
                                                     DocumentRepresentation representation);
// The dense row of vocab.size() floats.
[[nodiscard]] absl::StatusOr<std::vector<float>> Densify(const Vocabulary& vocab,
                                                         const SparseVector& v);

// The service's entry points: a document to a model input row of vocab.size() floats.
[[nodiscard]] absl::StatusOr<std::vector<float>> TextToInput(const Vocabulary& vocab,
                                                             absl::string_view text,
                                                             DocumentRepresentation representation);
[[nodiscard]] absl::StatusOr<std::vector<float>> WordIdsToInput(
    const Vocabulary& vocab, const std::vector<int64_t>& ids, const std::vector<int64_t>& counts,
    DocumentRepresentation representation);
[[nodiscard]] absl::StatusOr<std::vector<float>> WordStringsToInput(
    const Vocabulary& vocab, const std::vector<std::string>& words,
    const std::vector<int64_t>& counts, DocumentRepresentation representation);

// A training set: one dense row per text that has at least one vocabulary word; `kept` (if not
// null) receives the indices of the texts used (empty documents are skipped, not errors).
// InvalidArgument for invalid UTF-8 (naming the document).
[[nodiscard]] absl::StatusOr<FloatMatrix> TextsToMatrix(const Vocabulary& vocab,
                                                        const std::vector<std::string>& texts,
                                                        DocumentRepresentation representation,
                                                        std::vector<int64_t>* kept = nullptr);

}  // namespace bn

#endif  // BOTTLENECK_ENGINE_INPUT_TEXT_H_
