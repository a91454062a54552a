#include "server/core/trainer.h"

#include <random>
#include <set>

#include "gtest/gtest.h"
#include "server/core/specs.h"
#include "server/core/trainer_options.h"

namespace bn {
namespace {

namespace v1 = ::bottleneck::v1;

// `n` rows of width 2 whose first value is the row number, with labels r % `labels`.
LabelledMatrix Data(int n, int labels) {
  LabelledMatrix m;
  m.x = FloatMatrix(n, 2);
  for (int r = 0; r < n; ++r) {
    m.x.at(r, 0) = static_cast<float>(r);
    m.labels.push_back(r % labels);
  }
  for (int l = 0; l < labels; ++l) m.label_names.push_back("label-" + std::to_string(l));
  return m;
}

TEST(TrainerOptionsTest, TheSpecsTrainingOptionsReachTheEngine) {
  v1::ModelSpec spec;
  v1::TrainingOptions* t = spec.mutable_training();
  t->set_optimizer(v1::OPTIMIZER_KIND_SGD);
  t->set_learning_rate(0.3f);
  t->set_weight_decay(1e-4f);
  t->set_dropout(0.25f);
  t->set_epochs(7);
  t->set_lr_schedule(v1::LEARNING_RATE_SCHEDULE_COSINE);
  t->set_lr_min_factor(0.05f);
  const TrainOptions o = ToEngineOptions(spec, TrainingHooks{});
  EXPECT_EQ(o.optimizer, OptimizerKind::kSgd);
  EXPECT_FLOAT_EQ(o.learning_rate, 0.3f);
  EXPECT_FLOAT_EQ(o.weight_decay, 1e-4f);
  EXPECT_FLOAT_EQ(o.dropout, 0.25f);
  EXPECT_EQ(o.epochs, 7);
  EXPECT_EQ(o.lr_schedule, LrSchedule::kCosine);
  EXPECT_FLOAT_EQ(o.lr_min_factor, 0.05f);
}

TEST(SplitForTrainingTest, ByLabelHoldsOutWholeLabels) {
  const LabelledMatrix all = Data(1000, 10);
  v1::TrainingOptions options;
  options.set_validation(v1::VALIDATION_SPLIT_BY_LABEL);
  options.set_validation_fraction(0.2f);
  options.set_seed(3);
  LabelledMatrix train;
  ValidationData validation;
  ASSERT_TRUE(SplitForTraining(all, options, &train, &validation).ok());
  ASSERT_EQ(validation.heldout_labels.size(), 2u);  // 20 % of 10 labels.
  EXPECT_EQ(validation.heldout.x.rows, 200);
  std::set<int> heldout_labels(validation.heldout.labels.begin(), validation.heldout.labels.end());
  EXPECT_EQ(heldout_labels.size(), 2u);
  for (int label : heldout_labels) {
    EXPECT_EQ(std::count(validation.heldout_labels.begin(), validation.heldout_labels.end(),
                         "label-" + std::to_string(label)),
              1);
  }
  // The remaining 800 rows: the same 20 % for validation (in distribution), the rest training;
  // no row twice and no held-out label in either.
  EXPECT_EQ(validation.validation.x.rows, 160);
  EXPECT_EQ(train.x.rows, 640);
  std::set<int> rows;
  for (const LabelledMatrix* m : {&train, &validation.validation, &validation.heldout}) {
    for (int64_t r = 0; r < m->x.rows; ++r) rows.insert(static_cast<int>(m->x.at(r, 0)));
  }
  EXPECT_EQ(rows.size(), 1000u);
  for (int label : train.labels) EXPECT_EQ(heldout_labels.count(label), 0u);
  for (int label : validation.validation.labels) EXPECT_EQ(heldout_labels.count(label), 0u);
  // The same seed holds out the same labels; another seed may not.
  LabelledMatrix train2;
  ValidationData validation2;
  ASSERT_TRUE(SplitForTraining(all, options, &train2, &validation2).ok());
  EXPECT_EQ(validation2.heldout_labels, validation.heldout_labels);
}

TEST(SplitForTrainingTest, ByLabelNeedsLabelsAndAtLeastTwoOfThem) {
  v1::TrainingOptions options;
  options.set_validation(v1::VALIDATION_SPLIT_BY_LABEL);
  options.set_validation_fraction(0.5f);
  LabelledMatrix train;
  ValidationData validation;
  EXPECT_EQ(SplitForTraining(Data(10, 1), options, &train, &validation).code(),
            absl::StatusCode::kFailedPrecondition);
  LabelledMatrix unlabelled = Data(10, 3);
  unlabelled.labels.assign(10, -1);
  EXPECT_EQ(SplitForTraining(unlabelled, options, &train, &validation).code(),
            absl::StatusCode::kFailedPrecondition);
  // Two labels: one is held out, never both.
  ValidationData two;
  ASSERT_TRUE(SplitForTraining(Data(10, 2), options, &train, &two).ok());
  EXPECT_EQ(two.heldout_labels.size(), 1u);
  // RANDOM ignores labels and leaves `heldout` empty.
  options.set_validation(v1::VALIDATION_SPLIT_RANDOM);
  ValidationData random;
  ASSERT_TRUE(SplitForTraining(Data(10, 1), options, &train, &random).ok());
  EXPECT_EQ(random.heldout.x.rows, 0);
  EXPECT_EQ(random.validation.x.rows, 5);
}

// Random pixels in [0, 1] for a 4x5x1 image collection (20 values per row).
LabelledMatrix Pixels(int n) {
  LabelledMatrix m;
  m.x = FloatMatrix(n, 20);
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> uniform(0, 1);
  for (float& v : m.x.data) v = uniform(rng);
  return m;
}

// Trains `spec` on 5000 rows (three of PCA's 2048-row blocks), recording every progress report.
std::vector<TrainingProgress> Reports(v1::ModelSpec spec) {
  v1::CollectionSpec collection;
  collection.mutable_image()->set_height(4);
  collection.mutable_image()->set_width(5);
  collection.mutable_image()->set_channels(1);
  EXPECT_TRUE(NormalizeCollectionSpec(&collection).ok());
  EXPECT_TRUE(NormalizeModelSpec(collection, &spec).ok());
  std::vector<TrainingProgress> reports;
  TrainingHooks hooks;
  hooks.threads = 1;
  hooks.progress = [&](const TrainingProgress& p) { reports.push_back(p); };
  ValidationData validation;
  validation.validation = Pixels(100);
  CancellationFlag cancel;
  EXPECT_TRUE(TrainAndEvaluate(collection, spec, Pixels(5000), validation, hooks, cancel).ok());
  return reports;
}

// The PCA computation shows what it does: the covariance's blocks of rows, then the
// eigen-decomposition, as steps of phase 1 without epochs (they are no epochs of the job's
// history); its ETA is the job's for a PCA model and unknown before an auto-encoder.
TEST(TrainAndEvaluateTest, PcaProgressShowsCovarianceBlocksAndTheEigenDecomposition) {
  v1::ModelSpec pca;
  pca.mutable_pca()->set_code_size(3);
  std::vector<std::string> phases;
  int64_t blocks_seen = 0;
  for (const TrainingProgress& p : Reports(pca)) {
    if (phases.empty() || phases.back() != p.phase) phases.push_back(p.phase);
    EXPECT_EQ(p.epochs, 0) << p.phase;
    if (p.phase == "PCA baseline: covariance of 5000 rows") {
      EXPECT_EQ(p.phase_index, 1);
      EXPECT_EQ(p.steps_per_epoch, 3);
      EXPECT_EQ(p.step, ++blocks_seen);
      EXPECT_GE(p.eta_seconds, 0);
    }
  }
  EXPECT_EQ(blocks_seen, 3);
  EXPECT_EQ(phases, (std::vector<std::string>{
                        "PCA baseline", "PCA baseline: covariance of 5000 rows",
                        "PCA baseline: eigen-decomposition of a 20 x 20 matrix", "evaluate"}));
  v1::ModelSpec dense;
  dense.mutable_dense()->add_encoder_sizes(8);
  dense.mutable_dense()->set_code_size(2);
  dense.mutable_training()->set_epochs(1);
  bool saw_covariance = false;
  for (const TrainingProgress& p : Reports(dense)) {
    if (p.phase.rfind("PCA baseline: ", 0) == 0) {
      saw_covariance = true;
      EXPECT_LT(p.eta_seconds, 0);  // The auto-encoder's time is not known yet.
    }
  }
  EXPECT_TRUE(saw_covariance);
}

}  // namespace
}  // namespace bn
