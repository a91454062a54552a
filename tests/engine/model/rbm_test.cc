#include "engine/model/rbm.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "engine/model/autoencoder.h"
#include "engine/model/model_file.h"
#include "engine/nn/context.h"
#include "gtest/gtest.h"
#include "tests/engine/model/autoencoder_test_util.h"

namespace bn {
namespace {

// Free energies are only comparable under the same parameters (the partition function changes
// with them), so the test tracks the free energy of real images relative to the same images with
// their pixels shuffled (same intensities, no structure): training must make the real images
// markedly more probable, i.e. their relative free energy falls.
TEST(Rbm, FreeEnergyAndReconstructionErrorFallOnFashionMnist) {
  SetNnThreads(1);  // one thread: robust on a shared CI machine
  FloatMatrix x = testing::ReadFashionImages("train-images-idx3-ubyte.gz", 1000);
  ASSERT_EQ(x.rows, 1000);
  FloatMatrix shuffled = x;
  std::mt19937 rng(4);
  for (int64_t r = 0; r < shuffled.rows; ++r) {
    std::shuffle(shuffled.row(r), shuffled.row(r) + shuffled.cols, rng);
  }
  auto relative = [&](Rbm& rbm) {
    auto real = rbm.MeanFreeEnergy(x);
    auto fake = rbm.MeanFreeEnergy(shuffled);
    EXPECT_TRUE(real.ok() && fake.ok());
    return *real - *fake;
  };
  auto rbm = Rbm::Create(784, 64, RbmVisible::kBinary, RbmHidden::kBinary);
  ASSERT_TRUE(rbm.ok());
  (*rbm)->Initialize(1);
  const double f0 = relative(**rbm);
  auto e0 = (*rbm)->ReconstructionError(x);
  ASSERT_TRUE(e0.ok());
  RbmOptions o;
  o.epochs = 4;
  std::vector<double> epoch_err;
  ASSERT_TRUE((*rbm)
                  ->Train(
                      x, nullptr, o, [&](int, double err) { epoch_err.push_back(err); }, nullptr)
                  .ok());
  const double f1 = relative(**rbm);
  auto e1 = (*rbm)->ReconstructionError(x);
  ASSERT_TRUE(e1.ok());
  std::printf("relative free energy %.1f -> %.1f, reconstruction error %.1f -> %.1f\n", f0, f1, *e0,
              *e1);
  EXPECT_LT(f1, f0 - 10.0);
  EXPECT_LT(*e1, 0.5 * *e0);
  ASSERT_EQ(epoch_err.size(), 4u);
  EXPECT_LT(epoch_err.back(), epoch_err.front());
}

TEST(Rbm, LinearHiddenAndReplicatedSoftmaxUnitsLearn) {
  SetNnThreads(1);  // one thread: robust on a shared CI machine
  FloatMatrix x = testing::ReadFashionImages("train-images-idx3-ubyte.gz", 500);
  ASSERT_EQ(x.rows, 500);
  auto lin = Rbm::Create(784, 16, RbmVisible::kBinary, RbmHidden::kLinear);
  ASSERT_TRUE(lin.ok());
  (*lin)->Initialize(2);
  auto e0 = (*lin)->ReconstructionError(x);
  RbmOptions o;
  o.epochs = 5;
  o.learning_rate = 0.001f;  // the paper's rate for linear hidden units
  ASSERT_TRUE((*lin)->Train(x, nullptr, o, nullptr, nullptr).ok());
  auto e1 = (*lin)->ReconstructionError(x);
  ASSERT_TRUE(e0.ok() && e1.ok());
  EXPECT_LT(*e1, *e0);
  EXPECT_FALSE((*lin)->MeanFreeEnergy(x).ok());  // binary units only

  // Rows as distributions (like word counts / document length).
  FloatMatrix p = x;
  for (int64_t r = 0; r < p.rows; ++r) {
    double s = 1e-6;
    for (int64_t c = 0; c < p.cols; ++c) s += p.at(r, c);
    for (int64_t c = 0; c < p.cols; ++c) p.at(r, c) = static_cast<float>(p.at(r, c) / s);
  }
  auto soft = Rbm::Create(784, 32, RbmVisible::kReplicatedSoftmax, RbmHidden::kBinary);
  ASSERT_TRUE(soft.ok());
  (*soft)->Initialize(3);
  auto s0 = (*soft)->ReconstructionError(p);
  o.learning_rate = 0.01f;
  std::vector<float> lengths(static_cast<size_t>(p.rows), 50.0f);
  ASSERT_TRUE((*soft)->Train(p, &lengths, o, nullptr, nullptr).ok());
  auto s1 = (*soft)->ReconstructionError(p);
  ASSERT_TRUE(s0.ok() && s1.ok());
  EXPECT_LT(*s1, *s0);
}

TEST(Rbm, PretrainingUnrollsIntoABetterStartingPoint) {
  FloatMatrix x = testing::ReadFashionImages("train-images-idx3-ubyte.gz", 1000);
  ASSERT_EQ(x.rows, 1000);
  DenseAutoencoderSpec spec;
  spec.encoder_sizes = {64};
  spec.code_size = 8;
  spec.pretraining = true;
  TrainOptions o;
  o.epochs = 0;  // pre-training only: the unrolled net, not fine-tuned
  o.pretrain_epochs = 3;
  o.threads = 1;  // one thread: robust on a shared CI machine
  std::vector<std::string> phases;
  auto pre = TrainDenseAutoencoder(
      x, nullptr, spec, o,
      [&](const TrainingProgress& p) {
        if (phases.empty() || phases.back() != p.phase) phases.push_back(p.phase);
        EXPECT_EQ(p.phase_count, 3);
      },
      nullptr);
  ASSERT_TRUE(pre.ok()) << pre.status();
  EXPECT_EQ(phases, (std::vector<std::string>{"RBM layer 1/2", "RBM layer 2/2"}));
  spec.pretraining = false;
  auto random = TrainDenseAutoencoder(x, nullptr, spec, o, nullptr, nullptr);
  ASSERT_TRUE(random.ok());
  auto e_pre = ReconstructionErrorPerItem(*pre->model, x);
  auto e_rand = ReconstructionErrorPerItem(*random->model, x);
  ASSERT_TRUE(e_pre.ok() && e_rand.ok());
  std::printf("unrolled RBMs %.2f vs random init %.2f per image\n", *e_pre, *e_rand);
  EXPECT_LT(*e_pre, 0.75 * *e_rand);
  // Pre-training rejects specs it cannot unroll.
  spec.pretraining = true;
  spec.hidden_activation = Activation::kRelu;
  EXPECT_EQ(TrainDenseAutoencoder(x, nullptr, spec, o, nullptr, nullptr).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace bn
