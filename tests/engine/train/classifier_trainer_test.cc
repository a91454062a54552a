#include "engine/train/classifier_trainer.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/engine/model/autoencoder_test_util.h"

namespace bn {
namespace {

TEST(DenseClassifierTrainer, LearnsFashionMnistFromRandomInitAndAfterPretraining) {
  FloatMatrix x = testing::ReadFashionImages("train-images-idx3-ubyte.gz", 2000);
  std::vector<int> y = testing::ReadFashionLabels("train-labels-idx1-ubyte.gz", 2000);
  FloatMatrix xt = testing::ReadFashionImages("t10k-images-idx3-ubyte.gz", 500);
  std::vector<int> yt = testing::ReadFashionLabels("t10k-labels-idx1-ubyte.gz", 500);
  ASSERT_EQ(x.rows, 2000);
  ASSERT_EQ(yt.size(), 500u);
  ClassifierSpec spec;
  spec.hidden_sizes = {128, 64};
  TrainOptions o;
  o.epochs = 5;
  o.batch_size = 64;
  o.learning_rate = 2e-3f;
  o.threads = 1;  // one thread: robust on a shared CI machine
  o.pretrain_epochs = 2;
  auto random = TrainDenseClassifier(x, y, spec, o, nullptr, nullptr);
  ASSERT_TRUE(random.ok()) << random.status();
  spec.pretraining = true;
  std::vector<std::string> phases;
  auto pre = TrainDenseClassifier(
      x, y, spec, o,
      [&](const TrainingProgress& p) {
        if (phases.empty() || phases.back() != p.phase) phases.push_back(p.phase);
      },
      nullptr);
  ASSERT_TRUE(pre.ok()) << pre.status();
  EXPECT_EQ(phases, (std::vector<std::string>{"RBM layer 1/2", "RBM layer 2/2", "fine-tune"}));
  auto er = (*random)->ErrorRate(xt, yt);
  auto ep = (*pre)->ErrorRate(xt, yt);
  ASSERT_TRUE(er.ok() && ep.ok());
  std::printf("test error: random init %.3f, pre-trained %.3f\n", *er, *ep);
  // Ten classes: chance is 0.9. Both must learn the task.
  EXPECT_LT(*er, 0.3);
  EXPECT_LT(*ep, 0.3);
  // Class probabilities sum to one.
  std::vector<float> probs(10);
  ASSERT_TRUE((*pre)->Predict(xt.row(0), 1, probs.data()).ok());
  float sum = 0;
  for (float p : probs) sum += p;
  EXPECT_NEAR(sum, 1.0f, 1e-5);
}

TEST(DenseClassifierTrainer, RejectsBadLabelsAndHonoursCancellation) {
  FloatMatrix x(4, 784);
  ClassifierSpec spec;
  spec.hidden_sizes = {8};
  TrainOptions o;
  EXPECT_FALSE(TrainDenseClassifier(x, {0, 1, 2, 10}, spec, o, nullptr, nullptr).ok());
  EXPECT_FALSE(TrainDenseClassifier(x, {0, 1, 2}, spec, o, nullptr, nullptr).ok());
  CancellationFlag cancel;
  cancel.Cancel();
  EXPECT_EQ(TrainDenseClassifier(x, {0, 1, 2, 3}, spec, o, nullptr, &cancel).status().code(),
            absl::StatusCode::kCancelled);
}

}  // namespace
}  // namespace bn
