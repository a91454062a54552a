#include "engine/train/checkpoint.h"

#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "engine/util/bytes.h"
#include "gtest/gtest.h"

namespace bn {
namespace {

// An Adam optimiser over `w` that has taken one step, so its state is not all zeros.
Optimizer SteppedOptimizer(std::vector<float>* w) {
  Optimizer opt(OptimizerOptions{});
  opt.AddBlock(w->data(), static_cast<int64_t>(w->size()), true);
  const std::vector<float> grad = {0.25f, -0.5f, 1.0f};
  opt.BeginStep();
  opt.Update(0, grad.data());
  return opt;
}

// The service keeps the checkpoints of interrupted jobs: bytes written field by field in the
// "BNCKPT01" layout documented in checkpoint.cc must decode, and encoding must write exactly
// that layout.
TEST(TrainingCheckpoint, Bnckpt01LayoutStaysReadableAndIsWhatEncodingWrites) {
  std::vector<float> w = {0.5f, -1.0f, 2.0f};
  Optimizer opt = SteppedOptimizer(&w);
  std::mt19937_64 rng(42);
  rng.discard(5);
  const std::vector<float> best_params = {1.0f, 2.0f, 3.0f};

  std::string bytes("BNCKPT01", 8);
  ByteWriter out(&bytes);
  out.Str("spec-bytes");
  out.I64(3);  // completed epochs
  out.Floats(w);
  opt.SaveState(&out);
  std::ostringstream rng_text;
  rng_text << rng;
  out.Str(rng_text.str());
  out.F64(0.25);  // best
  out.I64(1);     // since_best
  out.Floats(best_params);
  out.F64(0.5);   // validation_error
  out.F64(0.75);  // train_loss
  out.U32(Crc32(bytes));

  std::vector<float> w2(3, 0.0f);
  Optimizer restored(OptimizerOptions{});
  restored.AddBlock(w2.data(), 3, true);
  TrainingCheckpoint c;
  ASSERT_TRUE(DecodeTrainingCheckpoint(bytes, "spec-bytes", 3, &restored, &c).ok());
  EXPECT_EQ(c.epoch, 3);
  EXPECT_EQ(c.params, w);
  EXPECT_TRUE(c.rng == rng);
  EXPECT_DOUBLE_EQ(c.best, 0.25);
  EXPECT_EQ(c.since_best, 1);
  EXPECT_EQ(c.best_params, best_params);
  EXPECT_DOUBLE_EQ(c.validation_error, 0.5);
  EXPECT_DOUBLE_EQ(c.train_loss, 0.75);
  EXPECT_EQ(restored.step(), 1);
  std::string state_a, state_b;
  ByteWriter wa(&state_a), wb(&state_b);
  opt.SaveState(&wa);
  restored.SaveState(&wb);
  EXPECT_EQ(state_a, state_b);

  EXPECT_EQ(EncodeTrainingCheckpoint("spec-bytes", c, opt), bytes);
}

TEST(TrainingCheckpoint, RefusesOtherModelsAndDamagedBytes) {
  std::vector<float> w = {0.5f, -1.0f, 2.0f};
  Optimizer opt = SteppedOptimizer(&w);
  TrainingCheckpoint state;
  state.epoch = 2;
  state.params = w;
  state.best = 1.0;
  const std::string good = EncodeTrainingCheckpoint("spec", state, opt);
  auto decode = [&](const std::string& bytes, const std::string& spec, int64_t count) {
    std::vector<float> p(static_cast<size_t>(count), 0.0f);
    Optimizer o(OptimizerOptions{});
    o.AddBlock(p.data(), count, true);
    TrainingCheckpoint c;
    return DecodeTrainingCheckpoint(bytes, spec, count, &o, &c).code();
  };
  EXPECT_EQ(decode(good, "spec", 3), absl::StatusCode::kOk);
  EXPECT_EQ(decode(good, "other spec", 3), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(decode(good, "spec", 4), absl::StatusCode::kDataLoss);
  for (size_t pos = 0; pos < good.size(); pos += 7) {
    std::string bad = good;
    bad[pos] ^= 0x20;
    EXPECT_EQ(decode(bad, "spec", 3), absl::StatusCode::kDataLoss) << "flipped byte " << pos;
  }
  EXPECT_EQ(decode(good.substr(0, good.size() - 1), "spec", 3), absl::StatusCode::kDataLoss);
  EXPECT_EQ(decode("", "spec", 3), absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace bn
