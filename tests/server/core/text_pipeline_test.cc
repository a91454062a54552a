// TextPipeline serialization: stored model versions of the previous format keep loading and
// mapping documents as they did; the current format keeps the vocabulary's source.
#include "server/core/text_pipeline.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace bn {
namespace {

namespace v1 = ::bottleneck::v1;

std::string FromHex(const std::string& hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  }
  return out;
}

// Written by the format-1 code (commit 02f5bff): TextPipeline::Learn of the texts
// "Oil prices rose; crude oil output fell.", "Wheat prices fell.", "Crude oil and wheat exports"
// with vocabulary_size 6 and tf-idf; and what it made of "crude OIL, oil and wheat".
constexpr char kFormat1Hex[] =
    "0100000003000000a300000000000000424e564f4341420001000000020000000103000000000000000600000000"
    "000000050000000000000063727564650200000000000000040000000000000066656c6c02000000000000000300"
    "0000000000006f696c02000000000000000600000000000000707269636573020000000000000005000000000000"
    "007768656174020000000000000007000000000000006578706f72747301000000000000009d69d53e";
const std::vector<float> kFormat1Vector = {0.408248305f, 0, 0.816496611f, 0, 0.408248305f, 0};

TEST(TextPipelineTest, Format1PipelinesStillLoadAndMapDocumentsAsBefore) {
  auto stored = TextPipeline::Deserialize(FromHex(kFormat1Hex));
  ASSERT_TRUE(stored.ok()) << stored.status();
  EXPECT_EQ((*stored)->vocabulary_size(), 6u);
  EXPECT_EQ((*stored)->source(), v1::VOCABULARY_SOURCE_LEARNED);
  v1::Document query;
  query.set_text("crude OIL, oil and wheat");
  std::vector<float> x;
  float length = 0;
  ASSERT_TRUE((*stored)->ToVector(query, &x, &length).ok());
  ASSERT_EQ(x.size(), kFormat1Vector.size());
  for (size_t i = 0; i < x.size(); ++i) EXPECT_FLOAT_EQ(x[i], kFormat1Vector[i]) << i;
  EXPECT_EQ(length, 4);  // crude, oil, oil, wheat.
  // Written again (format 2), it maps the same.
  const std::string bytes = (*stored)->Serialize();
  EXPECT_EQ(bytes[0], 2);
  auto again = TextPipeline::Deserialize(bytes);
  ASSERT_TRUE(again.ok()) << again.status();
  std::vector<float> y;
  ASSERT_TRUE((*again)->ToVector(query, &y, nullptr).ok());
  EXPECT_EQ(x, y);
  EXPECT_EQ((*again)->Serialize(), bytes);
}

TEST(TextPipelineTest, Format2KeepsTheSourceAndRefusesOneThatDoesNotFit) {
  v1::Document a, b;
  a.mutable_word_ids()->add_ids(1);
  a.mutable_word_ids()->add_counts(2);
  b.mutable_word_ids()->add_ids(3);
  b.mutable_word_ids()->add_counts(1);
  v1::DocumentGeometry geometry;
  geometry.set_vocabulary_size(4);
  auto ids_only = TextPipeline::Learn({&a, &b}, geometry, {}, {});
  ASSERT_TRUE(ids_only.ok()) << ids_only.status();
  EXPECT_EQ((*ids_only)->source(), v1::VOCABULARY_SOURCE_WORD_IDS);
  auto dataset = TextPipeline::Learn({&a, &b}, geometry, {}, {"w", "x", "y", "z"});
  ASSERT_TRUE(dataset.ok()) << dataset.status();
  for (const char* word : {"w", "x", "y", "z"}) geometry.add_vocabulary_words(word);
  auto collection = TextPipeline::Learn({&a, &b}, geometry, {}, {});
  ASSERT_TRUE(collection.ok()) << collection.status();
  for (const auto* p : {&*ids_only, &*dataset, &*collection}) {
    auto back = TextPipeline::Deserialize((*p)->Serialize());
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_EQ((*back)->source(), (*p)->source());
  }
  EXPECT_EQ((*dataset)->source(), v1::VOCABULARY_SOURCE_DATASET);
  EXPECT_EQ((*collection)->source(), v1::VOCABULARY_SOURCE_COLLECTION);
  // A learned source over an id-only vocabulary is malformed.
  std::string bytes = (*ids_only)->Serialize();
  bytes[8] = static_cast<char>(v1::VOCABULARY_SOURCE_LEARNED);
  EXPECT_EQ(TextPipeline::Deserialize(bytes).status().code(), absl::StatusCode::kDataLoss);
  bytes[8] = 9;
  EXPECT_EQ(TextPipeline::Deserialize(bytes).status().code(), absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace bn
