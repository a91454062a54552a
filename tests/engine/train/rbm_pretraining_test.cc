#include "engine/train/rbm_pretraining.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "engine/model/autoencoder.h"
#include "engine/model/autoencoder_net.h"
#include "engine/nn/context.h"
#include "engine/train/autoencoder_trainer.h"
#include "gtest/gtest.h"
#include "tests/engine/model/autoencoder_test_util.h"

namespace bn {
namespace {

// 12 words -> 8 -> code 3, softmax output (a replicated-softmax first RBM), pre-trained.
DenseAutoencoderSpec SmallDocumentSpec() {
  DenseAutoencoderSpec spec;
  spec.input_size = 12;
  spec.encoder_sizes = {8};
  spec.code_size = 3;
  spec.output = OutputKind::kSoftmaxCrossEntropy;
  spec.pretraining = true;
  return spec;
}

// `rows` random word distributions over `words` (each row sums to 1).
FloatMatrix RandomDistributions(int64_t rows, int64_t words, uint32_t seed) {
  FloatMatrix x(rows, words);
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  for (int64_t r = 0; r < x.rows; ++r) {
    float s = 0;
    for (int64_t c = 0; c < x.cols; ++c) s += (x.at(r, c) = u(rng));
    for (int64_t c = 0; c < x.cols; ++c) x.at(r, c) /= s;
  }
  return x;
}

// The unrolled encoder sees normalised rows without their lengths, so its first layer carries
// the mean length: N_mean W. With no pre-training epochs W is the seeded initialisation, so two
// runs differing only in the lengths must differ exactly by the ratio of their mean lengths in
// the encoder's first layer, and not at all in the mirrored output layer (W^T).
TEST(RbmPretraining, UnrolledFirstLayerCarriesTheMeanDocumentLength) {
  SetNnThreads(1);
  const DenseAutoencoderSpec spec = SmallDocumentSpec();
  const FloatMatrix x = RandomDistributions(20, 12, 5);
  std::vector<float> lengths;
  for (int64_t r = 0; r < x.rows; ++r) lengths.push_back(static_cast<float>(10 + 3 * r));
  std::vector<float> doubled = lengths;
  for (float& l : doubled) l *= 2;
  TrainOptions o;
  o.pretrain_epochs = 0;
  o.pretrain_document_length = 7.0f;
  o.pretrain_max_mean_document_length = 0;  // lengths as given (the next test covers the cap)
  auto unroll = [&](const std::vector<float>* l) {
    auto net = AutoencoderNet::Create(spec);
    EXPECT_TRUE(net.ok());
    EXPECT_TRUE(PretrainWithRbms(x, l, o, 3, nullptr, nullptr, net->get()).ok());
    return std::move(*net);
  };
  auto a = unroll(&lengths), b = unroll(&doubled), c = unroll(nullptr);
  const double mean = (10 + 10 + 3 * 19) / 2.0;  // lengths 10, 13, ..., 67
  const std::vector<float>& wa = a->layer(0).weights();
  ASSERT_EQ(wa.size(), b->layer(0).weights().size());
  double max_abs = 0;
  for (size_t k = 0; k < wa.size(); ++k) {
    max_abs = std::max(max_abs, std::fabs(double{wa[k]}));
    EXPECT_NEAR(b->layer(0).weights()[k], 2 * wa[k], 1e-5 * std::fabs(wa[k]) + 1e-7);
    EXPECT_NEAR(c->layer(0).weights()[k], wa[k] * 7.0 / mean, 1e-5 * std::fabs(wa[k]) + 1e-7);
  }
  EXPECT_GT(max_abs, 0.0);
  const int last = a->num_layers() - 1;
  EXPECT_EQ(a->layer(last).weights(), b->layer(last).weights());
  EXPECT_EQ(a->layer(last).weights(), c->layer(last).weights());
  std::vector<float> short_lengths(3, 1.0f);
  auto net = AutoencoderNet::Create(spec);
  ASSERT_TRUE(net.ok());
  EXPECT_EQ(PretrainWithRbms(x, &short_lengths, o, 3, nullptr, nullptr, net->get()).code(),
            absl::StatusCode::kInvalidArgument);
  // Through the trainer: lengths must match the rows; with a held-out split they follow their
  // rows; bad lengths are rejected.
  o.pretrain_epochs = 1;
  o.epochs = 1;
  o.document_lengths = &short_lengths;
  EXPECT_EQ(TrainDenseAutoencoder(x, nullptr, spec, o, nullptr, nullptr).status().code(),
            absl::StatusCode::kInvalidArgument);
  o.document_lengths = &lengths;
  o.validation_fraction = 0.25;
  EXPECT_TRUE(TrainDenseAutoencoder(x, nullptr, spec, o, nullptr, nullptr).ok());
  std::vector<float> negative = lengths;
  negative[3] = -1.0f;
  o.document_lengths = &negative;
  EXPECT_EQ(TrainDenseAutoencoder(x, nullptr, spec, o, nullptr, nullptr).status().code(),
            absl::StatusCode::kInvalidArgument);
  o.document_lengths = &lengths;
  o.pretrain_cd_steps = 0;
  EXPECT_EQ(TrainDenseAutoencoder(x, nullptr, spec, o, nullptr, nullptr).status().code(),
            absl::StatusCode::kInvalidArgument);
  o.pretrain_cd_steps = 3;
  EXPECT_TRUE(TrainDenseAutoencoder(x, nullptr, spec, o, nullptr, nullptr).ok());
}

// Documents longer on average than pretrain_max_mean_document_length are scaled to that mean:
// lengths L (mean 38.5) and 3L (mean 115.5) both become L * 30 / 38.5 under a cap of 30, so two
// trained pre-trainings agree bit for bit; a cap above both means leaves them different, and a
// negative or infinite cap is refused.
TEST(RbmPretraining, LongDocumentsAreScaledToTheMaximumMeanLength) {
  SetNnThreads(1);
  const DenseAutoencoderSpec spec = SmallDocumentSpec();
  const FloatMatrix x = RandomDistributions(20, 12, 9);
  std::vector<float> lengths, tripled;
  for (int64_t r = 0; r < x.rows; ++r) {
    lengths.push_back(static_cast<float>(10 + 3 * r));
    tripled.push_back(3 * lengths.back());
  }
  TrainOptions o;
  o.pretrain_epochs = 3;
  auto first_layer = [&](const std::vector<float>* l, float cap) {
    o.pretrain_max_mean_document_length = cap;
    auto net = AutoencoderNet::Create(spec);
    EXPECT_TRUE(net.ok());
    EXPECT_TRUE(PretrainWithRbms(x, l, o, 3, nullptr, nullptr, net->get()).ok());
    return (*net)->layer(0).weights();
  };
  const std::vector<float> a = first_layer(&lengths, 30), b = first_layer(&tripled, 30);
  ASSERT_EQ(a.size(), b.size());
  for (size_t k = 0; k < a.size(); ++k) EXPECT_NEAR(a[k], b[k], 1e-6f * (1 + std::fabs(a[k])));
  const std::vector<float> c = first_layer(&lengths, 1000), d = first_layer(&tripled, 1000);
  double diff = 0;
  for (size_t k = 0; k < c.size(); ++k) diff += std::fabs(double{c[k]} - d[k]);
  EXPECT_GT(diff, 1e-3);
  for (float bad : {-1.0f, std::numeric_limits<float>::infinity()}) {
    o.pretrain_max_mean_document_length = bad;
    auto net = AutoencoderNet::Create(spec);
    ASSERT_TRUE(net.ok());
    EXPECT_EQ(PretrainWithRbms(x, &lengths, o, 3, nullptr, nullptr, net->get()).code(),
              absl::StatusCode::kInvalidArgument);
  }
}

TEST(RbmPretraining, PretrainingUnrollsIntoABetterStartingPoint) {
  FloatMatrix x = testing::ReadFashionImages("train-images-idx3-ubyte.gz", 1000);
  ASSERT_EQ(x.rows, 1000);
  DenseAutoencoderSpec spec;
  spec.encoder_sizes = {64};
  spec.code_size = 8;
  spec.pretraining = true;
  TrainOptions o;
  o.epochs = 0;  // pre-training only: the unrolled net, not fine-tuned
  o.pretrain_epochs = 3;
  o.threads = 1;  // one thread: robust on a shared CI machine
  std::vector<std::string> phases;
  auto pre = TrainDenseAutoencoder(
      x, nullptr, spec, o,
      [&](const TrainingProgress& p) {
        if (phases.empty() || phases.back() != p.phase) phases.push_back(p.phase);
        EXPECT_EQ(p.phase_count, 3);
        // Each report is an epoch's end, a whole epoch of 10 batches of 100 rows.
        EXPECT_EQ(p.steps_per_epoch, 10);
        EXPECT_EQ(p.step, p.steps_per_epoch);
        EXPECT_GE(p.eta_seconds, 0);
      },
      nullptr);
  ASSERT_TRUE(pre.ok()) << pre.status();
  EXPECT_EQ(phases, (std::vector<std::string>{"RBM layer 1/2", "RBM layer 2/2"}));
  spec.pretraining = false;
  auto random = TrainDenseAutoencoder(x, nullptr, spec, o, nullptr, nullptr);
  ASSERT_TRUE(random.ok());
  auto e_pre = ReconstructionErrorPerItem(*pre->model, x);
  auto e_rand = ReconstructionErrorPerItem(*random->model, x);
  ASSERT_TRUE(e_pre.ok() && e_rand.ok());
  std::printf("unrolled RBMs %.2f vs random init %.2f per image\n", *e_pre, *e_rand);
  EXPECT_LT(*e_pre, 0.75 * *e_rand);
  // Pre-training rejects specs it cannot unroll.
  spec.pretraining = true;
  spec.hidden_activation = Activation::kRelu;
  EXPECT_EQ(TrainDenseAutoencoder(x, nullptr, spec, o, nullptr, nullptr).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// The ETA during pre-training covers the layers left and the fine-tuning to come: with a
// layer's cost proportional to visible x hidden, the first report of a 784-64-8 stack (3 epochs
// per layer, then 6 of fine-tuning at about one RBM epoch each) predicts several times its
// elapsed time, and it falls to the fine-tuning's share by pre-training's end.
TEST(RbmPretraining, TheEtaCoversTheRestOfPretrainingAndFineTuning) {
  FloatMatrix x = testing::ReadFashionImages("train-images-idx3-ubyte.gz", 1000);
  DenseAutoencoderSpec spec;
  spec.encoder_sizes = {64};
  spec.code_size = 8;
  spec.pretraining = true;
  TrainOptions o;
  o.epochs = 6;
  o.pretrain_epochs = 3;
  o.threads = 1;
  std::vector<TrainingProgress> pretraining;
  auto trained = TrainDenseAutoencoder(
      x, nullptr, spec, o,
      [&](const TrainingProgress& p) {
        if (p.phase != "fine-tune") pretraining.push_back(p);
      },
      nullptr);
  ASSERT_TRUE(trained.ok()) << trained.status();
  ASSERT_EQ(pretraining.size(), 6u);  // 3 epochs of each of 2 RBMs.
  // Costs in rows x visible x hidden: RBM epochs 784*64 and 64*8 each, fine-tuning epochs
  // (784*64 + 64*8) each: after the first epoch, 2 RBM-1 epochs, 3 RBM-2 epochs and 6
  // fine-tuning epochs remain, about 8 times what the first took.
  const TrainingProgress& first = pretraining.front();
  const double units = 784.0 * 64, small = 64.0 * 8;
  const double expected = (2 * units + 3 * small + 6 * (units + small)) / units;
  EXPECT_NEAR(first.eta_seconds / first.elapsed_seconds, expected, 1e-6 * expected);
  const TrainingProgress& last = pretraining.back();
  const double done = 3 * units + 3 * small;
  EXPECT_NEAR(last.eta_seconds / last.elapsed_seconds, 6 * (units + small) / done, 1e-6);
}

}  // namespace
}  // namespace bn
