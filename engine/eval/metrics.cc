#include "engine/eval/metrics.h"

#include <omp.h>

#include <Eigen/Dense>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <limits>
#include <new>
#include <utility>

#include "engine/model/pca.h"

namespace bn {
namespace {

using RowMatrixF = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

constexpr int64_t kQueryBlock = 64;
constexpr int64_t kDatabaseBlock = 8192;

// Copies `m` into an Eigen matrix prepared for `distance` (rows normalised for cosine, thresholded
// to 0/1 for Hamming) and returns the squared row norms in `norms`.
RowMatrixF Prepare(const FloatMatrix& m, CodeDistance distance, Eigen::VectorXf* norms) {
  RowMatrixF out = Eigen::Map<const RowMatrixF>(m.data.data(), m.rows, m.cols);
  if (distance == CodeDistance::kHamming) {
    out = (out.array() >= 0.5f).cast<float>();
  }
  if (distance == CodeDistance::kCosine) {
    for (int64_t i = 0; i < out.rows(); ++i) {
      const float norm = out.row(i).norm();
      if (norm > 0) out.row(i) /= norm;
    }
  }
  *norms = out.rowwise().squaredNorm();
  return out;
}

struct Candidate {
  float score;
  int64_t index;
  bool operator<(const Candidate& o) const {
    return score < o.score || (score == o.score && index < o.index);
  }
};

}  // namespace

absl::StatusOr<FloatMatrix> EncodeAll(const Model& model, const FloatMatrix& x,
                                      int64_t batch_size) {
  if (x.cols != model.input_size() || static_cast<int64_t>(x.data.size()) != x.rows * x.cols) {
    return absl::InvalidArgumentError("EncodeAll: data has " + std::to_string(x.cols) +
                                      " columns, the model expects " +
                                      std::to_string(model.input_size()));
  }
  if (batch_size < 1) return absl::InvalidArgumentError("EncodeAll: batch_size < 1");
  try {
    FloatMatrix codes(x.rows, model.code_size());
    for (int64_t r0 = 0; r0 < x.rows; r0 += batch_size) {
      const int64_t n = std::min(batch_size, x.rows - r0);
      if (absl::Status s = model.Encode(x.row(r0), n, codes.row(r0)); !s.ok()) return s;
    }
    return codes;
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError("EncodeAll: out of memory");
  }
}

absl::StatusOr<double> ReconstructionError(const Model& model, const FloatMatrix& x,
                                           int64_t batch_size) {
  if (x.rows < 1) return absl::InvalidArgumentError("ReconstructionError: no data");
  if (x.cols != model.input_size() || static_cast<int64_t>(x.data.size()) != x.rows * x.cols) {
    return absl::InvalidArgumentError("ReconstructionError: data has " + std::to_string(x.cols) +
                                      " columns, the model expects " +
                                      std::to_string(model.input_size()));
  }
  if (batch_size < 1) return absl::InvalidArgumentError("ReconstructionError: batch_size < 1");
  try {
    const int64_t b = std::min(batch_size, x.rows);
    std::vector<float> codes(static_cast<size_t>(b * model.code_size()));
    std::vector<float> recon(static_cast<size_t>(b * x.cols));
    double total = 0;
    for (int64_t r0 = 0; r0 < x.rows; r0 += b) {
      const int64_t n = std::min(b, x.rows - r0);
      if (absl::Status s = model.Encode(x.row(r0), n, codes.data()); !s.ok()) return s;
      if (absl::Status s = model.Decode(codes.data(), n, recon.data()); !s.ok()) return s;
      const float* in = x.row(r0);
      const int64_t count = n * x.cols;
      double sum = 0;
#pragma omp parallel for reduction(+ : sum) schedule(static)
      for (int64_t i = 0; i < count; ++i) {
        const double diff = double{in[i]} - recon[i];
        sum += diff * diff;
      }
      total += sum;
    }
    return total / static_cast<double>(x.rows);
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError("ReconstructionError: out of memory");
  }
}

absl::StatusOr<std::vector<int64_t>> ExactKnn(const FloatMatrix& queries,
                                              const FloatMatrix& database, int k,
                                              CodeDistance distance, bool exclude_same_index) {
  if (queries.cols != database.cols) {
    return absl::InvalidArgumentError("ExactKnn: queries have " + std::to_string(queries.cols) +
                                      " columns, database " + std::to_string(database.cols));
  }
  if (static_cast<int64_t>(queries.data.size()) != queries.rows * queries.cols ||
      static_cast<int64_t>(database.data.size()) != database.rows * database.cols) {
    return absl::InvalidArgumentError("ExactKnn: malformed matrix");
  }
  const int64_t available = database.rows - (exclude_same_index ? 1 : 0);
  if (k < 1 || k > available) {
    return absl::InvalidArgumentError("ExactKnn: k=" + std::to_string(k) + " must be in [1, " +
                                      std::to_string(available) + "]");
  }
  try {
    Eigen::VectorXf qn, dn;
    const RowMatrixF q = Prepare(queries, distance, &qn);
    const RowMatrixF d = Prepare(database, distance, &dn);
    const bool cosine = distance == CodeDistance::kCosine;
    std::vector<int64_t> result(static_cast<size_t>(queries.rows * k));
    const int64_t query_blocks = (queries.rows + kQueryBlock - 1) / kQueryBlock;
    bool failed = false;
#pragma omp parallel
    {
      try {
        RowMatrixF scores;
        std::vector<std::vector<Candidate>> heaps(kQueryBlock);
#pragma omp for schedule(dynamic)
        for (int64_t qb = 0; qb < query_blocks; ++qb) {
          const int64_t q0 = qb * kQueryBlock, qrows = std::min(kQueryBlock, queries.rows - q0);
          for (auto& h : heaps) h.clear();
          for (int64_t d0 = 0; d0 < database.rows; d0 += kDatabaseBlock) {
            const int64_t drows = std::min(kDatabaseBlock, database.rows - d0);
            // Ranking score: cosine -> -q.d; L2/Hamming -> |d|^2 - 2 q.d (|q|^2 is constant).
            scores.noalias() = q.middleRows(q0, qrows) * d.middleRows(d0, drows).transpose();
            for (int64_t i = 0; i < qrows; ++i) {
              std::vector<Candidate>& heap = heaps[i];
              const float* row = scores.data() + i * drows;
              const int64_t skip = exclude_same_index ? q0 + i : -1;
              for (int64_t j = 0; j < drows; ++j) {
                const int64_t index = d0 + j;
                if (index == skip) continue;
                const float s = cosine ? -row[j] : dn[index] - 2.0f * row[j];
                if (static_cast<int>(heap.size()) < k) {
                  heap.push_back({s, index});
                  std::push_heap(heap.begin(), heap.end());
                } else if (s < heap.front().score) {
                  std::pop_heap(heap.begin(), heap.end());
                  heap.back() = {s, index};
                  std::push_heap(heap.begin(), heap.end());
                }
              }
            }
          }
          for (int64_t i = 0; i < qrows; ++i) {
            std::sort_heap(heaps[i].begin(), heaps[i].end());
            for (int j = 0; j < k; ++j) result[(q0 + i) * k + j] = heaps[i][j].index;
          }
        }
      } catch (...) {
#pragma omp atomic write
        failed = true;
      }
    }
    if (failed) return absl::ResourceExhaustedError("ExactKnn: out of memory");
    return result;
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError("ExactKnn: out of memory");
  }
}

namespace {

absl::StatusOr<std::vector<double>> Precision(const FloatMatrix& queries,
                                              const std::vector<int>& query_labels,
                                              const FloatMatrix& database,
                                              const std::vector<int>& database_labels,
                                              const std::vector<int>& ks, CodeDistance distance,
                                              bool same) {
  if (queries.rows < 1 || database.rows < 1) {
    return absl::InvalidArgumentError("PrecisionAtK: empty query or database set");
  }
  if (static_cast<int64_t>(query_labels.size()) != queries.rows ||
      static_cast<int64_t>(database_labels.size()) != database.rows) {
    return absl::InvalidArgumentError("PrecisionAtK: label count does not match row count");
  }
  if (ks.empty()) return absl::InvalidArgumentError("PrecisionAtK: no k given");
  const int max_k = *std::max_element(ks.begin(), ks.end());
  if (*std::min_element(ks.begin(), ks.end()) < 1) {
    return absl::InvalidArgumentError("PrecisionAtK: k must be >= 1");
  }
  absl::StatusOr<std::vector<int64_t>> knn = ExactKnn(queries, database, max_k, distance, same);
  if (!knn.ok()) return knn.status();
  std::vector<double> out;
  for (int k : ks) {
    int64_t hits = 0;
    for (int64_t i = 0; i < queries.rows; ++i) {
      for (int j = 0; j < k; ++j) {
        hits += database_labels[(*knn)[i * max_k + j]] == query_labels[i];
      }
    }
    out.push_back(static_cast<double>(hits) / (static_cast<double>(queries.rows) * k));
  }
  return out;
}

}  // namespace

absl::StatusOr<std::vector<double>> PrecisionAtK(
    const FloatMatrix& queries, const std::vector<int>& query_labels, const FloatMatrix& database,
    const std::vector<int>& database_labels, const std::vector<int>& ks, CodeDistance distance) {
  return Precision(queries, query_labels, database, database_labels, ks, distance, false);
}

absl::StatusOr<std::vector<double>> PrecisionAtKLeaveOneOut(const FloatMatrix& codes,
                                                            const std::vector<int>& labels,
                                                            const std::vector<int>& ks,
                                                            CodeDistance distance) {
  return Precision(codes, labels, codes, labels, ks, distance, true);
}

double ComparisonReport::error_ratio() const {
  return pca.reconstruction_error > 0 ? model.reconstruction_error / pca.reconstruction_error : 0.0;
}

std::string ComparisonReport::ToString() const {
  char line[256];
  std::string out;
  std::snprintf(line, sizeof(line), "%-16s %6s %12s %8s %9s\n", "model", "code", "error/item",
                ("P@" + std::to_string(k)).c_str(), "seconds");
  out += line;
  for (const ModelScore* s : {&model, &pca}) {
    std::snprintf(line, sizeof(line), "%-16s %6lld %12.4f %8.4f %9.2f\n", s->name.c_str(),
                  static_cast<long long>(s->code_size), s->reconstruction_error, s->precision_at_k,
                  s->seconds);
    out += line;
  }
  std::snprintf(line, sizeof(line), "error ratio model/PCA: %.4f\n", error_ratio());
  out += line;
  return out;
}

namespace {

absl::StatusOr<ModelScore> Score(const Model& model, const std::string& name,
                                 const FloatMatrix& train, const std::vector<int>& train_labels,
                                 const FloatMatrix& test, const std::vector<int>& test_labels,
                                 int k, CodeDistance distance) {
  const auto start = std::chrono::steady_clock::now();
  ModelScore score;
  score.name = name;
  score.code_size = model.code_size();
  absl::StatusOr<double> error = ReconstructionError(model, test);
  if (!error.ok()) return error.status();
  score.reconstruction_error = *error;
  absl::StatusOr<FloatMatrix> train_codes = EncodeAll(model, train);
  if (!train_codes.ok()) return train_codes.status();
  absl::StatusOr<FloatMatrix> test_codes = EncodeAll(model, test);
  if (!test_codes.ok()) return test_codes.status();
  absl::StatusOr<std::vector<double>> p =
      PrecisionAtK(*test_codes, test_labels, *train_codes, train_labels, {k}, distance);
  if (!p.ok()) return p.status();
  score.precision_at_k = (*p)[0];
  score.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return score;
}

}  // namespace

absl::StatusOr<ComparisonReport> CompareWithPca(const Model& model, const FloatMatrix& train,
                                                const std::vector<int>& train_labels,
                                                const FloatMatrix& test,
                                                const std::vector<int>& test_labels,
                                                const ComparisonOptions& options) {
  if (train.cols != model.input_size() || test.cols != model.input_size()) {
    return absl::InvalidArgumentError("CompareWithPca: data width does not match the model");
  }
  if (model.code_size() > train.cols || model.code_size() > std::numeric_limits<int>::max()) {
    return absl::InvalidArgumentError("CompareWithPca: code larger than the input");
  }
  ComparisonReport report;
  report.k = options.k;
  report.distance = options.distance;
  absl::StatusOr<ModelScore> m = Score(model, options.model_name, train, train_labels, test,
                                       test_labels, options.k, options.distance);
  if (!m.ok()) return m.status();
  report.model = *m;
  const auto start = std::chrono::steady_clock::now();
  absl::StatusOr<std::unique_ptr<PcaModel>> pca =
      FitPca(train, static_cast<int>(model.code_size()));
  if (!pca.ok()) return pca.status();
  const double fit_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  // PCA codes are real-valued: Hamming makes no sense for them, so they are compared by L2.
  const CodeDistance pca_distance =
      options.distance == CodeDistance::kHamming ? CodeDistance::kL2 : options.distance;
  absl::StatusOr<ModelScore> p = Score(**pca, "PCA-" + std::to_string(model.code_size()), train,
                                       train_labels, test, test_labels, options.k, pca_distance);
  if (!p.ok()) return p.status();
  report.pca = *p;
  report.pca.seconds += fit_seconds;
  return report;
}

}  // namespace bn
