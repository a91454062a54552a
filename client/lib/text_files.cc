#include "client/lib/text_files.h"

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>

#include "engine/input/text.h"
#include "engine/util/utf8.h"

namespace bn {
namespace {

// Windows-1252 0x80..0x9F (WHATWG encoding standard; unassigned bytes map to C1 controls).
constexpr char32_t kCp1252High[32] = {
    0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
    0x2039, 0x0152, 0x008D, 0x017D, 0x008F, 0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
    0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178};

absl::StatusOr<std::string> ReadWhole(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError("cannot read " + path);
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

// The lines of `text` without "\n" / "\r\n"; a final line end adds no empty line.
std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(start, end - start);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    lines.push_back(std::move(line));
    start = end + 1;
  }
  return lines;
}

absl::StatusOr<std::vector<std::string>> ReadLines(const std::string& path, TextEncoding encoding) {
  auto bytes = ReadWhole(path);
  if (!bytes.ok()) return bytes.status();
  std::vector<std::string> lines = Lines(*bytes);
  for (size_t i = 0; i < lines.size(); ++i) {
    auto utf8 = ToUtf8(lines[i], encoding);
    if (!utf8.ok()) {
      return absl::InvalidArgumentError(path + " line " + std::to_string(i + 1) + ": " +
                                        std::string(utf8.status().message()));
    }
    lines[i] = std::move(*utf8);
  }
  return lines;
}

bool ParseInt(const std::string& field, int64_t* out) {
  if (field.empty()) return false;
  errno = 0;
  char* end = nullptr;
  const long long v = std::strtoll(field.c_str(), &end, 10);
  if (errno != 0 || *end != '\0') return false;
  *out = v;
  return true;
}

}  // namespace

bool ParseTextEncoding(absl::string_view name, TextEncoding* encoding) {
  std::string lower(name);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower == "utf-8" || lower == "utf8") {
    *encoding = TextEncoding::kUtf8;
  } else if (lower == "latin-1" || lower == "latin1" || lower == "iso-8859-1" ||
             lower == "iso8859-1") {
    *encoding = TextEncoding::kLatin1;
  } else if (lower == "cp1252" || lower == "windows-1252") {
    *encoding = TextEncoding::kCp1252;
  } else {
    return false;
  }
  return true;
}

absl::StatusOr<std::string> ToUtf8(absl::string_view bytes, TextEncoding encoding) {
  if (encoding == TextEncoding::kUtf8) {
    if (absl::Status s = ValidateUtf8(bytes); !s.ok()) return s;
    return std::string(bytes);
  }
  std::string out;
  out.reserve(bytes.size() + bytes.size() / 4);
  for (char c : bytes) {
    const auto b = static_cast<unsigned char>(c);
    if (b < 0x80) {
      out.push_back(c);
    } else if (encoding == TextEncoding::kCp1252 && b < 0xA0) {
      AppendUtf8(kCp1252High[b - 0x80], &out);
    } else {
      AppendUtf8(b, &out);
    }
  }
  return out;
}

absl::StatusOr<std::vector<std::string>> ReadVocabularyFile(const std::string& path,
                                                            TextEncoding encoding) {
  return ReadLines(path, encoding);
}

absl::StatusOr<std::vector<std::string>> ReadLabelFile(const std::string& path,
                                                       TextEncoding encoding) {
  return ReadLines(path, encoding);
}

absl::StatusOr<std::vector<BowDocument>> ReadBowFile(const std::string& path, int base,
                                                     int64_t limit) {
  if (base != 0 && base != 1) return absl::InvalidArgumentError("the base must be 0 or 1");
  auto bytes = ReadWhole(path);
  if (!bytes.ok()) return bytes.status();
  std::map<int64_t, std::map<uint32_t, float>> documents;
  bool header = true;  // Leading lines of fewer than three fields are a header.
  std::istringstream in(*bytes);
  std::string line;
  int64_t number = 0;
  while (std::getline(in, line)) {
    ++number;
    std::istringstream fields(line);
    std::vector<std::string> f;
    for (std::string field; fields >> field;) f.push_back(field);
    if (f.empty() || f[0][0] == '#') continue;
    if (f.size() < 3 && header) continue;
    header = false;
    const std::string at = path + " line " + std::to_string(number) + ": ";
    int64_t doc = 0, word = 0;
    char* end = nullptr;
    const float count = f.size() == 3 ? std::strtof(f[2].c_str(), &end) : 0.0f;
    if (f.size() != 3 || !ParseInt(f[0], &doc) || !ParseInt(f[1], &word) || *end != '\0') {
      return absl::InvalidArgumentError(at + "expected \"doc word count\"");
    }
    if (doc < base || word < base) {
      return absl::InvalidArgumentError(at + "document and word numbers start at " +
                                        std::to_string(base) +
                                        (base == 1 ? " (use --bow-base 0 for 0-based files)" : ""));
    }
    if (word - base > 0xFFFFFFFFll) return absl::InvalidArgumentError(at + "word id too large");
    if (!(count > 0) || count > 1e9f) {
      return absl::InvalidArgumentError(at + "the count must be > 0");
    }
    documents[doc - base][static_cast<uint32_t>(word - base)] += count;
  }
  std::vector<BowDocument> out;
  for (const auto& [index, words] : documents) {
    if (limit > 0 && static_cast<int64_t>(out.size()) >= limit) break;
    BowDocument d;
    d.index = index;
    for (const auto& [id, count] : words) {
      d.ids.push_back(id);
      d.counts.push_back(count);
    }
    out.push_back(std::move(d));
  }
  return out;
}

}  // namespace bn
