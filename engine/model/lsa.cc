#include "engine/model/lsa.h"

#include <Eigen/Dense>
#include <chrono>
#include <cmath>
#include <new>

#include "engine/model/pca_internal.h"

namespace bn {
namespace {

constexpr int kMaxVocabulary = 16384;
constexpr int64_t kBlock = 1024;

using RowMatrixF = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using RowMatrixD = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

absl::Status CheckSizes(int64_t n, int vocab_size, int k) {
  if (n < 1) return absl::InvalidArgumentError("FitLsa: no documents");
  if (vocab_size < 1 || vocab_size > kMaxVocabulary) {
    return absl::InvalidArgumentError("FitLsa: vocabulary size " + std::to_string(vocab_size) +
                                      " not in [1, " + std::to_string(kMaxVocabulary) + "]");
  }
  if (k < 1 || k > vocab_size) {
    return absl::InvalidArgumentError("FitLsa: k=" + std::to_string(k) + " must be in [1, " +
                                      std::to_string(vocab_size) + "]");
  }
  return absl::OkStatus();
}

// ETA: the Gram matrix's blocks left at the rate so far, then the eigen-decomposition's estimate.
void Report(const LsaOptions& options, int phase_index, int64_t step, int64_t steps,
            int64_t vocab_size, std::chrono::steady_clock::time_point start) {
  if (!options.progress) return;
  TrainingProgress p;
  p.phase = phase_index == 1 ? "LSA Gram matrix" : "LSA eigen-decomposition";
  p.phase_index = phase_index;
  p.phase_count = 2;
  p.epoch = 1;
  p.epochs = 1;
  p.step = step;
  p.steps_per_epoch = steps;
  p.elapsed_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  p.eta_seconds = internal::EigenDecompositionSeconds(vocab_size);
  if (phase_index == 1 && step > 0) {
    p.eta_seconds +=
        p.elapsed_seconds / static_cast<double>(step) * static_cast<double>(steps - step);
  }
  options.progress(p);
}

absl::StatusOr<std::unique_ptr<PcaModel>> Finish(Eigen::MatrixXd* gram, int64_t n, int k) {
  // Only the lower triangle was accumulated: mirror it (the solver reads the lower one, but the
  // trace and any later use want the full matrix).
  *gram = gram->selfadjointView<Eigen::Lower>();
  *gram /= static_cast<double>(n);
  return internal::PcaFromMoments(*gram, Eigen::RowVectorXd::Zero(gram->rows()), k);
}

}  // namespace

absl::StatusOr<std::unique_ptr<PcaModel>> FitLsa(const std::vector<SparseVector>& documents,
                                                 int vocab_size, int k, const LsaOptions& options) {
  const int64_t n = static_cast<int64_t>(documents.size());
  if (absl::Status s = CheckSizes(n, vocab_size, k); !s.ok()) return s;
  const auto start = std::chrono::steady_clock::now();
  try {
    Eigen::MatrixXd gram = Eigen::MatrixXd::Zero(vocab_size, vocab_size);
    for (int64_t d = 0; d < n; ++d) {
      if (d % kBlock == 0) {
        if (options.cancel != nullptr && options.cancel->cancelled()) {
          return absl::CancelledError("LSA cancelled");
        }
        Report(options, 1, d / kBlock, (n + kBlock - 1) / kBlock, vocab_size, start);
      }
      const SparseVector& doc = documents[d];
      if (doc.ids.size() != doc.values.size()) {
        return absl::InvalidArgumentError("FitLsa: document " + std::to_string(d) +
                                          " has mismatched ids and values");
      }
      for (size_t i = 0; i < doc.ids.size(); ++i) {
        if (doc.ids[i] < 0 || doc.ids[i] >= vocab_size || (i > 0 && doc.ids[i] <= doc.ids[i - 1]) ||
            !std::isfinite(doc.values[i])) {
          return absl::InvalidArgumentError("FitLsa: document " + std::to_string(d) +
                                            " is malformed (ids must increase within the "
                                            "vocabulary, values finite)");
        }
      }
      // Lower triangle: row >= column. ids increase, so ids[i] >= ids[j] for j <= i.
      for (size_t i = 0; i < doc.ids.size(); ++i) {
        const double vi = doc.values[i];
        for (size_t j = 0; j <= i; ++j) gram(doc.ids[i], doc.ids[j]) += vi * doc.values[j];
      }
    }
    if (options.cancel != nullptr && options.cancel->cancelled()) {
      return absl::CancelledError("LSA cancelled");
    }
    Report(options, 2, 1, 1, vocab_size, start);  // Before: the slow part.
    return Finish(&gram, n, k);
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError("FitLsa: out of memory");
  }
}

absl::StatusOr<std::unique_ptr<PcaModel>> FitLsa(const FloatMatrix& x, int k,
                                                 const LsaOptions& options) {
  if (x.cols > kMaxVocabulary) return absl::InvalidArgumentError("FitLsa: too many columns");
  if (absl::Status s = CheckSizes(x.rows, static_cast<int>(x.cols), k); !s.ok()) return s;
  if (static_cast<int64_t>(x.data.size()) != x.rows * x.cols) {
    return absl::InvalidArgumentError("FitLsa: malformed matrix");
  }
  for (float v : x.data) {
    if (!std::isfinite(v)) return absl::InvalidArgumentError("FitLsa: non-finite input");
  }
  const auto start = std::chrono::steady_clock::now();
  try {
    Eigen::Map<const RowMatrixF> xm(x.data.data(), x.rows, x.cols);
    Eigen::MatrixXd gram = Eigen::MatrixXd::Zero(x.cols, x.cols);
    RowMatrixD block;
    const int64_t blocks = (x.rows + kBlock - 1) / kBlock;
    for (int64_t b = 0; b < blocks; ++b) {
      if (options.cancel != nullptr && options.cancel->cancelled()) {
        return absl::CancelledError("LSA cancelled");
      }
      block = xm.middleRows(b * kBlock, std::min(kBlock, x.rows - b * kBlock)).cast<double>();
      gram.noalias() += block.transpose() * block;
      Report(options, 1, b + 1, blocks, x.cols, start);
    }
    Report(options, 2, 1, 1, x.cols, start);  // Before: the slow part.
    return Finish(&gram, x.rows, k);
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError("FitLsa: out of memory");
  }
}

}  // namespace bn
