#include "engine/train/classifier_trainer.h"

#include <random>
#include <string>
#include <vector>

#include "engine/model/autoencoder.h"
#include "engine/model/classifier_net.h"
#include "engine/model/model_file.h"
#include "engine/train/autoencoder_trainer.h"
#include "gtest/gtest.h"
#include "tests/engine/model/autoencoder_test_util.h"

namespace bn {
namespace {

TEST(DenseClassifierTrainer, LearnsFashionMnistFromRandomInitAndAfterPretraining) {
  FloatMatrix x = testing::ReadFashionImages("train-images-idx3-ubyte.gz", 2000);
  std::vector<int> y = testing::ReadFashionLabels("train-labels-idx1-ubyte.gz", 2000);
  FloatMatrix xt = testing::ReadFashionImages("t10k-images-idx3-ubyte.gz", 500);
  std::vector<int> yt = testing::ReadFashionLabels("t10k-labels-idx1-ubyte.gz", 500);
  ASSERT_EQ(x.rows, 2000);
  ASSERT_EQ(yt.size(), 500u);
  ClassifierSpec spec;
  spec.hidden_sizes = {128, 64};
  TrainOptions o;
  o.epochs = 5;
  o.batch_size = 64;
  o.learning_rate = 2e-3f;
  o.threads = 1;  // one thread: robust on a shared CI machine
  o.pretrain_epochs = 2;
  auto random = TrainDenseClassifier(x, y, spec, o, nullptr, nullptr);
  ASSERT_TRUE(random.ok()) << random.status();
  spec.pretraining = true;
  std::vector<std::string> phases;
  auto pre = TrainDenseClassifier(
      x, y, spec, o,
      [&](const TrainingProgress& p) {
        if (phases.empty() || phases.back() != p.phase) phases.push_back(p.phase);
      },
      nullptr);
  ASSERT_TRUE(pre.ok()) << pre.status();
  EXPECT_EQ(phases, (std::vector<std::string>{"RBM layer 1/2", "RBM layer 2/2", "fine-tune"}));
  auto er = (*random)->ErrorRate(xt, yt);
  auto ep = (*pre)->ErrorRate(xt, yt);
  ASSERT_TRUE(er.ok() && ep.ok());
  std::printf("test error: random init %.3f, pre-trained %.3f\n", *er, *ep);
  // Ten classes: chance is 0.9. Both must learn the task.
  EXPECT_LT(*er, 0.3);
  EXPECT_LT(*ep, 0.3);
  // Class probabilities sum to one.
  std::vector<float> probs(10);
  ASSERT_TRUE((*pre)->Predict(xt.row(0), 1, probs.data()).ok());
  float sum = 0;
  for (float p : probs) sum += p;
  EXPECT_NEAR(sum, 1.0f, 1e-5);
}

TEST(DenseClassifierTrainer, RejectsBadLabelsAndHonoursCancellation) {
  FloatMatrix x(4, 784);
  ClassifierSpec spec;
  spec.hidden_sizes = {8};
  TrainOptions o;
  EXPECT_FALSE(TrainDenseClassifier(x, {0, 1, 2, 10}, spec, o, nullptr, nullptr).ok());
  EXPECT_FALSE(TrainDenseClassifier(x, {0, 1, 2}, spec, o, nullptr, nullptr).ok());
  CancellationFlag cancel;
  cancel.Cancel();
  EXPECT_EQ(TrainDenseClassifier(x, {0, 1, 2, 3}, spec, o, nullptr, &cancel).status().code(),
            absl::StatusCode::kCancelled);
}

}  // namespace
}  // namespace bn

namespace bn {
namespace {

// Two classes of 8-pixel rows: the first half bright, or the second.
void HalfBright(int64_t rows, uint64_t seed, FloatMatrix* x, std::vector<int>* labels) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> u(0.0f, 0.3f);
  *x = FloatMatrix(rows, 8);
  labels->clear();
  for (int64_t r = 0; r < rows; ++r) {
    const int c = static_cast<int>(r % 2);
    labels->push_back(c);
    for (int j = 0; j < 8; ++j) x->at(r, j) = ((j < 4) == (c == 0) ? 0.7f : 0.0f) + u(rng);
  }
}

// The encoder layers (8-6 ReLU, 3 linear) of a briefly trained auto-encoder.
std::vector<DenseLayerWeights> EncoderOf(const FloatMatrix& x) {
  DenseAutoencoderSpec spec;
  spec.input_size = 8;
  spec.encoder_sizes = {6};
  spec.code_size = 3;
  spec.hidden_activation = Activation::kRelu;
  TrainOptions o;
  o.epochs = 2;
  o.batch_size = 16;
  o.threads = 1;
  auto ae = TrainDenseAutoencoder(x, nullptr, spec, o, nullptr, nullptr);
  EXPECT_TRUE(ae.ok()) << ae.status();
  auto layers = DenseEncoderLayers(*ae->model);
  EXPECT_TRUE(layers.ok()) << layers.status();
  return *layers;
}

ClassifierSpec OnEncoder(const std::vector<DenseLayerWeights>& layers, size_t reuse) {
  ClassifierSpec spec;
  spec.input_size = 8;
  spec.num_classes = 2;
  spec.hidden_sizes.clear();
  for (size_t l = 0; l < reuse; ++l) {
    spec.hidden_sizes.push_back(layers[l].out_size);
    spec.hidden_activations.push_back(layers[l].activation);
  }
  spec.hidden_sizes.push_back(5);  // One more, randomly initialised.
  spec.hidden_activations.push_back(Activation::kRelu);
  return spec;
}

std::unique_ptr<ClassifierNet> NetOf(const Model& model) {
  std::string payload;
  EXPECT_TRUE(model.SavePayload(&payload).ok());
  ByteReader r(payload);
  auto net = ClassifierNet::LoadPayload(&r);
  EXPECT_TRUE(net.ok()) << net.status();
  return std::move(*net);
}

TEST(ClassifierTrainer, FrozenEncoderLayersKeepTheirWeightsUnfrozenOnesAreFineTuned) {
  FloatMatrix x, xv;
  std::vector<int> y, yv;
  HalfBright(200, 1, &x, &y);
  HalfBright(40, 2, &xv, &yv);
  const std::vector<DenseLayerWeights> encoder = EncoderOf(x);
  ASSERT_EQ(encoder.size(), 2u);
  const ClassifierSpec spec = OnEncoder(encoder, 2);
  TrainOptions o;
  o.epochs = 6;
  o.batch_size = 16;
  o.threads = 1;
  o.learning_rate = 1e-2f;
  for (bool freeze : {true, false}) {
    SCOPED_TRACE(freeze ? "frozen" : "fine-tuned");
    auto trained = TrainClassifier(x, y, &xv, &yv, spec, {encoder, freeze}, o, nullptr, nullptr);
    ASSERT_TRUE(trained.ok()) << trained.status();
    EXPECT_GE(trained->validation_error, 0.0);
    EXPECT_LT(trained->validation_error, 0.2);  // Two easy classes.
    EXPECT_GE(trained->best_epoch, 1);
    auto net = NetOf(*trained->model);
    for (int l = 0; l < 2; ++l) {
      EXPECT_EQ(net->layer(l).weights() == encoder[l].weights, freeze) << "layer " << l;
      EXPECT_EQ(net->layer(l).bias() == encoder[l].bias, freeze) << "layer " << l;
    }
  }
}

TEST(ClassifierTrainer, TheSameSeedGivesTheSameWeightsAndAResumedRunEndsTheSame) {
  FloatMatrix x;
  std::vector<int> y;
  HalfBright(120, 3, &x, &y);
  const std::vector<DenseLayerWeights> encoder = EncoderOf(x);
  const ClassifierSpec spec = OnEncoder(encoder, 1);
  const ClassifierInit init{{encoder[0]}, true};
  TrainOptions o;
  o.epochs = 4;
  o.batch_size = 16;
  o.threads = 1;
  o.validation_fraction = 0.2;
  o.restore_best = false;
  std::vector<std::string> checkpoints;
  o.on_checkpoint = [&](const std::string& bytes) { checkpoints.push_back(bytes); };
  auto bytes_of = [](const TrainResult& r) { return *SerializeModel(*r.model); };
  auto a = TrainClassifier(x, y, nullptr, nullptr, spec, init, o, nullptr, nullptr);
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_EQ(checkpoints.size(), 4u);
  o.on_checkpoint = nullptr;
  auto b = TrainClassifier(x, y, nullptr, nullptr, spec, init, o, nullptr, nullptr);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(bytes_of(*a), bytes_of(*b));
  o.resume_from = &checkpoints[1];  // After epoch 2.
  auto resumed = TrainClassifier(x, y, nullptr, nullptr, spec, init, o, nullptr, nullptr);
  ASSERT_TRUE(resumed.ok()) << resumed.status();
  EXPECT_EQ(bytes_of(*resumed), bytes_of(*a));
  // A checkpoint of the net with its first layer fine-tuned does not resume a frozen one.
  const ClassifierInit unfrozen{{encoder[0]}, false};
  EXPECT_FALSE(TrainClassifier(x, y, nullptr, nullptr, spec, unfrozen, o, nullptr, nullptr).ok());
  o.resume_from = nullptr;
  o.seed = 2;
  auto other = TrainClassifier(x, y, nullptr, nullptr, spec, init, o, nullptr, nullptr);
  ASSERT_TRUE(other.ok());
  EXPECT_NE(bytes_of(*other), bytes_of(*a));
  // Dropout (on the hidden layers, the frozen encoder's output included): seeded like the rest,
  // so the same again and a resumed run give the same weights, and different from none.
  o.seed = 1;
  o.dropout = 0.3f;
  checkpoints.clear();
  o.on_checkpoint = [&](const std::string& bytes) { checkpoints.push_back(bytes); };
  auto d1 = TrainClassifier(x, y, nullptr, nullptr, spec, unfrozen, o, nullptr, nullptr);
  ASSERT_TRUE(d1.ok()) << d1.status();
  ASSERT_EQ(checkpoints.size(), 4u);
  o.on_checkpoint = nullptr;
  auto d2 = TrainClassifier(x, y, nullptr, nullptr, spec, unfrozen, o, nullptr, nullptr);
  o.resume_from = &checkpoints[1];
  auto d_resumed = TrainClassifier(x, y, nullptr, nullptr, spec, unfrozen, o, nullptr, nullptr);
  o.resume_from = nullptr;
  o.dropout = 0;
  auto no_dropout = TrainClassifier(x, y, nullptr, nullptr, spec, unfrozen, o, nullptr, nullptr);
  ASSERT_TRUE(d2.ok() && d_resumed.ok() && no_dropout.ok());
  EXPECT_EQ(bytes_of(*d1), bytes_of(*d2));
  EXPECT_EQ(bytes_of(*d_resumed), bytes_of(*d1));
  EXPECT_NE(bytes_of(*no_dropout), bytes_of(*d1));
  o.neighbour_count = 5;  // Neighbour targets are for document auto-encoders only.
  EXPECT_EQ(
      TrainClassifier(x, y, nullptr, nullptr, spec, unfrozen, o, nullptr, nullptr).status().code(),
      absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace bn
