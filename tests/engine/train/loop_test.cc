#include "engine/train/loop.h"

#include <chrono>
#include <cmath>
#include <functional>
#include <limits>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace bn {
namespace {

constexpr int64_t kWidth = 4;  // column 0: the row's id; columns 1..3: features
constexpr int64_t kCode = 2;   // code noise width

// Rows with their id in column 0 and deterministic features.
FloatMatrix Rows(int64_t n) {
  FloatMatrix x(n, kWidth);
  for (int64_t r = 0; r < n; ++r) {
    x.at(r, 0) = static_cast<float>(r);
    for (int64_t c = 1; c < kWidth; ++c) x.at(r, c) = std::sin(0.7f * r + c) * 0.5f + 0.5f;
  }
  return x;
}

// A linear model without oneDNN: predicts column 1 of the clean row from the (possibly
// corrupted) features and the code noise. It records what the loop hands it.
class FakeModel : public Trainable {
 public:
  int64_t parameter_count() const override { return static_cast<int64_t>(w_.size()); }
  void RegisterParameters(Optimizer* optimizer) override {
    block_ = optimizer->AddBlock(w_.data(), parameter_count(), true);
  }
  absl::Status TrainStep(const TrainBatch& b, Optimizer* optimizer, double* loss) override {
    ++steps;
    std::vector<float> grad(w_.size(), 0.0f);
    double sum = 0;
    for (int64_t r = 0; r < b.size; ++r) {
      const float* in = b.input + r * kWidth;
      const float* target = b.target + r * kWidth;
      trained_ids.insert(static_cast<int>(target[0]));
      if (b.labels != nullptr) label_matches += b.labels[r] == static_cast<int>(target[0]) % 3;
      float pred = 0;
      for (int64_t c = 1; c < kWidth; ++c) pred += w_[c] * in[c];
      for (int64_t k = 0; k < kCode && b.code_noise != nullptr; ++k) {
        pred += w_[kWidth + k] * b.code_noise[r * kCode + k];
      }
      const float err = pred - target[1];
      sum += 0.5 * err * err;
      for (int64_t c = 1; c < kWidth; ++c) grad[c] += err * in[c] / b.size;
      for (int64_t k = 0; k < kCode && b.code_noise != nullptr; ++k) {
        grad[kWidth + k] += err * b.code_noise[r * kCode + k] / b.size;
      }
    }
    optimizer->BeginStep();
    optimizer->Update(block_, grad.data());
    *loss = steps == diverge_at_step ? std::numeric_limits<double>::quiet_NaN() : sum / b.size;
    if (on_step) on_step(steps);
    return absl::OkStatus();
  }
  absl::StatusOr<double> Evaluate(const FloatMatrix& x, const std::vector<int>*) override {
    for (int64_t r = 0; r < x.rows; ++r) validated_ids.insert(static_cast<int>(x.at(r, 0)));
    params_at_evaluation.push_back(w_);
    if (!scripted_errors.empty()) {
      return scripted_errors[std::min(params_at_evaluation.size(), scripted_errors.size()) - 1];
    }
    return static_cast<double>(w_[1] * w_[1]);
  }
  std::vector<float> FlatParameters() const override { return w_; }
  void SetFlatParameters(const std::vector<float>& flat) override { w_ = flat; }
  std::string SpecBytes() const override { return spec; }

  std::string spec = "fake-linear";
  int64_t diverge_at_step = -1;
  std::function<void(int64_t)> on_step;
  std::vector<double> scripted_errors;  // Evaluate's answers, in order (the last repeats)
  // Observations.
  int64_t steps = 0;
  int64_t label_matches = 0;
  std::set<int> trained_ids, validated_ids;
  std::vector<std::vector<float>> params_at_evaluation;

 private:
  std::vector<float> w_ = std::vector<float>(kWidth + kCode, 0.1f);
  int block_ = -1;
};

TrainOptions Options() {
  TrainOptions o;
  o.optimizer = OptimizerKind::kSgd;
  o.learning_rate = 0.05f;
  o.batch_size = 8;
  o.epochs = 5;
  o.seed = 7;
  return o;
}

// Corruption and fresh code noise: every batch draws from the loop's random state.
LoopSettings NoisySettings() {
  LoopSettings s;
  s.noise.code_size = kCode;
  s.noise.seed = 7;
  s.noise.corruption = Corruption::kGaussian;
  s.noise.corruption_level = 0.1f;
  s.noise.fresh_code_noise_stddev = 0.5f;
  return s;
}

TEST(TrainingLoop, EarlyStoppingRestoresTheBestEpoch) {
  const FloatMatrix x = Rows(40), v = Rows(6);
  const Examples validation{&v};
  FakeModel model;
  model.scripted_errors = {5, 3, 4, 6, 1};  // best after epoch 2, then two worse epochs
  TrainOptions o = Options();
  o.epochs = 10;
  o.early_stopping_patience = 2;
  auto r = RunTrainingLoop({&x}, &validation, o, {}, nullptr, nullptr, &model);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->epochs_run, 4);
  EXPECT_DOUBLE_EQ(r->validation_error, 3);
  ASSERT_EQ(model.params_at_evaluation.size(), 4u);
  EXPECT_EQ(model.FlatParameters(), model.params_at_evaluation[1]);
  EXPECT_NE(model.FlatParameters(), model.params_at_evaluation[3]);
  EXPECT_EQ(r->model, nullptr);
  // Without patience every epoch runs, and the best one is still restored (restore_best).
  FakeModel best;
  best.scripted_errors = {5, 3, 4, 6};
  o.epochs = 4;
  o.early_stopping_patience = 0;
  r = RunTrainingLoop({&x}, &validation, o, {}, nullptr, nullptr, &best);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->epochs_run, 4);
  EXPECT_DOUBLE_EQ(r->validation_error, 3);
  EXPECT_EQ(best.FlatParameters(), best.params_at_evaluation[1]);
  // With restore_best off, the last epoch's parameters and error stand.
  FakeModel last;
  last.scripted_errors = {5, 3, 4, 6};
  o.restore_best = false;
  r = RunTrainingLoop({&x}, &validation, o, {}, nullptr, nullptr, &last);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_DOUBLE_EQ(r->validation_error, 6);
  EXPECT_EQ(last.FlatParameters(), last.params_at_evaluation[3]);
}

TEST(TrainingLoop, LearningRateSchedules) {
  TrainOptions o = Options();
  o.learning_rate = 0.1f;
  o.epochs = 5;
  EXPECT_FLOAT_EQ(LearningRateAt(o, 3), 0.1f);
  o.lr_schedule = LrSchedule::kStep;
  o.lr_step_epochs = 2;
  o.lr_step_gamma = 0.5f;
  EXPECT_FLOAT_EQ(LearningRateAt(o, 1), 0.1f);
  EXPECT_FLOAT_EQ(LearningRateAt(o, 2), 0.1f);
  EXPECT_FLOAT_EQ(LearningRateAt(o, 3), 0.05f);
  EXPECT_FLOAT_EQ(LearningRateAt(o, 5), 0.025f);
  o.lr_schedule = LrSchedule::kCosine;
  o.lr_min_factor = 0.1f;
  EXPECT_FLOAT_EQ(LearningRateAt(o, 1), 0.1f);
  EXPECT_NEAR(LearningRateAt(o, 3), 0.055f, 1e-6);  // half way
  EXPECT_NEAR(LearningRateAt(o, 5), 0.01f, 1e-7);
  o.lr_min_factor = 2;
  EXPECT_EQ(ValidateTrainOptions(o).code(), absl::StatusCode::kInvalidArgument);
  o.lr_schedule = LrSchedule::kStep;
  o.lr_step_gamma = 0;
  EXPECT_EQ(ValidateTrainOptions(o).code(), absl::StatusCode::kInvalidArgument);
}

TEST(TrainingLoop, AugmentationSeesTheCleanRowsWithFreshDrawsEachEpoch) {
  const FloatMatrix x = Rows(8);
  TrainOptions o = Options();
  o.epochs = 2;
  o.batch_size = 8;
  std::vector<uint64_t> first_draws;
  int64_t rows_seen = 0;
  o.augment = [&](float* rows, int64_t m, std::mt19937_64* rng) {
    first_draws.push_back((*rng)());
    rows_seen += m;
    for (int64_t i = 0; i < m * x.cols; ++i) rows[i] += 100;  // Visible in the batch.
  };
  FakeModel model;
  auto r = RunTrainingLoop({&x}, nullptr, o, {}, nullptr, nullptr, &model);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(rows_seen, 16);
  ASSERT_EQ(first_draws.size(), 2u);
  EXPECT_NE(first_draws[0], first_draws[1]);  // A new random state each epoch.
  ASSERT_FALSE(model.trained_ids.empty());
  EXPECT_GE(*model.trained_ids.begin(), 100);  // The model trained on the augmented rows.
  // The same options give the same draws (a function of seed, epoch and step only).
  std::vector<uint64_t> again;
  o.augment = [&](float*, int64_t, std::mt19937_64* rng) { again.push_back((*rng)()); };
  FakeModel other;
  ASSERT_TRUE(RunTrainingLoop({&x}, nullptr, o, {}, nullptr, nullptr, &other).ok());
  EXPECT_EQ(again, first_draws);
}

TEST(TrainingLoop, CheckpointsResumeBitIdentically) {
  const FloatMatrix x = Rows(50);
  TrainOptions o = Options();
  o.validation_fraction = 0.2;
  o.early_stopping_patience = 10;  // keeps best parameters in the checkpoints
  std::vector<std::string> checkpoints;
  o.on_checkpoint = [&](const std::string& c) { checkpoints.push_back(c); };
  FakeModel full;
  auto done = RunTrainingLoop({&x}, nullptr, o, NoisySettings(), nullptr, nullptr, &full);
  ASSERT_TRUE(done.ok()) << done.status();
  ASSERT_EQ(checkpoints.size(), 5u);
  o.on_checkpoint = nullptr;
  for (size_t k = 0; k < checkpoints.size(); ++k) {
    FakeModel resumed;
    o.resume_from = &checkpoints[k];
    auto r = RunTrainingLoop({&x}, nullptr, o, NoisySettings(), nullptr, nullptr, &resumed);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(resumed.FlatParameters(), full.FlatParameters()) << "resumed after epoch " << k + 1;
    EXPECT_EQ(r->epochs_run, 5);
    EXPECT_DOUBLE_EQ(r->validation_error, done->validation_error);
    EXPECT_DOUBLE_EQ(r->train_loss, done->train_loss);
    EXPECT_EQ(resumed.steps, full.steps * static_cast<int64_t>(4 - k) / 5);
  }
  // want_checkpoint declines: no bytes; the training is the same.
  o.resume_from = nullptr;
  int taken = 0;
  o.on_checkpoint = [&](const std::string&) { ++taken; };
  o.want_checkpoint = [] { return false; };
  FakeModel declined;
  ASSERT_TRUE(RunTrainingLoop({&x}, nullptr, o, NoisySettings(), nullptr, nullptr, &declined).ok());
  EXPECT_EQ(taken, 0);
  EXPECT_EQ(declined.FlatParameters(), full.FlatParameters());
  // Another architecture or corrupt bytes are refused.
  o.on_checkpoint = nullptr;
  o.resume_from = &checkpoints[1];
  FakeModel other;
  other.spec = "another";
  EXPECT_EQ(
      RunTrainingLoop({&x}, nullptr, o, NoisySettings(), nullptr, nullptr, &other).status().code(),
      absl::StatusCode::kInvalidArgument);
  std::string bad = checkpoints[1];
  bad[bad.size() / 2] ^= 1;
  o.resume_from = &bad;
  FakeModel corrupt;
  EXPECT_EQ(RunTrainingLoop({&x}, nullptr, o, NoisySettings(), nullptr, nullptr, &corrupt)
                .status()
                .code(),
            absl::StatusCode::kDataLoss);
}

TEST(TrainingLoop, CancellationStopsBeforeTheNextBatch) {
  const FloatMatrix x = Rows(40);
  CancellationFlag cancel;
  FakeModel model;
  model.on_step = [&](int64_t step) {
    if (step == 3) cancel.Cancel();
  };
  auto r = RunTrainingLoop({&x}, nullptr, Options(), {}, nullptr, &cancel, &model);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(model.steps, 3);
  FakeModel never;
  r = RunTrainingLoop({&x}, nullptr, Options(), {}, nullptr, &cancel, &never);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(never.steps, 0);
}

TEST(TrainingLoop, MaxSecondsEndsTrainingEarlyWithAResult) {
  const FloatMatrix x = Rows(40), v = Rows(4);
  const Examples validation{&v};
  FakeModel model;
  model.on_step = [](int64_t) { std::this_thread::sleep_for(std::chrono::milliseconds(5)); };
  TrainOptions o = Options();
  o.epochs = 1000;
  o.max_seconds = 0.1;
  int last_epoch = 0;
  const auto t0 = std::chrono::steady_clock::now();
  auto r = RunTrainingLoop(
      {&x}, &validation, o, {}, [&](const TrainingProgress& p) { last_epoch = p.epoch; }, nullptr,
      &model);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_GE(model.steps, 1);
  EXPECT_LT(r->epochs_run, 1000);
  EXPECT_LT(model.steps, 1000 * 5);
  EXPECT_LT(secs, 10.0);
  // The interrupted epoch is still validated and reported.
  EXPECT_EQ(static_cast<int>(model.params_at_evaluation.size()), r->epochs_run);
  EXPECT_EQ(last_epoch, r->epochs_run);
}

TEST(TrainingLoop, NonFiniteLossIsAnError) {
  const FloatMatrix x = Rows(40);
  FakeModel model;
  model.diverge_at_step = 7;
  auto r = RunTrainingLoop({&x}, nullptr, Options(), {}, nullptr, nullptr, &model);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInternal);
  EXPECT_NE(r.status().message().find("diverged"), absl::string_view::npos);
  EXPECT_EQ(model.steps, 7);
}

// The held-out rows never train; labels and lengths follow their rows; pre-training sees the
// training rows only and is skipped when resuming.
TEST(TrainingLoop, ValidationSplitKeepsRowsApartAndLabelsWithTheirRows) {
  const FloatMatrix x = Rows(40);
  std::vector<int> labels;
  std::vector<float> lengths;
  for (int r = 0; r < 40; ++r) {
    labels.push_back(r % 3);
    lengths.push_back(r + 0.5f);
  }
  TrainOptions o = Options();
  o.validation_fraction = 0.25;
  std::string checkpoint;
  o.on_checkpoint = [&](const std::string& c) { checkpoint = c; };
  LoopSettings settings;
  int pretrained = 0;
  settings.pretrain = [&](const Examples& train) {
    ++pretrained;
    EXPECT_EQ(train.x->rows, 30);
    EXPECT_NE(train.labels, nullptr);
    if (train.lengths == nullptr) return absl::InternalError("lengths lost");
    for (int64_t r = 0; r < train.x->rows; ++r) {
      EXPECT_EQ((*train.lengths)[r], train.x->at(r, 0) + 0.5f);
      EXPECT_EQ((*train.labels)[r], static_cast<int>(train.x->at(r, 0)) % 3);
    }
    return absl::OkStatus();
  };
  FakeModel model;
  auto r = RunTrainingLoop({&x, &labels, &lengths}, nullptr, o, settings, nullptr, nullptr, &model);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(pretrained, 1);
  EXPECT_EQ(model.validated_ids.size(), 10u);
  EXPECT_EQ(model.trained_ids.size(), 30u);
  for (int id : model.validated_ids) EXPECT_EQ(model.trained_ids.count(id), 0u) << id;
  EXPECT_EQ(model.label_matches, 30 * 5);  // every row of every epoch carried its own label
  // The same seed holds out the same rows; resuming does not pre-train again.
  o.on_checkpoint = nullptr;
  o.resume_from = &checkpoint;
  o.epochs = 6;
  FakeModel resumed;
  ASSERT_TRUE(
      RunTrainingLoop({&x, &labels, &lengths}, nullptr, o, settings, nullptr, nullptr, &resumed)
          .ok());
  EXPECT_EQ(pretrained, 1);
  EXPECT_EQ(resumed.validated_ids, model.validated_ids);
}

TEST(TrainingLoop, ReportsFineTuningProgressAndRejectsBadInputs) {
  const FloatMatrix x = Rows(20);
  LoopSettings settings;
  settings.phase_count = 3;
  std::vector<TrainingProgress> seen;
  FakeModel model;
  auto r = RunTrainingLoop(
      {&x}, nullptr, Options(), settings,
      [&](const TrainingProgress& p) {
        if (p.step == p.steps_per_epoch) seen.push_back(p);  // (not the throttled mid-epoch ones)
      },
      nullptr, &model);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(seen.size(), 5u);  // one at each epoch's end
  const TrainingProgress& last = seen.back();
  EXPECT_EQ(last.phase, "fine-tune");
  EXPECT_EQ(last.phase_index, 3);
  EXPECT_EQ(last.phase_count, 3);
  EXPECT_EQ(last.epoch, 5);
  EXPECT_EQ(last.steps_per_epoch, 3);  // 20 rows in batches of 8
  EXPECT_EQ(last.step, 3);
  EXPECT_NEAR(last.eta_seconds, 0.0, 1e-9);
  EXPECT_DOUBLE_EQ(last.loss, r->train_loss);

  TrainOptions bad = Options();
  bad.batch_size = 0;
  EXPECT_EQ(RunTrainingLoop({&x}, nullptr, bad, {}, nullptr, nullptr, &model).status().code(),
            absl::StatusCode::kInvalidArgument);
  bad = Options();
  bad.validation_fraction = 1.0;
  EXPECT_EQ(RunTrainingLoop({&x}, nullptr, bad, {}, nullptr, nullptr, &model).status().code(),
            absl::StatusCode::kInvalidArgument);
  const FloatMatrix narrow(5, kWidth - 1);
  const Examples wrong_width{&narrow};
  EXPECT_EQ(
      RunTrainingLoop({&x}, &wrong_width, Options(), {}, nullptr, nullptr, &model).status().code(),
      absl::StatusCode::kInvalidArgument);
  const std::vector<int> short_labels(3, 0);
  EXPECT_EQ(RunTrainingLoop({&x, &short_labels}, nullptr, Options(), {}, nullptr, nullptr, &model)
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace bn
