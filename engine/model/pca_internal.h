// Shared by PCA and LSA (engine/model/lsa.cc): builds a PcaModel from a second-moment matrix.
// Not part of the public API.
#ifndef BOTTLENECK_ENGINE_MODEL_PCA_INTERNAL_H_
#define BOTTLENECK_ENGINE_MODEL_PCA_INTERNAL_H_

#include <Eigen/Dense>
#include <memory>

#include "absl/status/statusor.h"
#include "engine/model/pca.h"

namespace bn::internal {

// `moments`: the d x d symmetric matrix (covariance for PCA, X^T X / n for LSA); `mean`: d values
// subtracted before projecting (zero for LSA). Keeps the k eigenvectors of largest eigenvalue,
// each signed so its largest-magnitude entry is positive. Internal if the solver fails.
[[nodiscard]] absl::StatusOr<std::unique_ptr<PcaModel>> PcaFromMoments(
    const Eigen::MatrixXd& moments, const Eigen::RowVectorXd& mean, int k);

// Seconds PcaFromMoments is expected to take for a d x d matrix (progress ETAs): Eigen's
// single-threaded tridiagonalisation and QR, about 6e-10 s * d^3 on this project's machines
// (2000 x 2000 in 4.7-9.3 s, bench/RESULTS-inputs.md; 784 x 784 in 0.3 s).
double EigenDecompositionSeconds(int64_t d);

}  // namespace bn::internal

#endif  // BOTTLENECK_ENGINE_MODEL_PCA_INTERNAL_H_
