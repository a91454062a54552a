#include "engine/model/conv_autoencoder.h"
#include "engine/train/autoencoder_trainer.h"

#include <chrono>
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "engine/input/image.h"
#include "engine/model/conv_autoencoder_net.h"
#include "engine/model/model_file.h"
#include "engine/nn/loss.h"
#include "engine/util/atomic_file.h"
#include "engine/util/bytes.h"
#include "gtest/gtest.h"
#include "tests/engine/model/autoencoder_test_util.h"

namespace bn {
namespace {

FloatMatrix RandomImages(int64_t n, int64_t d, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  FloatMatrix m(n, d);
  for (float& v : m.data) v = u(rng);
  return m;
}

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

std::string Envelope(ModelKind kind, const std::string& payload) {
  std::string out("BNMODEL", 8);
  ByteWriter w(&out);
  w.U32(kModelFormatVersion);
  w.U32(static_cast<uint32_t>(kind));
  w.U64(payload.size());
  out += payload;
  w.U32(Crc32(out));
  return out;
}

class ConvAutoencoderModeTest : public ::testing::TestWithParam<UnpoolMode> {};

// The whole net's backward pass against central finite differences of its loss (tanh hidden
// units so the loss is smooth apart from max pooling). With switch unpooling the loss jumps
// where an argmax changes (the decoder's value moves), so the step is small enough that random
// inputs almost never cross such a point between -eps and +eps.
void CheckGradients(const ConvAutoencoderSpec& spec) {
  SetNnThreads(1);
  auto net = ConvAutoencoderNet::Create(spec);
  ASSERT_TRUE(net.ok()) << net.status();
  (*net)->InitWeights(3);
  std::vector<float> params = (*net)->FlatParameters();
  std::mt19937 rng(4);
  std::normal_distribution<float> jitter(0.0f, 0.05f);
  for (float& p : params) p += jitter(rng);  // non-zero biases too
  (*net)->SetFlatParameters(params);
  const int64_t n = 3;
  FloatMatrix x = RandomImages(n, (*net)->input_size(), 5);
  FloatMatrix t = RandomImages(n, (*net)->input_size(), 6);
  double loss = 0;
  ASSERT_TRUE((*net)->ComputeGradients(x.data.data(), t.data.data(), n, nullptr, &loss).ok());
  const std::vector<float> grad = (*net)->FlatGradients();
  ASSERT_EQ(grad.size(), params.size());
  const double eps = 1e-3;
  int checked = 0, skipped = 0;
  for (size_t i = 0; i < params.size(); i += 5) {
    std::vector<float> p = params;
    double lp = 0, lm = 0;
    p[i] = params[i] + static_cast<float>(eps);
    (*net)->SetFlatParameters(p);
    ASSERT_TRUE((*net)->ComputeGradients(x.data.data(), t.data.data(), n, nullptr, &lp).ok());
    p[i] = params[i] - static_cast<float>(eps);
    (*net)->SetFlatParameters(p);
    ASSERT_TRUE((*net)->ComputeGradients(x.data.data(), t.data.data(), n, nullptr, &lm).ok());
    // A switch or argmax change inside [-eps, eps] shows as one-sided slopes that disagree.
    const double up = (lp - loss) / eps, down = (loss - lm) / eps;
    if (std::fabs(up - down) > 0.2 * (std::fabs(up) + std::fabs(down)) + 0.02) {
      ++skipped;
      continue;
    }
    const double fd = (lp - lm) / (2 * eps);
    const double err = std::fabs(fd - grad[i]) / std::max(5e-2, std::fabs(fd) + std::fabs(grad[i]));
    EXPECT_LT(err, 0.05) << "parameter " << i << " fd " << fd << " analytic " << grad[i];
    ++checked;
  }
  (*net)->SetFlatParameters(params);
  EXPECT_LT(skipped, checked / 10 + 1);
  EXPECT_GT(checked, 30);
}

TEST_P(ConvAutoencoderModeTest, GradientsMatchFiniteDifferences) {
  ConvAutoencoderSpec spec = TinySpec(GetParam());
  spec.hidden_activation = Activation::kTanh;
  CheckGradients(spec);
}

// Two dense hidden layers between the feature map and the code (and back).
TEST_P(ConvAutoencoderModeTest, GradientsMatchFiniteDifferencesWithDenseHiddenLayers) {
  ConvAutoencoderSpec spec = TinySpec(GetParam());
  spec.hidden_activation = Activation::kTanh;
  spec.dense_sizes = {7, 6};
  CheckGradients(spec);
}

TEST_P(ConvAutoencoderModeTest, SaveLoadGivesIdenticalCodesAndReconstructions) {
  FloatMatrix x = RandomImages(40, 8 * 6 * 2, 1);
  auto trained =
      TrainConvAutoencoder(x, nullptr, TinySpec(GetParam()), FastOptions(), nullptr, nullptr);
  ASSERT_TRUE(trained.ok()) << trained.status();
  const Model& model = *trained->model;
  EXPECT_EQ(model.kind(), ModelKind::kConvAutoencoder);
  EXPECT_EQ(model.input_size(), 96);
  EXPECT_EQ(model.code_size(), 5);
  auto bytes = SerializeModel(model);
  ASSERT_TRUE(bytes.ok());
  auto loaded = DeserializeModel(*bytes);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ((*loaded)->parameter_count(), model.parameter_count());
  std::vector<float> c1(40 * 5), c2(c1.size()), r1(x.data.size()), r2(r1.size());
  ASSERT_TRUE(model.Encode(x.data.data(), 40, c1.data()).ok());
  ASSERT_TRUE((*loaded)->Encode(x.data.data(), 40, c2.data()).ok());
  EXPECT_EQ(c1, c2);
  ASSERT_TRUE(model.Decode(c1.data(), 40, r1.data()).ok());
  ASSERT_TRUE((*loaded)->Decode(c2.data(), 40, r2.data()).ok());
  EXPECT_EQ(r1, r2);
  for (float v : r1) ASSERT_TRUE(v >= 0.0f && v <= 1.0f);
  auto again = SerializeModel(**loaded);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *bytes);
}

// Decoding from a code alone uses no stale switches: the result does not depend on what was
// encoded or reconstructed before. For repeat unpooling it equals the one-pass reconstruction.
TEST_P(ConvAutoencoderModeTest, DecodeFromCodeAloneIsIndependentOfEarlierCalls) {
  FloatMatrix x = RandomImages(16, 96, 2);
  auto trained =
      TrainConvAutoencoder(x, nullptr, TinySpec(GetParam()), FastOptions(), nullptr, nullptr);
  ASSERT_TRUE(trained.ok()) << trained.status();
  const Model& model = *trained->model;
  std::vector<float> codes(16 * 5), before(x.data.size()), after(x.data.size()),
      onepass(x.data.size());
  ASSERT_TRUE(model.Encode(x.data.data(), 16, codes.data()).ok());
  ASSERT_TRUE(model.Decode(codes.data(), 16, before.data()).ok());
  FloatMatrix other = RandomImages(16, 96, 3);
  ASSERT_TRUE(ReconstructWithSwitches(model, other.data.data(), 16, onepass.data()).ok());
  ASSERT_TRUE(model.Decode(codes.data(), 16, after.data()).ok());
  EXPECT_EQ(before, after);
  ASSERT_TRUE(ReconstructWithSwitches(model, x.data.data(), 16, onepass.data()).ok());
  if (GetParam() == UnpoolMode::kRepeat) {
    for (size_t i = 0; i < onepass.size(); ++i) ASSERT_NEAR(onepass[i], before[i], 1e-6);
  } else {
    // Switches of the input itself vs the top-left fallback: different reconstructions.
    double diff = 0;
    for (size_t i = 0; i < onepass.size(); ++i) diff += std::fabs(onepass[i] - before[i]);
    EXPECT_GT(diff, 0.0);
  }
}

INSTANTIATE_TEST_SUITE_P(Modes, ConvAutoencoderModeTest,
                         ::testing::Values(UnpoolMode::kSwitches, UnpoolMode::kRepeat));

TEST(ConvAutoencoder, CorruptPayloadsAreRejected) {
  FloatMatrix x = RandomImages(32, 96, 7);
  TrainOptions o = FastOptions();
  o.epochs = 1;
  auto trained =
      TrainConvAutoencoder(x, nullptr, TinySpec(UnpoolMode::kSwitches), o, nullptr, nullptr);
  ASSERT_TRUE(trained.ok()) << trained.status();
  auto bytes = SerializeModel(*trained->model);
  ASSERT_TRUE(bytes.ok());
  for (size_t pos = 0; pos < bytes->size(); pos += 17) {
    std::string bad = *bytes;
    bad[pos] = static_cast<char>(bad[pos] ^ 0x5a);
    EXPECT_FALSE(DeserializeModel(bad).ok()) << "flipped byte " << pos;
  }
  std::string payload;
  ASSERT_TRUE(trained->model->SavePayload(&payload).ok());
  ASSERT_TRUE(DeserializeModel(Envelope(ModelKind::kConvAutoencoder, payload)).ok());
  auto reject = [&](const std::string& p, const std::string& what) {
    auto r = DeserializeModel(Envelope(ModelKind::kConvAutoencoder, p));
    EXPECT_FALSE(r.ok()) << what;
    if (!r.ok()) {
      EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << what;
    }
  };
  for (size_t len = 0; len < payload.size(); len += 41) reject(payload.substr(0, len), "cut");
  reject(payload.substr(0, payload.size() - 1), "cut last byte");
  reject(payload + "x", "trailing byte");
  // Layout: version u32 @0, H @4, W @12, C @20, layer count @28, layers (4 x i64) @36,
  // code_size @100, hidden @108, code act @112, unpool @116, binary u8 @120, noise f32 @121,
  // dense layer count u64 @125 (version 2), then the parameters.
  auto patch_i64 = [&](size_t at, int64_t v) {
    std::string p = payload;
    std::memcpy(&p[at], &v, 8);
    return p;
  };
  auto patch_u32 = [&](size_t at, uint32_t v) {
    std::string p = payload;
    std::memcpy(&p[at], &v, 4);
    return p;
  };
  reject(patch_u32(0, 99), "version");
  reject(patch_i64(4, int64_t{1} << 40), "huge height");
  reject(patch_i64(12, 0), "zero width");
  reject(patch_i64(28, 1000000), "huge layer count");
  reject(patch_i64(28, 0), "no layers");
  reject(patch_i64(36 + 8, 4), "even kernel");
  reject(patch_i64(36 + 24, 100), "pool larger than the map");
  reject(patch_i64(100, -3), "negative code size");
  reject(patch_u32(108, 9), "bad activation");
  reject(patch_u32(116, 7), "bad unpool mode");
  {
    // A version-1 payload (no dense layer count) still loads, to the same model.
    std::string v1 = payload.substr(0, 125) + payload.substr(133);
    const uint32_t one = 1;
    std::memcpy(&v1[0], &one, 4);
    auto old = DeserializeModel(Envelope(ModelKind::kConvAutoencoder, v1));
    ASSERT_TRUE(old.ok()) << old.status();
    std::string again;
    ASSERT_TRUE((*old)->SavePayload(&again).ok());
    EXPECT_EQ(again, payload);
  }
  reject(patch_i64(125, 9), "too many dense layers");
  reject(patch_i64(125, 1), "a dense layer the payload does not have");
  std::string p = payload;
  p[120] = 1;  // binary codes with linear code units
  reject(p, "binary codes with linear units");
  p = payload;
  const float nan = std::nanf("");
  std::memcpy(&p[p.size() - 4], &nan, 4);
  reject(p, "NaN parameter");
}

TEST(ConvAutoencoder, CancellationAndBadInputs) {
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
  ConvAutoencoderSpec bad = TinySpec(UnpoolMode::kRepeat);
  bad.layers[0].kernel = 2;
  EXPECT_FALSE(ValidateConvSpec(bad).ok());
  bad = TinySpec(UnpoolMode::kRepeat);
  bad.layers.push_back({4, 3, 1, 4});  // 2x2 map cannot be pooled by 4
  EXPECT_FALSE(ValidateConvSpec(bad).ok());
}

// Same protocol as the dense auto-encoder's checkpoint test: 4 epochs with a checkpoint after
// each; resuming from the end of epoch 2 must end where the uninterrupted run ended.
TEST(ConvAutoencoder, ResumingFromACheckpointMatchesAnUninterruptedRun) {
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

TEST(ConvAutoencoder, SameSeedGivesBitIdenticalModelsAndReportsProgress) {
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

TEST(ConvAutoencoder, BinaryCodesDenoisingAndConcurrentEncode) {
  FloatMatrix x = RandomImages(48, 96, 10);
  ConvAutoencoderSpec spec = TinySpec(UnpoolMode::kRepeat);
  spec.binary_codes = true;
  spec.corruption = Corruption::kMasking;
  spec.corruption_level = 0.3f;
  auto trained = TrainConvAutoencoder(x, nullptr, spec, FastOptions(), nullptr, nullptr);
  ASSERT_TRUE(trained.ok()) << trained.status();
  const Model& model = *trained->model;
  EXPECT_EQ(model.code_type(), CodeType::kBinary);
  std::vector<float> serial(48 * 5);
  ASSERT_TRUE(model.Encode(x.data.data(), 48, serial.data()).ok());
  for (float v : serial) ASSERT_TRUE(v >= 0.0f && v <= 1.0f);  // logistic code units
  std::vector<std::vector<float>> out(4, std::vector<float>(serial.size()));
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t]() {
      for (int rep = 0; rep < 5; ++rep) {
        EXPECT_TRUE(model.Encode(x.data.data(), 48, out[t].data()).ok());
      }
    });
  }
  for (auto& th : threads) th.join();
  for (const auto& o : out) EXPECT_EQ(o, serial);
}

// 28x28x1 -> conv 8 3x3 -> pool 2 -> conv 16 3x3 -> pool 2 -> code 16, a few seconds on 2000
// Fashion-MNIST images: the held-out error falls clearly below the untrained net's.
TEST(ConvAutoencoder, LearnsOnFashionMnist) {
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
    o.epochs = 100;
    o.max_seconds = 4.0;
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

// A 32x32x3 conv AE learns on real colour patches: trained on patches of one photograph for a
// few seconds, its held-out error (patches of the other photograph, which it never saw) falls
// well below the error of predicting the mean training patch (the best constant guess).
TEST(ConvAutoencoder, LearnsOnRealColourPatches) {
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
  o.epochs = 100;
  o.max_seconds = 5.0;
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
