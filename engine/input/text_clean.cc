// Clean-up of mail, news and HTML before tokenising (see text_clean.h for the rules).
#include "engine/input/text_clean.h"

#include <algorithm>
#include <vector>

#include "engine/util/utf8.h"

namespace bn {
namespace {

bool IsBlank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f'; }
bool IsAsciiLetter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }

std::string LowerAscii(absl::string_view s) {
  std::string out(s);
  for (char& c : out) c = Lower(c);
  return out;
}

absl::string_view Trim(absl::string_view s) {
  while (!s.empty() && IsBlank(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsBlank(s.back())) s.remove_suffix(1);
  return s;
}

// The lines of `s` without their terminators ("\n" or "\r\n").
std::vector<absl::string_view> SplitLines(absl::string_view s) {
  std::vector<absl::string_view> lines;
  size_t start = 0;
  while (start <= s.size()) {
    size_t end = s.find('\n', start);
    if (end == absl::string_view::npos) end = s.size();
    absl::string_view line = s.substr(start, end - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    lines.push_back(line);
    start = end + 1;
  }
  return lines;
}

// ---- Header blocks -----------------------------------------------------------------------

constexpr absl::string_view kMailHeaders[] = {
    "from", "subject", "date", "newsgroups", "message-id", "received", "path", "return-path", "to"};

// The length of the field name of a "Name: value" line (RFC 5322: printable ASCII but ':'), or 0.
size_t FieldNameLength(absl::string_view line) {
  size_t i = 0;
  while (i < line.size() && i < 77 && line[i] > ' ' && line[i] < 127 && line[i] != ':') ++i;
  return i > 0 && i < line.size() && line[i] == ':' ? i : 0;
}

// The boundary parameter of a multipart Content-Type value, or "".
std::string MultipartBoundary(absl::string_view content_type) {
  const std::string lower = LowerAscii(content_type);
  if (lower.compare(0, 10, "multipart/") != 0) return "";
  const size_t at = lower.find("boundary=");
  if (at == std::string::npos) return "";
  absl::string_view value = content_type.substr(at + 9);
  if (!value.empty() && value.front() == '"') {
    value.remove_prefix(1);
    return std::string(value.substr(0, value.find('"')));
  }
  size_t end = 0;
  while (end < value.size() && value[end] != ';' && !IsBlank(value[end])) ++end;
  return std::string(value.substr(0, end));
}

struct HeaderBlock {
  size_t next_line = 0;  // The first line after the blank line that ends the block.
  std::string subject;
  std::string content_type;  // Lower case; "" if none.
  std::string boundary;      // Of a multipart Content-Type.
};

// A header block starting at lines[first]. The message's own block (`top`) may start with an
// mbox "From " line and needs >= 2 fields, one of them a mail header; a MIME part's needs one.
bool ParseHeaderBlock(const std::vector<absl::string_view>& lines, size_t first, bool top,
                      HeaderBlock* out) {
  size_t i = first;
  if (top && i < lines.size() && lines[i].substr(0, 5) == "From ") ++i;
  int fields = 0;
  bool known = false, in_subject = false, in_type = false, have_subject = false;
  std::string content_type;
  for (; i < lines.size(); ++i) {
    const absl::string_view line = lines[i];
    if (Trim(line).empty()) {
      if (fields == 0 || (top && (fields < 2 || !known))) return false;
      out->next_line = i + 1;
      out->boundary = MultipartBoundary(content_type);
      out->content_type = LowerAscii(content_type);
      return true;
    }
    if (line.front() == ' ' || line.front() == '\t') {  // A continuation line.
      if (fields == 0) return false;
      if (in_subject) out->subject.append(" ").append(Trim(line).data(), Trim(line).size());
      if (in_type) content_type.append(" ").append(Trim(line).data(), Trim(line).size());
      continue;
    }
    const size_t name_length = FieldNameLength(line);
    if (name_length == 0) return false;
    ++fields;
    const std::string name = LowerAscii(line.substr(0, name_length));
    known |=
        std::find(std::begin(kMailHeaders), std::end(kMailHeaders), name) != std::end(kMailHeaders);
    const absl::string_view value = Trim(line.substr(name_length + 1));
    in_subject = name == "subject" && !have_subject;
    if (in_subject) {
      out->subject = std::string(value);
      have_subject = true;
    }
    in_type = name == "content-type";
    if (in_type) content_type = std::string(value);
  }
  return false;  // No blank line: not a header block.
}

// A MIME boundary line "--boundary" or a close delimiter "--boundary--" (*close).
bool IsBoundaryLine(absl::string_view line, const std::vector<std::string>& boundaries,
                    bool* close = nullptr) {
  line = Trim(line);
  if (line.substr(0, 2) != "--") return false;
  line.remove_prefix(2);
  for (const std::string& b : boundaries) {
    if (!b.empty() && line.substr(0, b.size()) == b) {
      const absl::string_view rest = line.substr(b.size());
      if (close != nullptr) *close = rest == "--";
      if (rest.empty() || rest == "--") return true;
    }
  }
  return false;
}

// A MIME part that holds no words: a declared type other than text, multipart or message.
bool IsNonTextPart(const HeaderBlock& part) {
  const std::string& type = part.content_type;
  return !type.empty() && type.compare(0, 5, "text/") != 0 &&
         type.compare(0, 10, "multipart/") != 0 && type.compare(0, 8, "message/") != 0;
}

// ---- Quoted and encoded lines ------------------------------------------------------------

bool IsQuoted(absl::string_view line) {
  size_t i = 0;
  while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
  return i < line.size() && line[i] == '>';
}

bool IsBase64Line(absl::string_view line) {
  while (!line.empty() && line.back() == ' ') line.remove_suffix(1);
  if (line.size() < 40) return false;
  size_t padding = 0;
  while (padding < line.size() && line[line.size() - 1 - padding] == '=') ++padding;
  if (padding > 2) return false;
  for (size_t i = 0; i + padding < line.size(); ++i) {
    const char c = line[i];
    if (!IsAsciiLetter(c) && !IsDigit(c) && c != '+' && c != '/') return false;
  }
  return true;
}

// The short last line of a base64 run ("AAAA==").
bool IsBase64Tail(absl::string_view line) {
  while (!line.empty() && (line.back() == ' ' || line.back() == '=')) line.remove_suffix(1);
  return !line.empty() && std::all_of(line.begin(), line.end(), [](char c) {
    return IsAsciiLetter(c) || IsDigit(c) || c == '+' || c == '/';
  });
}

// A full uuencoded line: 'M' (45 bytes) and 60 characters of '!'..'`' that look like encoded
// data: at least 28 distinct characters (random data has about 39; an upper-case table row of
// 61 characters starting with 'M', as Reuters has, about 20).
bool IsUuencodedLine(absl::string_view line) {
  if (line.size() != 61 || line[0] != 'M') return false;
  bool seen[64] = {};
  int distinct = 0;
  for (char c : line) {
    if (c < '!' || c > '`') return false;
    bool& s = seen[c - '!'];
    distinct += !s;
    s = true;
  }
  return distinct >= 28;
}

// "begin 644 name".
bool IsUuencodeBegin(absl::string_view line) {
  if (line.substr(0, 6) != "begin ") return false;
  size_t i = 6, digits = 0;
  while (i < line.size() && line[i] >= '0' && line[i] <= '7') ++i, ++digits;
  return (digits == 3 || digits == 4) && i + 1 < line.size() && line[i] == ' ' &&
         !Trim(line.substr(i + 1)).empty();
}

// ---- Markup ------------------------------------------------------------------------------

constexpr size_t kMaxTag = 2048;  // Longest open or close tag looked for.

struct Tag {
  enum Kind { kOpen, kClose, kOther } kind = kOther;  // kOther: comment, <!...>, <?...?>.
  std::string name;                                   // Lower case; open and close tags.
  bool valued_attribute = false;                      // name=value
  bool self_closing = false;
};

bool IsNameChar(char c) {
  return IsAsciiLetter(c) || IsDigit(c) || c == '-' || c == ':' || c == '_' || c == '.';
}

// s.find(needle, pos) for non-decreasing positions in amortised linear time: a search that
// found nothing (or found `at`) answers every later position up to `at` without searching.
class Finder {
 public:
  Finder(absl::string_view s, absl::string_view needle) : s_(s), needle_(needle) {}
  size_t Find(size_t pos) {
    if (from_ != absl::string_view::npos && pos >= from_ &&
        (at_ == absl::string_view::npos || pos <= at_)) {
      return at_;
    }
    from_ = pos;
    at_ = s_.find(needle_, pos);
    return at_;
  }

 private:
  absl::string_view s_, needle_;
  size_t from_ = absl::string_view::npos, at_ = absl::string_view::npos;
};

class MarkupScanner {
 public:
  explicit MarkupScanner(absl::string_view s)
      : s_(s), comment_end_(s, "-->"), instruction_end_(s, "?>"), declaration_end_(s, ">") {}

  // A tag starting at s[i] == '<': the index after its end, or 0 if it is no tag.
  size_t ParseTag(size_t i, Tag* tag) {
    *tag = Tag();
    const absl::string_view head = s_.substr(i, 3);
    if (s_.substr(i, 4) == "<!--") return After(comment_end_.Find(i + 4), 3);
    if (head.substr(0, 2) == "<?") return After(instruction_end_.Find(i + 2), 2);
    if (head.size() == 3 && head[1] == '!' && (IsAsciiLetter(head[2]) || head[2] == '[')) {
      return After(declaration_end_.Find(i + 2), 1);
    }
    return ParseElementTag(i, tag);
  }

 private:
  static size_t After(size_t at, size_t length) {
    return at == absl::string_view::npos ? 0 : at + length;
  }

  size_t ParseElementTag(size_t i, Tag* tag) const {
    const absl::string_view rest = s_.substr(i, kMaxTag);
    size_t j = 1;
    tag->kind = Tag::kOpen;
    if (j < rest.size() && rest[j] == '/') {
      tag->kind = Tag::kClose;
      ++j;
    }
    if (j >= rest.size() || !IsAsciiLetter(rest[j])) return 0;
    const size_t name_start = j;
    while (j < rest.size() && IsNameChar(rest[j])) ++j;
    tag->name = LowerAscii(rest.substr(name_start, j - name_start));
    auto skip_blanks = [&] {
      while (j < rest.size() && IsBlank(rest[j])) ++j;
    };
    if (tag->kind == Tag::kClose) {
      skip_blanks();
      return j < rest.size() && rest[j] == '>' ? i + j + 1 : 0;
    }
    while (j < rest.size()) {
      const bool blank = IsBlank(rest[j]);
      skip_blanks();
      if (j >= rest.size()) return 0;
      if (rest[j] == '>') return i + j + 1;
      if (rest.substr(j, 2) == "/>") {
        tag->self_closing = true;
        return i + j + 2;
      }
      if (!blank) return 0;  // "<foo@bar.com>" is no tag.
      const size_t attribute = j;
      while (j < rest.size() && !IsBlank(rest[j]) && rest[j] != '=' && rest[j] != '>' &&
             rest[j] != '<' && rest[j] != '/' && rest[j] != '"' && rest[j] != '\'') {
        ++j;
      }
      if (j == attribute) return 0;
      const size_t name_end = j;
      skip_blanks();
      if (j < rest.size() && rest[j] == '=') {
        ++j;
        skip_blanks();
        if (j < rest.size() && (rest[j] == '"' || rest[j] == '\'')) {
          const size_t end = rest.find(rest[j], j + 1);
          if (end == absl::string_view::npos) return 0;
          j = end + 1;
        } else {
          const size_t value = j;
          while (j < rest.size() && !IsBlank(rest[j]) && rest[j] != '>' && rest[j] != '<') ++j;
          if (j == value) return 0;
        }
        tag->valued_attribute = true;
      } else {
        j = name_end;  // A bare attribute: what follows is checked at the loop's top.
      }
    }
    return 0;
  }

  absl::string_view s_;
  Finder comment_end_, instruction_end_, declaration_end_;
};

bool IsMarkup(absl::string_view s) {
  MarkupScanner scanner(s);
  for (size_t i = s.find('<'); i != absl::string_view::npos; i = s.find('<', i + 1)) {
    Tag tag;
    if (scanner.ParseTag(i, &tag) == 0) continue;
    if (tag.kind != Tag::kOpen || tag.valued_attribute || tag.self_closing) return true;
  }
  return false;
}

std::string StripTags(absl::string_view s) {
  std::string out;
  out.reserve(s.size());
  const std::string lower = LowerAscii(s);  // Same offsets: ASCII letters only change.
  MarkupScanner scanner(s);
  Finder script_end(lower, "</script"), style_end(lower, "</style");
  size_t i = 0;
  while (i < s.size()) {
    Tag tag;
    const size_t end = s[i] == '<' ? scanner.ParseTag(i, &tag) : 0;
    if (end == 0) {
      out.push_back(s[i++]);
      continue;
    }
    i = end;
    out.push_back(' ');
    if (tag.kind == Tag::kOpen && !tag.self_closing &&
        (tag.name == "script" || tag.name == "style")) {
      // Drop the element's contents up to its closing tag (if it has one).
      Finder& closing = tag.name == "script" ? script_end : style_end;
      const size_t at = closing.Find(i);
      if (at != absl::string_view::npos) {
        const size_t close_end = lower.find('>', at);
        i = close_end == std::string::npos ? s.size() : close_end + 1;
      }
    }
  }
  return out;
}

struct Entity {
  const char* name;
  char32_t code_point;
};

constexpr Entity kEntities[] = {
    {"amp", '&'},      {"lt", '<'},       {"gt", '>'},       {"quot", '"'},     {"apos", '\''},
    {"nbsp", ' '},     {"copy", 0xA9},    {"reg", 0xAE},     {"deg", 0xB0},     {"pound", 0xA3},
    {"euro", 0x20AC},  {"laquo", 0xAB},   {"raquo", 0xBB},   {"ndash", 0x2013}, {"mdash", 0x2014},
    {"lsquo", 0x2018}, {"rsquo", 0x2019}, {"ldquo", 0x201C}, {"rdquo", 0x201D}, {"hellip", 0x2026},
    {"bull", 0x2022},  {"middot", 0xB7},  {"szlig", 0xDF},   {"Agrave", 0xC0},  {"Aacute", 0xC1},
    {"Acirc", 0xC2},   {"Atilde", 0xC3},  {"Auml", 0xC4},    {"Aring", 0xC5},   {"AElig", 0xC6},
    {"Ccedil", 0xC7},  {"Egrave", 0xC8},  {"Eacute", 0xC9},  {"Ecirc", 0xCA},   {"Euml", 0xCB},
    {"Igrave", 0xCC},  {"Iacute", 0xCD},  {"Icirc", 0xCE},   {"Iuml", 0xCF},    {"Ntilde", 0xD1},
    {"Ograve", 0xD2},  {"Oacute", 0xD3},  {"Ocirc", 0xD4},   {"Otilde", 0xD5},  {"Ouml", 0xD6},
    {"Oslash", 0xD8},  {"Ugrave", 0xD9},  {"Uacute", 0xDA},  {"Ucirc", 0xDB},   {"Uuml", 0xDC},
    {"Yacute", 0xDD},  {"agrave", 0xE0},  {"aacute", 0xE1},  {"acirc", 0xE2},   {"atilde", 0xE3},
    {"auml", 0xE4},    {"aring", 0xE5},   {"aelig", 0xE6},   {"ccedil", 0xE7},  {"egrave", 0xE8},
    {"eacute", 0xE9},  {"ecirc", 0xEA},   {"euml", 0xEB},    {"igrave", 0xEC},  {"iacute", 0xED},
    {"icirc", 0xEE},   {"iuml", 0xEF},    {"ntilde", 0xF1},  {"ograve", 0xF2},  {"oacute", 0xF3},
    {"ocirc", 0xF4},   {"otilde", 0xF5},  {"ouml", 0xF6},    {"oslash", 0xF8},  {"ugrave", 0xF9},
    {"uacute", 0xFA},  {"ucirc", 0xFB},   {"uuml", 0xFC},    {"yacute", 0xFD},  {"yuml", 0xFF},
};

// A character reference at s[i] == '&': its code point and the index after its ';', or 0.
size_t ParseEntity(absl::string_view s, size_t i, char32_t* cp) {
  const absl::string_view rest = s.substr(i, 12);
  const size_t semicolon = rest.find(';');
  if (semicolon == absl::string_view::npos || semicolon < 2) return 0;
  const absl::string_view body = rest.substr(1, semicolon - 1);
  if (body[0] == '#') {
    const bool hex = body.size() > 1 && (body[1] == 'x' || body[1] == 'X');
    const absl::string_view digits = body.substr(hex ? 2 : 1);
    if (digits.empty() || digits.size() > (hex ? 6u : 7u)) return 0;
    char32_t v = 0;
    for (char c : digits) {
      int d = -1;
      if (IsDigit(c)) d = c - '0';
      if (hex && c >= 'a' && c <= 'f') d = c - 'a' + 10;
      if (hex && c >= 'A' && c <= 'F') d = c - 'A' + 10;
      if (d < 0) return 0;
      v = v * (hex ? 16 : 10) + static_cast<char32_t>(d);
    }
    // Invalid code points and controls become a space.
    *cp = (v < 0x20 || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF) || (v >= 0x7F && v < 0xA0))
              ? ' '
              : v;
    return i + semicolon + 1;
  }
  for (const Entity& e : kEntities) {
    if (body == e.name) {
      *cp = e.code_point;
      return i + semicolon + 1;
    }
  }
  return 0;
}

std::string DecodeEntities(absl::string_view s) {
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    char32_t cp = 0;
    const size_t end = s[i] == '&' ? ParseEntity(s, i, &cp) : 0;
    if (end == 0) {
      out.push_back(s[i++]);
      continue;
    }
    AppendUtf8(cp, &out);
    i = end;
  }
  return out;
}

// The line-based steps: headers (with MIME structure), quoted lines, encoded blocks.
std::string CleanLines(absl::string_view text, const TokenizerOptions& options) {
  const std::vector<absl::string_view> lines = SplitLines(text);
  std::string out;
  out.reserve(text.size());
  size_t first = 0;
  std::vector<std::string> boundaries;  // The message's first.
  if (options.strip_headers) {
    HeaderBlock header;
    if (ParseHeaderBlock(lines, 0, true, &header)) {
      first = header.next_line;
      out.append(header.subject).append("\n");
      if (!header.boundary.empty()) {
        boundaries.push_back(header.boundary);
        // The preamble ("This is a multi-part message in MIME format.") up to the first part.
        size_t part = first;
        while (part < lines.size() && !IsBoundaryLine(lines[part], boundaries)) ++part;
        if (part < lines.size()) first = part;
      }
    }
  }
  size_t last_end = 0;  // The last line "end" (uuencode), 0 if none.
  for (size_t i = first; i < lines.size(); ++i) {
    if (Trim(lines[i]) == "end") last_end = i;
  }
  bool in_uuencode = false, in_base64 = false, skip_part = false;
  for (size_t i = first; i < lines.size(); ++i) {
    const absl::string_view line = lines[i];
    if (in_uuencode) {
      in_uuencode = Trim(line) != "end";
      continue;
    }
    bool close = false;
    if (!boundaries.empty() && IsBoundaryLine(line, boundaries, &close)) {
      if (close && IsBoundaryLine(line, {boundaries[0]})) break;  // The epilogue follows.
      HeaderBlock part;
      skip_part = false;
      if (ParseHeaderBlock(lines, i + 1, false, &part)) {
        if (!part.boundary.empty()) boundaries.push_back(part.boundary);
        skip_part = options.strip_encoded && IsNonTextPart(part);
        i = part.next_line - 1;
      }
      out.push_back('\n');
      continue;
    }
    if (skip_part) continue;
    if (options.strip_quoted && IsQuoted(line)) continue;
    if (options.strip_encoded) {
      if (IsUuencodeBegin(line) && last_end > i) {
        in_uuencode = true;
        continue;
      }
      if (IsBase64Line(line) || (in_base64 && IsBase64Tail(line))) {
        in_base64 = true;
        continue;
      }
      in_base64 = false;
      if (IsUuencodedLine(line)) continue;
    }
    out.append(line.data(), line.size()).push_back('\n');
  }
  return out;
}

}  // namespace

std::string CleanText(absl::string_view text, const TokenizerOptions& options) {
  std::string out = options.strip_headers || options.strip_quoted || options.strip_encoded
                        ? CleanLines(text, options)
                        : std::string(text);
  if (options.strip_markup) {
    if (IsMarkup(out)) out = StripTags(out);
    out = DecodeEntities(out);
  }
  return out;
}

}  // namespace bn
