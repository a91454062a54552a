// UTF-8 validation, the tokenizer and the English stop-word list.
#include "engine/input/text.h"

#include <unordered_set>

#include "engine/input/text_clean.h"
#include "engine/util/utf8.h"

namespace bn {
namespace {

// Decodes one code point at `*pos` (strict UTF-8). False if the sequence is invalid.
bool NextCodePoint(absl::string_view s, size_t* pos, char32_t* cp) {
  const auto byte = [&](size_t i) { return static_cast<unsigned char>(s[i]); };
  const size_t i = *pos;
  const unsigned char b0 = byte(i);
  if (b0 < 0x80) {
    *cp = b0;
    *pos = i + 1;
    return true;
  }
  int len = 0;
  char32_t min = 0;
  if ((b0 & 0xE0) == 0xC0) {
    len = 2;
    *cp = b0 & 0x1F;
    min = 0x80;
  } else if ((b0 & 0xF0) == 0xE0) {
    len = 3;
    *cp = b0 & 0x0F;
    min = 0x800;
  } else if ((b0 & 0xF8) == 0xF0) {
    len = 4;
    *cp = b0 & 0x07;
    min = 0x10000;
  } else {
    return false;  // Continuation byte or 0xF8..0xFF.
  }
  if (i + len > s.size()) return false;
  for (int k = 1; k < len; ++k) {
    const unsigned char b = byte(i + k);
    if ((b & 0xC0) != 0x80) return false;
    *cp = (*cp << 6) | (b & 0x3F);
  }
  if (*cp < min || *cp > 0x10FFFF || (*cp >= 0xD800 && *cp <= 0xDFFF)) return false;
  *pos = i + len;
  return true;
}

bool IsLetter(char32_t c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return true;
  if (c == 0xAA || c == 0xB5 || c == 0xBA) return true;
  if (c >= 0xC0 && c <= 0x24F) return c != 0xD7 && c != 0xF7;
  if (c >= 0x370 && c <= 0x3FF) return c != 0x37E && c != 0x387 && c != 0x375;
  if (c >= 0x400 && c <= 0x4FF) return c < 0x482 || c > 0x489;
  return false;
}

char32_t ToLower(char32_t c) {
  if (c >= 'A' && c <= 'Z') return c + 32;
  if (c < 0xC0) return c;
  if (c <= 0xDE) return c == 0xD7 ? c : c + 32;
  if ((c >= 0x100 && c <= 0x137) || (c >= 0x14A && c <= 0x177)) return (c % 2 == 0) ? c + 1 : c;
  if ((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E)) return (c % 2 == 1) ? c + 1 : c;
  if (c == 0x178) return 0xFF;
  if (c >= 0x391 && c <= 0x3A9 && c != 0x3A2) return c + 32;
  if (c >= 0x410 && c <= 0x42F) return c + 32;
  if (c >= 0x400 && c <= 0x40F) return c + 80;
  return c;
}

const std::unordered_set<std::string>& StopWords() {
  // NLTK's English list (without the forms containing apostrophes, which the tokenizer splits)
  // plus a few common function words.
  static const auto* words = new std::unordered_set<std::string>{
      "i",       "me",      "my",      "myself",   "we",         "our",    "ours",    "ourselves",
      "you",     "your",    "yours",   "yourself", "yourselves", "he",     "him",     "his",
      "himself", "she",     "her",     "hers",     "herself",    "it",     "its",     "itself",
      "they",    "them",    "their",   "theirs",   "themselves", "what",   "which",   "who",
      "whom",    "this",    "that",    "these",    "those",      "am",     "is",      "are",
      "was",     "were",    "be",      "been",     "being",      "have",   "has",     "had",
      "having",  "do",      "does",    "did",      "doing",      "a",      "an",      "the",
      "and",     "but",     "if",      "or",       "because",    "as",     "until",   "while",
      "of",      "at",      "by",      "for",      "with",       "about",  "against", "between",
      "into",    "through", "during",  "before",   "after",      "above",  "below",   "to",
      "from",    "up",      "down",    "in",       "out",        "on",     "off",     "over",
      "under",   "again",   "further", "then",     "once",       "here",   "there",   "when",
      "where",   "why",     "how",     "all",      "any",        "both",   "each",    "few",
      "more",    "most",    "other",   "some",     "such",       "no",     "nor",     "not",
      "only",    "own",     "same",    "so",       "than",       "too",    "very",    "s",
      "t",       "can",     "will",    "just",     "don",        "should", "now",     "d",
      "ll",      "m",       "o",       "re",       "ve",         "y",      "ain",     "aren",
      "couldn",  "didn",    "doesn",   "hadn",     "hasn",       "haven",  "isn",     "ma",
      "mightn",  "mustn",   "needn",   "shan",     "shouldn",    "wasn",   "weren",   "won",
      "wouldn",  "would",   "could",   "also",     "may",        "might",  "must",    "shall",
      "upon",    "us",      "yet",     "ever",     "every",      "among",  "within",  "without",
      "whose",   "whether", "though",  "although", "since",      "per",    "via",     "however"};
  return *words;
}

}  // namespace

absl::Status ValidateUtf8(absl::string_view text) {
  size_t pos = 0;
  char32_t cp = 0;
  while (pos < text.size()) {
    if (!NextCodePoint(text, &pos, &cp)) {
      return absl::InvalidArgumentError("invalid UTF-8 at byte offset " + std::to_string(pos));
    }
  }
  return absl::OkStatus();
}

bool IsEnglishStopWord(absl::string_view word) { return StopWords().count(std::string(word)) > 0; }

namespace {

// Splits valid UTF-8 into tokens (the rules of Tokenize).
std::vector<std::string> Split(absl::string_view text, const TokenizerOptions& options) {
  std::vector<std::string> tokens;
  std::string current;
  int length = 0;
  auto flush = [&] {
    if (length >= options.min_length && length > 0 &&
        (options.max_length <= 0 || length <= options.max_length) &&
        !(options.remove_stop_words && IsEnglishStopWord(current))) {
      tokens.push_back(current);
    }
    current.clear();
    length = 0;
  };
  size_t pos = 0;
  char32_t cp = 0;
  while (pos < text.size()) {
    if (!NextCodePoint(text, &pos, &cp)) break;  // Validated by the caller.
    if (IsLetter(cp)) {
      AppendUtf8(ToLower(cp), &current);
      ++length;
    } else if (length > 0) {
      flush();
    }
  }
  if (length > 0) flush();
  return tokens;
}

}  // namespace

absl::StatusOr<std::vector<std::string>> Tokenize(absl::string_view text,
                                                  const TokenizerOptions& options) {
  if (absl::Status s = ValidateUtf8(text); !s.ok()) return s;
  if (options.cleans()) return Split(CleanText(text, options), options);
  return Split(text, options);
}

TokenizerOptions CountingOptions(const TokenizerOptions& options) {
  TokenizerOptions counting = options;
  counting.min_length = 1;
  counting.remove_stop_words = false;
  counting.max_length = 0;
  return counting;
}

absl::StatusOr<std::string> NormalizeVocabularyWord(absl::string_view word) {
  if (word.empty()) return absl::InvalidArgumentError("is empty");
  if (word.size() > 256) return absl::InvalidArgumentError("is longer than 256 bytes");
  if (word.front() == ' ' || word.back() == ' ') {
    return absl::InvalidArgumentError("starts or ends with a space");
  }
  std::string out;
  out.reserve(word.size());
  size_t pos = 0;
  char32_t cp = 0;
  while (pos < word.size()) {
    const size_t start = pos;
    if (!NextCodePoint(word, &pos, &cp)) {
      return absl::InvalidArgumentError("is not valid UTF-8 (byte offset " + std::to_string(start) +
                                        ")");
    }
    if (cp < 0x20 || cp == 0x7F) {
      return absl::InvalidArgumentError("contains a control character (byte offset " +
                                        std::to_string(start) + ")");
    }
    AppendUtf8(ToLower(cp), &out);
  }
  return out;
}

}  // namespace bn
