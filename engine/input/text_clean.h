// Clean-up of real-world text (e-mail, Usenet posts, HTML mail) before it is tokenised: what a
// reader would not count as the document's words. Each step is chosen by a TokenizerOptions flag
// and detects its construct conservatively, by shape, leaving everything else alone:
//
//   strip_headers  An RFC 822 header block at the very start of the text (an optional mbox
//                  "From " line, then at least two consecutive "Name: value" fields with their
//                  continuation lines, at least one of them From, Subject, Date, Newsgroups,
//                  Message-ID, Received, Path, Return-Path or To, ended by a blank line) is
//                  replaced by its Subject value. A text starting "Note: ..." keeps its first
//                  line: "Note" is no mail header and one field is no header block. In a MIME
//                  multipart message (Content-Type: multipart/...; boundary=...), the preamble
//                  before the first part, the boundary lines, each part's own header block and
//                  the epilogue after the closing boundary are dropped too.
//   strip_quoted   Quoted-reply lines: lines whose first non-blank character is '>'.
//   strip_encoded  Lines of >= 40 characters of the base64 alphabet (A-Z a-z 0-9 + / and
//                  trailing '=' padding) without spaces, with the short last line of such a run;
//                  uuencoded blocks ("begin NNN name" up to a line "end"; nothing is dropped if
//                  no "end" follows); uuencoded lines outside them (61 characters starting with
//                  'M', all in '!'..'`', at least 28 of them distinct, as encoded data has and an
//                  upper-case table row does not); and, in a MIME message, the parts of a type
//                  other than text/*, multipart/* and message/* (attachments).
//   strip_markup   HTML/XML tags (<...>, comments, <!DOCTYPE>, <?xml ?>), with the contents of
//                  <script> and <style> elements, in a text that is markup: one with a closing
//                  tag (</p>), a comment, a declaration, a processing instruction, a tag with an
//                  attribute (<a href=...>) or a self-closing tag (<br/>). A text that merely has
//                  words in angle brackets (Reuters' "<IBM>" tickers, "<foo@bar.com>") keeps them.
//                  Character references (&amp; &lt; &gt; &quot; &apos; &nbsp; &#233; &#xE9;) and
//                  the common named entities (Latin-1 letters, quotes, dashes, ...) are decoded in
//                  every text.
//
// Removed constructs become line breaks or spaces, so words on either side never merge.
// Thread safety: pure functions.
#ifndef BOTTLENECK_ENGINE_INPUT_TEXT_CLEAN_H_
#define BOTTLENECK_ENGINE_INPUT_TEXT_CLEAN_H_

#include <string>

#include "absl/strings/string_view.h"
#include "engine/input/text.h"

namespace bn {

// `text` must be valid UTF-8 (ValidateUtf8); the result then is too. Only the strip_* options
// are read.
std::string CleanText(absl::string_view text, const TokenizerOptions& options);

}  // namespace bn

#endif  // BOTTLENECK_ENGINE_INPUT_TEXT_CLEAN_H_
