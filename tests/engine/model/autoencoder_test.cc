#include "engine/model/autoencoder.h"

#include <atomic>
#include <cmath>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "engine/model/model_file.h"
#include "engine/nn/bf16_mlp.h"
#include "engine/train/autoencoder_trainer.h"
#include "gtest/gtest.h"
#include "tests/engine/model/autoencoder_test_util.h"

namespace bn {
namespace {

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

TEST(DenseAutoencoder, SaveLoadGivesIdenticalCodesAndReconstructions) {
  FloatMatrix x = testing::RandomData(300, 24, 1);
  for (bool tied : {false, true}) {
    DenseAutoencoderSpec spec = SmallSpec();
    spec.tied_weights = tied;
    auto trained = TrainDenseAutoencoder(x, nullptr, spec, FastOptions(), nullptr, nullptr);
    ASSERT_TRUE(trained.ok()) << trained.status();
    const Model& model = *trained->model;
    EXPECT_EQ(model.kind(), ModelKind::kDenseAutoencoder);
    EXPECT_EQ(model.input_size(), 24);
    EXPECT_EQ(model.code_size(), 3);
    EXPECT_EQ(model.code_type(), CodeType::kFloat);
    auto bytes = SerializeModel(model);
    ASSERT_TRUE(bytes.ok());
    auto loaded = DeserializeModel(*bytes);
    ASSERT_TRUE(loaded.ok()) << loaded.status();
    EXPECT_EQ((*loaded)->parameter_count(), model.parameter_count());
    std::vector<float> a = Codes(model, x), b = Codes(**loaded, x);
    ASSERT_EQ(a.size(), b.size());
    EXPECT_EQ(0, std::memcmp(a.data(), b.data(), a.size() * sizeof(float)));
    std::vector<float> ra(x.data.size()), rb(x.data.size());
    ASSERT_TRUE(model.Decode(a.data(), x.rows, ra.data()).ok());
    ASSERT_TRUE((*loaded)->Decode(a.data(), x.rows, rb.data()).ok());
    EXPECT_EQ(0, std::memcmp(ra.data(), rb.data(), ra.size() * sizeof(float)));
    auto again = SerializeModel(**loaded);
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(*again, *bytes);
  }
}

// bf16 encoding: codes close to the f32 model's (bf16 keeps 8 significant bits), decoding and
// the saved model unchanged, binary codes too; other model kinds are refused.
TEST(DenseAutoencoder, Bf16EncodeStaysCloseToF32AndChangesNothingElse) {
  FloatMatrix x = testing::RandomData(300, 24, 2);
  for (bool binary : {false, true}) {
    DenseAutoencoderSpec spec = SmallSpec();
    spec.binary_codes = binary;
    auto trained = TrainDenseAutoencoder(x, nullptr, spec, FastOptions(), nullptr, nullptr);
    ASSERT_TRUE(trained.ok()) << trained.status();
    auto bytes = SerializeModel(*trained->model);
    ASSERT_TRUE(bytes.ok());
    auto copy = DeserializeModel(*bytes);
    ASSERT_TRUE(copy.ok());
    if (!Bf16Mlp::Supported()) {
      EXPECT_EQ(WithBf16Encode(std::move(*copy)).status().code(),
                absl::StatusCode::kFailedPrecondition);
      GTEST_SKIP() << "this CPU has no AVX-512 BF16";
    }
    auto bf16 = WithBf16Encode(std::move(*copy));
    ASSERT_TRUE(bf16.ok()) << bf16.status();
    const Model& f32_model = *trained->model;
    std::vector<float> a = Codes(f32_model, x), b = Codes(**bf16, x);
    ASSERT_EQ(a.size(), b.size());
    double diff = 0, norm = 0;
    for (size_t i = 0; i < a.size(); ++i) {
      diff += std::abs(a[i] - b[i]);
      norm += std::abs(a[i]);
    }
    EXPECT_GT(diff, 0.0);  // It does run in bf16.
    EXPECT_LT(diff / norm, 2e-2);
    std::vector<float> ra(x.data.size()), rb(x.data.size());
    ASSERT_TRUE(f32_model.Decode(a.data(), x.rows, ra.data()).ok());
    ASSERT_TRUE((*bf16)->Decode(a.data(), x.rows, rb.data()).ok());
    EXPECT_EQ(0, std::memcmp(ra.data(), rb.data(), ra.size() * sizeof(float)));
    auto saved = SerializeModel(**bf16);
    ASSERT_TRUE(saved.ok());
    EXPECT_EQ(*saved, *bytes);
  }
  EXPECT_EQ(WithBf16Encode(nullptr).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(DenseAutoencoder, CorruptOrTruncatedFilesAreRejected) {
  FloatMatrix x = testing::RandomData(64, 24, 2);
  TrainOptions o = FastOptions();
  o.epochs = 1;
  auto trained = TrainDenseAutoencoder(x, nullptr, SmallSpec(), o, nullptr, nullptr);
  ASSERT_TRUE(trained.ok());
  auto bytes = SerializeModel(*trained->model);
  ASSERT_TRUE(bytes.ok());
  const std::string& good = *bytes;
  for (size_t pos = 0; pos < good.size(); pos += 13) {
    std::string bad = good;
    bad[pos] = static_cast<char>(bad[pos] ^ 0x5a);
    EXPECT_FALSE(DeserializeModel(bad).ok()) << "flipped byte " << pos;
  }
  for (size_t len : {size_t{0}, size_t{10}, size_t{30}, good.size() / 2, good.size() - 1}) {
    EXPECT_FALSE(DeserializeModel(good.substr(0, len)).ok()) << "truncated to " << len;
  }
  // Hostile payloads with a valid checksum reach the loader, which must reject them.
  std::string payload;
  ASSERT_TRUE(trained->model->SavePayload(&payload).ok());
  ASSERT_TRUE(DeserializeModel(testing::ModelEnvelope(ModelKind::kDenseAutoencoder, payload)).ok());
  auto reject = [&](std::string p, const char* what) {
    auto r = DeserializeModel(testing::ModelEnvelope(ModelKind::kDenseAutoencoder, p));
    EXPECT_FALSE(r.ok()) << what;
    if (!r.ok()) {
      EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << what;
    }
  };
  for (size_t len = 0; len < payload.size(); len += 37) reject(payload.substr(0, len), "cut");
  reject(payload + "x", "trailing byte");
  std::string p = payload;
  const int64_t huge = int64_t{1} << 40;
  std::memcpy(&p[4], &huge, 8);  // input_size
  reject(p, "huge input size");
  p = payload;
  const uint64_t many = 1000000;
  std::memcpy(&p[20], &many, 8);  // encoder layer count
  reject(p, "huge layer count");
  p = payload;
  const float nan = std::nanf("");
  std::memcpy(&p[p.size() - 4], &nan, 4);  // last bias value
  reject(p, "NaN weight");
  p = payload;
  p[4 + 8 + 8 + 8 + 16 + 8 + 16] = 9;  // hidden activation (after sizes)
  reject(p, "bad activation");
}

TEST(DenseAutoencoder, ConcurrentEncodeDecodeAgreeWithSerialCalls) {
  FloatMatrix x = testing::RandomData(300, 24, 9);
  auto trained = TrainDenseAutoencoder(x, nullptr, SmallSpec(), FastOptions(), nullptr, nullptr);
  ASSERT_TRUE(trained.ok());
  const Model& model = *trained->model;
  const std::vector<float> expected = Codes(model, x);
  std::vector<float> expected_rec(x.data.size());
  ASSERT_TRUE(model.Decode(expected.data(), x.rows, expected_rec.data()).ok());
  std::vector<std::thread> threads;
  std::atomic<int> mismatches{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t]() {
      for (int rep = 0; rep < 5; ++rep) {
        // Different row counts exercise different cached batch sizes concurrently.
        const int64_t n = 50 + 50 * t;
        std::vector<float> codes(static_cast<size_t>(n * 3)), rec(static_cast<size_t>(n * 24));
        if (!model.Encode(x.data.data(), n, codes.data()).ok() ||
            !model.Decode(codes.data(), n, rec.data()).ok() ||
            std::memcmp(codes.data(), expected.data(), codes.size() * 4) != 0 ||
            std::memcmp(rec.data(), expected_rec.data(), rec.size() * 4) != 0) {
          ++mismatches;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(mismatches.load(), 0);
  EXPECT_FALSE(model.Encode(x.data.data(), -1, nullptr).ok());
}

}  // namespace
}  // namespace bn
