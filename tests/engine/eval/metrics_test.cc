#include "engine/eval/metrics.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "engine/data/idx.h"
#include "engine/model/pca.h"
#include "gtest/gtest.h"

namespace bn {
namespace {

FloatMatrix Random(int64_t rows, int64_t cols, uint32_t seed, bool binary = false) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u;
  FloatMatrix m(rows, cols);
  for (float& v : m.data) v = binary ? (u(rng) < 0.5f ? 0.0f : 1.0f) : u(rng) * 2 - 1;
  return m;
}

// Naive reference: full distances in double, stable sort.
std::vector<int64_t> NaiveKnn(const FloatMatrix& q, const FloatMatrix& d, int k, CodeDistance dist,
                              bool exclude) {
  std::vector<int64_t> out;
  for (int64_t i = 0; i < q.rows; ++i) {
    std::vector<std::pair<double, int64_t>> all;
    for (int64_t j = 0; j < d.rows; ++j) {
      if (exclude && i == j) continue;
      double dot = 0, nq = 0, nd = 0, l2 = 0, ham = 0;
      for (int64_t c = 0; c < q.cols; ++c) {
        const double a = q.at(i, c), b = d.at(j, c);
        dot += a * b;
        nq += a * a;
        nd += b * b;
        l2 += (a - b) * (a - b);
        ham += (a >= 0.5) != (b >= 0.5);
      }
      double v = dist == CodeDistance::kL2        ? l2
                 : dist == CodeDistance::kHamming ? ham
                                                  : 1 - dot / std::sqrt(nq * nd);
      all.push_back({v, j});
    }
    std::stable_sort(all.begin(), all.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    for (int j = 0; j < k; ++j) out.push_back(all[j].second);
  }
  return out;
}

TEST(MetricsTest, ExactKnnMatchesNaiveSearch) {
  // 9000 database rows span two database blocks.
  const FloatMatrix db = Random(9000, 12, 1), queries = Random(130, 12, 2);
  for (CodeDistance dist : {CodeDistance::kL2, CodeDistance::kCosine}) {
    absl::StatusOr<std::vector<int64_t>> knn = ExactKnn(queries, db, 7, dist);
    ASSERT_TRUE(knn.ok()) << knn.status();
    std::vector<int64_t> naive = NaiveKnn(queries, db, 7, dist, false);
    // Continuous random data: no ties, so the lists must agree (allow rare float near-ties by
    // comparing sets of the first 5 when they differ only in order).
    int differing = 0;
    for (size_t i = 0; i < naive.size(); ++i) differing += (*knn)[i] != naive[i];
    EXPECT_LE(differing, 2) << static_cast<int>(dist);
  }
}

TEST(MetricsTest, HammingKnnIsExactIncludingTies) {
  const FloatMatrix db = Random(3000, 16, 3, true), queries = Random(70, 16, 4, true);
  absl::StatusOr<std::vector<int64_t>> knn = ExactKnn(queries, db, 20, CodeDistance::kHamming);
  ASSERT_TRUE(knn.ok());
  EXPECT_EQ(*knn, NaiveKnn(queries, db, 20, CodeDistance::kHamming, false));
  // Leave-one-out excludes the query itself.
  absl::StatusOr<std::vector<int64_t>> loo =
      ExactKnn(db, db, 5, CodeDistance::kHamming, /*exclude_same_index=*/true);
  ASSERT_TRUE(loo.ok());
  EXPECT_EQ(*loo, NaiveKnn(db, db, 5, CodeDistance::kHamming, true));
}

TEST(MetricsTest, PrecisionAtKMatchesDefinition) {
  const FloatMatrix db = Random(2000, 6, 5), queries = Random(300, 6, 6);
  std::vector<int> db_labels(2000), q_labels(300);
  // Labels from the sign of the first coordinate: neighbours tend to share them.
  for (int64_t i = 0; i < db.rows; ++i) db_labels[i] = db.at(i, 0) > 0;
  for (int64_t i = 0; i < queries.rows; ++i) q_labels[i] = queries.at(i, 0) > 0;
  absl::StatusOr<std::vector<double>> p =
      PrecisionAtK(queries, q_labels, db, db_labels, {1, 10, 100}, CodeDistance::kL2);
  ASSERT_TRUE(p.ok()) << p.status();
  std::vector<int64_t> naive = NaiveKnn(queries, db, 100, CodeDistance::kL2, false);
  const int ks[3] = {1, 10, 100};
  for (int t = 0; t < 3; ++t) {
    double hits = 0;
    for (int64_t i = 0; i < queries.rows; ++i)
      for (int j = 0; j < ks[t]; ++j) hits += db_labels[naive[i * 100 + j]] == q_labels[i];
    EXPECT_NEAR((*p)[t], hits / (300.0 * ks[t]), 2e-3) << ks[t];
  }
  EXPECT_GT((*p)[0], 0.8);
  // Leave-one-out on the database itself.
  absl::StatusOr<std::vector<double>> loo =
      PrecisionAtKLeaveOneOut(db, db_labels, {10}, CodeDistance::kL2);
  ASSERT_TRUE(loo.ok());
  std::vector<int64_t> naive_loo = NaiveKnn(db, db, 10, CodeDistance::kL2, true);
  double hits = 0;
  for (int64_t i = 0; i < db.rows; ++i)
    for (int j = 0; j < 10; ++j) hits += db_labels[naive_loo[i * 10 + j]] == db_labels[i];
  EXPECT_NEAR((*loo)[0], hits / (2000.0 * 10), 2e-3);
}

TEST(MetricsTest, RejectsBadArguments) {
  const FloatMatrix a = Random(10, 4, 7), b = Random(10, 5, 8);
  std::vector<int> labels(10, 0);
  EXPECT_FALSE(PrecisionAtK(a, labels, b, labels, {1}, CodeDistance::kL2).ok());
  EXPECT_FALSE(PrecisionAtK(a, labels, a, labels, {11}, CodeDistance::kL2).ok());
  EXPECT_FALSE(PrecisionAtK(a, labels, a, labels, {0}, CodeDistance::kL2).ok());
  EXPECT_FALSE(PrecisionAtK(a, labels, a, labels, {}, CodeDistance::kL2).ok());
  EXPECT_FALSE(PrecisionAtK(a, std::vector<int>(9), a, labels, {1}, CodeDistance::kL2).ok());
  EXPECT_FALSE(PrecisionAtKLeaveOneOut(a, labels, {10}, CodeDistance::kL2).ok());
  EXPECT_TRUE(PrecisionAtKLeaveOneOut(a, labels, {9}, CodeDistance::kL2).ok());
}

TEST(MetricsTest, ReconstructionErrorMatchesNaiveLoopForAnyBatchSize) {
  absl::StatusOr<LabeledImages> data =
      LoadFashionMnist(BN_FASHION_MNIST_DIR, DatasetSplit::kTest, 1000);
  ASSERT_TRUE(data.ok()) << data.status();
  absl::StatusOr<std::unique_ptr<PcaModel>> pca = FitPca(data->images, 8);
  ASSERT_TRUE(pca.ok());
  const FloatMatrix& x = data->images;
  FloatMatrix codes(x.rows, 8), recon(x.rows, x.cols);
  ASSERT_TRUE((*pca)->Encode(x.data.data(), x.rows, codes.data.data()).ok());
  ASSERT_TRUE((*pca)->Decode(codes.data.data(), x.rows, recon.data.data()).ok());
  double naive = 0;
  for (size_t i = 0; i < x.data.size(); ++i) {
    naive += (double{x.data[i]} - recon.data[i]) * (double{x.data[i]} - recon.data[i]);
  }
  naive /= x.rows;
  for (int64_t batch : {1, 7, 256, 5000}) {
    absl::StatusOr<double> e = ReconstructionError(**pca, x, batch);
    ASSERT_TRUE(e.ok()) << e.status();
    EXPECT_NEAR(*e, naive, 1e-4 * naive) << batch;
  }
  EXPECT_FALSE(ReconstructionError(**pca, Random(3, 5, 1)).ok());
  EXPECT_FALSE(ReconstructionError(**pca, x, 0).ok());
  EXPECT_FALSE(ReconstructionError(**pca, FloatMatrix(0, 784)).ok());
}

TEST(MetricsTest, CompareWithPcaOfItselfGivesRatioOne) {
  absl::StatusOr<LabeledImages> train =
      LoadFashionMnist(BN_FASHION_MNIST_DIR, DatasetSplit::kTrain, 2000);
  absl::StatusOr<LabeledImages> test =
      LoadFashionMnist(BN_FASHION_MNIST_DIR, DatasetSplit::kTest, 500);
  ASSERT_TRUE(train.ok() && test.ok());
  absl::StatusOr<std::unique_ptr<PcaModel>> pca = FitPca(train->images, 10);
  ASSERT_TRUE(pca.ok());
  ComparisonOptions options;
  options.model_name = "pca-itself";
  absl::StatusOr<ComparisonReport> report =
      CompareWithPca(**pca, train->images, train->labels, test->images, test->labels, options);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_NEAR(report->error_ratio(), 1.0, 1e-5);
  EXPECT_NEAR(report->model.precision_at_k, report->pca.precision_at_k, 1e-9);
  EXPECT_EQ(report->pca.name, "PCA-10");
  EXPECT_EQ(report->pca.code_size, 10);
  // Code retrieval on Fashion-MNIST is far better than chance (0.1).
  EXPECT_GT(report->pca.precision_at_k, 0.5);
  EXPECT_NE(report->ToString().find("PCA-10"), std::string::npos);
}

}  // namespace
}  // namespace bn
