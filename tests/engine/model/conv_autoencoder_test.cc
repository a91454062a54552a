#include "engine/model/conv_autoencoder.h"

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "engine/model/conv_autoencoder_net.h"
#include "engine/model/model_file.h"
#include "engine/train/autoencoder_trainer.h"
#include "gtest/gtest.h"
#include "tests/engine/model/autoencoder_test_util.h"

namespace bn {
namespace {

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
  FloatMatrix x = testing::RandomImages(n, (*net)->input_size(), 5);
  FloatMatrix t = testing::RandomImages(n, (*net)->input_size(), 6);
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
  FloatMatrix x = testing::RandomImages(40, 8 * 6 * 2, 1);
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
  FloatMatrix x = testing::RandomImages(16, 96, 2);
  auto trained =
      TrainConvAutoencoder(x, nullptr, TinySpec(GetParam()), FastOptions(), nullptr, nullptr);
  ASSERT_TRUE(trained.ok()) << trained.status();
  const Model& model = *trained->model;
  std::vector<float> codes(16 * 5), before(x.data.size()), after(x.data.size()),
      onepass(x.data.size());
  ASSERT_TRUE(model.Encode(x.data.data(), 16, codes.data()).ok());
  ASSERT_TRUE(model.Decode(codes.data(), 16, before.data()).ok());
  FloatMatrix other = testing::RandomImages(16, 96, 3);
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
  FloatMatrix x = testing::RandomImages(32, 96, 7);
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
  ASSERT_TRUE(DeserializeModel(testing::ModelEnvelope(ModelKind::kConvAutoencoder, payload)).ok());
  auto reject = [&](const std::string& p, const std::string& what) {
    auto r = DeserializeModel(testing::ModelEnvelope(ModelKind::kConvAutoencoder, p));
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
    auto old = DeserializeModel(testing::ModelEnvelope(ModelKind::kConvAutoencoder, v1));
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

TEST(ConvAutoencoder, BinaryCodesDenoisingAndConcurrentEncode) {
  FloatMatrix x = testing::RandomImages(48, 96, 10);
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

}  // namespace
}  // namespace bn
