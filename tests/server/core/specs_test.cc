#include "server/core/specs.h"

#include "gtest/gtest.h"

namespace bn {
namespace {

namespace v1 = ::bottleneck::v1;

v1::CollectionSpec ImageSpec(uint32_t h, uint32_t w, uint32_t c) {
  v1::CollectionSpec spec;
  spec.mutable_image()->set_height(h);
  spec.mutable_image()->set_width(w);
  spec.mutable_image()->set_channels(c);
  return spec;
}

TEST(SpecsTest, CollectionDefaultsAreFilledIn) {
  v1::CollectionSpec spec = ImageSpec(28, 28, 1);
  ASSERT_TRUE(NormalizeCollectionSpec(&spec).ok());
  EXPECT_EQ(spec.code_kind(), v1::CODE_KIND_FLOAT);
  EXPECT_EQ(spec.distance(), v1::DISTANCE_L2);
  EXPECT_EQ(spec.index().m(), kDefaultM);
  EXPECT_EQ(spec.index().ef_construction(), kDefaultEfConstruction);
  EXPECT_EQ(spec.index().ef_search(), kDefaultEfSearch);
  EXPECT_EQ(InputSize(spec), 784);

  v1::CollectionSpec binary = ImageSpec(32, 32, 3);
  binary.set_code_kind(v1::CODE_KIND_BINARY);
  ASSERT_TRUE(NormalizeCollectionSpec(&binary).ok());
  EXPECT_EQ(binary.distance(), v1::DISTANCE_HAMMING);

  v1::CollectionSpec docs;
  docs.mutable_document();
  ASSERT_TRUE(NormalizeCollectionSpec(&docs).ok());
  EXPECT_EQ(docs.document().vocabulary_size(), kDefaultVocabularySize);
}

TEST(SpecsTest, BadCollectionSpecsAreRejected) {
  std::vector<v1::CollectionSpec> bad = {v1::CollectionSpec(), ImageSpec(0, 28, 1),
                                         ImageSpec(28, 2000, 1), ImageSpec(28, 28, 2)};
  v1::CollectionSpec hamming_float = ImageSpec(28, 28, 1);
  hamming_float.set_distance(v1::DISTANCE_HAMMING);
  bad.push_back(hamming_float);
  v1::CollectionSpec binary_l2 = ImageSpec(28, 28, 1);
  binary_l2.set_code_kind(v1::CODE_KIND_BINARY);
  binary_l2.set_distance(v1::DISTANCE_L2);
  bad.push_back(binary_l2);
  v1::CollectionSpec unknown_enum = ImageSpec(28, 28, 1);
  unknown_enum.set_distance(static_cast<v1::Distance>(99));
  bad.push_back(unknown_enum);
  v1::CollectionSpec small_ef = ImageSpec(28, 28, 1);
  small_ef.mutable_index()->set_m(32);
  small_ef.mutable_index()->set_ef_construction(8);
  bad.push_back(small_ef);
  for (size_t i = 0; i < bad.size(); ++i) {
    EXPECT_EQ(NormalizeCollectionSpec(&bad[i]).code(), absl::StatusCode::kInvalidArgument) << i;
  }
}

TEST(SpecsTest, DenseSpecMirrorsTheDecoderAndChecksBinaryCodes) {
  v1::CollectionSpec collection = ImageSpec(28, 28, 1);
  ASSERT_TRUE(NormalizeCollectionSpec(&collection).ok());
  v1::ModelSpec spec;
  for (uint32_t s : {1000u, 500u, 250u}) spec.mutable_dense()->add_encoder_sizes(s);
  spec.mutable_dense()->set_code_size(30);
  spec.mutable_dense()->mutable_pretraining()->set_enabled(true);
  ASSERT_TRUE(NormalizeModelSpec(collection, &spec).ok());
  ASSERT_EQ(spec.dense().decoder_sizes_size(), 3);
  EXPECT_EQ(spec.dense().decoder_sizes(0), 250u);
  EXPECT_EQ(spec.dense().decoder_sizes(2), 1000u);
  EXPECT_EQ(spec.dense().code_activation(), v1::ACTIVATION_LINEAR);
  EXPECT_EQ(spec.dense().pretraining().epochs_per_layer(), 50u);
  EXPECT_EQ(spec.training().optimizer(), v1::OPTIMIZER_KIND_ADAM);
  EXPECT_EQ(spec.training().batch_size(), 128u);

  v1::CollectionSpec binary = ImageSpec(28, 28, 1);
  binary.set_code_kind(v1::CODE_KIND_BINARY);
  ASSERT_TRUE(NormalizeCollectionSpec(&binary).ok());
  v1::ModelSpec linear_code;
  linear_code.mutable_dense()->set_code_size(32);
  linear_code.mutable_dense()->set_code_activation(v1::ACTIVATION_LINEAR);
  EXPECT_EQ(NormalizeModelSpec(binary, &linear_code).code(), absl::StatusCode::kInvalidArgument);
  v1::ModelSpec pca;
  pca.mutable_pca()->set_code_size(32);
  EXPECT_EQ(NormalizeModelSpec(binary, &pca).code(), absl::StatusCode::kInvalidArgument);
}

TEST(SpecsTest, ModelSpecsThatDoNotFitTheCollectionAreRejected) {
  v1::CollectionSpec docs;
  docs.mutable_document();
  ASSERT_TRUE(NormalizeCollectionSpec(&docs).ok());
  v1::ModelSpec conv;
  conv.mutable_conv()->add_encoder()->set_filters(8);
  conv.mutable_conv()->set_code_size(10);
  EXPECT_EQ(NormalizeModelSpec(docs, &conv).code(), absl::StatusCode::kInvalidArgument);

  v1::CollectionSpec images = ImageSpec(28, 28, 1);
  ASSERT_TRUE(NormalizeCollectionSpec(&images).ok());
  v1::ModelSpec text;
  text.mutable_pca()->set_code_size(10);
  text.mutable_text();
  EXPECT_EQ(NormalizeModelSpec(images, &text).code(), absl::StatusCode::kInvalidArgument);
  v1::ModelSpec huge_pca;
  huge_pca.mutable_pca()->set_code_size(785);
  EXPECT_EQ(NormalizeModelSpec(images, &huge_pca).code(), absl::StatusCode::kInvalidArgument);
  v1::ModelSpec nan_rate;
  nan_rate.mutable_pca()->set_code_size(10);
  nan_rate.mutable_training()->set_learning_rate(std::nanf(""));
  EXPECT_EQ(NormalizeModelSpec(images, &nan_rate).code(), absl::StatusCode::kInvalidArgument);
  v1::ModelSpec none;
  EXPECT_EQ(NormalizeModelSpec(images, &none).code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace bn
