// Evaluation helpers shared by tests, benchmarks and the service's model reports:
//   - summed squared reconstruction error per item of any Model,
//   - label precision@k of exact kNN retrieval over codes (L2, cosine, or Hamming over 0/1 codes),
//   - a side-by-side report of a model against PCA with the same code size.
//
// Thread safety: free functions; the Model must be safe for concurrent Encode/Decode (every
// bn::Model is). They use OpenMP threads internally (omp_get_max_threads()).
#ifndef BOTTLENECK_ENGINE_EVAL_METRICS_H_
#define BOTTLENECK_ENGINE_EVAL_METRICS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/model/model.h"
#include "engine/util/matrix.h"

namespace bn {

// Encodes every row of x in batches of `batch_size` rows. InvalidArgument if x.cols differs from
// model.input_size() or batch_size < 1; the model's errors are passed through.
[[nodiscard]] absl::StatusOr<FloatMatrix> EncodeAll(const Model& model, const FloatMatrix& x,
                                                    int64_t batch_size = 1024);

// Mean over the rows of x of sum_j (x_ij - decode(encode(x))_ij)^2, encoding and decoding in
// batches of `batch_size` rows. Errors as EncodeAll; InvalidArgument for an empty x.
[[nodiscard]] absl::StatusOr<double> ReconstructionError(const Model& model, const FloatMatrix& x,
                                                         int64_t batch_size = 1024);

enum class CodeDistance {
  kL2,       // Euclidean.
  kCosine,   // 1 - cosine similarity (an all-zero row has similarity 0 with everything).
  kHamming,  // Codes are thresholded at 0.5 to bits; number of differing bits.
};

// Label precision@k of exact kNN retrieval: for each query, the fraction of its k nearest database
// rows (ties broken by lower database index) whose label equals the query's label, averaged over
// the queries. Returns one value per entry of `ks` (all computed from one search for max(ks)).
// InvalidArgument if column counts or label counts disagree, a k < 1 or > database rows, or a
// set is empty.
[[nodiscard]] absl::StatusOr<std::vector<double>> PrecisionAtK(
    const FloatMatrix& queries, const std::vector<int>& query_labels, const FloatMatrix& database,
    const std::vector<int>& database_labels, const std::vector<int>& ks, CodeDistance distance);

// Leave-one-out within one set: each row queries all the other rows (k <= rows - 1).
[[nodiscard]] absl::StatusOr<std::vector<double>> PrecisionAtKLeaveOneOut(
    const FloatMatrix& codes, const std::vector<int>& labels, const std::vector<int>& ks,
    CodeDistance distance);

// The k nearest database rows of every query (row-major, queries.rows x k indices, nearest
// first, ties by lower index). `exclude_same_index` skips database row i for query i (for
// leave-one-out when queries and database are the same set).
[[nodiscard]] absl::StatusOr<std::vector<int64_t>> ExactKnn(const FloatMatrix& queries,
                                                            const FloatMatrix& database, int k,
                                                            CodeDistance distance,
                                                            bool exclude_same_index = false);

// One line of a side-by-side report.
struct ModelScore {
  std::string name;  // e.g. "model" or "PCA-30".
  int64_t code_size = 0;
  double reconstruction_error = 0;  // Summed squared error per test item.
  double precision_at_k = 0;        // Test queries against the training set.
  double seconds = 0;               // Time to fit (PCA) / evaluate.
};

struct ComparisonReport {
  int k = 10;
  CodeDistance distance = CodeDistance::kL2;
  ModelScore model;
  ModelScore pca;
  // model.reconstruction_error / pca.reconstruction_error.
  double error_ratio() const;
  std::string ToString() const;  // A small human-readable table.
};

struct ComparisonOptions {
  int k = 10;
  CodeDistance distance = CodeDistance::kL2;
  std::string model_name = "model";
};

// Scores `model` and a PCA with the same code size (fitted on `train`) on `test`: reconstruction
// error per test item and label precision@k of test codes queried against training codes (the
// model by options.distance; PCA by L2, or cosine when options.distance is cosine).
// Errors: as the functions above; InvalidArgument if the model's sizes do not fit the data.
[[nodiscard]] absl::StatusOr<ComparisonReport> CompareWithPca(
    const Model& model, const FloatMatrix& train, const std::vector<int>& train_labels,
    const FloatMatrix& test, const std::vector<int>& test_labels,
    const ComparisonOptions& options = {});

}  // namespace bn

#endif  // BOTTLENECK_ENGINE_EVAL_METRICS_H_
