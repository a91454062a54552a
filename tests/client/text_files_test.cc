#include "client/lib/text_files.h"

#include <fstream>

#include "gtest/gtest.h"
#include "tests/util/temp_dir.h"

namespace bn {
namespace {

std::string Write(const testing::TempDir& dir, const std::string& name,
                  const std::string& contents) {
  const std::string path = dir.Sub(name);
  std::ofstream(path, std::ios::binary) << contents;
  return path;
}

TEST(TextFilesTest, TranscodesSingleByteEncodingsToUtf8) {
  TextEncoding e = TextEncoding::kUtf8;
  ASSERT_TRUE(ParseTextEncoding("ISO-8859-1", &e));
  EXPECT_EQ(e, TextEncoding::kLatin1);
  ASSERT_TRUE(ParseTextEncoding("windows-1252", &e));
  EXPECT_EQ(e, TextEncoding::kCp1252);
  ASSERT_TRUE(ParseTextEncoding("UTF8", &e));
  EXPECT_EQ(e, TextEncoding::kUtf8);
  EXPECT_FALSE(ParseTextEncoding("ebcdic", &e));

  // "naïve café" with a non-breaking space and a pound sign, in Latin-1.
  const std::string latin1 =
      "na\xEFve\xA0"
      "caf\xE9 \xA3"
      "5";
  EXPECT_EQ(*ToUtf8(latin1, TextEncoding::kLatin1),
            "na\xC3\xAFve\xC2\xA0"
            "caf\xC3\xA9 \xC2\xA3"
            "5");
  // Windows-1252's curly quotes, euro sign and dashes; its unassigned 0x81 as U+0081.
  EXPECT_EQ(*ToUtf8("\x93quoted\x94 \x80"
                    "5 \x96 \x81",
                    TextEncoding::kCp1252),
            "\xE2\x80\x9Cquoted\xE2\x80\x9D \xE2\x82\xAC"
            "5 \xE2\x80\x93 \xC2\x81");
  // The same bytes are Latin-1 C1 controls.
  EXPECT_EQ(*ToUtf8("\x93", TextEncoding::kLatin1), "\xC2\x93");
  // UTF-8 is validated, not changed.
  EXPECT_EQ(*ToUtf8("caf\xC3\xA9", TextEncoding::kUtf8), "caf\xC3\xA9");
  auto bad = ToUtf8(latin1, TextEncoding::kUtf8);
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("byte offset 2"), absl::string_view::npos);
}

TEST(TextFilesTest, ReadsVocabularyAndLabelFilesLineByLine) {
  testing::TempDir dir;
  auto words = ReadVocabularyFile(Write(dir, "vocab.txt", "oil\r\nCaf\xE9\r\n\r\nwheat\n"),
                                  TextEncoding::kLatin1);
  ASSERT_TRUE(words.ok()) << words.status();
  EXPECT_EQ(*words, (std::vector<std::string>{"oil", "Caf\xC3\xA9", "", "wheat"}));
  auto bad = ReadVocabularyFile(Write(dir, "bad.txt", "oil\nCaf\xE9\n"), TextEncoding::kUtf8);
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("line 2"), absl::string_view::npos) << bad.status();
  EXPECT_EQ(ReadLabelFile(dir.Sub("missing"), TextEncoding::kUtf8).status().code(),
            absl::StatusCode::kNotFound);
}

TEST(TextFilesTest, ReadsBagOfWordsTriplets) {
  testing::TempDir dir;
  // The UCI layout: documents, words, non-zeros, then 1-based "doc word count" lines, in any
  // order; document 2 has no word; a repeated pair adds up.
  const std::string uci =
      Write(dir, "docword.txt", "4\n5\n6\n1 1 2\n1 3 1\n3 5 4\n# comment\n\n4 2 1\n1 1 1\n3 1 2\n");
  auto docs = ReadBowFile(uci, 1, 0);
  ASSERT_TRUE(docs.ok()) << docs.status();
  ASSERT_EQ(docs->size(), 3u);
  EXPECT_EQ((*docs)[0].index, 0);
  EXPECT_EQ((*docs)[0].ids, (std::vector<uint32_t>{0, 2}));
  EXPECT_EQ((*docs)[0].counts, (std::vector<float>{3, 1}));
  EXPECT_EQ((*docs)[1].index, 2);
  EXPECT_EQ((*docs)[1].ids, (std::vector<uint32_t>{0, 4}));
  EXPECT_EQ((*docs)[2].index, 3);
  EXPECT_EQ(ReadBowFile(uci, 1, 2)->size(), 2u);  // --limit
  auto zero_based = ReadBowFile(Write(dir, "zero.txt", "0 0 1\n0 7 2\n1 3 1\n"), 0, 0);
  ASSERT_TRUE(zero_based.ok());
  EXPECT_EQ((*zero_based)[0].ids, (std::vector<uint32_t>{0, 7}));
  // A 0 in a 1-based file says which flag to use; malformed lines name their number.
  auto wrong_base = ReadBowFile(Write(dir, "z.txt", "1 0 1\n"), 1, 0);
  EXPECT_NE(wrong_base.status().message().find("--bow-base 0"), absl::string_view::npos);
  for (const char* bad : {"1 1 0\n", "1 1 x\n", "1 1 2 3\n", "1 -1 2\n"}) {
    auto read = ReadBowFile(Write(dir, "b.txt", std::string("1 1 1\n") + bad), 1, 0);
    EXPECT_EQ(read.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(read.status().message().find("line 2"), absl::string_view::npos) << read.status();
  }
}

}  // namespace
}  // namespace bn
