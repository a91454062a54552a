// LSA (latent semantic analysis), the text baseline of Hinton & Salakhutdinov 2006: a truncated
// SVD X ~= U_k S_k V_k^T of the document-term matrix X (n documents x V words; usually tf-idf
// rows from engine/input/text.h).
//
// V_k is computed exactly as the top-k eigenvectors of the V x V Gram matrix X^T X (accumulated
// in double from sparse rows, then Eigen's SelfAdjointEigenSolver), so the cost is
// O(nnz * words-per-document + V^3), about 5 s for V = 2000.
//
// The result is served as a PcaModel with a zero mean (ModelKind::kPca, saved and loaded by the
// PCA loader): Encode(x) = x V_k (the LSA code), Decode(c) = c V_k^T. eigenvalues() are S_k^2 / n.
//
// Thread safety: as PcaModel (immutable; concurrent Encode/Decode are safe).
#ifndef BOTTLENECK_ENGINE_MODEL_LSA_H_
#define BOTTLENECK_ENGINE_MODEL_LSA_H_

#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/input/text.h"
#include "engine/model/pca.h"
#include "engine/util/cancellation.h"
#include "engine/util/matrix.h"
#include "engine/util/progress.h"

namespace bn {

struct LsaOptions {
  ProgressCallback progress;                 // Optional; phase "LSA".
  const CancellationFlag* cancel = nullptr;  // Optional; checked every 1024 documents.
};

// Sparse rows (ids in [0, vocab_size), increasing). InvalidArgument for k < 1, k > vocab_size,
// vocab_size > 16384, no documents, malformed or non-finite rows; Cancelled if the flag is set.
[[nodiscard]] absl::StatusOr<std::unique_ptr<PcaModel>> FitLsa(
    const std::vector<SparseVector>& documents, int vocab_size, int k,
    const LsaOptions& options = {});

// Dense rows (x.cols = vocabulary size). Same errors.
[[nodiscard]] absl::StatusOr<std::unique_ptr<PcaModel>> FitLsa(const FloatMatrix& x, int k,
                                                               const LsaOptions& options = {});

}  // namespace bn

#endif  // BOTTLENECK_ENGINE_MODEL_LSA_H_
