#include "engine/model/rbm.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

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

// Naive reference of the replicated-softmax (constrained-Poisson) RBM with per-row document
// lengths N_r: row r's visible data is N_r v_r, p(h_j = 1 | v) = s(N_r sum_i W_ji v_ri + c_j), the
// reconstruction is N_r softmax(W^T h + b).
struct TinyRsm {
  int64_t V = 0, H = 0;
  std::vector<double> w, c, b;  // w[j * V + i]
  std::vector<double> HiddenProbs(const std::vector<double>& counts) const {
    std::vector<double> h(static_cast<size_t>(H));
    for (int64_t j = 0; j < H; ++j) {
      double z = c[j];
      for (int64_t i = 0; i < V; ++i) z += w[j * V + i] * counts[i];
      h[j] = 1.0 / (1.0 + std::exp(-z));
    }
    return h;
  }
  std::vector<double> Reconstruct(const std::vector<double>& h, double n) const {
    std::vector<double> v(static_cast<size_t>(V));
    double sum = 0;
    for (int64_t i = 0; i < V; ++i) {
      double z = b[i];
      for (int64_t j = 0; j < H; ++j) z += w[j * V + i] * h[j];
      v[i] = std::exp(z);
      sum += v[i];
    }
    for (double& x : v) x *= n / sum;
    return v;
  }
  // Expected CD-1 statistics (positive minus negative, summed over the rows) of W, c and b for
  // the rows' distributions p with lengths n: the sampled binary hidden state is enumerated
  // exactly (2^H states), the rest is mean-field as in the trainer.
  void ExpectedUpdate(const std::vector<std::vector<double>>& p, const std::vector<double>& n,
                      std::vector<double>* dw, std::vector<double>* dc,
                      std::vector<double>* db) const {
    dw->assign(static_cast<size_t>(V * H), 0.0);
    dc->assign(static_cast<size_t>(H), 0.0);
    db->assign(static_cast<size_t>(V), 0.0);
    for (size_t r = 0; r < p.size(); ++r) {
      std::vector<double> v0(static_cast<size_t>(V));
      for (int64_t i = 0; i < V; ++i) v0[i] = n[r] * p[r][i];
      const std::vector<double> h0 = HiddenProbs(v0);
      for (int64_t j = 0; j < H; ++j) {
        (*dc)[j] += h0[j];
        for (int64_t i = 0; i < V; ++i) (*dw)[j * V + i] += h0[j] * v0[i];
      }
      for (int64_t i = 0; i < V; ++i) (*db)[i] += v0[i];
      for (int state = 0; state < (1 << H); ++state) {
        std::vector<double> hs(static_cast<size_t>(H));
        double prob = 1;
        for (int64_t j = 0; j < H; ++j) {
          hs[j] = (state >> j) & 1;
          prob *= hs[j] > 0 ? h0[j] : 1 - h0[j];
        }
        const std::vector<double> v1 = Reconstruct(hs, n[r]);
        const std::vector<double> h1 = HiddenProbs(v1);
        for (int64_t j = 0; j < H; ++j) {
          (*dc)[j] -= prob * h1[j];
          for (int64_t i = 0; i < V; ++i) (*dw)[j * V + i] -= prob * h1[j] * v1[i];
        }
        for (int64_t i = 0; i < V; ++i) (*db)[i] -= prob * v1[i];
      }
    }
  }
};

TEST(Rbm, DocumentLengthsScaleTheHiddenInput) {
  SetNnThreads(1);
  constexpr int64_t V = 6, H = 3;
  auto rbm = Rbm::Create(V, H, RbmVisible::kReplicatedSoftmax, RbmHidden::kBinary);
  ASSERT_TRUE(rbm.ok());
  TinyRsm ref;
  ref.V = V;
  ref.H = H;
  std::mt19937 rng(7);
  std::normal_distribution<double> g(0.0, 0.3);
  for (int64_t k = 0; k < V * H; ++k) ref.w.push_back(g(rng));
  for (int64_t j = 0; j < H; ++j) ref.c.push_back(g(rng));
  for (int64_t i = 0; i < V; ++i) ref.b.push_back(g(rng));
  for (size_t k = 0; k < ref.w.size(); ++k) (*rbm)->weights()[k] = static_cast<float>(ref.w[k]);
  for (int64_t j = 0; j < H; ++j) (*rbm)->hidden_bias()[j] = static_cast<float>(ref.c[j]);
  for (int64_t i = 0; i < V; ++i) (*rbm)->visible_bias()[i] = static_cast<float>(ref.b[i]);
  // Four documents (normalised counts) of very different lengths.
  const std::vector<std::vector<double>> counts = {
      {3, 0, 1, 0, 0, 0}, {0, 2, 2, 2, 2, 2}, {1, 1, 0, 0, 0, 40}, {5, 0, 0, 7, 0, 1}};
  FloatMatrix x(4, V);
  std::vector<float> lengths;
  for (int64_t r = 0; r < 4; ++r) {
    double n = 0;
    for (double c : counts[r]) n += c;
    lengths.push_back(static_cast<float>(n));
    for (int64_t i = 0; i < V; ++i) x.at(r, i) = static_cast<float>(counts[r][i] / n);
  }
  auto h = (*rbm)->HiddenMeans(x, &lengths);
  ASSERT_TRUE(h.ok());
  for (int64_t r = 0; r < 4; ++r) {
    const std::vector<double> want = ref.HiddenProbs(counts[r]);  // N_r v_r = the counts
    for (int64_t j = 0; j < H; ++j) EXPECT_NEAR(h->at(r, j), want[j], 1e-5) << r << " " << j;
  }
  // Without lengths every row is scaled by document_length() (before training: the option's
  // default), so rows of different lengths but equal distributions look alike.
  auto fixed = (*rbm)->HiddenMeans(x);
  ASSERT_TRUE(fixed.ok());
  EXPECT_FLOAT_EQ((*rbm)->document_length(), RbmOptions().document_length);
  for (int64_t r = 0; r < 4; ++r) {
    std::vector<double> scaled(static_cast<size_t>(V));
    for (int64_t i = 0; i < V; ++i) scaled[i] = x.at(r, i) * (*rbm)->document_length();
    const std::vector<double> want = ref.HiddenProbs(scaled);
    for (int64_t j = 0; j < H; ++j) EXPECT_NEAR(fixed->at(r, j), want[j], 1e-5);
  }
  std::vector<float> short_lengths(3, 1.0f);
  EXPECT_EQ((*rbm)->HiddenMeans(x, &short_lengths).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// One CD-1 step over many copies of a few documents (one batch, plain SGD with rate 1, no decay):
// the update averages the sampled hidden states, so it must match the exact expectation of the
// naive reference with each document's own length, and differ clearly from the one with a
// fixed length.
TEST(Rbm, OneCdStepWithDocumentLengthsMatchesTheNaiveExpectation) {
  SetNnThreads(1);
  constexpr int64_t V = 5, H = 3, kCopies = 4000;
  TinyRsm ref;
  ref.V = V;
  ref.H = H;
  std::mt19937 rng(11);
  std::normal_distribution<double> g(0.0, 0.2);
  for (int64_t k = 0; k < V * H; ++k) ref.w.push_back(g(rng));
  for (int64_t j = 0; j < H; ++j) ref.c.push_back(g(rng));
  for (int64_t i = 0; i < V; ++i) ref.b.push_back(g(rng));
  const std::vector<std::vector<double>> docs = {{2, 0, 1, 0, 1}, {0, 1, 1, 6, 0}, {1, 0, 0, 0, 0}};
  std::vector<std::vector<double>> p;
  std::vector<double> n;
  for (const auto& d : docs) {
    double s = 0;
    for (double c : d) s += c;
    n.push_back(s);
    p.emplace_back();
    for (double c : d) p.back().push_back(c / s);
  }
  const int64_t rows = kCopies * static_cast<int64_t>(docs.size());
  FloatMatrix x(rows, V);
  std::vector<float> lengths;
  std::vector<std::vector<double>> all_p;
  std::vector<double> all_n, all_fixed;
  for (int64_t r = 0; r < rows; ++r) {
    const size_t d = static_cast<size_t>(r) % docs.size();
    for (int64_t i = 0; i < V; ++i) x.at(r, i) = static_cast<float>(p[d][i]);
    lengths.push_back(static_cast<float>(n[d]));
  }
  for (size_t d = 0; d < docs.size(); ++d) {
    all_p.push_back(p[d]);
    all_n.push_back(n[d]);
    all_fixed.push_back(4.0);  // the mean length, given to every row
  }
  auto rbm = Rbm::Create(V, H, RbmVisible::kReplicatedSoftmax, RbmHidden::kBinary);
  ASSERT_TRUE(rbm.ok());
  for (size_t k = 0; k < ref.w.size(); ++k) (*rbm)->weights()[k] = static_cast<float>(ref.w[k]);
  for (int64_t j = 0; j < H; ++j) (*rbm)->hidden_bias()[j] = static_cast<float>(ref.c[j]);
  for (int64_t i = 0; i < V; ++i) (*rbm)->visible_bias()[i] = static_cast<float>(ref.b[i]);
  RbmOptions o;
  o.epochs = 1;
  o.batch_size = static_cast<int>(rows);
  o.learning_rate = 1.0f;
  o.weight_decay = 0.0f;
  o.initial_momentum = 0.0f;
  ASSERT_TRUE((*rbm)->Train(x, &lengths, o, nullptr, nullptr).ok());
  EXPECT_NEAR((*rbm)->document_length(), (n[0] + n[1] + n[2]) / 3.0, 1e-5);
  std::vector<double> dw, dc, db, fw, fc, fb;
  ref.ExpectedUpdate(all_p, all_n, &dw, &dc, &db);
  ref.ExpectedUpdate(all_p, all_fixed, &fw, &fc, &fb);
  const double m = static_cast<double>(docs.size());  // the reference sums over one copy each
  double err = 0, fixed_gap = 0;
  for (int64_t k = 0; k < V * H; ++k) {
    const double got = (*rbm)->weights()[k] - ref.w[k];
    err = std::max(err, std::fabs(got - dw[k] / m));
    fixed_gap = std::max(fixed_gap, std::fabs(fw[k] / m - dw[k] / m));
  }
  for (int64_t j = 0; j < H; ++j) {
    err = std::max(err, std::fabs((*rbm)->hidden_bias()[j] - ref.c[j] - dc[j] / m));
  }
  for (int64_t i = 0; i < V; ++i) {
    err = std::max(err, std::fabs((*rbm)->visible_bias()[i] - ref.b[i] - db[i] / m));
  }
  std::printf("max |update - expectation| %.4f, per-document vs fixed length %.4f\n", err,
              fixed_gap);
  // Sampling error of a mean over 12000 rows of terms bounded by N <= 8: about 0.02.
  EXPECT_LT(err, 0.05);
  EXPECT_GT(fixed_gap, 4 * err);
  // Lengths must be positive and finite, one per row.
  std::vector<float> bad = lengths;
  bad[5] = 0.0f;
  EXPECT_EQ((*rbm)->Train(x, &bad, o, nullptr, nullptr).code(), absl::StatusCode::kInvalidArgument);
  bad.pop_back();
  EXPECT_EQ((*rbm)->Train(x, &bad, o, nullptr, nullptr).code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace bn
