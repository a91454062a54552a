// Vocabulary kinds (learned, supplied, id-only), learning from words, and the serialization's
// versions (engine/input/text.h).
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "engine/input/text.h"
#include "engine/util/bytes.h"
#include "gtest/gtest.h"

namespace bn {
namespace {

std::string FromHex(absl::string_view hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  }
  return out;
}

// Written by the version-1 code (commit 02f5bff): Vocabulary::Build(texts, max_words = 6) of
// "Oil prices rose; crude oil output fell.", "Wheat prices fell.", "Crude oil and wheat exports".
constexpr char kVersion1Hex[] =
    "424e564f4341420001000000020000000103000000000000000600000000000000050000000000000063727564"
    "650200000000000000040000000000000066656c6c020000000000000003000000000000006f696c0200000000"
    "0000000600000000000000707269636573020000000000000005000000000000007768656174020000000000"
    "000007000000000000006578706f72747301000000000000009d69d53e";

TEST(VocabularyVersionsTest, ReadsVersion1BytesAndWritesVersion2) {
  absl::StatusOr<Vocabulary> v = Vocabulary::Deserialize(FromHex(kVersion1Hex));
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->kind(), VocabularyKind::kLearned);
  ASSERT_EQ(v->size(), 6);
  const std::vector<std::string> words = {"crude", "fell", "oil", "prices", "wheat", "exports"};
  for (int i = 0; i < 6; ++i) EXPECT_EQ(v->word(i), words[i]);
  EXPECT_EQ(v->document_frequency(5), 1);
  EXPECT_EQ(v->document_count(), 3);
  // Version 1 had no clean-up and no maximum length: texts still map as they did.
  const TokenizerOptions& t = v->tokenizer();
  EXPECT_EQ(t.min_length, 2);
  EXPECT_TRUE(t.remove_stop_words);
  EXPECT_EQ(t.max_length, 0);
  EXPECT_FALSE(t.cleans());
  absl::StatusOr<SparseVector> counts = CountWords(*v, "From: x\nSubject: y\n\n<b>oil</b> oil");
  ASSERT_TRUE(counts.ok());
  EXPECT_EQ(counts->ids, (std::vector<int32_t>{2}));
  EXPECT_EQ(counts->values, (std::vector<float>{2}));
  // Written again as version 2, it reads back the same.
  const std::string bytes = v->Serialize();
  uint32_t version = 0;
  std::memcpy(&version, bytes.data() + 8, 4);
  EXPECT_EQ(version, 2u);
  absl::StatusOr<Vocabulary> again = Vocabulary::Deserialize(bytes);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->Serialize(), bytes);
}

TEST(VocabularyVersionsTest, Version2KeepsTheTokenizerOptionsAndKind) {
  VocabularyOptions options;
  options.tokenizer.max_length = 12;
  options.tokenizer.strip_headers = true;
  options.tokenizer.strip_markup = true;
  absl::StatusOr<Vocabulary> v = Vocabulary::Build({"crude oil", "oil wheat"}, options);
  ASSERT_TRUE(v.ok());
  absl::StatusOr<Vocabulary> w = Vocabulary::Deserialize(v->Serialize());
  ASSERT_TRUE(w.ok()) << w.status();
  EXPECT_EQ(w->tokenizer().max_length, 12);
  EXPECT_TRUE(w->tokenizer().strip_headers);
  EXPECT_FALSE(w->tokenizer().strip_quoted);
  EXPECT_FALSE(w->tokenizer().strip_encoded);
  EXPECT_TRUE(w->tokenizer().strip_markup);
  for (auto& kind : {Vocabulary::FromWords({"Oil", "c++"}, options.tokenizer),
                     Vocabulary::IdOnly(3, options.tokenizer)}) {
    ASSERT_TRUE(kind.ok());
    absl::StatusOr<Vocabulary> back = Vocabulary::Deserialize(kind->Serialize());
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_EQ(back->kind(), kind->kind());
    EXPECT_EQ(back->Serialize(), kind->Serialize());
  }
}

TEST(VocabularyVersionsTest, Version2ValidatesEachKindsWords) {
  auto make = [](uint8_t kind, const std::vector<std::pair<std::string, uint64_t>>& words) {
    std::string out;
    ByteWriter w(&out);
    w.Raw("BNVOCAB\0", 8);
    w.U32(2);
    w.U32(2);   // min_length
    w.U8(1);    // stop words
    w.U32(30);  // max_length
    w.U8(15);   // clean-up flags
    w.U8(kind);
    w.U64(9);  // documents
    w.U64(words.size());
    for (const auto& [word, df] : words) {
      w.Str(word);
      w.U64(df);
    }
    w.U32(Crc32(out));
    return out;
  };
  EXPECT_TRUE(Vocabulary::Deserialize(make(1, {{"c++", 0}, {"oil", 4}})).ok());
  EXPECT_FALSE(Vocabulary::Deserialize(make(1, {{"Oil", 0}})).ok());              // Not lower.
  EXPECT_FALSE(Vocabulary::Deserialize(make(1, {{"oil", 0}, {"oil", 1}})).ok());  // Duplicate.
  EXPECT_FALSE(Vocabulary::Deserialize(make(1, {{"", 0}})).ok());                 // Empty.
  EXPECT_TRUE(Vocabulary::Deserialize(make(2, {{"", 0}, {"", 3}})).ok());
  EXPECT_FALSE(Vocabulary::Deserialize(make(2, {{"oil", 0}})).ok());  // Id-only has no words.
  EXPECT_FALSE(Vocabulary::Deserialize(make(0, {{"oil", 0}})).ok());  // Learned: df >= 1.
  EXPECT_FALSE(Vocabulary::Deserialize(make(3, {{"oil", 1}})).ok());  // Unknown kind.
}

TEST(SuppliedVocabularyTest, WordsAreNormalisedAndBadOnesNamed) {
  absl::StatusOr<Vocabulary> v = Vocabulary::FromWords({"Oil", "WHEAT", "c++", "new york"}, {});
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->kind(), VocabularyKind::kSupplied);
  EXPECT_EQ(v->word(0), "oil");
  EXPECT_EQ(v->word(1), "wheat");
  EXPECT_EQ(v->IdOf("new york"), 3);
  const std::vector<std::pair<std::vector<std::string>, std::string>> bad = {
      {{"oil", "gas", "OIL"}, "word 2 (\"oil\") repeats word 0"},
      {{"oil", ""}, "word 1 is empty"},
      {{"o\xFFil"}, "word 0 is not valid UTF-8"},
      {{"oil\r"}, "word 0 contains a control character"},
      {{" oil"}, "word 0 starts or ends with a space"},
      {{std::string(300, 'a')}, "word 0 is longer than 256 bytes"},
      {{}, "no words"},
  };
  for (const auto& [words, message] : bad) {
    absl::StatusOr<Vocabulary> w = Vocabulary::FromWords(words, {});
    ASSERT_FALSE(w.ok()) << message;
    EXPECT_EQ(w.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(w.status().message().find(message), absl::string_view::npos) << w.status();
  }
}

TEST(SuppliedVocabularyTest, EveryKindOfDocumentMapsOntoIt) {
  // A supplied vocabulary may hold stop words, short words and non-tokens: texts count every
  // token found in it, words match in lower case, ids index it.
  absl::StatusOr<Vocabulary> v = Vocabulary::FromWords({"the", "oil", "c++", "x"}, {});
  ASSERT_TRUE(v.ok());
  absl::StatusOr<SparseVector> text = CountWords(*v, "The oil, THE OIL and x.");
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_EQ(text->ids, (std::vector<int32_t>{0, 1, 3}));
  EXPECT_EQ(text->values, (std::vector<float>{2, 2, 1}));
  absl::StatusOr<SparseVector> words = CountWordStrings(*v, {"C++", " Oil,", "gas"}, {3, 1, 5});
  ASSERT_TRUE(words.ok()) << words.status();
  EXPECT_EQ(words->ids, (std::vector<int32_t>{1, 2}));
  EXPECT_EQ(words->values, (std::vector<float>{1, 3}));
  absl::StatusOr<SparseVector> ids = CountWordIds(*v, {2, 2, 0}, {1, 1, 4});
  ASSERT_TRUE(ids.ok());
  EXPECT_EQ(ids->ids, (std::vector<int32_t>{0, 2}));
  EXPECT_FALSE(CountWordIds(*v, {4}, {1}).ok());
  // Document frequencies for tf-idf come from the corpus the pipeline counts.
  absl::StatusOr<Vocabulary> counted = v->WithDocumentFrequencies({3, 1, 0, 0}, 3);
  ASSERT_TRUE(counted.ok());
  EXPECT_DOUBLE_EQ(counted->idf(1), std::log(4.0 / 2.0) + 1.0);
  EXPECT_FALSE(v->WithDocumentFrequencies({4, 0, 0, 0}, 3).ok());
  EXPECT_FALSE(v->WithDocumentFrequencies({1, 1}, 3).ok());
}

TEST(IdOnlyVocabularyTest, IdsWithoutWords) {
  absl::StatusOr<Vocabulary> v = Vocabulary::IdOnly(5, {});
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->size(), 5);
  EXPECT_FALSE(v->has_words());
  EXPECT_EQ(v->word(4), "");
  EXPECT_EQ(v->IdOf(""), -1);
  absl::StatusOr<std::vector<float>> row =
      WordIdsToInput(*v, {0, 4}, {1, 3}, DocumentRepresentation::kNormalizedCounts);
  ASSERT_TRUE(row.ok());
  EXPECT_EQ(*row, (std::vector<float>{0.25f, 0, 0, 0, 0.75f}));
  EXPECT_FALSE(CountWords(*v, "oil").ok());
  EXPECT_FALSE(Vocabulary::IdOnly(0, {}).ok());
}

TEST(VocabularyBuilderTest, TextsAndWordsLearnTogether) {
  // Words documents are counted like tokens of a text: lower-cased, filtered by length and stop
  // words; a word that is several tokens counts for none.
  VocabularyBuilder mixed(VocabularyOptions{});
  ASSERT_TRUE(mixed.AddText("Crude oil prices").ok());
  ASSERT_TRUE(mixed.AddWords({"OIL", "the", "x", "wheat", "new-york", "Oil"}).ok());
  ASSERT_TRUE(mixed.AddText("wheat prices").ok());
  absl::StatusOr<Vocabulary> a = mixed.Finish();
  ASSERT_TRUE(a.ok()) << a.status();
  absl::StatusOr<Vocabulary> b =
      Vocabulary::Build({"Crude oil prices", "oil the x wheat", "wheat prices"}, {});
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(a->Serialize(), b->Serialize());
  EXPECT_EQ(mixed.documents(), 3);
  VocabularyBuilder empty(VocabularyOptions{});
  ASSERT_TRUE(empty.AddWords({"the", "a"}).ok());
  EXPECT_EQ(empty.Finish().status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(empty.AddWords({"o\xFF"}).code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace bn
