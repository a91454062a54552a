#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "engine/input/image.h"
#include "engine/model/conv_autoencoder.h"
#include "engine/model/model_file.h"
#include "engine/nn/loss.h"
#include "engine/train/autoencoder_trainer.h"
#include "engine/util/atomic_file.h"
#include "gtest/gtest.h"
#include "tests/engine/model/autoencoder_test_util.h"

namespace bn {
namespace {

using testing::RandomImages;

// 8 x 6 x 2 images: conv 3 (3x3) -> pool 2 -> conv 4 (3x3, stride 2) -> code 5.
ConvAutoencoderSpec TinySpec(UnpoolMode mode) {
  ConvAutoencoderSpec s;
  s.height = 8;
  s.width = 6;
  s.channels = 2;
  s.layers = {{3, 3, 1, 2}, {4, 3, 2, 1}};
  s.code_size = 5;
  s.unpool = mode;
  return s;
}

TrainOptions FastOptions() {
  TrainOptions o;
  o.threads = 1;  // one thread: robust on a shared CI machine
  o.batch_size = 16;
  o.epochs = 2;
  o.learning_rate = 3e-3f;
  return o;
}

TEST(ConvAutoencoderTrainer, CancellationAndBadInputs) {
  FloatMatrix x = RandomImages(32, 96, 8);
  CancellationFlag cancel;
  cancel.Cancel();
  auto r = TrainConvAutoencoder(x, nullptr, TinySpec(UnpoolMode::kRepeat), FastOptions(), nullptr,
                                &cancel);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kCancelled);
  FloatMatrix wrong = RandomImages(32, 95, 8);
  EXPECT_FALSE(TrainConvAutoencoder(wrong, nullptr, TinySpec(UnpoolMode::kRepeat), FastOptions(),
                                    nullptr, nullptr)
                   .ok());
  TrainOptions dropout = FastOptions();  // dropout is for dense layer stacks only
  dropout.dropout = 0.2f;
  EXPECT_EQ(
      TrainConvAutoencoder(x, nullptr, TinySpec(UnpoolMode::kRepeat), dropout, nullptr, nullptr)
          .status()
          .code(),
      absl::StatusCode::kInvalidArgument);
  TrainOptions neighbours = FastOptions();  // neighbour targets are for documents only
  neighbours.neighbour_count = 5;
  EXPECT_EQ(
      TrainConvAutoencoder(x, nullptr, TinySpec(UnpoolMode::kRepeat), neighbours, nullptr, nullptr)
          .status()
          .code(),
      absl::StatusCode::kInvalidArgument);
  ConvAutoencoderSpec bad = TinySpec(UnpoolMode::kRepeat);
  bad.layers[0].kernel = 2;
  EXPECT_FALSE(ValidateConvSpec(bad).ok());
  bad = TinySpec(UnpoolMode::kRepeat);
  bad.layers.push_back({4, 3, 1, 4});  // 2x2 map cannot be pooled by 4
  EXPECT_FALSE(ValidateConvSpec(bad).ok());
}
// Same protocol as the dense auto-encoder's checkpoint test: 4 epochs with a checkpoint after
// each; resuming from the end of epoch 2 must end where the uninterrupted run ended.
TEST(ConvAutoencoderTrainer, ResumingFromACheckpointMatchesAnUninterruptedRun) {
  FloatMatrix x = RandomImages(60, 96, 12);
  ConvAutoencoderSpec spec = TinySpec(UnpoolMode::kSwitches);
  spec.dense_sizes = {6};
  spec.corruption = Corruption::kSaltAndPepper;
  spec.corruption_level = 0.1f;
  TrainOptions o = FastOptions();
  o.epochs = 4;
  o.validation_fraction = 0.2;
  o.early_stopping_patience = 3;
  std::vector<std::string> checkpoints;
  o.on_checkpoint = [&](const std::string& c) { checkpoints.push_back(c); };
  auto full = TrainConvAutoencoder(x, nullptr, spec, o, nullptr, nullptr);
  ASSERT_TRUE(full.ok()) << full.status();
  ASSERT_EQ(checkpoints.size(), 4u);
  const std::string ckpt = checkpoints[1];
  o.on_checkpoint = nullptr;
  o.resume_from = &ckpt;
  std::vector<int> epochs;
  auto resumed = TrainConvAutoencoder(
      x, nullptr, spec, o, [&](const TrainingProgress& p) { epochs.push_back(p.epoch); }, nullptr);
  ASSERT_TRUE(resumed.ok()) << resumed.status();
  ASSERT_FALSE(epochs.empty());
  EXPECT_EQ(epochs.front(), 3);
  EXPECT_EQ(resumed->epochs_run, 4);
  EXPECT_EQ(*SerializeModel(*resumed->model), *SerializeModel(*full->model));
  EXPECT_DOUBLE_EQ(resumed->validation_error, full->validation_error);
  EXPECT_DOUBLE_EQ(resumed->train_loss, full->train_loss);
  // Resuming from the last checkpoint trains nothing more and returns the same model.
  o.resume_from = &checkpoints[3];
  auto done = TrainConvAutoencoder(x, nullptr, spec, o, nullptr, nullptr);
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_EQ(done->epochs_run, 4);
  EXPECT_EQ(*SerializeModel(*done->model), *SerializeModel(*full->model));
  // Corrupt, truncated or foreign checkpoints are refused.
  std::string bad = ckpt;
  bad[bad.size() / 2] ^= 1;
  o.resume_from = &bad;
  EXPECT_EQ(TrainConvAutoencoder(x, nullptr, spec, o, nullptr, nullptr).status().code(),
            absl::StatusCode::kDataLoss);
  bad = ckpt.substr(0, ckpt.size() - 9);
  EXPECT_EQ(TrainConvAutoencoder(x, nullptr, spec, o, nullptr, nullptr).status().code(),
            absl::StatusCode::kDataLoss);
  bad = "x";
  EXPECT_EQ(TrainConvAutoencoder(x, nullptr, spec, o, nullptr, nullptr).status().code(),
            absl::StatusCode::kDataLoss);
  o.resume_from = &ckpt;
  for (int change = 0; change < 3; ++change) {
    ConvAutoencoderSpec other = spec;
    if (change == 0) other.code_size = 4;
    if (change == 1) other.unpool = UnpoolMode::kRepeat;
    if (change == 2) other.dense_sizes = {};
    EXPECT_EQ(TrainConvAutoencoder(x, nullptr, other, o, nullptr, nullptr).status().code(),
              absl::StatusCode::kInvalidArgument)
        << "spec change " << change;
  }
  o.optimizer = OptimizerKind::kSgd;
  EXPECT_EQ(TrainConvAutoencoder(x, nullptr, spec, o, nullptr, nullptr).status().code(),
            absl::StatusCode::kInvalidArgument);
}
TEST(ConvAutoencoderTrainer, SameSeedGivesBitIdenticalModelsAndReportsProgress) {
  FloatMatrix x = RandomImages(48, 96, 9);
  TrainOptions o = FastOptions();
  o.validation_fraction = 0.25;
  int calls = 0;
  int last_epoch = 0;
  auto progress = [&](const TrainingProgress& p) {
    ++calls;
    last_epoch = p.epoch;
  };
  auto a = TrainConvAutoencoder(x, nullptr, TinySpec(UnpoolMode::kSwitches), o, progress, nullptr);
  auto b = TrainConvAutoencoder(x, nullptr, TinySpec(UnpoolMode::kSwitches), o, nullptr, nullptr);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(*SerializeModel(*a->model), *SerializeModel(*b->model));
  EXPECT_GE(calls, 2);
  EXPECT_EQ(last_epoch, 2);
  EXPECT_EQ(a->epochs_run, 2);
  EXPECT_GT(a->validation_error, 0);
}
// 28x28x1 -> conv 8 3x3 -> pool 2 -> conv 16 3x3 -> pool 2 -> code 16, two epochs on 2000
// Fashion-MNIST images: the held-out error falls clearly below the untrained net's.
TEST(ConvAutoencoderTrainer, LearnsOnFashionMnist) {
  FloatMatrix train = testing::ReadFashionImages("train-images-idx3-ubyte.gz", 2000);
  FloatMatrix all_test = testing::ReadFashionImages("t10k-images-idx3-ubyte.gz", 500);
  ASSERT_EQ(train.rows, 2000);
  ASSERT_EQ(all_test.rows, 500);
  for (UnpoolMode mode : {UnpoolMode::kRepeat, UnpoolMode::kSwitches}) {
    ConvAutoencoderSpec spec;  // the defaults are exactly this architecture
    spec.unpool = mode;
    TrainOptions o;
    o.threads = 1;
    o.batch_size = 32;
    o.learning_rate = 2e-3f;
    o.epochs = 0;
    auto untrained = TrainConvAutoencoder(train, nullptr, spec, o, nullptr, nullptr);
    ASSERT_TRUE(untrained.ok()) << untrained.status();
    auto before = ReconstructionErrorPerItem(*untrained->model, all_test);
    ASSERT_TRUE(before.ok());
    o.epochs = 2;  // A fixed amount of work, not a time budget (the load would change it).
    const auto t0 = std::chrono::steady_clock::now();
    auto trained = TrainConvAutoencoder(train, nullptr, spec, o, nullptr, nullptr);
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    ASSERT_TRUE(trained.ok()) << trained.status();
    auto after = ReconstructionErrorPerItem(*trained->model, all_test);
    ASSERT_TRUE(after.ok());
    std::vector<float> onepass(all_test.data.size());
    ASSERT_TRUE(
        ReconstructWithSwitches(*trained->model, all_test.data.data(), 500, onepass.data()).ok());
    const double with_switches =
        SumSquaredError(onepass.data(), all_test.data.data(), 500 * 784) / 500.0;
    const double pca = testing::PcaHeldOutError(train, all_test, 16);
    std::printf(
        "[conv AE %s] held-out SSE/image: untrained %.2f, trained %.2f (Decode from code), "
        "%.2f (one pass with switches); PCA-16 %.2f; %d epochs in %.1f s, %lld params\n",
        mode == UnpoolMode::kRepeat ? "repeat" : "switches", *before, *after, with_switches, pca,
        trained->epochs_run, secs, static_cast<long long>(trained->model->parameter_count()));
    // Training optimises the one-pass reconstruction (the same as Decode for repeat
    // unpooling); switch models decoding from a code alone use the top-left fallback, which
    // must still beat the untrained net.
    EXPECT_LT(with_switches, 0.6 * *before);
    EXPECT_LT(*after, *before);
  }
}
// Real colour photographs shipped by Debian's python3-sklearn (scripts/install-deps.sh).
constexpr char kSklearnImages[] = "/usr/lib/python3/dist-packages/sklearn/datasets/images/";

// `count` random size x size x 3 patches (HWC, [0, 1]) of a decoded RGB image.
FloatMatrix RandomPatches(const Image& img, int64_t count, int size, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> y(0, img.height - size), x(0, img.width - size);
  FloatMatrix m(count, int64_t{size} * size * 3);
  for (int64_t i = 0; i < count; ++i) {
    const int y0 = y(rng), x0 = x(rng);
    float* out = m.row(i);
    for (int r = 0; r < size; ++r) {
      const float* src = img.pixels.data() + (static_cast<size_t>(y0 + r) * img.width + x0) * 3;
      std::copy_n(src, size * 3, out + static_cast<size_t>(r) * size * 3);
    }
  }
  return m;
}
// A 32x32x3 conv AE learns on real colour patches: trained on patches of one photograph for one
// epoch, its held-out error (patches of the other photograph, which it never saw) falls
// well below the error of predicting the mean training patch (the best constant guess).
TEST(ConvAutoencoderTrainer, LearnsOnRealColourPatches) {
  std::vector<Image> images;
  for (const char* name : {"china.jpg", "flower.jpg"}) {
    auto bytes = ReadFileToString(std::string(kSklearnImages) + name);
    ASSERT_TRUE(bytes.ok()) << name << ": " << bytes.status()
                            << " (install python3-sklearn: scripts/install-deps.sh)";
    auto img = DecodeJpeg(*bytes);
    ASSERT_TRUE(img.ok()) << img.status();
    ASSERT_EQ(img->channels, 3);
    images.push_back(std::move(*img));
  }
  const FloatMatrix train = RandomPatches(images[0], 3000, 32, 21);
  const FloatMatrix test = RandomPatches(images[1], 400, 32, 22);
  const int64_t d = train.cols;
  // Baseline: every test patch predicted by the mean training patch.
  std::vector<double> mean(static_cast<size_t>(d), 0.0);
  for (int64_t i = 0; i < train.rows; ++i) {
    for (int64_t j = 0; j < d; ++j) mean[j] += train.row(i)[j];
  }
  double mean_error = 0;
  for (int64_t i = 0; i < test.rows; ++i) {
    for (int64_t j = 0; j < d; ++j) {
      const double diff = test.row(i)[j] - mean[j] / static_cast<double>(train.rows);
      mean_error += diff * diff;
    }
  }
  mean_error /= static_cast<double>(test.rows);

  ConvAutoencoderSpec spec;
  spec.height = 32;
  spec.width = 32;
  spec.channels = 3;
  spec.layers = {{16, 3, 1, 2}, {32, 3, 1, 2}};
  spec.code_size = 32;
  spec.unpool = UnpoolMode::kRepeat;
  TrainOptions o;
  o.threads = 1;
  o.batch_size = 32;
  o.learning_rate = 2e-3f;
  o.epochs = 1;  // A fixed amount of work (a time budget made the result depend on the load).
  const auto t0 = std::chrono::steady_clock::now();
  auto trained = TrainConvAutoencoder(train, nullptr, spec, o, nullptr, nullptr);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_TRUE(trained.ok()) << trained.status();
  EXPECT_EQ(trained->model->input_size(), 32 * 32 * 3);
  auto error = ReconstructionErrorPerItem(*trained->model, test);
  ASSERT_TRUE(error.ok()) << error.status();
  std::printf(
      "[conv AE colour 32x32x3] held-out SSE/patch: mean patch %.2f, conv AE %.2f; %d epochs "
      "in %.1f s, %lld params\n",
      mean_error, *error, trained->epochs_run, secs,
      static_cast<long long>(trained->model->parameter_count()));
  EXPECT_LT(*error, 0.4 * mean_error);
}
}  // namespace
}  // namespace bn
