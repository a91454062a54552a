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
// A vocabulary is learned from a corpus (Build, VocabularyBuilder: texts and client-tokenised
// words, ranked by document frequency), supplied by the client (FromWords: the word of each id,
// e.g. a vocab.txt), or id-only (IdOnly: ids without known words, for corpora that come as word
// ids alone).
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
  int max_length = 0;             // Longer tokens (in code points) are dropped; 0: no limit.
  // Clean-up of real-world text before it is split (CleanText, engine/input/text_clean.h): a
  // mail/news header block but its Subject, quoted-reply lines, base64/uuencoded blocks, HTML/XML
  // tags and entities. Off here (the engine's texts are clean corpora); the service's TextOptions
  // turn them on by default.
  bool strip_headers = false;
  bool strip_quoted = false;
  bool strip_encoded = false;
  bool strip_markup = false;

  bool cleans() const { return strip_headers || strip_quoted || strip_encoded || strip_markup; }
};

// Validates `text` as strict UTF-8 (no overlong forms, surrogates, code points > U+10FFFF or
// truncated sequences), cleans it (the strip_* options), lower-cases it, splits it on every
// character that is not a letter (letters: Latin incl. Latin-1 and Extended-A/B, Greek,
// Cyrillic; digits and everything else separate tokens), then drops short and long tokens and
// stop words.
[[nodiscard]] absl::StatusOr<std::vector<std::string>> Tokenize(absl::string_view text,
                                                                const TokenizerOptions& options);

// The options that count a text against an existing vocabulary: `options`' clean-up, but every
// token kept (no length or stop-word filter). A learned vocabulary holds only tokens that passed
// its filters, so counting with or without them is the same; a supplied vocabulary may hold any
// word, and every token found in it counts.
TokenizerOptions CountingOptions(const TokenizerOptions& options);

// A client-supplied vocabulary word, normalised as the tokenizer normalises (lower case).
// InvalidArgument if it is empty, longer than 256 bytes, not valid UTF-8, contains a control
// character (tab, CR, LF, ...) or starts or ends with a space.
[[nodiscard]] absl::StatusOr<std::string> NormalizeVocabularyWord(absl::string_view word);

// OK if `text` is valid UTF-8, else InvalidArgument naming the offending byte offset.
[[nodiscard]] absl::Status ValidateUtf8(absl::string_view text);

// The built-in English stop-word list (lower case).
bool IsEnglishStopWord(absl::string_view word);

struct VocabularyOptions {
  int max_words = 2000;  // V, as in Hinton & Salakhutdinov 2006.
  TokenizerOptions tokenizer;
};

enum class VocabularyKind : uint8_t {
  kLearned = 0,   // The corpus' most frequent tokens (Build, VocabularyBuilder).
  kSupplied = 1,  // The client's words, in the client's order (FromWords).
  kIdOnly = 2,    // Ids 0..V-1 without words (IdOnly): word(id) is "" and IdOf never matches.
};

// Word id i <-> the i-th word. A learned vocabulary holds the V words of highest document
// frequency in a training corpus; ties are broken by the word's bytes (ascending), so a corpus
// always gives the same vocabulary. Keeps each word's document frequency and the corpus size for
// tf-idf (for a supplied or id-only vocabulary, as counted by WithDocumentFrequencies; 0 until
// then).
class Vocabulary {
 public:
  Vocabulary() = default;

  // InvalidArgument if max_words < 1, a text is not valid UTF-8 (naming the document), or no
  // document has any counted word.
  [[nodiscard]] static absl::StatusOr<Vocabulary> Build(const std::vector<std::string>& texts,
                                                        const VocabularyOptions& options);
  // The client's words (word i has id i), each normalised by NormalizeVocabularyWord.
  // InvalidArgument naming the first bad word ("word 17: ...") or the first duplicate after
  // normalisation, or for an empty list. `tokenizer` is how texts are split to be counted.
  [[nodiscard]] static absl::StatusOr<Vocabulary> FromWords(const std::vector<std::string>& words,
                                                            const TokenizerOptions& tokenizer);
  // `size` ids (1..2^22) without words. InvalidArgument otherwise.
  [[nodiscard]] static absl::StatusOr<Vocabulary> IdOnly(int size,
                                                         const TokenizerOptions& tokenizer);
  // A copy with these document frequencies (one per word, each in [0, documents]) and corpus
  // size; InvalidArgument otherwise. For supplied and id-only vocabularies (a learned one has
  // its own).
  [[nodiscard]] absl::StatusOr<Vocabulary> WithDocumentFrequencies(
      std::vector<int64_t> document_frequency, int64_t documents) const;

  // A self-describing byte string (magic, version, tokenizer options, kind, corpus size, words
  // with document frequencies, CRC-32). Deserialize validates everything (InvalidArgument
  // otherwise) and still reads version 1 (learned vocabularies written before the kinds and the
  // clean-up options existed: no clean-up, no maximum token length).
  std::string Serialize() const;
  [[nodiscard]] static absl::StatusOr<Vocabulary> Deserialize(absl::string_view bytes);

  int size() const { return static_cast<int>(words_.size()); }
  VocabularyKind kind() const { return kind_; }
  bool has_words() const { return kind_ != VocabularyKind::kIdOnly; }
  const std::string& word(int id) const { return words_[id]; }
  // The id of `word` (already normalised: lower case), or -1.
  int IdOf(absl::string_view word) const;
  int64_t document_frequency(int id) const { return document_frequency_[id]; }
  int64_t document_count() const { return document_count_; }
  // Smoothed inverse document frequency: ln((1 + N) / (1 + df)) + 1.
  double idf(int id) const;
  const TokenizerOptions& tokenizer() const { return tokenizer_; }

 private:
  friend class VocabularyBuilder;
  absl::Status Index();  // Fills ids_; InvalidArgument on duplicate words.

  TokenizerOptions tokenizer_;
  VocabularyKind kind_ = VocabularyKind::kLearned;
  int64_t document_count_ = 0;
  std::vector<std::string> words_;
  std::vector<int64_t> document_frequency_;
  std::unordered_map<std::string, int> ids_;
};

// Learns a vocabulary one document at a time (Vocabulary::Build is this over texts). Documents
// may be raw texts (tokenised with options.tokenizer) or client-tokenised words (each normalised
// as CountWordStrings does, then filtered like a token: length and stop words). Not thread-safe.
class VocabularyBuilder {
 public:
  explicit VocabularyBuilder(const VocabularyOptions& options);
  // InvalidArgument for invalid UTF-8.
  [[nodiscard]] absl::Status AddText(absl::string_view text);
  // Words that are not one token (empty, several tokens) are ignored; InvalidArgument for
  // invalid UTF-8.
  [[nodiscard]] absl::Status AddWords(const std::vector<std::string>& words);
  int64_t documents() const { return documents_; }
  // InvalidArgument if max_words < 1 or no document had a counted word; ResourceExhausted if out
  // of memory.
  [[nodiscard]] absl::StatusOr<Vocabulary> Finish() const;

 private:
  void AddUnique(std::vector<std::string>* tokens);

  VocabularyOptions options_;
  int64_t documents_ = 0;
  std::unordered_map<std::string, int64_t> df_;
};

// Sparse word counts or weights: ids strictly increasing, values > 0.
struct SparseVector {
  std::vector<int32_t> ids;
  std::vector<float> values;
};

// Counts the vocabulary words of a raw text, tokenised with CountingOptions(vocab.tokenizer())
// (words outside the vocabulary are ignored).
// InvalidArgument for invalid UTF-8 or when no vocabulary word occurs (empty document).
[[nodiscard]] absl::StatusOr<SparseVector> CountWords(const Vocabulary& vocab,
                                                      absl::string_view text);
// Client-tokenised input: word ids with counts (same length; duplicates are summed).
// InvalidArgument for an id outside [0, V) ("unknown word id"), a count < 1, mismatched lengths
// or no words.
[[nodiscard]] absl::StatusOr<SparseVector> CountWordIds(const Vocabulary& vocab,
                                                        const std::vector<int64_t>& ids,
                                                        const std::vector<int64_t>& counts);
// Client-tokenised input: words with counts. Words are validated as UTF-8 and lower-cased (a
// word matches a vocabulary word equal to it in lower case, or else the one token it splits
// into); words outside the vocabulary are ignored; InvalidArgument if none is in it, for a count
// < 1 or mismatched lengths.
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
