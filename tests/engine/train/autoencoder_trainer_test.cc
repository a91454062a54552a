#include "engine/train/autoencoder_trainer.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "engine/model/model_file.h"
#include "engine/train/neighbour_targets.h"
#include "gtest/gtest.h"
#include "tests/engine/model/autoencoder_test_util.h"

namespace bn {
namespace {

using testing::RandomData;

DenseAutoencoderSpec SmallSpec() {
  DenseAutoencoderSpec spec;
  spec.input_size = 24;
  spec.encoder_sizes = {16, 8};
  spec.code_size = 3;
  return spec;
}

TrainOptions FastOptions() {
  TrainOptions o;
  o.epochs = 3;
  o.batch_size = 32;
  o.learning_rate = 3e-3f;
  o.threads = 1;  // one thread: robust on a shared CI machine
  return o;
}

std::vector<float> Codes(const Model& m, const FloatMatrix& x) {
  std::vector<float> codes(static_cast<size_t>(x.rows * m.code_size()));
  EXPECT_TRUE(m.Encode(x.data.data(), x.rows, codes.data()).ok());
  return codes;
}

TEST(DenseAutoencoderTrainer, SameSeedAndThreadsGiveBitIdenticalModels) {
  FloatMatrix x = RandomData(256, 24, 3);
  DenseAutoencoderSpec spec = SmallSpec();
  spec.corruption = Corruption::kMasking;  // Exercises the seeded corruption too.
  spec.corruption_level = 0.2f;
  TrainOptions o = FastOptions();
  auto a = TrainDenseAutoencoder(x, nullptr, spec, o, nullptr, nullptr);
  auto b = TrainDenseAutoencoder(x, nullptr, spec, o, nullptr, nullptr);
  o.seed = 2;
  auto c = TrainDenseAutoencoder(x, nullptr, spec, o, nullptr, nullptr);
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  EXPECT_EQ(*SerializeModel(*a->model), *SerializeModel(*b->model));
  EXPECT_NE(*SerializeModel(*a->model), *SerializeModel(*c->model));
}
// Dropout masks come from (seed, epoch, step): the same options give the same model, dropout
// changes it, a resumed run ends bit-identical, and rates outside [0, 0.9] are refused.
TEST(DenseAutoencoderTrainer, DropoutIsSeededResumableAndRangeChecked) {
  FloatMatrix x = RandomData(200, 24, 8);
  TrainOptions o = FastOptions();
  o.epochs = 4;
  o.dropout = 0.3f;
  std::vector<std::string> checkpoints;
  o.on_checkpoint = [&](const std::string& c) { checkpoints.push_back(c); };
  auto a = TrainDenseAutoencoder(x, nullptr, SmallSpec(), o, nullptr, nullptr);
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_EQ(checkpoints.size(), 4u);
  o.on_checkpoint = nullptr;
  auto b = TrainDenseAutoencoder(x, nullptr, SmallSpec(), o, nullptr, nullptr);
  o.resume_from = &checkpoints[1];  // after epoch 2
  auto resumed = TrainDenseAutoencoder(x, nullptr, SmallSpec(), o, nullptr, nullptr);
  o.resume_from = nullptr;
  o.dropout = 0;
  auto plain = TrainDenseAutoencoder(x, nullptr, SmallSpec(), o, nullptr, nullptr);
  ASSERT_TRUE(b.ok() && resumed.ok() && plain.ok());
  EXPECT_EQ(*SerializeModel(*a->model), *SerializeModel(*b->model));
  EXPECT_EQ(*SerializeModel(*resumed->model), *SerializeModel(*a->model));
  EXPECT_NE(*SerializeModel(*plain->model), *SerializeModel(*a->model));
  for (float bad : {-0.1f, 0.95f, 1.0f, std::nanf("")}) {
    o.dropout = bad;
    EXPECT_EQ(TrainDenseAutoencoder(x, nullptr, SmallSpec(), o, nullptr, nullptr).status().code(),
              absl::StatusCode::kInvalidArgument)
        << bad;
  }
}

// Neighbour targets (documents): computed again from the same rows when resuming, so a resumed
// run ends bit-identical; they change the model; other outputs, conv nets and bad counts or
// weights are refused.
TEST(DenseAutoencoderTrainer, NeighbourTargetsAreResumableAndOnlyForDocuments) {
  std::mt19937_64 rng(5);
  FloatMatrix x(160, 24);  // Word distributions over 24 words, two topics of 12.
  for (int64_t r = 0; r < x.rows; ++r) {
    std::uniform_int_distribution<int> word(0, 11);
    for (int i = 0; i < 10; ++i) x.at(r, word(rng) + (r % 2) * 12) += 0.1f;
  }
  DenseAutoencoderSpec spec = SmallSpec();
  spec.output = OutputKind::kSoftmaxCrossEntropy;
  TrainOptions o = FastOptions();
  o.epochs = 4;
  o.validation_fraction = 0.2;  // Targets come from the training part only.
  o.neighbour_count = 5;
  std::vector<std::string> checkpoints;
  o.on_checkpoint = [&](const std::string& c) { checkpoints.push_back(c); };
  auto a = TrainDenseAutoencoder(x, nullptr, spec, o, nullptr, nullptr);
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_EQ(checkpoints.size(), 4u);
  o.on_checkpoint = nullptr;
  o.resume_from = &checkpoints[1];
  auto resumed = TrainDenseAutoencoder(x, nullptr, spec, o, nullptr, nullptr);
  o.resume_from = nullptr;
  o.neighbour_count = 0;
  auto plain = TrainDenseAutoencoder(x, nullptr, spec, o, nullptr, nullptr);
  ASSERT_TRUE(resumed.ok() && plain.ok());
  EXPECT_EQ(*SerializeModel(*resumed->model), *SerializeModel(*a->model));
  EXPECT_NE(*SerializeModel(*plain->model), *SerializeModel(*a->model));

  o.neighbour_count = 5;
  EXPECT_EQ(TrainDenseAutoencoder(x, nullptr, SmallSpec(), o, nullptr, nullptr).status().code(),
            absl::StatusCode::kInvalidArgument);  // Not a softmax output.
  for (auto [count, weight] : std::vector<std::pair<int, float>>{
           {-1, 0.7f}, {kMaxNeighbourCount + 1, 0.7f}, {5, -0.5f}, {5, 2.0f}}) {
    o.neighbour_count = count;
    o.neighbour_weight = weight;
    EXPECT_EQ(TrainDenseAutoencoder(x, nullptr, spec, o, nullptr, nullptr).status().code(),
              absl::StatusCode::kInvalidArgument)
        << count << " " << weight;
  }
}

TEST(DenseAutoencoderTrainer, CancellationStopsTraining) {
  FloatMatrix x = RandomData(512, 24, 4);
  CancellationFlag pre;
  pre.Cancel();
  auto r = TrainDenseAutoencoder(x, nullptr, SmallSpec(), FastOptions(), nullptr, &pre);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kCancelled);
  // Cancel from the progress callback after the first epoch.
  CancellationFlag flag;
  int calls = 0;
  TrainOptions o = FastOptions();
  o.epochs = 50;
  auto r2 = TrainDenseAutoencoder(
      x, nullptr, SmallSpec(), o,
      [&](const TrainingProgress& p) {
        ++calls;
        if (p.epoch >= 1) flag.Cancel();
      },
      &flag);
  EXPECT_EQ(r2.status().code(), absl::StatusCode::kCancelled);
  EXPECT_GE(calls, 1);
  EXPECT_LE(calls, 3);
}
TEST(DenseAutoencoderTrainer, ReportsProgressAndStopsEarly) {
  FloatMatrix x = RandomData(400, 24, 5);
  TrainOptions o = FastOptions();
  o.epochs = 4;
  o.validation_fraction = 0.25;
  std::vector<TrainingProgress> seen;
  auto r = TrainDenseAutoencoder(
      x, nullptr, SmallSpec(), o, [&](const TrainingProgress& p) { seen.push_back(p); }, nullptr);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_GE(seen.size(), 4u);
  const TrainingProgress& last = seen.back();
  EXPECT_EQ(last.phase, "fine-tune");
  EXPECT_EQ(last.epoch, 4);
  EXPECT_EQ(last.epochs, 4);
  EXPECT_EQ(last.steps_per_epoch, 10);  // 300 training rows / 32, rounded up.
  EXPECT_GT(last.samples_per_second, 0);
  EXPECT_NEAR(last.eta_seconds, 0.0, 1e-6);
  EXPECT_GT(last.validation_error, 0);
  EXPECT_DOUBLE_EQ(last.validation_error, r->validation_error);
  // Validation error is the reconstruction error on the held-out rows: it fell. (Compared at
  // epoch ends: a mid-epoch report of epoch 1, sent when a loaded machine makes a batch slow, has
  // no validation error yet.)
  const auto first_end = std::find_if(seen.begin(), seen.end(), [](const TrainingProgress& p) {
    return p.step == p.steps_per_epoch;
  });
  ASSERT_NE(first_end, seen.end());
  EXPECT_GT(first_end->validation_error, 0);
  EXPECT_LT(last.validation_error, first_end->validation_error);
  // A learning rate that is far too high stops early (patience 1) with the best epoch's error.
  o.learning_rate = 0.5f;
  o.epochs = 30;
  o.early_stopping_patience = 1;
  auto r2 = TrainDenseAutoencoder(x, nullptr, SmallSpec(), o, nullptr, nullptr);
  if (r2.ok()) {
    EXPECT_LT(r2->epochs_run, 30);
  }
}
TEST(DenseAutoencoderTrainer, RejectsBadInputs) {
  FloatMatrix x = RandomData(10, 24, 6);
  DenseAutoencoderSpec spec = SmallSpec();
  spec.input_size = 25;
  EXPECT_FALSE(TrainDenseAutoencoder(x, nullptr, spec, FastOptions(), nullptr, nullptr).ok());
  spec = SmallSpec();
  spec.tied_weights = true;
  spec.decoder_sizes = {10};
  EXPECT_FALSE(ValidateSpec(spec).ok());
  spec = SmallSpec();
  spec.code_size = 0;
  EXPECT_FALSE(ValidateSpec(spec).ok());
  spec = SmallSpec();
  spec.hidden_activation = Activation::kRelu;
  spec.contractive_lambda = 0.1f;
  EXPECT_FALSE(ValidateSpec(spec).ok());
  TrainOptions o = FastOptions();
  o.batch_size = 0;
  EXPECT_FALSE(TrainDenseAutoencoder(x, nullptr, SmallSpec(), o, nullptr, nullptr).ok());
}
// The acceptance test: a small AE trained for a few seconds on a Fashion-MNIST subset
// beats PCA of the same code size on held-out images.
TEST(DenseAutoencoderTrainer, BeatsPcaOnHeldOutFashionMnist) {
  FloatMatrix train = testing::ReadFashionImages("train-images-idx3-ubyte.gz", 3000);
  FloatMatrix test = testing::ReadFashionImages("t10k-images-idx3-ubyte.gz", 1000);
  ASSERT_EQ(train.rows, 3000);
  ASSERT_EQ(test.rows, 1000);
  const int k = 6;
  const double pca = testing::PcaHeldOutError(train, test, k);
  DenseAutoencoderSpec spec;
  spec.input_size = 784;
  spec.encoder_sizes = {256};
  spec.code_size = k;
  spec.hidden_activation = Activation::kRelu;
  TrainOptions o;
  o.epochs = 15;  // a fixed budget (about 2 s on a quiet 2-core machine), not a time limit
  o.batch_size = 64;
  o.learning_rate = 2e-3f;
  o.threads = 1;  // one thread: robust on a shared CI machine
  const auto t0 = std::chrono::steady_clock::now();
  auto r = TrainDenseAutoencoder(train, nullptr, spec, o, nullptr, nullptr);
  ASSERT_TRUE(r.ok()) << r.status();
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  auto ae = ReconstructionErrorPerItem(*r->model, test);
  ASSERT_TRUE(ae.ok());
  std::printf("held-out error per image: PCA-%d %.2f, AE %.2f (%d epochs, %.1f s)\n", k, pca, *ae,
              r->epochs_run, secs);
  EXPECT_LT(*ae, pca);
}
TEST(DenseAutoencoderTrainer, ResumingFromACheckpointMatchesAnUninterruptedRun) {
  FloatMatrix x = RandomData(200, 24, 7);
  DenseAutoencoderSpec spec = SmallSpec();
  spec.corruption = Corruption::kSaltAndPepper;
  spec.corruption_level = 0.1f;
  TrainOptions o = FastOptions();
  o.epochs = 4;
  o.validation_fraction = 0.2;
  o.early_stopping_patience = 3;
  std::vector<std::string> checkpoints;
  o.on_checkpoint = [&](const std::string& c) { checkpoints.push_back(c); };
  auto full = TrainDenseAutoencoder(x, nullptr, spec, o, nullptr, nullptr);
  ASSERT_TRUE(full.ok()) << full.status();
  ASSERT_EQ(checkpoints.size(), 4u);
  {
    // want_checkpoint is asked at each epoch end: declined epochs make no checkpoint, and the
    // ones taken are the same bytes as before (training itself is unchanged).
    TrainOptions every_other = o;
    std::vector<std::string> taken;
    int asked = 0;
    every_other.want_checkpoint = [&] { return ++asked % 2 == 0; };
    every_other.on_checkpoint = [&](const std::string& c) { taken.push_back(c); };
    ASSERT_TRUE(TrainDenseAutoencoder(x, nullptr, spec, every_other, nullptr, nullptr).ok());
    EXPECT_EQ(asked, 4);
    ASSERT_EQ(taken.size(), 2u);
    EXPECT_EQ(taken[0], checkpoints[1]);
    EXPECT_EQ(taken[1], checkpoints[3]);
  }
  // Resume from the end of epoch 2.
  const std::string ckpt = checkpoints[1];
  o.on_checkpoint = nullptr;
  o.resume_from = &ckpt;
  std::vector<int> epochs;
  auto resumed = TrainDenseAutoencoder(
      x, nullptr, spec, o, [&](const TrainingProgress& p) { epochs.push_back(p.epoch); }, nullptr);
  ASSERT_TRUE(resumed.ok()) << resumed.status();
  ASSERT_FALSE(epochs.empty());
  EXPECT_EQ(epochs.front(), 3);
  EXPECT_EQ(resumed->epochs_run, 4);
  EXPECT_EQ(*SerializeModel(*resumed->model), *SerializeModel(*full->model));
  EXPECT_DOUBLE_EQ(resumed->validation_error, full->validation_error);
  // Corrupt, truncated or foreign checkpoints are refused.
  std::string bad = ckpt;
  bad[bad.size() / 2] ^= 1;
  o.resume_from = &bad;
  EXPECT_EQ(TrainDenseAutoencoder(x, nullptr, spec, o, nullptr, nullptr).status().code(),
            absl::StatusCode::kDataLoss);
  bad = ckpt.substr(0, ckpt.size() - 9);
  EXPECT_EQ(TrainDenseAutoencoder(x, nullptr, spec, o, nullptr, nullptr).status().code(),
            absl::StatusCode::kDataLoss);
  o.resume_from = &ckpt;
  DenseAutoencoderSpec other = spec;
  other.code_size = 4;
  EXPECT_EQ(TrainDenseAutoencoder(x, nullptr, other, o, nullptr, nullptr).status().code(),
            absl::StatusCode::kInvalidArgument);
  o.optimizer = OptimizerKind::kSgd;
  EXPECT_EQ(TrainDenseAutoencoder(x, nullptr, spec, o, nullptr, nullptr).status().code(),
            absl::StatusCode::kInvalidArgument);
}
// Binary codes: with the fixed per-example noise on the code units' inputs, the code activations
// become far more bimodal than the same logistic code layer trained without noise.
TEST(DenseAutoencoderTrainer, BinaryCodeNoiseMakesCodesBimodal) {
  FloatMatrix train = testing::ReadFashionImages("train-images-idx3-ubyte.gz", 1000);
  ASSERT_EQ(train.rows, 1000);
  DenseAutoencoderSpec spec;
  spec.encoder_sizes = {128};
  spec.code_size = 32;
  spec.code_activation = Activation::kLogistic;  // binary_codes would force it anyway
  TrainOptions o;
  o.epochs = 8;
  o.batch_size = 64;
  o.learning_rate = 2e-3f;
  o.threads = 1;  // one thread: robust on a shared CI machine
  auto bimodal_fraction = [&](const Model& m) {
    std::vector<float> codes(static_cast<size_t>(train.rows * 32));
    EXPECT_TRUE(m.Encode(train.data.data(), train.rows, codes.data()).ok());
    int64_t near = 0;
    for (float c : codes) {
      EXPECT_TRUE(c >= 0.0f && c <= 1.0f);
      near += (c < 0.1f || c > 0.9f);
    }
    return static_cast<double>(near) / static_cast<double>(codes.size());
  };
  auto plain = TrainDenseAutoencoder(train, nullptr, spec, o, nullptr, nullptr);
  spec.binary_codes = true;
  spec.code_activation = Activation::kLinear;  // binary_codes forces logistic code units
  auto binary = TrainDenseAutoencoder(train, nullptr, spec, o, nullptr, nullptr);
  ASSERT_TRUE(plain.ok() && binary.ok());
  EXPECT_EQ(binary->model->code_type(), CodeType::kBinary);
  EXPECT_EQ(plain->model->code_type(), CodeType::kFloat);
  const double fp = bimodal_fraction(*plain->model), fb = bimodal_fraction(*binary->model);
  std::printf("codes within 0.1 of 0 or 1: plain %.2f, with noise %.2f\n", fp, fb);
  EXPECT_GT(fb, fp + 0.15);
  EXPECT_GT(fb, 0.6);
}
// Fresh Gaussian noise on linear code units during training: the decoder must learn to tolerate
// perturbed codes, so decoding codes perturbed by noise of that size loses much less than it
// does for a model trained without noise. Bad std-devs are rejected.
TEST(DenseAutoencoderTrainer, LinearCodeNoiseMakesDecodingRobustToPerturbedCodes) {
  const FloatMatrix x = RandomData(600, 24, 21);
  DenseAutoencoderSpec spec = SmallSpec();
  TrainOptions o = FastOptions();
  o.epochs = 20;
  auto plain = TrainDenseAutoencoder(x, nullptr, spec, o, nullptr, nullptr);
  o.code_noise_stddev = 1.0f;
  auto noisy = TrainDenseAutoencoder(x, nullptr, spec, o, nullptr, nullptr);
  auto again = TrainDenseAutoencoder(x, nullptr, spec, o, nullptr, nullptr);
  ASSERT_TRUE(plain.ok() && noisy.ok() && again.ok());
  EXPECT_EQ(Codes(*noisy->model, x), Codes(*again->model, x));  // seeded noise: deterministic
  auto perturbed_error = [&](const Model& m) {
    std::vector<float> codes = Codes(m, x);
    std::mt19937_64 rng(3);
    std::normal_distribution<float> g(0.0f, 1.0f);
    for (float& c : codes) c += g(rng);
    FloatMatrix recon(x.rows, x.cols);
    EXPECT_TRUE(m.Decode(codes.data(), x.rows, recon.data.data()).ok());
    double err = 0;
    for (size_t i = 0; i < recon.data.size(); ++i) {
      const double d = recon.data[i] - x.data[i];
      err += d * d;
    }
    return err / static_cast<double>(x.rows);
  };
  auto clean_plain = ReconstructionErrorPerItem(*plain->model, x);
  auto clean_noisy = ReconstructionErrorPerItem(*noisy->model, x);
  ASSERT_TRUE(clean_plain.ok() && clean_noisy.ok());
  const double p_plain = perturbed_error(*plain->model), p_noisy = perturbed_error(*noisy->model);
  std::printf("clean %.3f / %.3f, codes + N(0,1): plain %.3f, trained with code noise %.3f\n",
              *clean_plain, *clean_noisy, p_plain, p_noisy);
  EXPECT_LT(p_noisy - *clean_noisy, 0.5 * (p_plain - *clean_plain));
  o.code_noise_stddev = -1.0f;
  EXPECT_EQ(TrainDenseAutoencoder(x, nullptr, spec, o, nullptr, nullptr).status().code(),
            absl::StatusCode::kInvalidArgument);
}
// Denoising: a model trained on masked inputs reconstructs clean images from masked ones better
// than a model trained on clean inputs only.
TEST(DenseAutoencoderTrainer, DenoisingRecoversMaskedPixelsBetter) {
  FloatMatrix train = testing::ReadFashionImages("train-images-idx3-ubyte.gz", 1500);
  FloatMatrix test = testing::ReadFashionImages("t10k-images-idx3-ubyte.gz", 300);
  ASSERT_EQ(train.rows, 1500);
  DenseAutoencoderSpec spec;
  spec.encoder_sizes = {128};
  spec.code_size = 32;
  spec.hidden_activation = Activation::kRelu;
  TrainOptions o;
  o.epochs = 8;
  o.batch_size = 64;
  o.learning_rate = 2e-3f;
  o.threads = 1;  // one thread: robust on a shared CI machine
  auto clean = TrainDenseAutoencoder(train, nullptr, spec, o, nullptr, nullptr);
  spec.corruption = Corruption::kMasking;
  spec.corruption_level = 0.5f;
  auto denoise = TrainDenseAutoencoder(train, nullptr, spec, o, nullptr, nullptr);
  ASSERT_TRUE(clean.ok() && denoise.ok());
  FloatMatrix masked = test;
  std::mt19937 rng(8);
  std::bernoulli_distribution drop(0.5);
  for (float& v : masked.data) {
    if (drop(rng)) v = 0.0f;
  }
  auto err = [&](const Model& m) {
    std::vector<float> codes(static_cast<size_t>(test.rows * 32)), rec(test.data.size());
    EXPECT_TRUE(m.Encode(masked.data.data(), test.rows, codes.data()).ok());
    EXPECT_TRUE(m.Decode(codes.data(), test.rows, rec.data()).ok());
    double e = 0;
    for (size_t i = 0; i < rec.size(); ++i) e += (rec[i] - test.data[i]) * (rec[i] - test.data[i]);
    return e / test.rows;
  };
  const double ec = err(*clean->model), ed = err(*denoise->model);
  std::printf("clean-from-masked error: plain AE %.2f, denoising AE %.2f\n", ec, ed);
  EXPECT_LT(ed, 0.8 * ec);
}
}  // namespace
}  // namespace bn

namespace bn {
namespace {

// Real-valued rows far outside [0, 1] (mean 5, std 2 per column), made of 3 latent factors.
FloatMatrix RealValuedRows(int64_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> g(0.0f, 1.0f);
  std::vector<std::vector<float>> basis(3, std::vector<float>(16));
  std::mt19937_64 basis_rng(99);
  for (auto& b : basis) {
    for (float& v : b) v = g(basis_rng);
  }
  FloatMatrix x(n, 16);
  for (int64_t r = 0; r < n; ++r) {
    const float a = g(rng), b = g(rng), c = g(rng);
    for (int j = 0; j < 16; ++j) {
      x.at(r, j) =
          5 + 2 * (a * basis[0][j] + b * basis[1][j] + c * basis[2][j]) / 3 + 0.05f * g(rng);
    }
  }
  return x;
}

TEST(DenseAutoencoderTrainer, GaussianVisibleUnitsModelRealValuedInputs) {
  const FloatMatrix train = RealValuedRows(1500, 1), test = RealValuedRows(300, 2);
  DenseAutoencoderSpec spec;
  spec.input_size = 16;
  spec.encoder_sizes = {32};
  spec.code_size = 3;
  spec.hidden_activation = Activation::kLogistic;
  spec.output = OutputKind::kLinearSquaredError;
  spec.gaussian_visible = true;
  spec.pretraining = true;
  TrainOptions options;
  options.epochs = 40;
  options.pretrain_epochs = 5;
  options.batch_size = 50;
  options.threads = 1;
  auto trained = TrainDenseAutoencoder(train, &test, spec, options, {}, nullptr);
  ASSERT_TRUE(trained.ok()) << trained.status();
  // The error per row, in the inputs' own units, is a small part of their variance per row
  // (16 columns of variance ~1.8): the standardisation is undone on Decode.
  auto error = ReconstructionErrorPerItem(*trained->model, test);
  ASSERT_TRUE(error.ok());
  EXPECT_LT(*error, 0.1 * 16 * 1.8) << *error;
  EXPECT_NEAR(trained->validation_error, *error, 1e-3 * (1 + *error));  // Same units.
  // The standardisation travels with the model file.
  auto bytes = SerializeModel(*trained->model);
  ASSERT_TRUE(bytes.ok());
  auto loaded = DeserializeModel(*bytes);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(Codes(**loaded, test), Codes(*trained->model, test));
  auto reloaded_error = ReconstructionErrorPerItem(**loaded, test);
  ASSERT_TRUE(reloaded_error.ok());
  EXPECT_DOUBLE_EQ(*reloaded_error, *error);
  // A logistic output cannot reach values near 5: Gaussian units are what make this work.
  spec.gaussian_visible = false;
  spec.output = OutputKind::kLinearSquaredError;
  EXPECT_TRUE(ValidateSpec(spec).ok());
  spec.gaussian_visible = true;
  spec.output = OutputKind::kLogisticCrossEntropy;
  EXPECT_EQ(ValidateSpec(spec).code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace bn
