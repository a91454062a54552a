// Regression tests for bugs found by tests/fuzz/requests_fuzzer.cc in the conversion of v1
// requests (server/core/inputs.h, text_pipeline.h).
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "server/core/inputs.h"
#include "server/core/text_pipeline.h"

namespace bn {
namespace {

namespace v1 = ::bottleneck::v1;

// A binary code whose padding bits (past num_bits in the last byte) are set used to be stored as
// sent, so those bits counted in Hamming distances against stored codes (whose padding is zero).
TEST(FuzzRegressionTest, BinaryCodePaddingBitsAreCleared) {
  v1::Code code;
  code.mutable_binary_code()->set_num_bits(12);
  code.mutable_binary_code()->set_bits(std::string("\x5a\xff", 2));
  auto bytes = CodeFromApi(code, 12, CodeType::kBinary);
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  EXPECT_EQ(*bytes, std::string("\x5a\x0f", 2));
  // Same bytes as the code round-tripped through floats (how encoded items are stored).
  const std::vector<float> floats = CodeBytesToFloats(*bytes, 12, CodeType::kBinary);
  EXPECT_EQ(CodeToBytes(floats.data(), 12, CodeType::kBinary), *bytes);
  // Whole bytes have no padding and are kept as sent.
  code.mutable_binary_code()->set_num_bits(16);
  auto whole = CodeFromApi(code, 16, CodeType::kBinary);
  ASSERT_TRUE(whole.ok());
  EXPECT_EQ(*whole, std::string("\x5a\xff", 2));
}

// Learn accepted an unknown representation and built a pipeline whose serialization
// Deserialize refuses (a model version that could be stored but never served).
TEST(FuzzRegressionTest, LearnRefusesAnUnknownRepresentation) {
  v1::Document doc;
  doc.set_text("oil prices rose as crude output fell");
  const std::vector<const v1::Document*> corpus = {&doc};
  v1::DocumentGeometry geometry;
  geometry.set_vocabulary_size(10);
  v1::TextOptions options;
  options.set_representation(static_cast<v1::DocumentRepresentation>(4));
  auto bad = TextPipeline::Learn(corpus, geometry, options, {});
  ASSERT_FALSE(bad.ok());
  EXPECT_TRUE(absl::IsInvalidArgument(bad.status())) << bad.status();
  options.set_representation(v1::DOCUMENT_REPRESENTATION_TF_IDF);
  auto good = TextPipeline::Learn(corpus, geometry, options, {});
  ASSERT_TRUE(good.ok()) << good.status();
  auto loaded = TextPipeline::Deserialize((*good)->Serialize());
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ((*loaded)->vocabulary_size(), (*good)->vocabulary_size());
}

}  // namespace
}  // namespace bn
