#include "server/core/trainer.h"

#include <set>

#include "gtest/gtest.h"

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

}  // namespace
}  // namespace bn
