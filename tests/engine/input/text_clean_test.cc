#include "engine/input/text_clean.h"

#include <algorithm>
#include <string>
#include <vector>

#include "engine/input/text.h"
#include "gtest/gtest.h"

namespace bn {
namespace {

using Tokens = std::vector<std::string>;

TokenizerOptions MailOptions() {
  TokenizerOptions o;
  o.max_length = 30;
  o.strip_headers = o.strip_quoted = o.strip_encoded = o.strip_markup = true;
  return o;
}

Tokens Tok(absl::string_view text, const TokenizerOptions& options = MailOptions()) {
  absl::StatusOr<Tokens> t = Tokenize(text, options);
  EXPECT_TRUE(t.ok()) << t.status();
  return t.ok() ? *t : Tokens{};
}

bool Has(const Tokens& tokens, const std::string& word) {
  return std::find(tokens.begin(), tokens.end(), word) != tokens.end();
}

// A 20 Newsgroups post as it comes: news headers, an attribution line, quoted replies.
constexpr char kUsenetPost[] =
    "From: lerxst@wam.umd.edu (where's my thing)\n"
    "Subject: WHAT car is this!?\n"
    "Nntp-Posting-Host: rac3.wam.umd.edu\n"
    "Organization: University of Maryland, College Park\n"
    "Lines: 15\n"
    "\n"
    " I was wondering if anyone out there could enlighten me on this car I saw\n"
    "the other day. It was a 2-door sports car, looked to be from the late 60s/\n"
    "early 70s. It was called a Bricklin.\n"
    "\n"
    "In article <1993Apr15.123456@engr.example.edu> someone@example.edu writes:\n"
    "> Is the engine reliable?\n"
    ">> Mine never started in winter.\n"
    "Thanks,\n"
    "- IL\n";

TEST(TextCleanTest, UsenetPostKeepsSubjectAndBodyWithoutHeadersOrQuotes) {
  const Tokens tokens = Tok(kUsenetPost);
  for (const char* kept : {"car", "wondering", "enlighten", "sports", "bricklin", "thanks"}) {
    EXPECT_TRUE(Has(tokens, kept)) << kept;
  }
  for (const char* dropped : {"lerxst", "nntp", "posting", "organization", "maryland", "lines",
                              "engine", "reliable", "winter", "started"}) {
    EXPECT_FALSE(Has(tokens, dropped)) << dropped;
  }
  EXPECT_EQ(tokens.front(), "car");  // The Subject value comes first.
  // Each clean-up can be turned off on its own.
  TokenizerOptions keep_headers = MailOptions();
  keep_headers.strip_headers = false;
  EXPECT_TRUE(Has(Tok(kUsenetPost, keep_headers), "organization"));
  EXPECT_FALSE(Has(Tok(kUsenetPost, keep_headers), "reliable"));
  TokenizerOptions keep_quotes = MailOptions();
  keep_quotes.strip_quoted = false;
  EXPECT_TRUE(Has(Tok(kUsenetPost, keep_quotes), "reliable"));
  EXPECT_FALSE(Has(Tok(kUsenetPost, keep_quotes), "organization"));
}

constexpr char kMimeMail[] =
    "Return-Path: <alice@example.org>\r\n"
    "Received: from mail.example.org by mx.example.com; Tue, 6 Apr 1993 10:00:00 +0000\r\n"
    "From: Alice <alice@example.org>\r\n"
    "To: bob@example.com\r\n"
    "Subject: Quarterly figures\r\n"
    "Date: Tue, 6 Apr 1993 10:00:00 +0000\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: multipart/mixed;\r\n"
    " boundary=\"XYZ-boundary-42\"\r\n"
    "\r\n"
    "This is a multi-part message in MIME format.\r\n"
    "--XYZ-boundary-42\r\n"
    "Content-Type: text/plain; charset=us-ascii\r\n"
    "Content-Transfer-Encoding: 7bit\r\n"
    "\r\n"
    "Bob, the revenue spreadsheet is attached.\r\n"
    "--XYZ-boundary-42\r\n"
    "Content-Type: application/octet-stream; name=\"figures.bin\"\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "Content-Disposition: attachment; filename=\"figures.bin\"\r\n"
    "\r\n"
    "0M8R4KGxGuEAAAAAAAAAAAAAAAAAAAAAPgADAP7/CQAGAAAAAAAAAAAAAAABAAAAIwAAAAAAAAAA\r\n"
    "EAAAJQAAAAEAAAD+////AAAAACIAAAD/////////////////////////////////////////////\r\n"
    "AAAAAA==\r\n"
    "--XYZ-boundary-42--\r\n"
    "Epilogue text nobody reads.\r\n";

TEST(TextCleanTest, MimeMailDropsHeadersPartsStructureAndTheAttachment) {
  const Tokens tokens = Tok(kMimeMail);
  EXPECT_EQ(tokens, (Tokens{"quarterly", "figures", "bob", "revenue", "spreadsheet", "attached"}));
  // Without the MIME-aware steps, the base64 lines alone still go (including the run's short
  // last line), while the part headers stay.
  TokenizerOptions encoded_only;
  encoded_only.max_length = 30;
  encoded_only.strip_encoded = true;
  const Tokens raw = Tok(kMimeMail, encoded_only);
  EXPECT_TRUE(Has(raw, "disposition"));
  for (const std::string& t : raw) {
    EXPECT_EQ(t.find("aaaa"), std::string::npos) << t;  // No base64 residue.
  }
}

TEST(TextCleanTest, BlockOfBase64WithoutMimeAndUuencodedFilesAreDropped) {
  std::string uuline = "M";
  for (int i = 0; i < 60; ++i) uuline.push_back(static_cast<char>('!' + (i * 7) % 64));
  const std::string text =
      "Here is the picture of our cat.\n"
      "\n"
      "begin 644 cat.gif\n" +
      uuline + "\n" + uuline + "\n" +
      "#0V%T\n"
      "`\n"
      "end\n"
      "Enjoy it.\n"
      "R0lGODlhAQABAIAAAP///wAAACwAAAAAAQABAAACAkQBADs7R0lGODlhAQABAIAAAP\n"
      "A stray line:\n" +
      uuline + "\n";
  const Tokens tokens = Tok(text);
  EXPECT_EQ(tokens, (Tokens{"picture", "cat", "enjoy", "stray", "line"}));
  // "begin" without a later "end" is text, not an encoded block.
  EXPECT_EQ(Tok("begin 644 plans for the week\nmeet the board\n"),
            (Tokens{"begin", "plans", "week", "meet", "board"}));
}

constexpr char kHtmlMail[] =
    "From: newsletter@shop.example\n"
    "To: carol@example.net\n"
    "Subject: Spring sale\n"
    "Content-Type: text/html; charset=utf-8\n"
    "\n"
    "<!DOCTYPE html>\n"
    "<html><head><title>Garden</title>"
    "<style type=\"text/css\">body { font-family: Arial; }</style></head>\n"
    "<body><p class=\"intro\">Dear customer,</p>"
    "<p>Our sale starts today: 20&nbsp;% off furniture &amp; tools.</p>\n"
    "<script>var tracking = \"pixel\";</script>\n"
    "<!-- hidden comment -->"
    "<p>Caf&eacute; tables &#8212; caf&#233; chairs<br/>&lt;limited&gt;</p></body></html>\n";

TEST(TextCleanTest, HtmlMailLosesTagsScriptsStylesAndEntities) {
  const Tokens tokens = Tok(kHtmlMail);
  EXPECT_EQ(tokens, (Tokens{"spring", "sale", "garden", "dear", "customer", "sale", "starts",
                            "today", "furniture", "tools", "caf\xC3\xA9", "tables", "caf\xC3\xA9",
                            "chairs", "limited"}));
}

TEST(TextCleanTest, PlainTextsKeepTheirWords) {
  // "Note:" and "Agenda:" look like fields, but no mail header is among them.
  EXPECT_EQ(Tok("Note: the meeting moved to Thursday.\nAgenda: budget review.\n\nBring the "
                "report."),
            (Tokens{"note", "meeting", "moved", "thursday", "agenda", "budget", "review", "bring",
                    "report"}));
  // One header-like field is no header block either.
  EXPECT_EQ(Tok("Subject: rates\n\nrates rose"), (Tokens{"subject", "rates", "rates", "rose"}));
  // Header-shaped lines not ended by a blank line are text.
  EXPECT_EQ(Tok("From: the desk\nSubject: oil"), (Tokens{"desk", "subject", "oil"}));
  // Words in angle brackets in a text without markup (Reuters' tickers, addresses) stay.
  EXPECT_EQ(Tok("<IBM> and <I> said <ann@example.com> wrote a<b c>d"),
            (Tokens{"ibm", "said", "ann", "example", "com", "wrote"}));
  // A '>' inside a line is not a quote.
  EXPECT_EQ(Tok("prices > costs"), (Tokens{"prices", "costs"}));
}

TEST(TextCleanTest, LongTokensAreDropped) {
  const std::string long_word(31, 'x');
  EXPECT_EQ(Tok("short " + long_word + " words"), (Tokens{"short", "words"}));
  TokenizerOptions unlimited = MailOptions();
  unlimited.max_length = 0;
  EXPECT_EQ(Tok("short " + long_word, unlimited), (Tokens{"short", long_word}));
  // Code points, not bytes: 30 two-byte letters are kept.
  std::string accented;
  for (int i = 0; i < 30; ++i) accented += "\xC3\xA9";
  EXPECT_EQ(Tok(accented), (Tokens{accented}));
}

TEST(TextCleanTest, OutputIsValidUtf8AndCleaningIsOffByDefault) {
  const std::string mixed = std::string(kUsenetPost) + "\xC3\xA9t\xC3\xA9 &#xD800; &#0; &#x110000;";
  ASSERT_TRUE(ValidateUtf8(CleanText(mixed, MailOptions())).ok());
  EXPECT_EQ(CleanText(kHtmlMail, TokenizerOptions()), std::string(kHtmlMail));
  // Engine default: no clean-up, as before.
  EXPECT_TRUE(Has(Tok(kUsenetPost, TokenizerOptions()), "organization"));
}

TEST(TextCleanTest, PathologicalMarkupStaysLinear) {
  // Unclosed comments, processing instructions and script elements, repeated, must not make
  // each '<' rescan the rest of the text (1.2 MB here: quadratic would take minutes).
  std::string text;
  for (int i = 0; i < 50000; ++i) text += "<!-- <? <script> word </p ";
  text += "</b>";  // Makes it markup.
  const Tokens tokens = Tok(text);
  EXPECT_EQ(tokens.size(), 50000u);
  EXPECT_TRUE(std::all_of(tokens.begin(), tokens.end(), [](const auto& t) { return t == "word"; }));
}

}  // namespace
}  // namespace bn
