#include "engine/train/neighbour_targets.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "gtest/gtest.h"

namespace bn {
namespace {

// Random sparse word distributions: each row draws `words` counts from a vocabulary of `v`, with
// a Zipf-like skew so that rows share words; rows sum to 1.
FloatMatrix RandomDocuments(int64_t n, int64_t v, int words, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<double> w(static_cast<size_t>(v));
  for (int64_t c = 0; c < v; ++c) w[c] = 1.0 / (1.0 + c);
  std::discrete_distribution<int64_t> draw(w.begin(), w.end());
  FloatMatrix x(n, v);
  for (int64_t r = 0; r < n; ++r) {
    for (int i = 0; i < words; ++i) x.at(r, draw(rng)) += 1.0f / words;
  }
  return x;
}

// The definition, naively: dense tf-idf with idf log((1 + n) / (1 + df)) + 1, cosine against
// every other row, the k best (ties to the lower row), the mix.
FloatMatrix NaiveTargets(const FloatMatrix& x, int count, double weight) {
  const int64_t n = x.rows, v = x.cols;
  std::vector<double> idf(static_cast<size_t>(v));
  for (int64_t c = 0; c < v; ++c) {
    double df = 0;
    for (int64_t r = 0; r < n; ++r) df += x.at(r, c) > 0;
    idf[c] = std::log((1.0 + n) / (1.0 + df)) + 1.0;
  }
  std::vector<std::vector<double>> t(static_cast<size_t>(n), std::vector<double>(v));
  for (int64_t r = 0; r < n; ++r) {
    double norm = 0;
    for (int64_t c = 0; c < v; ++c) {
      t[r][c] = x.at(r, c) * idf[c];
      norm += t[r][c] * t[r][c];
    }
    for (int64_t c = 0; c < v; ++c) t[r][c] /= std::sqrt(norm);
  }
  FloatMatrix out = x;
  for (int64_t d = 0; d < n; ++d) {
    std::vector<std::pair<double, int64_t>> sims;
    for (int64_t e = 0; e < n; ++e) {
      if (e == d) continue;
      double s = 0;
      for (int64_t c = 0; c < v; ++c) s += t[d][c] * t[e][c];
      if (s > 0) sims.push_back({-s, e});
    }
    std::sort(sims.begin(), sims.end());
    const size_t k = std::min<size_t>(static_cast<size_t>(count), sims.size());
    if (k == 0) continue;
    for (int64_t c = 0; c < v; ++c) {
      double mean = 0;
      for (size_t i = 0; i < k; ++i) mean += x.at(sims[i].second, c);
      out.at(d, c) = static_cast<float>((1 - weight) * x.at(d, c) + weight * mean / k);
    }
  }
  return out;
}

TEST(NeighbourTargets, MatchTheNaiveDefinitionForAnyThreadCount) {
  const FloatMatrix x = RandomDocuments(120, 40, 12, 1);
  const FloatMatrix expected = NaiveTargets(x, 5, 0.7);
  for (int threads : {1, 3}) {
    NeighbourTargetOptions o;
    o.count = 5;
    o.weight = 0.7f;
    o.threads = threads;
    auto got = NeighbourSmoothedTargets(x, o, nullptr);
    ASSERT_TRUE(got.ok()) << got.status();
    ASSERT_EQ(got->rows, x.rows);
    ASSERT_EQ(got->cols, x.cols);
    for (size_t i = 0; i < x.data.size(); ++i) {
      ASSERT_NEAR(got->data[i], expected.data[i], 1e-6) << "entry " << i << ", threads " << threads;
    }
    for (int64_t r = 0; r < x.rows; ++r) {  // Still distributions.
      double sum = 0;
      for (int64_t c = 0; c < x.cols; ++c) sum += got->at(r, c);
      EXPECT_NEAR(sum, 1.0, 1e-5);
    }
  }
}

// Validation rows: their nearest corpus rows (none excluded), idf from the corpus.
TEST(NeighbourTargets, FromACorpusMatchTheNaiveDefinition) {
  const FloatMatrix corpus = RandomDocuments(80, 30, 10, 3);
  const FloatMatrix queries = RandomDocuments(25, 30, 10, 4);
  NeighbourTargetOptions o;
  o.count = 4;
  o.weight = 0.6f;
  auto got = NeighbourSmoothedTargetsFrom(queries, corpus, o, nullptr);
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_EQ(got->rows, queries.rows);
  for (int64_t q = 0; q < queries.rows; ++q) {
    // Naively: cosine of tf-idf with the corpus' idf against every corpus row.
    std::vector<double> idf(30);
    for (int64_t c = 0; c < 30; ++c) {
      double df = 0;
      for (int64_t r = 0; r < corpus.rows; ++r) df += corpus.at(r, c) > 0;
      idf[c] = std::log((1.0 + corpus.rows) / (1.0 + df)) + 1.0;
    }
    auto cosine = [&](const float* a, const float* b) {
      double ab = 0, aa = 0, bb = 0;
      for (int64_t c = 0; c < 30; ++c) {
        ab += a[c] * idf[c] * b[c] * idf[c];
        aa += a[c] * idf[c] * a[c] * idf[c];
        bb += b[c] * idf[c] * b[c] * idf[c];
      }
      return ab / std::sqrt(aa * bb);
    };
    std::vector<std::pair<double, int64_t>> sims;
    for (int64_t r = 0; r < corpus.rows; ++r) {
      const double s = cosine(queries.row(q), corpus.row(r));
      if (s > 0) sims.push_back({-s, r});
    }
    std::sort(sims.begin(), sims.end());
    for (int64_t c = 0; c < 30; ++c) {
      double mean = 0;
      for (int i = 0; i < 4; ++i) mean += corpus.at(sims[i].second, c);
      EXPECT_NEAR(got->at(q, c), 0.4 * queries.at(q, c) + 0.6 * mean / 4, 1e-6) << q << " " << c;
    }
  }
  FloatMatrix narrow(3, 29);
  EXPECT_EQ(NeighbourSmoothedTargetsFrom(narrow, corpus, o, nullptr).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(NeighbourTargets, PicksTheDocumentsThatShareWords) {
  // Rows 0-2 use words 0-2, rows 3-5 words 3-5; row 6 shares no word with any other row.
  FloatMatrix x(7, 8);
  const float rows[7][8] = {{0.5f, 0.5f, 0, 0, 0, 0, 0, 0},    {0.4f, 0.3f, 0.3f, 0, 0, 0, 0, 0},
                            {0, 0.5f, 0.5f, 0, 0, 0, 0, 0},    {0, 0, 0, 0.5f, 0.5f, 0, 0, 0},
                            {0, 0, 0, 0.2f, 0.4f, 0.4f, 0, 0}, {0, 0, 0, 0, 0.5f, 0.5f, 0, 0},
                            {0, 0, 0, 0, 0, 0, 0.5f, 0.5f}};
  for (int r = 0; r < 7; ++r) std::copy_n(rows[r], 8, x.row(r));
  NeighbourTargetOptions o;
  o.count = 2;
  o.weight = 1.0f;  // Only the neighbours: row 0's target is the mean of rows 1 and 2.
  auto got = NeighbourSmoothedTargets(x, o, nullptr);
  ASSERT_TRUE(got.ok()) << got.status();
  for (int c = 0; c < 8; ++c) {
    EXPECT_FLOAT_EQ(got->at(0, c), (rows[1][c] + rows[2][c]) / 2) << c;
    EXPECT_FLOAT_EQ(got->at(3, c), (rows[4][c] + rows[5][c]) / 2) << c;
    EXPECT_FLOAT_EQ(got->at(6, c), rows[6][c]) << c;  // No neighbour: its own distribution.
  }
}

TEST(NeighbourTargets, WeightZeroOrOneRowLeaveTheRowsAndBadOptionsAreRefused) {
  const FloatMatrix x = RandomDocuments(30, 20, 6, 2);
  NeighbourTargetOptions o;
  o.weight = 0;
  auto same = NeighbourSmoothedTargets(x, o, nullptr);
  ASSERT_TRUE(same.ok());
  EXPECT_EQ(same->data, x.data);
  FloatMatrix one(1, 20);
  one.at(0, 3) = 1;
  o.weight = 0.7f;
  auto single = NeighbourSmoothedTargets(one, o, nullptr);
  ASSERT_TRUE(single.ok());
  EXPECT_EQ(single->data, one.data);
  o.count = 100;  // More than the other rows: all 29 of them.
  auto all = NeighbourSmoothedTargets(x, o, nullptr);
  EXPECT_TRUE(all.ok()) << all.status();

  for (auto [count, weight] : std::vector<std::pair<int, float>>{{0, 0.5f},
                                                                 {-1, 0.5f},
                                                                 {kMaxNeighbourCount + 1, 0.5f},
                                                                 {5, -0.1f},
                                                                 {5, 1.5f},
                                                                 {5, std::nanf("")}}) {
    o.count = count;
    o.weight = weight;
    EXPECT_EQ(NeighbourSmoothedTargets(x, o, nullptr).status().code(),
              absl::StatusCode::kInvalidArgument)
        << count << " " << weight;
  }
  o = NeighbourTargetOptions();
  o.threads = 0;
  EXPECT_EQ(NeighbourSmoothedTargets(x, o, nullptr).status().code(),
            absl::StatusCode::kInvalidArgument);
  FloatMatrix negative = x;
  negative.at(4, 2) = -0.1f;
  EXPECT_EQ(NeighbourSmoothedTargets(negative, NeighbourTargetOptions(), nullptr).status().code(),
            absl::StatusCode::kInvalidArgument);
  negative.at(4, 2) = std::nanf("");
  EXPECT_EQ(NeighbourSmoothedTargets(negative, NeighbourTargetOptions(), nullptr).status().code(),
            absl::StatusCode::kInvalidArgument);
  CancellationFlag cancel;
  cancel.Cancel();
  EXPECT_EQ(NeighbourSmoothedTargets(x, NeighbourTargetOptions(), &cancel).status().code(),
            absl::StatusCode::kCancelled);
}

}  // namespace
}  // namespace bn
