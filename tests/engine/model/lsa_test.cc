#include "engine/model/lsa.h"

#include <Eigen/Dense>
#include <cmath>
#include <random>

#include "engine/eval/metrics.h"
#include "engine/model/model_file.h"
#include "gtest/gtest.h"

namespace bn {
namespace {

// A random sparse non-negative document-term matrix with some structure (topic blocks).
std::vector<SparseVector> RandomDocs(int n, int vocab, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> topic(0, 3), len(3, 12);
  std::uniform_real_distribution<float> u(0.1f, 1.0f);
  std::vector<SparseVector> docs(n);
  for (auto& d : docs) {
    const int t = topic(rng);
    std::vector<float> row(vocab, 0.0f);
    for (int i = len(rng); i > 0; --i) {
      const int w = (rng() % 2 == 0) ? t * (vocab / 4) + static_cast<int>(rng() % (vocab / 4))
                                     : static_cast<int>(rng() % vocab);
      row[w] += u(rng);
    }
    for (int w = 0; w < vocab; ++w) {
      if (row[w] > 0) {
        d.ids.push_back(w);
        d.values.push_back(row[w]);
      }
    }
  }
  return docs;
}

FloatMatrix Dense(const std::vector<SparseVector>& docs, int vocab) {
  FloatMatrix m(static_cast<int64_t>(docs.size()), vocab);
  for (size_t r = 0; r < docs.size(); ++r)
    for (size_t i = 0; i < docs[r].ids.size(); ++i) m.at(r, docs[r].ids[i]) = docs[r].values[i];
  return m;
}

TEST(LsaTest, MatchesTheSvdOfTheDenseMatrix) {
  const int n = 400, vocab = 60, k = 5;
  const std::vector<SparseVector> docs = RandomDocs(n, vocab, 1);
  const FloatMatrix x = Dense(docs, vocab);
  absl::StatusOr<std::unique_ptr<PcaModel>> lsa = FitLsa(docs, vocab, k);
  ASSERT_TRUE(lsa.ok()) << lsa.status();
  // Reference: Eigen's BDCSVD of X directly (a different algorithm from the Gram eigen-solve).
  Eigen::MatrixXd xd(n, vocab);
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < vocab; ++j) xd(i, j) = x.at(i, j);
  Eigen::BDCSVD<Eigen::MatrixXd> svd(xd, Eigen::ComputeThinV);
  for (int j = 0; j < k; ++j) {
    const double s = svd.singularValues()(j);
    EXPECT_NEAR((*lsa)->eigenvalues()[j], s * s / n, 1e-5 * s * s / n) << j;
    double dot = 0;
    for (int i = 0; i < vocab; ++i)
      dot += (*lsa)->components()[j * vocab + i] * svd.matrixV()(i, j);
    EXPECT_GT(std::abs(dot), 0.9999) << j;
  }
  // Zero mean: the code is the plain projection x V_k.
  FloatMatrix codes(1, k);
  ASSERT_TRUE((*lsa)->Encode(x.row(7), 1, codes.row(0)).ok());
  for (int j = 0; j < k; ++j) {
    double expected = 0;
    for (int i = 0; i < vocab; ++i) expected += x.at(7, i) * (*lsa)->components()[j * vocab + i];
    EXPECT_NEAR(codes.at(0, j), expected, 1e-5);
  }
  // Training reconstruction error = discarded squared singular values / n.
  absl::StatusOr<double> err = ReconstructionError(**lsa, x);
  ASSERT_TRUE(err.ok());
  double discarded = 0;
  for (int j = k; j < svd.singularValues().size(); ++j) {
    discarded += svd.singularValues()(j) * svd.singularValues()(j);
  }
  EXPECT_NEAR(*err, discarded / n, 1e-4 * *err);
  EXPECT_NEAR((*lsa)->discarded_variance(), discarded / n, 1e-4 * *err);
}

TEST(LsaTest, SparseAndDenseFitsAgreeAndSaveLoadKeepsCodes) {
  const int vocab = 40;
  const std::vector<SparseVector> docs = RandomDocs(300, vocab, 2);
  absl::StatusOr<std::unique_ptr<PcaModel>> a = FitLsa(docs, vocab, 4);
  absl::StatusOr<std::unique_ptr<PcaModel>> b = FitLsa(Dense(docs, vocab), 4);
  ASSERT_TRUE(a.ok() && b.ok());
  for (size_t i = 0; i < (*a)->components().size(); ++i) {
    ASSERT_NEAR((*a)->components()[i], (*b)->components()[i], 1e-5);
  }
  absl::StatusOr<std::string> bytes = SerializeModel(**a);
  ASSERT_TRUE(bytes.ok());
  absl::StatusOr<std::unique_ptr<Model>> loaded = DeserializeModel(*bytes);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  const FloatMatrix x = Dense(docs, vocab);
  absl::StatusOr<FloatMatrix> ca = EncodeAll(**a, x), cl = EncodeAll(**loaded, x);
  ASSERT_TRUE(ca.ok() && cl.ok());
  EXPECT_EQ(ca->data, cl->data);
}

TEST(LsaTest, ValidatesInputAndHonoursCancellation) {
  std::vector<SparseVector> docs = RandomDocs(10, 20, 3);
  EXPECT_FALSE(FitLsa(docs, 20, 0).ok());
  EXPECT_FALSE(FitLsa(docs, 20, 21).ok());
  EXPECT_FALSE(FitLsa(std::vector<SparseVector>{}, 20, 2).ok());
  EXPECT_FALSE(FitLsa(docs, 10, 2).ok());  // ids beyond the vocabulary.
  std::vector<SparseVector> bad = docs;
  bad[0].ids = {3, 1};
  bad[0].values = {1, 1};
  EXPECT_FALSE(FitLsa(bad, 20, 2).ok());
  CancellationFlag cancel;
  cancel.Cancel();
  LsaOptions options;
  options.cancel = &cancel;
  EXPECT_EQ(FitLsa(docs, 20, 2, options).status().code(), absl::StatusCode::kCancelled);
}

}  // namespace
}  // namespace bn
