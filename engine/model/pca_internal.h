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

}  // namespace bn::internal

#endif  // BOTTLENECK_ENGINE_MODEL_PCA_INTERNAL_H_
