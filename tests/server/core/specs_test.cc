#include "server/core/specs.h"

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "server/core/recipes.h"
#include "server/core/trainer_options.h"

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
  EXPECT_EQ(spec.dense().pretraining().max_mean_document_length(), 64.0f);
  EXPECT_EQ(spec.training().optimizer(), v1::OPTIMIZER_KIND_ADAM);
  for (float bad : {-1.0f, 2e6f, std::numeric_limits<float>::quiet_NaN()}) {
    v1::ModelSpec long_docs = spec;
    long_docs.mutable_dense()->mutable_pretraining()->set_max_mean_document_length(bad);
    const absl::Status s = NormalizeModelSpec(collection, &long_docs);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(s.message().find("max_mean_document_length"), std::string::npos) << s;
  }
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

TEST(SpecsTest, TrainingDefaultsForEarlyStoppingValidationAndSchedules) {
  v1::CollectionSpec images = ImageSpec(28, 28, 1);
  ASSERT_TRUE(NormalizeCollectionSpec(&images).ok());
  v1::ModelSpec spec;
  spec.mutable_pca()->set_code_size(10);
  ASSERT_TRUE(NormalizeModelSpec(images, &spec).ok());
  EXPECT_EQ(spec.training().early_stopping_patience(), kDefaultPatience);
  EXPECT_EQ(spec.training().validation(), v1::VALIDATION_SPLIT_RANDOM);
  EXPECT_EQ(spec.training().lr_schedule(), v1::LEARNING_RATE_SCHEDULE_CONSTANT);
  spec.mutable_training()->set_lr_schedule(v1::LEARNING_RATE_SCHEDULE_STEP);
  ASSERT_TRUE(NormalizeModelSpec(images, &spec).ok());
  EXPECT_EQ(spec.training().lr_step_epochs(), 10u);
  EXPECT_FLOAT_EQ(spec.training().lr_step_gamma(), 0.1f);
  spec.mutable_training()->set_lr_schedule(v1::LEARNING_RATE_SCHEDULE_COSINE);
  ASSERT_TRUE(NormalizeModelSpec(images, &spec).ok());
  EXPECT_FLOAT_EQ(spec.training().lr_min_factor(), 0.01f);
}

TEST(SpecsTest, DropoutIsForDenseAutoencodersAndClassifiersWithinRange) {
  v1::CollectionSpec images = ImageSpec(28, 28, 1);
  ASSERT_TRUE(NormalizeCollectionSpec(&images).ok());
  v1::ModelSpec dense;
  dense.mutable_dense()->set_code_size(30);
  dense.mutable_training()->set_dropout(0.2f);
  ASSERT_TRUE(NormalizeModelSpec(images, &dense).ok());
  EXPECT_FLOAT_EQ(dense.training().dropout(), 0.2f);
  for (float bad : {-0.1f, 0.95f, std::numeric_limits<float>::infinity(), std::nanf("")}) {
    v1::ModelSpec spec = dense;
    spec.mutable_training()->set_dropout(bad);
    const absl::Status s = NormalizeModelSpec(images, &spec);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(s.message().find("training.dropout must be in [0, 0.9]"), absl::string_view::npos)
        << s;
  }
  v1::ModelSpec pca;
  pca.mutable_pca()->set_code_size(10);
  pca.mutable_training()->set_dropout(0.2f);
  absl::Status s = NormalizeModelSpec(images, &pca);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("dense auto-encoders and classifiers"), absl::string_view::npos) << s;
  v1::ModelSpec conv;
  conv.mutable_conv()->add_encoder()->set_filters(8);
  conv.mutable_conv()->set_code_size(10);
  conv.mutable_training()->set_dropout(0.2f);
  s = NormalizeModelSpec(images, &conv);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("dropout"), absl::string_view::npos) << s;
}

TEST(SpecsTest, AugmentationMustFitTheCollection) {
  v1::CollectionSpec images = ImageSpec(28, 28, 1);
  ASSERT_TRUE(NormalizeCollectionSpec(&images).ok());
  v1::ModelSpec spec;
  spec.mutable_pca()->set_code_size(10);
  v1::ImageAugmentation* a = spec.mutable_training()->mutable_augmentation();
  a->set_max_shift_pixels(3);
  a->set_max_rotation_degrees(15);
  a->set_horizontal_flip(true);
  ASSERT_TRUE(NormalizeModelSpec(images, &spec).ok());
  EXPECT_FLOAT_EQ(spec.training().augmentation().min_scale(), 1);  // Defaults filled in.
  a = spec.mutable_training()->mutable_augmentation();
  a->set_max_shift_pixels(14);  // Half of the side.
  absl::Status s = NormalizeModelSpec(images, &spec);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("shift"), absl::string_view::npos) << s;
  a->set_max_shift_pixels(2);
  a->set_max_rotation_degrees(200);
  EXPECT_EQ(NormalizeModelSpec(images, &spec).code(), absl::StatusCode::kInvalidArgument);
  v1::CollectionSpec docs;
  docs.mutable_document();
  ASSERT_TRUE(NormalizeCollectionSpec(&docs).ok());
  v1::ModelSpec doc_spec;
  doc_spec.mutable_dense()->set_code_size(10);
  doc_spec.mutable_training()->mutable_augmentation()->set_horizontal_flip(true);
  s = NormalizeModelSpec(docs, &doc_spec);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("image collections"), absl::string_view::npos) << s;
  v1::ModelSpec bad_enum;
  bad_enum.mutable_pca()->set_code_size(10);
  bad_enum.mutable_training()->set_validation(static_cast<v1::ValidationSplit>(9));
  EXPECT_EQ(NormalizeModelSpec(images, &bad_enum).code(), absl::StatusCode::kInvalidArgument);
}

TEST(SpecsTest, DefaultRecipesFollowTheInputKindAndDataSize) {
  v1::CollectionSpec images = ImageSpec(28, 28, 1);
  ASSERT_TRUE(NormalizeCollectionSpec(&images).ok());
  v1::ModelSpec spec;
  ApplyDefaultRecipe(images, 48000, &spec);
  ASSERT_TRUE(spec.has_dense());
  EXPECT_EQ(spec.dense().encoder_sizes_size(), 3);
  EXPECT_EQ(spec.dense().encoder_sizes(0), 1000u);
  EXPECT_EQ(spec.dense().code_size(), 30u);
  EXPECT_EQ(spec.dense().hidden_activation(), v1::ACTIVATION_RELU);
  EXPECT_EQ(spec.training().epochs(), 31u);  // 1.5M examples seen, at least 30 epochs.
  ASSERT_TRUE(NormalizeModelSpec(images, &spec).ok());
  v1::ModelSpec small;
  small.mutable_training()->set_epochs(7);  // Set by the client: kept.
  ApplyDefaultRecipe(ImageSpec(8, 8, 1), 500, &small);
  EXPECT_EQ(small.dense().encoder_sizes(0), 256u);
  EXPECT_EQ(small.training().epochs(), 7u);
  v1::ModelSpec chosen;
  chosen.mutable_pca()->set_code_size(4);
  ApplyDefaultRecipe(images, 48000, &chosen);  // An architecture is never replaced.
  EXPECT_TRUE(chosen.has_pca());

  v1::CollectionSpec docs;
  docs.mutable_document();
  ASSERT_TRUE(NormalizeCollectionSpec(&docs).ok());
  v1::ModelSpec text;
  ApplyDefaultRecipe(docs, 6000, &text);
  EXPECT_TRUE(text.dense().pretraining().enabled());
  EXPECT_EQ(text.dense().code_size(), 10u);
  EXPECT_EQ(text.dense().encoder_sizes(2), 125u);
  EXPECT_EQ(text.training().optimizer(), v1::OPTIMIZER_KIND_SGD);
  // About 65k documents seen per pre-training layer and 650k in fine-tuning, towards
  // neighbour-smoothed targets from masked inputs.
  EXPECT_EQ(text.dense().pretraining().epochs_per_layer(), 11u);
  EXPECT_EQ(text.training().epochs(), 109u);
  EXPECT_EQ(text.dense().neighbour_targets().count(), 20u);
  EXPECT_FLOAT_EQ(text.dense().neighbour_targets().weight(), 0.7f);
  EXPECT_EQ(text.dense().denoising().corruption(), v1::CORRUPTION_MASKING);
  EXPECT_FLOAT_EQ(text.dense().denoising().level(), 0.4f);
  EXPECT_TRUE(text.training().keep_last_epoch());  // Every epoch; no early stopping.
  ASSERT_TRUE(NormalizeModelSpec(docs, &text).ok());
  EXPECT_EQ(text.training().early_stopping_patience(), 0u);
  EXPECT_FALSE(ToEngineOptions(text, TrainingHooks()).restore_best);
  v1::ModelSpec patient;  // A patience of the user's own: early stopping, as asked.
  patient.mutable_training()->set_early_stopping_patience(3);
  ApplyDefaultRecipe(docs, 6000, &patient);
  EXPECT_FALSE(patient.training().keep_last_epoch());
  ASSERT_TRUE(NormalizeModelSpec(docs, &patient).ok());
  EXPECT_TRUE(ToEngineOptions(patient, TrainingHooks()).restore_best);
  v1::ModelSpec both = patient;
  both.mutable_training()->set_keep_last_epoch(true);
  EXPECT_EQ(NormalizeModelSpec(docs, &both).message(),
            "training.keep_last_epoch runs every epoch: leave early_stopping_patience 0");
  v1::ModelSpec reuters, tiny, unknown;
  ApplyDefaultRecipe(docs, 6515, &reuters);  // The paper's schedule for Reuters' training set.
  EXPECT_EQ(reuters.dense().pretraining().epochs_per_layer(), 10u);
  EXPECT_EQ(reuters.training().epochs(), 100u);
  ApplyDefaultRecipe(docs, 338, &tiny);  // Capped: 200 and 300 epochs.
  EXPECT_EQ(tiny.dense().pretraining().epochs_per_layer(), 193u);
  EXPECT_EQ(tiny.training().epochs(), 300u);
  ApplyDefaultRecipe(docs, 0, &unknown);
  EXPECT_EQ(unknown.dense().pretraining().epochs_per_layer(), 10u);
  EXPECT_EQ(unknown.training().epochs(), 20u);
  v1::CollectionSpec binary_docs = docs;
  binary_docs.set_code_kind(v1::CODE_KIND_BINARY);
  binary_docs.clear_distance();
  ASSERT_TRUE(NormalizeCollectionSpec(&binary_docs).ok());
  v1::ModelSpec hashing;
  ApplyDefaultRecipe(binary_docs, 6000, &hashing);
  EXPECT_EQ(hashing.dense().code_size(), 32u);
  EXPECT_EQ(hashing.dense().neighbour_targets().count(), 20u);
}

// Neighbour targets: documents only, a count up to 1000, a weight in [0, 1] (0.7 by default,
// never without a count).
TEST(SpecsTest, NeighbourTargetsAreCheckedAndDefaulted) {
  v1::CollectionSpec docs;
  docs.mutable_document();
  ASSERT_TRUE(NormalizeCollectionSpec(&docs).ok());
  v1::ModelSpec spec;
  spec.mutable_dense()->set_code_size(10);
  spec.mutable_dense()->mutable_neighbour_targets()->set_count(15);
  ASSERT_TRUE(NormalizeModelSpec(docs, &spec).ok());
  EXPECT_FLOAT_EQ(spec.dense().neighbour_targets().weight(), 0.7f);
  const TrainOptions engine = ToEngineOptions(spec, TrainingHooks());
  EXPECT_EQ(engine.neighbour_count, 15);
  EXPECT_FLOAT_EQ(engine.neighbour_weight, 0.7f);
  v1::ModelSpec off;
  off.mutable_dense()->set_code_size(10);
  ASSERT_TRUE(NormalizeModelSpec(docs, &off).ok());
  EXPECT_FALSE(off.dense().has_neighbour_targets());
  EXPECT_EQ(ToEngineOptions(off, TrainingHooks()).neighbour_count, 0);

  const auto message = [](const v1::CollectionSpec& c, uint32_t count, float weight) {
    v1::ModelSpec s;
    s.mutable_dense()->set_code_size(10);
    s.mutable_dense()->mutable_neighbour_targets()->set_count(count);
    s.mutable_dense()->mutable_neighbour_targets()->set_weight(weight);
    const absl::Status status = NormalizeModelSpec(c, &s);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << count << " " << weight;
    return std::string(status.message());
  };
  EXPECT_EQ(message(docs, 1001, 0.5f), "dense.neighbour_targets.count must be at most 1000");
  EXPECT_EQ(message(docs, 20, 1.5f), "dense.neighbour_targets.weight must be in [0, 1]");
  EXPECT_EQ(message(docs, 20, -0.1f), "dense.neighbour_targets.weight must be in [0, 1]");
  EXPECT_EQ(message(docs, 20, std::nanf("")), "dense.neighbour_targets.weight must be in [0, 1]");
  EXPECT_EQ(message(docs, 0, 0.5f), "dense.neighbour_targets.weight needs a count");
  v1::CollectionSpec images = ImageSpec(8, 8, 1);
  ASSERT_TRUE(NormalizeCollectionSpec(&images).ok());
  EXPECT_EQ(message(images, 20, 0.5f), "dense.neighbour_targets applies to document collections");
}

}  // namespace
}  // namespace bn

namespace bn {
namespace {

TEST(SpecsTest, ClassifierDefaultsFollowTheDefaultEncoderAndStayPut) {
  v1::CollectionSpec images = ImageSpec(28, 28, 1);
  ASSERT_TRUE(NormalizeCollectionSpec(&images).ok());
  v1::ModelSpec spec;
  spec.mutable_classifier();
  ASSERT_TRUE(NormalizeModelSpec(images, &spec).ok());
  const v1::ClassifierSpec& c = spec.classifier();
  EXPECT_EQ(std::vector<uint32_t>(c.hidden_sizes().begin(), c.hidden_sizes().end()),
            (std::vector<uint32_t>{1000, 500, 250}));
  EXPECT_EQ(c.hidden_activation(), v1::ACTIVATION_RELU);
  EXPECT_EQ(spec.training().epochs(), 20u);
  v1::ModelSpec again = spec;
  ASSERT_TRUE(NormalizeModelSpec(images, &again).ok());
  EXPECT_EQ(again.SerializeAsString(), spec.SerializeAsString());
  // From an encoder version: no layers of its own unless asked (resolved by JobManager::Start).
  v1::ModelSpec from;
  from.mutable_classifier()->set_encoder_model_version(3);
  ASSERT_TRUE(NormalizeModelSpec(images, &from).ok());
  EXPECT_TRUE(from.classifier().hidden_sizes().empty());
  EXPECT_EQ(from.classifier().encoder_layers(), 0u);
  // Documents: the document recipe's encoder sizes.
  v1::CollectionSpec docs;
  docs.mutable_document()->set_vocabulary_size(2000);
  ASSERT_TRUE(NormalizeCollectionSpec(&docs).ok());
  v1::ModelSpec text;
  text.mutable_classifier();
  ASSERT_TRUE(NormalizeModelSpec(docs, &text).ok());
  EXPECT_EQ(std::vector<uint32_t>(text.classifier().hidden_sizes().begin(),
                                  text.classifier().hidden_sizes().end()),
            (std::vector<uint32_t>{500, 250, 125}));
  EXPECT_EQ(std::vector<uint32_t>(text.classifier().hidden_sizes().begin(),
                                  text.classifier().hidden_sizes().end()),
            DefaultEncoderSizes(docs));
  // The collection's own checks.
  v1::ModelSpec bad = from;
  bad.mutable_classifier()->set_encoder_layers(kMaxEncoderLayers + 1);
  EXPECT_EQ(NormalizeModelSpec(images, &bad).code(), absl::StatusCode::kInvalidArgument);
  bad = spec;
  bad.mutable_text();
  EXPECT_EQ(NormalizeModelSpec(images, &bad).code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace bn
