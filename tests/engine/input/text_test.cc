#include "engine/input/text.h"

#include <algorithm>
#include <cmath>
#include <random>

#include "engine/util/bytes.h"
#include "gtest/gtest.h"

namespace bn {
namespace {

using Tokens = std::vector<std::string>;

Tokens Tok(absl::string_view text, TokenizerOptions options = {}) {
  absl::StatusOr<Tokens> t = Tokenize(text, options);
  EXPECT_TRUE(t.ok()) << t.status();
  return t.ok() ? *t : Tokens{};
}

TEST(TokenizerTest, LowercasesSplitsAndDropsStopWords) {
  EXPECT_EQ(Tok("The QUICK brown fox's 3 jumps\xE2\x80\x94over the lazy dog!"),
            (Tokens{"quick", "brown", "fox", "jumps", "lazy", "dog"}));
  EXPECT_EQ(Tok("abc123def x9y U.S. oil-prices"), (Tokens{"abc", "def", "oil", "prices"}));
  TokenizerOptions keep;
  keep.min_length = 1;
  keep.remove_stop_words = false;
  EXPECT_EQ(Tok("The x of U.S.", keep), (Tokens{"the", "x", "of", "u", "s"}));
  TokenizerOptions long_only;
  long_only.min_length = 5;
  EXPECT_EQ(Tok("crude oil prices rallied", long_only), (Tokens{"crude", "prices", "rallied"}));
  // Non-ASCII letters are letters and are lower-cased; other symbols split.
  EXPECT_EQ(Tok("\xC3\x9C"
                "ber \xC3\x89T\xC3\x89 Stra\xC3\x9F"
                "e \xD0\x9C\xD0\x9E\xD0\xA1\xD0\x9A\xD0\x92\xD0\x90 "
                "\xCE\x91\xCE\x98\xCE\x97\xCE\x9D\xCE\x91 caf\xC3\xA9\xF0\x9F\x98\x80"
                "bar"),
            (Tokens{"\xC3\xBC"
                    "ber",
                    "\xC3\xA9t\xC3\xA9",
                    "stra\xC3\x9F"
                    "e",
                    "\xD0\xBC\xD0\xBE\xD1\x81\xD0\xBA\xD0\xB2\xD0\xB0",
                    "\xCE\xB1\xCE\xB8\xCE\xB7\xCE\xBD\xCE\xB1", "caf\xC3\xA9", "bar"}));
  EXPECT_TRUE(Tok("").empty());
  EXPECT_TRUE(Tok("the and of 1234 !!!").empty());
  EXPECT_TRUE(IsEnglishStopWord("the"));
  EXPECT_FALSE(IsEnglishStopWord("oil"));
}

TEST(TokenizerTest, RejectsInvalidUtf8WithOffset) {
  const std::pair<std::string, size_t> bad[] = {
      {std::string("ok \xC0\x80", 5), 3},  // Overlong NUL.
      {"ab\xE0\x80\xAF", 2},               // Overlong '/'.
      {"\xED\xA0\x80", 0},                 // Surrogate.
      {"x\xF4\x90\x80\x80", 1},            // Above U+10FFFF.
      {"abc\xE2\x82", 3},                  // Truncated sequence.
      {"\x80", 0},                         // Stray continuation byte.
      {"a\xFF", 1},                        // Never valid.
      {"\xC3(", 0},                        // Bad continuation.
  };
  for (const auto& [text, offset] : bad) {
    absl::StatusOr<Tokens> t = Tokenize(text, {});
    ASSERT_FALSE(t.ok()) << text;
    EXPECT_EQ(t.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(std::string(t.status().message()).find("offset " + std::to_string(offset)),
              std::string::npos)
        << t.status();
    EXPECT_FALSE(ValidateUtf8(text).ok());
  }
  EXPECT_TRUE(ValidateUtf8("\xF0\x9F\x98\x80 \xE2\x82\xAC \xC3\xA9").ok());
}

const std::vector<std::string> kCorpus = {"apple banana", "banana cherry", "cherry banana date",
                                          "Apple!", "the of and"};

TEST(VocabularyTest, RanksByDocumentFrequencyWithDeterministicTies) {
  VocabularyOptions options;
  options.max_words = 3;
  absl::StatusOr<Vocabulary> v = Vocabulary::Build(kCorpus, options);
  ASSERT_TRUE(v.ok()) << v.status();
  ASSERT_EQ(v->size(), 3);
  // banana df 3; apple and cherry df 2 (tie broken alphabetically); date df 1 is cut.
  EXPECT_EQ(v->word(0), "banana");
  EXPECT_EQ(v->word(1), "apple");
  EXPECT_EQ(v->word(2), "cherry");
  EXPECT_EQ(v->document_frequency(0), 3);
  EXPECT_EQ(v->document_count(), 5);
  EXPECT_EQ(v->IdOf("cherry"), 2);
  EXPECT_EQ(v->IdOf("date"), -1);
  EXPECT_DOUBLE_EQ(v->idf(0), std::log(6.0 / 4.0) + 1.0);
  // Any corpus order gives the same vocabulary.
  std::vector<std::string> shuffled = kCorpus;
  std::mt19937 rng(3);
  for (int i = 0; i < 5; ++i) {
    std::shuffle(shuffled.begin(), shuffled.end(), rng);
    absl::StatusOr<Vocabulary> w = Vocabulary::Build(shuffled, options);
    ASSERT_TRUE(w.ok());
    EXPECT_EQ(w->Serialize().substr(0, 100), v->Serialize().substr(0, 100));
    EXPECT_EQ(w->Serialize(), v->Serialize());
  }
  EXPECT_FALSE(Vocabulary::Build({"the", "and"}, {}).ok());
  EXPECT_FALSE(Vocabulary::Build({"ok", "bad \xFF"}, {}).ok());
  options.max_words = 0;
  EXPECT_FALSE(Vocabulary::Build(kCorpus, options).ok());
}

TEST(VocabularyTest, SerializationRoundTripGivesTheSameVectors) {
  VocabularyOptions options;
  options.tokenizer.min_length = 3;
  absl::StatusOr<Vocabulary> v = Vocabulary::Build(kCorpus, options);
  ASSERT_TRUE(v.ok());
  const std::string bytes = v->Serialize();
  absl::StatusOr<Vocabulary> w = Vocabulary::Deserialize(bytes);
  ASSERT_TRUE(w.ok()) << w.status();
  EXPECT_EQ(w->size(), v->size());
  EXPECT_EQ(w->tokenizer().min_length, 3);
  EXPECT_EQ(w->Serialize(), bytes);
  for (auto rep : {DocumentRepresentation::kNormalizedCounts, DocumentRepresentation::kLogTf,
                   DocumentRepresentation::kTfIdf}) {
    absl::StatusOr<std::vector<float>> a = TextToInput(*v, "Banana date, apple; banana.", rep);
    absl::StatusOr<std::vector<float>> b = TextToInput(*w, "Banana date, apple; banana.", rep);
    ASSERT_TRUE(a.ok() && b.ok());
    EXPECT_EQ(*a, *b);
  }
  // Every truncation and every single-byte change is rejected.
  for (size_t len = 0; len < bytes.size(); ++len) {
    EXPECT_FALSE(Vocabulary::Deserialize(bytes.substr(0, len)).ok()) << len;
  }
  for (size_t i = 0; i < bytes.size(); ++i) {
    std::string bad = bytes;
    bad[i] ^= 0x20;
    EXPECT_FALSE(Vocabulary::Deserialize(bad).ok()) << i;
  }
}

TEST(VocabularyTest, DeserializeValidatesContentsBehindAValidChecksum) {
  auto make = [](const std::vector<std::pair<std::string, uint64_t>>& words, uint64_t docs) {
    std::string out;
    ByteWriter w(&out);
    w.Raw("BNVOCAB\0", 8);
    w.U32(1);
    w.U32(2);
    w.U8(1);
    w.U64(docs);
    w.U64(words.size());
    for (const auto& [word, df] : words) {
      w.Str(word);
      w.U64(df);
    }
    w.U32(Crc32(out));
    return out;
  };
  EXPECT_TRUE(Vocabulary::Deserialize(make({{"oil", 5}, {"gas", 3}, {"tax", 3}}, 9)).ok());
  EXPECT_FALSE(Vocabulary::Deserialize(make({{"gas", 3}, {"oil", 5}}, 9)).ok());  // Order.
  EXPECT_FALSE(Vocabulary::Deserialize(make({{"tax", 3}, {"gas", 3}}, 9)).ok());  // Tie order.
  EXPECT_FALSE(Vocabulary::Deserialize(make({{"oil", 5}, {"oil", 5}}, 9)).ok());  // Duplicate.
  EXPECT_FALSE(Vocabulary::Deserialize(make({{"oil", 10}}, 9)).ok());             // df > N.
  EXPECT_FALSE(Vocabulary::Deserialize(make({{"Oil", 5}}, 9)).ok());              // Not a token.
  EXPECT_FALSE(Vocabulary::Deserialize(make({{"the", 5}}, 9)).ok());              // Stop word.
  EXPECT_FALSE(Vocabulary::Deserialize(make({{"o\xFF", 5}}, 9)).ok());            // Bad UTF-8.
  EXPECT_FALSE(Vocabulary::Deserialize(make({}, 9)).ok());
}

TEST(BagOfWordsTest, RepresentationsFollowTheirDefinitions) {
  absl::StatusOr<Vocabulary> v = Vocabulary::Build(kCorpus, {});
  ASSERT_TRUE(v.ok());
  const int banana = v->IdOf("banana"), apple = v->IdOf("apple");
  absl::StatusOr<SparseVector> counts = CountWords(*v, "banana BANANA apple zzz the");
  ASSERT_TRUE(counts.ok());
  ASSERT_EQ(counts->ids.size(), 2u);
  absl::StatusOr<std::vector<float>> paper =
      TextToInput(*v, "banana BANANA apple zzz the", DocumentRepresentation::kNormalizedCounts);
  ASSERT_TRUE(paper.ok());
  EXPECT_EQ(paper->size(), static_cast<size_t>(v->size()));
  EXPECT_FLOAT_EQ((*paper)[banana], 2.0f / 3);
  EXPECT_FLOAT_EQ((*paper)[apple], 1.0f / 3);
  absl::StatusOr<std::vector<float>> logtf =
      TextToInput(*v, "banana BANANA apple", DocumentRepresentation::kLogTf);
  ASSERT_TRUE(logtf.ok());
  EXPECT_FLOAT_EQ((*logtf)[banana], std::log(3.0f));
  EXPECT_FLOAT_EQ((*logtf)[apple], std::log(2.0f));
  absl::StatusOr<std::vector<float>> tfidf =
      TextToInput(*v, "banana BANANA apple", DocumentRepresentation::kTfIdf);
  ASSERT_TRUE(tfidf.ok());
  // N = 5 documents; df(banana) = 3, df(apple) = 2.
  const double wb = 2 * (std::log(6.0 / 4) + 1), wa = 1 * (std::log(6.0 / 3) + 1);
  const double norm = std::sqrt(wb * wb + wa * wa);
  EXPECT_NEAR((*tfidf)[banana], wb / norm, 1e-6);
  EXPECT_NEAR((*tfidf)[apple], wa / norm, 1e-6);
  // The same document given as ids or as words.
  absl::StatusOr<std::vector<float>> by_ids = WordIdsToInput(
      *v, {banana, apple, banana}, {1, 1, 1}, DocumentRepresentation::kNormalizedCounts);
  ASSERT_TRUE(by_ids.ok());
  EXPECT_EQ(*by_ids, *paper);
  absl::StatusOr<std::vector<float>> by_words = WordStringsToInput(
      *v, {"Banana", "apple", "unknownword"}, {2, 1, 7}, DocumentRepresentation::kNormalizedCounts);
  ASSERT_TRUE(by_words.ok()) << by_words.status();
  EXPECT_EQ(*by_words, *paper);
}

TEST(BagOfWordsTest, ClearErrors) {
  absl::StatusOr<Vocabulary> v = Vocabulary::Build(kCorpus, {});
  ASSERT_TRUE(v.ok());
  const auto rep = DocumentRepresentation::kNormalizedCounts;
  auto message = [](const absl::Status& s) { return std::string(s.message()); };
  absl::StatusOr<std::vector<float>> r = TextToInput(*v, "the of and zzz", rep);
  ASSERT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(message(r.status()).find("empty document"), std::string::npos);
  r = TextToInput(*v, "banana \xC0\x80", rep);
  ASSERT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(message(r.status()).find("UTF-8"), std::string::npos);
  r = WordIdsToInput(*v, {0, v->size()}, {1, 1}, rep);
  ASSERT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(message(r.status()).find("unknown word id"), std::string::npos);
  EXPECT_FALSE(WordIdsToInput(*v, {-1}, {1}, rep).ok());
  EXPECT_FALSE(WordIdsToInput(*v, {0}, {0}, rep).ok());
  EXPECT_FALSE(WordIdsToInput(*v, {0, 1}, {1}, rep).ok());
  EXPECT_FALSE(WordIdsToInput(*v, {}, {}, rep).ok());
  EXPECT_FALSE(WordStringsToInput(*v, {"zzz"}, {1}, rep).ok());
  EXPECT_FALSE(WordStringsToInput(*v, {"\xFF"}, {1}, rep).ok());
  SparseVector unsorted{{1, 0}, {1.0f, 1.0f}};
  EXPECT_FALSE(Represent(*v, unsorted, rep).ok());
}

TEST(BagOfWordsTest, TextsToMatrixSkipsEmptyDocuments) {
  absl::StatusOr<Vocabulary> v = Vocabulary::Build(kCorpus, {});
  ASSERT_TRUE(v.ok());
  std::vector<int64_t> kept;
  absl::StatusOr<FloatMatrix> m = TextsToMatrix(*v, {"apple", "the", "cherry date", ""},
                                                DocumentRepresentation::kNormalizedCounts, &kept);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(kept, (std::vector<int64_t>{0, 2}));
  EXPECT_EQ(m->rows, 2);
  EXPECT_FLOAT_EQ(m->at(1, v->IdOf("date")), 0.5f);
  EXPECT_FALSE(TextsToMatrix(*v, {"ok", "\xFF"}, DocumentRepresentation::kLogTf).ok());
}

}  // namespace
}  // namespace bn
