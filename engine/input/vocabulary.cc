// The vocabulary, bag-of-words counting and the document representations.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <new>

#include "engine/input/text.h"
#include "engine/util/bytes.h"

namespace bn {
namespace {

constexpr char kMagic[8] = {'B', 'N', 'V', 'O', 'C', 'A', 'B', '\0'};
// Version 1: learned vocabularies with min_length and the stop-word flag only. Version 2 adds
// the maximum token length, the clean-up flags and the kind.
constexpr uint32_t kVersion = 2;
constexpr uint64_t kMaxWords = uint64_t{1} << 22;
constexpr uint64_t kMaxDocuments = uint64_t{1} << 40;

// Clean-up flags in the serialization.
constexpr uint8_t kStripHeaders = 1, kStripQuoted = 2, kStripEncoded = 4, kStripMarkup = 8;

int CodePoints(absl::string_view s) {
  int n = 0;
  for (char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

// A client-tokenised word as one token of the vocabulary's alphabet (lower case), or "" if it is
// not exactly one token. InvalidArgument for invalid UTF-8.
absl::StatusOr<std::string> WordToken(absl::string_view word) {
  TokenizerOptions keep_all;
  keep_all.min_length = 1;
  keep_all.remove_stop_words = false;
  absl::StatusOr<std::vector<std::string>> tokens = Tokenize(word, keep_all);
  if (!tokens.ok()) return tokens.status();
  return tokens->size() == 1 ? (*tokens)[0] : std::string();
}

absl::StatusOr<SparseVector> FromMap(const std::map<int32_t, double>& counts) {
  if (counts.empty()) {
    return absl::InvalidArgumentError("empty document: no word of the vocabulary");
  }
  SparseVector v;
  v.ids.reserve(counts.size());
  v.values.reserve(counts.size());
  for (const auto& [id, c] : counts) {
    v.ids.push_back(id);
    v.values.push_back(static_cast<float>(c));
  }
  return v;
}

absl::Status CheckCounts(size_t items, const std::vector<int64_t>& counts) {
  if (items != counts.size()) {
    return absl::InvalidArgumentError("bag of words: " + std::to_string(items) + " words but " +
                                      std::to_string(counts.size()) + " counts");
  }
  for (size_t i = 0; i < counts.size(); ++i) {
    if (counts[i] < 1 || counts[i] > (int64_t{1} << 24)) {
      return absl::InvalidArgumentError("bag of words: count " + std::to_string(counts[i]) +
                                        " at position " + std::to_string(i) +
                                        " must be in [1, 2^24]");
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status Vocabulary::Index() {
  ids_.clear();
  ids_.reserve(words_.size());
  for (size_t i = 0; i < words_.size(); ++i) {
    if (!ids_.emplace(words_[i], static_cast<int>(i)).second) {
      return absl::InvalidArgumentError("vocabulary: duplicate word \"" + words_[i] + "\"");
    }
  }
  return absl::OkStatus();
}

VocabularyBuilder::VocabularyBuilder(const VocabularyOptions& options) : options_(options) {}

void VocabularyBuilder::AddUnique(std::vector<std::string>* tokens) {
  std::sort(tokens->begin(), tokens->end());
  tokens->erase(std::unique(tokens->begin(), tokens->end()), tokens->end());
  for (std::string& w : *tokens) ++df_[std::move(w)];
  ++documents_;
}

absl::Status VocabularyBuilder::AddText(absl::string_view text) {
  try {
    absl::StatusOr<std::vector<std::string>> tokens = Tokenize(text, options_.tokenizer);
    if (!tokens.ok()) return tokens.status();
    AddUnique(&*tokens);
    return absl::OkStatus();
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError("vocabulary: out of memory");
  }
}

absl::Status VocabularyBuilder::AddWords(const std::vector<std::string>& words) {
  try {
    const TokenizerOptions& t = options_.tokenizer;
    std::vector<std::string> tokens;
    for (size_t i = 0; i < words.size(); ++i) {
      absl::StatusOr<std::string> token = WordToken(words[i]);
      if (!token.ok()) {
        return absl::InvalidArgumentError("word " + std::to_string(i) + ": " +
                                          std::string(token.status().message()));
      }
      const int length = CodePoints(*token);
      if (token->empty() || length < t.min_length || (t.max_length > 0 && length > t.max_length) ||
          (t.remove_stop_words && IsEnglishStopWord(*token))) {
        continue;
      }
      tokens.push_back(std::move(*token));
    }
    AddUnique(&tokens);
    return absl::OkStatus();
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError("vocabulary: out of memory");
  }
}

absl::StatusOr<Vocabulary> VocabularyBuilder::Finish() const {
  if (options_.max_words < 1) return absl::InvalidArgumentError("vocabulary: max_words < 1");
  try {
    if (df_.empty()) return absl::InvalidArgumentError("vocabulary: the corpus has no words");
    std::vector<std::pair<std::string, int64_t>> ranked(df_.begin(), df_.end());
    const size_t keep = std::min(ranked.size(), static_cast<size_t>(options_.max_words));
    auto order = [](const auto& a, const auto& b) {
      return a.second != b.second ? a.second > b.second : a.first < b.first;
    };
    std::partial_sort(ranked.begin(), ranked.begin() + keep, ranked.end(), order);
    Vocabulary v;
    v.tokenizer_ = options_.tokenizer;
    v.kind_ = VocabularyKind::kLearned;
    v.document_count_ = documents_;
    for (size_t i = 0; i < keep; ++i) {
      v.words_.push_back(ranked[i].first);
      v.document_frequency_.push_back(ranked[i].second);
    }
    if (absl::Status s = v.Index(); !s.ok()) return s;
    return v;
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError("vocabulary: out of memory");
  }
}

absl::StatusOr<Vocabulary> Vocabulary::Build(const std::vector<std::string>& texts,
                                             const VocabularyOptions& options) {
  if (options.max_words < 1) return absl::InvalidArgumentError("vocabulary: max_words < 1");
  VocabularyBuilder builder(options);
  for (size_t d = 0; d < texts.size(); ++d) {
    if (absl::Status s = builder.AddText(texts[d]); !s.ok()) {
      if (s.code() != absl::StatusCode::kInvalidArgument) return s;
      return absl::InvalidArgumentError("document " + std::to_string(d) + ": " +
                                        std::string(s.message()));
    }
  }
  return builder.Finish();
}

absl::StatusOr<Vocabulary> Vocabulary::FromWords(const std::vector<std::string>& words,
                                                 const TokenizerOptions& tokenizer) {
  if (words.empty()) return absl::InvalidArgumentError("vocabulary: no words");
  if (words.size() > kMaxWords) return absl::InvalidArgumentError("vocabulary: too many words");
  try {
    Vocabulary v;
    v.tokenizer_ = tokenizer;
    v.kind_ = VocabularyKind::kSupplied;
    v.words_.reserve(words.size());
    v.ids_.reserve(words.size());
    for (size_t i = 0; i < words.size(); ++i) {
      absl::StatusOr<std::string> word = NormalizeVocabularyWord(words[i]);
      if (!word.ok()) {
        return absl::InvalidArgumentError("word " + std::to_string(i) + " " +
                                          std::string(word.status().message()));
      }
      auto [it, inserted] = v.ids_.emplace(*word, static_cast<int>(i));
      if (!inserted) {
        return absl::InvalidArgumentError("word " + std::to_string(i) + " (\"" + *word +
                                          "\") repeats word " + std::to_string(it->second) +
                                          " after lower-casing");
      }
      v.words_.push_back(std::move(*word));
    }
    v.document_frequency_.assign(words.size(), 0);
    return v;
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError("vocabulary: out of memory");
  }
}

absl::StatusOr<Vocabulary> Vocabulary::IdOnly(int size, const TokenizerOptions& tokenizer) {
  if (size < 1 || static_cast<uint64_t>(size) > kMaxWords) {
    return absl::InvalidArgumentError("vocabulary: size must be in 1..2^22");
  }
  Vocabulary v;
  v.tokenizer_ = tokenizer;
  v.kind_ = VocabularyKind::kIdOnly;
  v.words_.assign(static_cast<size_t>(size), std::string());
  v.document_frequency_.assign(static_cast<size_t>(size), 0);
  return v;
}

absl::StatusOr<Vocabulary> Vocabulary::WithDocumentFrequencies(
    std::vector<int64_t> document_frequency, int64_t documents) const {
  if (document_frequency.size() != words_.size() || documents < 0 ||
      static_cast<uint64_t>(documents) > kMaxDocuments) {
    return absl::InvalidArgumentError("vocabulary: one document frequency per word expected");
  }
  for (int64_t df : document_frequency) {
    if (df < 0 || df > documents) {
      return absl::InvalidArgumentError("vocabulary: document frequencies must be in [0, N]");
    }
  }
  Vocabulary v = *this;
  v.document_frequency_ = std::move(document_frequency);
  v.document_count_ = documents;
  return v;
}

int Vocabulary::IdOf(absl::string_view word) const {
  if (kind_ == VocabularyKind::kIdOnly) return -1;
  auto it = ids_.find(std::string(word));
  return it == ids_.end() ? -1 : it->second;
}

double Vocabulary::idf(int id) const {
  return std::log((1.0 + document_count_) / (1.0 + document_frequency_[id])) + 1.0;
}

std::string Vocabulary::Serialize() const {
  std::string out;
  ByteWriter w(&out);
  w.Raw(kMagic, sizeof(kMagic));
  w.U32(kVersion);
  w.U32(static_cast<uint32_t>(tokenizer_.min_length));
  w.U8(tokenizer_.remove_stop_words ? 1 : 0);
  w.U32(static_cast<uint32_t>(std::max(0, tokenizer_.max_length)));
  w.U8((tokenizer_.strip_headers ? kStripHeaders : 0) |
       (tokenizer_.strip_quoted ? kStripQuoted : 0) |
       (tokenizer_.strip_encoded ? kStripEncoded : 0) |
       (tokenizer_.strip_markup ? kStripMarkup : 0));
  w.U8(static_cast<uint8_t>(kind_));
  w.U64(static_cast<uint64_t>(document_count_));
  w.U64(words_.size());
  for (size_t i = 0; i < words_.size(); ++i) {
    w.Str(words_[i]);
    w.U64(static_cast<uint64_t>(document_frequency_[i]));
  }
  w.U32(Crc32(out));
  return out;
}

absl::StatusOr<Vocabulary> Vocabulary::Deserialize(absl::string_view bytes) {
  auto bad = [](const std::string& why) {
    return absl::InvalidArgumentError("vocabulary bytes invalid: " + why);
  };
  if (bytes.size() < sizeof(kMagic) + 4) return bad("truncated");
  uint32_t stored_crc = 0;
  std::memcpy(&stored_crc, bytes.data() + bytes.size() - 4, 4);
  if (std::memcmp(bytes.data(), kMagic, sizeof(kMagic)) != 0) return bad("bad magic");
  if (Crc32(bytes.substr(0, bytes.size() - 4)) != stored_crc) return bad("checksum mismatch");
  ByteReader r(bytes.substr(sizeof(kMagic), bytes.size() - sizeof(kMagic) - 4));
  uint32_t version = 0, min_length = 0, max_length = 0;
  uint8_t stop = 0, clean = 0, kind = 0;
  uint64_t docs = 0, count = 0;
  if (!r.U32(&version) || !r.U32(&min_length) || !r.U8(&stop)) return bad("truncated header");
  if (version != 1 && version != kVersion) {
    return bad("unsupported version " + std::to_string(version));
  }
  if (version >= 2 && (!r.U32(&max_length) || !r.U8(&clean) || !r.U8(&kind))) {
    return bad("truncated header");
  }
  if (!r.U64(&docs) || !r.U64(&count)) return bad("truncated header");
  if (min_length > 1000 || stop > 1 || max_length > 1000 || clean > 15) {
    return bad("tokenizer options");
  }
  if (kind > static_cast<uint8_t>(VocabularyKind::kIdOnly)) return bad("unknown kind");
  const auto vocabulary_kind = static_cast<VocabularyKind>(kind);
  const bool learned = vocabulary_kind == VocabularyKind::kLearned;
  if (count < 1 || count > kMaxWords || docs > kMaxDocuments || (learned && docs < 1)) {
    return bad("sizes");
  }
  try {
    Vocabulary v;
    v.kind_ = vocabulary_kind;
    v.tokenizer_.min_length = static_cast<int>(min_length);
    v.tokenizer_.remove_stop_words = stop == 1;
    v.tokenizer_.max_length = static_cast<int>(max_length);
    v.tokenizer_.strip_headers = (clean & kStripHeaders) != 0;
    v.tokenizer_.strip_quoted = (clean & kStripQuoted) != 0;
    v.tokenizer_.strip_encoded = (clean & kStripEncoded) != 0;
    v.tokenizer_.strip_markup = (clean & kStripMarkup) != 0;
    v.document_count_ = static_cast<int64_t>(docs);
    for (uint64_t i = 0; i < count; ++i) {
      std::string word;
      uint64_t df = 0;
      if (!r.Str(&word) || !r.U64(&df)) return bad("truncated word list");
      if (df > docs || (learned && df < 1)) {
        return bad("document frequency of word " + std::to_string(i));
      }
      switch (vocabulary_kind) {
        case VocabularyKind::kLearned: {
          // Each word must be exactly what the tokenizer produces for it, in vocabulary order.
          absl::StatusOr<std::vector<std::string>> tokens = Tokenize(word, v.tokenizer_);
          if (!tokens.ok() || tokens->size() != 1 || (*tokens)[0] != word) {
            return bad("word " + std::to_string(i) + " is not a token");
          }
          if (i > 0) {
            const int64_t prev = v.document_frequency_.back();
            const int64_t cur = static_cast<int64_t>(df);
            if (cur > prev || (cur == prev && !(v.words_.back() < word))) {
              return bad("words are not in vocabulary order");
            }
          }
          break;
        }
        case VocabularyKind::kSupplied: {
          absl::StatusOr<std::string> normalized = NormalizeVocabularyWord(word);
          if (!normalized.ok() || *normalized != word) {
            return bad("word " + std::to_string(i) + " is not a normalised word");
          }
          break;
        }
        case VocabularyKind::kIdOnly:
          if (!word.empty()) return bad("an id-only vocabulary has a word");
          break;
      }
      v.words_.push_back(std::move(word));
      v.document_frequency_.push_back(static_cast<int64_t>(df));
    }
    if (!r.at_end()) return bad("trailing bytes");
    if (vocabulary_kind != VocabularyKind::kIdOnly) {
      if (absl::Status s = v.Index(); !s.ok()) return s;
    }
    return v;
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError("vocabulary: out of memory");
  }
}

absl::StatusOr<SparseVector> CountWords(const Vocabulary& vocab, absl::string_view text) {
  absl::StatusOr<std::vector<std::string>> tokens =
      Tokenize(text, CountingOptions(vocab.tokenizer()));
  if (!tokens.ok()) return tokens.status();
  std::map<int32_t, double> counts;
  for (const std::string& t : *tokens) {
    const int id = vocab.IdOf(t);
    if (id >= 0) counts[id] += 1;
  }
  return FromMap(counts);
}

absl::StatusOr<SparseVector> CountWordIds(const Vocabulary& vocab, const std::vector<int64_t>& ids,
                                          const std::vector<int64_t>& counts) {
  if (absl::Status s = CheckCounts(ids.size(), counts); !s.ok()) return s;
  std::map<int32_t, double> merged;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] < 0 || ids[i] >= vocab.size()) {
      return absl::InvalidArgumentError("unknown word id " + std::to_string(ids[i]) +
                                        " (vocabulary has " + std::to_string(vocab.size()) +
                                        " words)");
    }
    merged[static_cast<int32_t>(ids[i])] += static_cast<double>(counts[i]);
  }
  return FromMap(merged);
}

absl::StatusOr<SparseVector> CountWordStrings(const Vocabulary& vocab,
                                              const std::vector<std::string>& words,
                                              const std::vector<int64_t>& counts) {
  if (absl::Status s = CheckCounts(words.size(), counts); !s.ok()) return s;
  std::map<int32_t, double> merged;
  for (size_t i = 0; i < words.size(); ++i) {
    // The word in lower case (a supplied vocabulary may hold any word), or else the one token
    // it splits into (" Oil," is "oil"); a word of several tokens is no vocabulary word.
    absl::StatusOr<std::string> token = WordToken(words[i]);
    if (!token.ok()) {
      return absl::InvalidArgumentError("word " + std::to_string(i) + ": " +
                                        std::string(token.status().message()));
    }
    int id = -1;
    if (absl::StatusOr<std::string> lower = NormalizeVocabularyWord(words[i]); lower.ok()) {
      id = vocab.IdOf(*lower);
    }
    if (id < 0 && !token->empty()) id = vocab.IdOf(*token);
    if (id >= 0) merged[id] += static_cast<double>(counts[i]);
  }
  return FromMap(merged);
}

absl::StatusOr<SparseVector> Represent(const Vocabulary& vocab, const SparseVector& counts,
                                       DocumentRepresentation representation) {
  if (counts.ids.empty()) {
    return absl::InvalidArgumentError("empty document: no word of the vocabulary");
  }
  if (counts.ids.size() != counts.values.size()) {
    return absl::InvalidArgumentError("sparse vector: ids and values differ in length");
  }
  double total = 0;
  for (size_t i = 0; i < counts.ids.size(); ++i) {
    if (counts.ids[i] < 0 || counts.ids[i] >= vocab.size() ||
        (i > 0 && counts.ids[i] <= counts.ids[i - 1])) {
      return absl::InvalidArgumentError("sparse vector: ids must be increasing and in range");
    }
    if (!(counts.values[i] > 0) || !std::isfinite(counts.values[i])) {
      return absl::InvalidArgumentError("sparse vector: counts must be positive and finite");
    }
    total += counts.values[i];
  }
  SparseVector out = counts;
  switch (representation) {
    case DocumentRepresentation::kNormalizedCounts:
      for (float& v : out.values) v = static_cast<float>(v / total);
      break;
    case DocumentRepresentation::kLogTf:
      for (float& v : out.values) v = static_cast<float>(std::log1p(double{v}));
      break;
    case DocumentRepresentation::kTfIdf: {
      double norm = 0;
      std::vector<double> w(out.values.size());
      for (size_t i = 0; i < w.size(); ++i) {
        w[i] = out.values[i] * vocab.idf(out.ids[i]);
        norm += w[i] * w[i];
      }
      norm = std::sqrt(norm);
      for (size_t i = 0; i < w.size(); ++i) out.values[i] = static_cast<float>(w[i] / norm);
      break;
    }
  }
  return out;
}

absl::StatusOr<std::vector<float>> Densify(const Vocabulary& vocab, const SparseVector& v) {
  if (v.ids.size() != v.values.size()) {
    return absl::InvalidArgumentError("sparse vector: ids and values differ in length");
  }
  std::vector<float> out(static_cast<size_t>(vocab.size()), 0.0f);
  for (size_t i = 0; i < v.ids.size(); ++i) {
    if (v.ids[i] < 0 || v.ids[i] >= vocab.size()) {
      return absl::InvalidArgumentError("unknown word id " + std::to_string(v.ids[i]));
    }
    out[v.ids[i]] += v.values[i];
  }
  return out;
}

namespace {
absl::StatusOr<std::vector<float>> ToInput(const Vocabulary& vocab,
                                           absl::StatusOr<SparseVector> counts,
                                           DocumentRepresentation representation) {
  if (!counts.ok()) return counts.status();
  absl::StatusOr<SparseVector> rep = Represent(vocab, *counts, representation);
  if (!rep.ok()) return rep.status();
  return Densify(vocab, *rep);
}
}  // namespace

absl::StatusOr<std::vector<float>> TextToInput(const Vocabulary& vocab, absl::string_view text,
                                               DocumentRepresentation representation) {
  return ToInput(vocab, CountWords(vocab, text), representation);
}

absl::StatusOr<std::vector<float>> WordIdsToInput(const Vocabulary& vocab,
                                                  const std::vector<int64_t>& ids,
                                                  const std::vector<int64_t>& counts,
                                                  DocumentRepresentation representation) {
  return ToInput(vocab, CountWordIds(vocab, ids, counts), representation);
}

absl::StatusOr<std::vector<float>> WordStringsToInput(const Vocabulary& vocab,
                                                      const std::vector<std::string>& words,
                                                      const std::vector<int64_t>& counts,
                                                      DocumentRepresentation representation) {
  return ToInput(vocab, CountWordStrings(vocab, words, counts), representation);
}

absl::StatusOr<FloatMatrix> TextsToMatrix(const Vocabulary& vocab,
                                          const std::vector<std::string>& texts,
                                          DocumentRepresentation representation,
                                          std::vector<int64_t>* kept) {
  try {
    std::vector<SparseVector> rows;
    std::vector<int64_t> indices;
    for (size_t d = 0; d < texts.size(); ++d) {
      if (absl::Status s = ValidateUtf8(texts[d]); !s.ok()) {
        return absl::InvalidArgumentError("document " + std::to_string(d) + ": " +
                                          std::string(s.message()));
      }
      absl::StatusOr<SparseVector> counts = CountWords(vocab, texts[d]);
      if (!counts.ok()) continue;  // Empty document.
      absl::StatusOr<SparseVector> rep = Represent(vocab, *counts, representation);
      if (!rep.ok()) return rep.status();
      rows.push_back(std::move(*rep));
      indices.push_back(static_cast<int64_t>(d));
    }
    FloatMatrix m(static_cast<int64_t>(rows.size()), vocab.size());
    for (size_t r = 0; r < rows.size(); ++r) {
      for (size_t i = 0; i < rows[r].ids.size(); ++i) {
        m.at(static_cast<int64_t>(r), rows[r].ids[i]) = rows[r].values[i];
      }
    }
    if (kept != nullptr) *kept = std::move(indices);
    return m;
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError("TextsToMatrix: out of memory");
  }
}

}  // namespace bn
