// Text corpora as clients have them on disk: transcoding single-byte encodings to UTF-8, a
// vocabulary file (one word per line), and bag-of-words files of "doc word count" triplets (the
// format of the UCI bag-of-words sets and of the 20 Newsgroups data of Hinton & Salakhutdinov).
// Used by the CLI (datasets upload, items upsert, collections create) and its tests.
//
// Errors: InvalidArgument naming the line or byte offset; NotFound for a file that cannot be
// read. Thread safety: pure functions.
#ifndef BOTTLENECK_CLIENT_LIB_TEXT_FILES_H_
#define BOTTLENECK_CLIENT_LIB_TEXT_FILES_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace bn {

enum class TextEncoding {
  kUtf8,
  kLatin1,  // ISO-8859-1: byte b is code point b.
  kCp1252,  // Windows-1252: Latin-1 but for 0x80-0x9F (euro sign, curly quotes, dashes, ...).
};

// "utf-8", "utf8", "latin-1", "latin1", "iso-8859-1", "cp1252", "windows-1252" (any case);
// false for anything else.
bool ParseTextEncoding(absl::string_view name, TextEncoding* encoding);

// `bytes` in `encoding` as UTF-8. UTF-8 input is validated (InvalidArgument with the offset of
// the first bad byte); the single-byte encodings decode every byte (cp1252's five unassigned
// bytes 0x81, 0x8D, 0x8F, 0x90, 0x9D become the C1 controls U+0081... as browsers do).
[[nodiscard]] absl::StatusOr<std::string> ToUtf8(absl::string_view bytes, TextEncoding encoding);

// The lines of a vocabulary file (line i + 1 is the word of id i), transcoded, without their
// line ends ("\n" or "\r\n"). A final line end adds no empty word.
[[nodiscard]] absl::StatusOr<std::vector<std::string>> ReadVocabularyFile(const std::string& path,
                                                                          TextEncoding encoding);

// One document of a bag-of-words file.
struct BowDocument {
  int64_t index = 0;          // The document number, 0-based.
  std::vector<uint32_t> ids;  // Increasing 0-based word ids ...
  std::vector<float> counts;  // ... with their counts (summed over repeated triplets).
};

// Reads "doc word count" lines (whitespace-separated; doc and word numbered from `base`, 0 or
// 1; count > 0). Blank lines and lines starting with '#' are skipped, as are leading lines with
// fewer than three fields (the UCI header: documents, words, non-zeros). Documents come out in
// document order, those without a triplet left out; at most `limit` (0: all).
[[nodiscard]] absl::StatusOr<std::vector<BowDocument>> ReadBowFile(const std::string& path,
                                                                   int base, int64_t limit);

// A labels file for a bag-of-words file: line i + 1 is the label of document i (e.g. 20
// Newsgroups' train.label), transcoded.
[[nodiscard]] absl::StatusOr<std::vector<std::string>> ReadLabelFile(const std::string& path,
                                                                     TextEncoding encoding);

}  // namespace bn

#endif  // BOTTLENECK_CLIENT_LIB_TEXT_FILES_H_
