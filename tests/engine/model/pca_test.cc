#include "engine/model/pca.h"

#include <cmath>
#include <random>
#include <thread>

#include "engine/data/idx.h"
#include "engine/eval/metrics.h"
#include "engine/model/model_file.h"
#include "gtest/gtest.h"

namespace bn {
namespace {

const FloatMatrix& FashionSubset() {
  static const FloatMatrix* m = [] {
    absl::StatusOr<LabeledImages> data =
        LoadFashionMnist(BN_FASHION_MNIST_DIR, DatasetSplit::kTrain, 2000);
    if (!data.ok()) return new FloatMatrix();
    return new FloatMatrix(std::move(data->images));
  }();
  return *m;
}

// Naive reference: the covariance in double by explicit loops, then the top eigenvectors by
// power iteration with deflation.
void PowerIterationReference(const FloatMatrix& x, int k, std::vector<std::vector<double>>* vecs,
                             std::vector<double>* vals) {
  const int64_t n = x.rows, d = x.cols;
  std::vector<double> mean(d, 0.0);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < d; ++j) mean[j] += x.at(i, j);
  for (double& m : mean) m /= n;
  std::vector<double> cov(d * d, 0.0);
  std::vector<double> c(d);
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < d; ++j) c[j] = x.at(i, j) - mean[j];
    for (int64_t a = 0; a < d; ++a) {
      if (c[a] == 0) continue;
      for (int64_t b = 0; b < d; ++b) cov[a * d + b] += c[a] * c[b];
    }
  }
  for (double& v : cov) v /= n;
  std::mt19937 rng(7);
  std::normal_distribution<double> normal;
  for (int comp = 0; comp < k; ++comp) {
    std::vector<double> v(d), w(d);
    for (double& e : v) e = normal(rng);
    double lambda = 0;
    for (int it = 0; it < 3000; ++it) {
      for (int64_t a = 0; a < d; ++a) {
        double s = 0;
        for (int64_t b = 0; b < d; ++b) s += cov[a * d + b] * v[b];
        w[a] = s;
      }
      double norm = 0;
      for (double e : w) norm += e * e;
      norm = std::sqrt(norm);
      double change = 0;
      for (int64_t a = 0; a < d; ++a) {
        change += std::abs(w[a] / norm - v[a]);
        v[a] = w[a] / norm;
      }
      lambda = norm;
      if (change < 1e-12) break;
    }
    vecs->push_back(v);
    vals->push_back(lambda);
    for (int64_t a = 0; a < d; ++a)
      for (int64_t b = 0; b < d; ++b) cov[a * d + b] -= lambda * v[a] * v[b];
  }
}

TEST(PcaTest, MatchesPowerIterationOnFashionMnist) {
  const FloatMatrix& x = FashionSubset();
  ASSERT_EQ(x.rows, 2000);
  const int k = 4;
  absl::StatusOr<std::unique_ptr<PcaModel>> pca = FitPca(x, k);
  ASSERT_TRUE(pca.ok()) << pca.status();
  std::vector<std::vector<double>> vecs;
  std::vector<double> vals;
  PowerIterationReference(x, k, &vecs, &vals);
  for (int j = 0; j < k; ++j) {
    EXPECT_NEAR((*pca)->eigenvalues()[j], vals[j], 1e-4 * vals[j]) << j;
    double dot = 0;
    for (int64_t i = 0; i < x.cols; ++i) dot += (*pca)->components()[j * x.cols + i] * vecs[j][i];
    EXPECT_GT(std::abs(dot), 0.9999) << j;
  }
}

TEST(PcaTest, TrainingErrorEqualsDiscardedEigenvalues) {
  const FloatMatrix& x = FashionSubset();
  for (int k : {2, 10, 30}) {
    absl::StatusOr<std::unique_ptr<PcaModel>> pca = FitPca(x, k);
    ASSERT_TRUE(pca.ok()) << pca.status();
    absl::StatusOr<double> error = ReconstructionError(**pca, x, 333);
    ASSERT_TRUE(error.ok()) << error.status();
    EXPECT_NEAR(*error, (*pca)->discarded_variance(), 1e-3 * *error) << k;
    // Orthonormal components.
    const auto& c = (*pca)->components();
    for (int a = 0; a < k; ++a) {
      for (int b = 0; b < k; ++b) {
        double dot = 0;
        for (int64_t i = 0; i < x.cols; ++i) dot += double{c[a * x.cols + i]} * c[b * x.cols + i];
        EXPECT_NEAR(dot, a == b ? 1.0 : 0.0, 1e-5);
      }
    }
  }
}

TEST(PcaTest, RecoversAPlantedSubspaceExactly) {
  // Points on a 3-d affine subspace of R^8: 3 components reconstruct them exactly.
  std::mt19937 rng(1);
  std::normal_distribution<float> normal;
  FloatMatrix basis(3, 8), x(500, 8);
  for (float& v : basis.data) v = normal(rng);
  for (int64_t i = 0; i < x.rows; ++i) {
    float z[3] = {normal(rng) * 3, normal(rng) * 2, normal(rng)};
    for (int j = 0; j < 8; ++j) {
      x.at(i, j) = 0.5f + z[0] * basis.at(0, j) + z[1] * basis.at(1, j) + z[2] * basis.at(2, j);
    }
  }
  absl::StatusOr<std::unique_ptr<PcaModel>> pca = FitPca(x, 3);
  ASSERT_TRUE(pca.ok()) << pca.status();
  absl::StatusOr<double> error = ReconstructionError(**pca, x);
  ASSERT_TRUE(error.ok());
  EXPECT_LT(*error, 1e-8 * (*pca)->total_variance());
  EXPECT_LT((*pca)->discarded_variance(), 1e-9 * (*pca)->total_variance());
}

TEST(PcaTest, SaveLoadGivesIdenticalCodes) {
  const FloatMatrix& x = FashionSubset();
  absl::StatusOr<std::unique_ptr<PcaModel>> pca = FitPca(x, 10);
  ASSERT_TRUE(pca.ok());
  absl::StatusOr<std::string> bytes = SerializeModel(**pca);
  ASSERT_TRUE(bytes.ok());
  absl::StatusOr<std::unique_ptr<Model>> loaded = DeserializeModel(*bytes);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ((*loaded)->kind(), ModelKind::kPca);
  EXPECT_EQ((*loaded)->code_size(), 10);
  EXPECT_EQ((*loaded)->parameter_count(), 784 * 11);
  FloatMatrix head = HeadRows(x, 100);
  absl::StatusOr<FloatMatrix> a = EncodeAll(**pca, head);
  absl::StatusOr<FloatMatrix> b = EncodeAll(**loaded, head);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->data, b->data);
  // Deterministic fitting (including component signs).
  absl::StatusOr<std::unique_ptr<PcaModel>> again = FitPca(x, 10);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ((*again)->components(), (*pca)->components());
}

TEST(PcaTest, RejectsCorruptPayloads) {
  std::mt19937 rng(2);
  std::uniform_real_distribution<float> u;
  FloatMatrix x(50, 6);
  for (float& v : x.data) v = u(rng);
  absl::StatusOr<std::unique_ptr<PcaModel>> pca = FitPca(x, 2);
  ASSERT_TRUE(pca.ok());
  std::string payload;
  ASSERT_TRUE((*pca)->SavePayload(&payload).ok());
  ASSERT_TRUE(PcaModel::LoadPayload(payload).ok());
  for (size_t len = 0; len < payload.size(); ++len) {
    EXPECT_FALSE(PcaModel::LoadPayload(payload.substr(0, len)).ok()) << len;
  }
  EXPECT_FALSE(PcaModel::LoadPayload(payload + "x").ok());
  // A NaN in the mean (after d, k, total variance and the mean's count).
  std::string nan = payload;
  const float q = std::nanf("");
  std::memcpy(&nan[8 + 8 + 8 + 8], &q, 4);
  EXPECT_FALSE(PcaModel::LoadPayload(nan).ok());
  // k larger than d.
  std::string big_k = payload;
  big_k[8] = 7;
  EXPECT_FALSE(PcaModel::LoadPayload(big_k).ok());
  // A component scaled away from unit length.
  std::string scaled = payload;
  float c0;
  const size_t comp = 8 + 8 + 8 + 8 + 6 * 4 + 8;
  std::memcpy(&c0, &scaled[comp], 4);
  c0 += 0.5f;
  std::memcpy(&scaled[comp], &c0, 4);
  EXPECT_FALSE(PcaModel::LoadPayload(scaled).ok());
}

TEST(PcaTest, ValidatesArgumentsAndHonoursCancellation) {
  FloatMatrix x(10, 4);
  for (size_t i = 0; i < x.data.size(); ++i) x.data[i] = static_cast<float>(i % 7);
  EXPECT_EQ(FitPca(x, 0).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(FitPca(x, 5).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(FitPca(FloatMatrix(), 1).status().code(), absl::StatusCode::kInvalidArgument);
  FloatMatrix bad = x;
  bad.data[3] = std::numeric_limits<float>::infinity();
  EXPECT_EQ(FitPca(bad, 1).status().code(), absl::StatusCode::kInvalidArgument);
  CancellationFlag cancel;
  cancel.Cancel();
  PcaOptions options;
  options.cancel = &cancel;
  EXPECT_EQ(FitPca(x, 2, options).status().code(), absl::StatusCode::kCancelled);
  int calls = 0;
  PcaOptions with_progress;
  with_progress.progress = [&](const TrainingProgress& p) {
    ++calls;
    EXPECT_FALSE(p.phase.empty());
  };
  EXPECT_TRUE(FitPca(x, 2, with_progress).ok());
  EXPECT_GE(calls, 2);
  absl::StatusOr<std::unique_ptr<PcaModel>> pca = FitPca(x, 2);
  ASSERT_TRUE(pca.ok());
  float dummy = 0;
  EXPECT_EQ((*pca)->Encode(&dummy, -1, &dummy).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE((*pca)->Encode(nullptr, 0, nullptr).ok());
}

TEST(PcaTest, ConcurrentEncodeDecodeAgree) {
  const FloatMatrix& x = FashionSubset();
  absl::StatusOr<std::unique_ptr<PcaModel>> pca = FitPca(x, 30);
  ASSERT_TRUE(pca.ok());
  FloatMatrix head = HeadRows(x, 64);
  absl::StatusOr<FloatMatrix> expected = EncodeAll(**pca, head);
  ASSERT_TRUE(expected.ok());
  std::vector<std::thread> threads;
  std::vector<int> mismatches(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int rep = 0; rep < 20; ++rep) {
        FloatMatrix codes(64, 30), recon(64, 784);
        // Eigen splits its products by the calling thread's OpenMP team size, which earlier
        // tests may have changed on the main thread only: compare up to summation order.
        bool same = (*pca)->Encode(head.data.data(), 64, codes.data.data()).ok() &&
                    (*pca)->Decode(codes.data.data(), 64, recon.data.data()).ok();
        for (size_t i = 0; same && i < codes.data.size(); ++i) {
          same = std::fabs(codes.data[i] - expected->data[i]) <=
                 1e-4f * (1.0f + std::fabs(expected->data[i]));
        }
        if (!same) ++mismatches[t];
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int m : mismatches) EXPECT_EQ(m, 0);
}

}  // namespace
}  // namespace bn
