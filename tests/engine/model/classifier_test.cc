// The classifier as a stored Model (ModelKind::kClassifier) and its initialisation from an
// auto-encoder's encoder layers (engine/model/classifier.h, classifier_net.h,
// autoencoder.h's DenseEncoderLayers, engine/train/classifier_trainer.h's TrainClassifier).
#include "engine/model/classifier.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "engine/model/autoencoder.h"
#include "engine/model/classifier_net.h"
#include "engine/model/model_file.h"
#include "engine/model/pca.h"
#include "engine/train/autoencoder_trainer.h"
#include "engine/train/classifier_trainer.h"
#include "gtest/gtest.h"
#include "tests/engine/model/autoencoder_test_util.h"

namespace bn {
namespace {

constexpr int64_t kWidth = 16;
constexpr int kClasses = 3;

// Three noisy prototypes in [0, 1]^16; row r belongs to class r % 3.
struct Labelled {
  FloatMatrix x;
  std::vector<int> labels;
};
Labelled Blobs(int64_t rows, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> noise(0.0f, 0.15f);
  Labelled out{FloatMatrix(rows, kWidth), {}};
  for (int64_t r = 0; r < rows; ++r) {
    const int c = static_cast<int>(r % kClasses);
    out.labels.push_back(c);
    for (int64_t j = 0; j < kWidth; ++j) {
      const float center = (j % kClasses == c) ? 0.8f : 0.2f;
      out.x.at(r, j) = std::min(1.0f, std::max(0.0f, center + noise(rng)));
    }
  }
  return out;
}

TrainOptions SmallOptions(int epochs) {
  TrainOptions o;
  o.epochs = epochs;
  o.batch_size = 16;
  o.threads = 1;
  o.seed = 7;
  o.learning_rate = 5e-3f;
  return o;
}

// A ReLU auto-encoder 16-12-8-(4 linear)-8-12-16 trained briefly.
std::unique_ptr<Model> SmallAutoencoder(const FloatMatrix& x) {
  DenseAutoencoderSpec spec;
  spec.input_size = kWidth;
  spec.encoder_sizes = {12, 8};
  spec.code_size = 4;
  spec.hidden_activation = Activation::kRelu;
  auto trained = TrainDenseAutoencoder(x, nullptr, spec, SmallOptions(3), {}, nullptr);
  EXPECT_TRUE(trained.ok()) << trained.status();
  return trained.ok() ? std::move(trained->model) : nullptr;
}

TEST(ClassifierModel, SaveLoadRoundTripGivesIdenticalProbabilities) {
  const Labelled data = Blobs(300, 1);
  ClassifierSpec spec;
  spec.input_size = kWidth;
  spec.hidden_sizes = {10, 6};
  spec.hidden_activations = {Activation::kRelu, Activation::kTanh};
  spec.num_classes = kClasses;
  auto trained = TrainClassifier(data.x, data.labels, nullptr, nullptr, spec, {}, SmallOptions(5),
                                 {}, nullptr);
  ASSERT_TRUE(trained.ok()) << trained.status();
  const Model& model = *trained->model;
  EXPECT_EQ(model.kind(), ModelKind::kClassifier);
  EXPECT_EQ(model.input_size(), kWidth);
  EXPECT_EQ(model.code_size(), kClasses);
  EXPECT_EQ(model.code_type(), CodeType::kFloat);
  EXPECT_EQ(model.parameter_count(), (16 + 1) * 10 + (10 + 1) * 6 + (6 + 1) * 3);

  auto file = SerializeModel(model);
  ASSERT_TRUE(file.ok()) << file.status();
  auto loaded = DeserializeModel(*file);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ((*loaded)->kind(), ModelKind::kClassifier);
  EXPECT_EQ((*loaded)->parameter_count(), model.parameter_count());
  std::vector<float> before(static_cast<size_t>(data.x.rows * kClasses));
  std::vector<float> after(before.size());
  ASSERT_TRUE(model.Encode(data.x.data.data(), data.x.rows, before.data()).ok());
  ASSERT_TRUE((*loaded)->Encode(data.x.data.data(), data.x.rows, after.data()).ok());
  EXPECT_EQ(before, after);  // Bit for bit.
  for (int64_t r = 0; r < data.x.rows; ++r) {
    float sum = 0;
    for (int c = 0; c < kClasses; ++c) sum += before[r * kClasses + c];
    ASSERT_NEAR(sum, 1.0f, 1e-5) << "row " << r;
  }
  // It learned the blobs.
  EXPECT_LT(MisclassifiedFraction(before.data(), data.labels.data(), data.x.rows, kClasses), 0.05);
  // The re-serialization is byte-identical.
  auto again = SerializeModel(**loaded);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *file);
  // No decoder.
  std::vector<float> x(kWidth);
  EXPECT_EQ(model.Decode(before.data(), 1, x.data()).code(), absl::StatusCode::kUnimplemented);
  EXPECT_EQ(model.Encode(data.x.data.data(), -1, before.data()).code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(ClassifierModel, CorruptPayloadsAreRejected) {
  const Labelled data = Blobs(60, 2);
  ClassifierSpec spec;
  spec.input_size = kWidth;
  spec.hidden_sizes = {5};
  spec.num_classes = kClasses;
  auto trained = TrainClassifier(data.x, data.labels, nullptr, nullptr, spec, {}, SmallOptions(1),
                                 {}, nullptr);
  ASSERT_TRUE(trained.ok()) << trained.status();
  std::string payload;
  ASSERT_TRUE(trained->model->SavePayload(&payload).ok());
  auto load = [](const std::string& p) {
    return DeserializeModel(testing::ModelEnvelope(ModelKind::kClassifier, p)).status();
  };
  EXPECT_TRUE(load(payload).ok());
  EXPECT_EQ(load(payload.substr(0, payload.size() - 1)).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(load(payload + "x").code(), absl::StatusCode::kInvalidArgument);
  std::string bad_version = payload;
  bad_version[0] = 9;
  EXPECT_EQ(load(bad_version).code(), absl::StatusCode::kInvalidArgument);
  // The first hidden layer's activation (u32 after version, input size, count and its size).
  std::string bad_activation = payload;
  bad_activation[4 + 8 + 8 + 8] = 7;
  EXPECT_EQ(load(bad_activation).code(), absl::StatusCode::kInvalidArgument);
  // A NaN weight (the first float of the first weight block, after the class count and the
  // block's length).
  std::string nan = payload;
  const size_t first_weight = 4 + 8 + 8 + (8 + 4) + 8 + 8;
  const float q = std::numeric_limits<float>::quiet_NaN();
  std::memcpy(&nan[first_weight], &q, sizeof(q));
  EXPECT_EQ(load(nan).code(), absl::StatusCode::kInvalidArgument);
  // A claimed layer far larger than the bytes: refused before allocating.
  std::string huge = payload;
  const int64_t big = int64_t{1} << 20;
  std::memcpy(&huge[4 + 8 + 8], &big, sizeof(big));
  EXPECT_EQ(load(huge).code(), absl::StatusCode::kInvalidArgument);
}

TEST(ClassifierInit, EncoderLayersOfAnAutoencoderCarryTheirWeightsAndActivations) {
  const Labelled data = Blobs(240, 3);
  auto ae = SmallAutoencoder(data.x);
  ASSERT_NE(ae, nullptr);
  auto layers = DenseEncoderLayers(*ae);
  ASSERT_TRUE(layers.ok()) << layers.status();
  ASSERT_EQ(layers->size(), 3u);  // Two hidden layers and the code layer.
  EXPECT_EQ((*layers)[0].in_size, kWidth);
  EXPECT_EQ((*layers)[0].out_size, 12);
  EXPECT_EQ((*layers)[1].out_size, 8);
  EXPECT_EQ((*layers)[2].out_size, 4);
  EXPECT_EQ((*layers)[0].activation, Activation::kRelu);
  EXPECT_EQ((*layers)[1].activation, Activation::kRelu);
  EXPECT_EQ((*layers)[2].activation, Activation::kLinear);
  EXPECT_EQ((*layers)[0].weights.size(), 12u * kWidth);
  EXPECT_EQ((*layers)[2].bias.size(), 4u);

  // Keeping every layer, the classifier's third hidden layer computes the auto-encoder's codes:
  // a classifier whose output layer is the identity on them (4 "classes", zero bias) gives the
  // softmax of the codes.
  ClassifierSpec spec;
  spec.input_size = kWidth;
  spec.hidden_sizes = {12, 8, 4};
  spec.hidden_activations = {Activation::kRelu, Activation::kRelu, Activation::kLinear};
  spec.num_classes = 4;
  auto net = ClassifierNet::Create(spec);
  ASSERT_TRUE(net.ok()) << net.status();
  ASSERT_TRUE((*net)->SetLayers(*layers).ok());
  DenseLayer& out = (*net)->layer(3);
  std::fill(out.weights().begin(), out.weights().end(), 0.0f);
  for (int i = 0; i < 4; ++i) out.weights()[i * 4 + i] = 1.0f;
  std::vector<float> probs(static_cast<size_t>(data.x.rows * 4));
  ASSERT_TRUE((*net)->Predict(data.x.data.data(), data.x.rows, probs.data()).ok());
  std::vector<float> codes(probs.size());
  ASSERT_TRUE(ae->Encode(data.x.data.data(), data.x.rows, codes.data()).ok());
  for (int64_t r = 0; r < data.x.rows; ++r) {
    const float* c = codes.data() + r * 4;
    const float m = *std::max_element(c, c + 4);
    double z = 0;
    for (int i = 0; i < 4; ++i) z += std::exp(c[i] - m);
    for (int i = 0; i < 4; ++i) {
      ASSERT_NEAR(probs[r * 4 + i], std::exp(c[i] - m) / z, 1e-5) << "row " << r;
    }
  }
}

TEST(ClassifierInit, MismatchedLayersAreRefusedAndOtherModelsHaveNoEncoderLayers) {
  const Labelled data = Blobs(60, 4);
  auto ae = SmallAutoencoder(data.x);
  ASSERT_NE(ae, nullptr);
  auto layers = DenseEncoderLayers(*ae);
  ASSERT_TRUE(layers.ok());
  ClassifierSpec spec;
  spec.input_size = kWidth;
  spec.hidden_sizes = {12, 8};
  spec.num_classes = kClasses;
  spec.hidden_activations = {Activation::kRelu, Activation::kLogistic};  // Layer 1 is ReLU.
  auto net = ClassifierNet::Create(spec);
  ASSERT_TRUE(net.ok());
  const std::vector<float> before = (*net)->FlatParameters();
  std::vector<DenseLayerWeights> two(layers->begin(), layers->begin() + 2);
  EXPECT_EQ((*net)->SetLayers(two).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ((*net)->FlatParameters(), before);  // Nothing changed.
  EXPECT_EQ((*net)->SetLayers(*layers).code(), absl::StatusCode::kInvalidArgument);  // Too many.
  spec.hidden_sizes = {11, 8};
  spec.hidden_activations = {Activation::kRelu, Activation::kRelu};
  auto narrow = ClassifierNet::Create(spec);
  ASSERT_TRUE(narrow.ok());
  EXPECT_EQ((*narrow)->SetLayers(two).code(), absl::StatusCode::kInvalidArgument);
  // The trainer refuses them too, and RBM pre-training with given layers.
  ClassifierInit init{two, false};
  EXPECT_EQ(TrainClassifier(data.x, data.labels, nullptr, nullptr, spec, init, SmallOptions(1), {},
                            nullptr)
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  auto pca = FitPca(data.x, 3);
  ASSERT_TRUE(pca.ok());
  EXPECT_EQ(DenseEncoderLayers(**pca).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace bn
