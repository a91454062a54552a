#include "engine/model/pca.h"

#include <Eigen/Dense>
#include <chrono>
#include <cmath>
#include <new>

#include "engine/model/model_file.h"
#include "engine/model/pca_internal.h"
#include "engine/util/bytes.h"

namespace bn {
namespace {

using RowMatrixF = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using RowMatrixD = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

constexpr int64_t kMaxInputSize = int64_t{1} << 24;
constexpr int64_t kRowBlock = 2048;

bool AllFinite(const std::vector<float>& v) {
  for (float f : v) {
    if (!std::isfinite(f)) return false;
  }
  return true;
}

}  // namespace

absl::StatusOr<std::unique_ptr<PcaModel>> PcaModel::Create(int64_t input_size, int64_t code_size,
                                                           std::vector<float> mean,
                                                           std::vector<float> components,
                                                           std::vector<double> eigenvalues,
                                                           double total_variance) {
  if (input_size < 1 || input_size > kMaxInputSize || code_size < 1 || code_size > input_size) {
    return absl::InvalidArgumentError("PCA: invalid sizes input " + std::to_string(input_size) +
                                      ", code " + std::to_string(code_size));
  }
  if (static_cast<int64_t>(mean.size()) != input_size ||
      static_cast<int64_t>(components.size()) != input_size * code_size ||
      static_cast<int64_t>(eigenvalues.size()) != code_size) {
    return absl::InvalidArgumentError("PCA: array sizes do not match input/code sizes");
  }
  if (!AllFinite(mean) || !AllFinite(components) || !std::isfinite(total_variance) ||
      total_variance < 0) {
    return absl::InvalidArgumentError("PCA: non-finite parameters");
  }
  for (int64_t j = 0; j < code_size; ++j) {
    if (!std::isfinite(eigenvalues[j]) || eigenvalues[j] < 0 ||
        (j > 0 && eigenvalues[j] > eigenvalues[j - 1])) {
      return absl::InvalidArgumentError("PCA: eigenvalues must be finite, >= 0 and descending");
    }
    double norm = 0;
    for (int64_t i = 0; i < input_size; ++i) {
      const double c = components[j * input_size + i];
      norm += c * c;
    }
    if (std::abs(norm - 1.0) > 1e-3) {
      return absl::InvalidArgumentError("PCA: component " + std::to_string(j) +
                                        " is not unit length");
    }
  }
  std::unique_ptr<PcaModel> m(new PcaModel());
  m->input_size_ = input_size;
  m->code_size_ = code_size;
  m->mean_ = std::move(mean);
  m->components_ = std::move(components);
  m->eigenvalues_ = std::move(eigenvalues);
  m->total_variance_ = total_variance;
  m->mean_codes_.assign(code_size, 0.0f);
  for (int64_t j = 0; j < code_size; ++j) {
    double s = 0;
    for (int64_t i = 0; i < input_size; ++i) {
      s += double{m->components_[j * input_size + i]} * m->mean_[i];
    }
    m->mean_codes_[j] = static_cast<float>(s);
  }
  return m;
}

double PcaModel::discarded_variance() const {
  double kept = 0;
  for (double e : eigenvalues_) kept += e;
  return std::max(0.0, total_variance_ - kept);
}

absl::Status PcaModel::Encode(const float* x, int64_t n, float* codes) const {
  if (n < 0) return absl::InvalidArgumentError("PCA Encode: negative row count");
  if (n == 0) return absl::OkStatus();
  try {
    Eigen::Map<const RowMatrixF> xm(x, n, input_size_);
    Eigen::Map<const RowMatrixF> c(components_.data(), code_size_, input_size_);
    Eigen::Map<const Eigen::RowVectorXf> mc(mean_codes_.data(), code_size_);
    Eigen::Map<RowMatrixF> out(codes, n, code_size_);
    out.noalias() = xm * c.transpose();
    out.rowwise() -= mc;
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError("PCA Encode: out of memory");
  }
  return absl::OkStatus();
}

absl::Status PcaModel::Decode(const float* codes, int64_t n, float* x) const {
  if (n < 0) return absl::InvalidArgumentError("PCA Decode: negative row count");
  if (n == 0) return absl::OkStatus();
  try {
    Eigen::Map<const RowMatrixF> cm(codes, n, code_size_);
    Eigen::Map<const RowMatrixF> c(components_.data(), code_size_, input_size_);
    Eigen::Map<const Eigen::RowVectorXf> mean(mean_.data(), input_size_);
    Eigen::Map<RowMatrixF> out(x, n, input_size_);
    out.noalias() = cm * c;
    out.rowwise() += mean;
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError("PCA Decode: out of memory");
  }
  return absl::OkStatus();
}

absl::Status PcaModel::SavePayload(std::string* out) const {
  ByteWriter w(out);
  w.U64(static_cast<uint64_t>(input_size_));
  w.U64(static_cast<uint64_t>(code_size_));
  w.F64(total_variance_);
  w.Floats(mean_);
  w.Floats(components_);
  w.U64(eigenvalues_.size());
  for (double e : eigenvalues_) w.F64(e);
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<Model>> PcaModel::LoadPayload(absl::string_view payload) {
  ByteReader r(payload);
  uint64_t d = 0, k = 0, ne = 0;
  double total = 0;
  std::vector<float> mean, components;
  if (!r.U64(&d) || !r.U64(&k) || !r.F64(&total)) {
    return absl::InvalidArgumentError("PCA payload truncated (header)");
  }
  if (d < 1 || d > static_cast<uint64_t>(kMaxInputSize) || k < 1 || k > d) {
    return absl::InvalidArgumentError("PCA payload: invalid sizes");
  }
  if (!r.Floats(&mean, d) || mean.size() != d) {
    return absl::InvalidArgumentError("PCA payload: bad mean");
  }
  if (!r.Floats(&components, d * k) || components.size() != d * k) {
    return absl::InvalidArgumentError("PCA payload: bad components");
  }
  if (!r.U64(&ne) || ne != k || ne > r.remaining() / sizeof(double)) {
    return absl::InvalidArgumentError("PCA payload: bad eigenvalues");
  }
  std::vector<double> eig(ne);
  for (auto& e : eig) {
    if (!r.F64(&e)) return absl::InvalidArgumentError("PCA payload: truncated eigenvalues");
  }
  if (!r.at_end()) return absl::InvalidArgumentError("PCA payload: trailing bytes");
  absl::StatusOr<std::unique_ptr<PcaModel>> m =
      Create(static_cast<int64_t>(d), static_cast<int64_t>(k), std::move(mean),
             std::move(components), std::move(eig), total);
  if (!m.ok()) return m.status();
  return std::unique_ptr<Model>(std::move(*m));
}

BN_REGISTER_MODEL_LOADER(kPca, &PcaModel::LoadPayload);

namespace internal {

double EigenDecompositionSeconds(int64_t d) {
  const double n = static_cast<double>(d);
  return 6e-10 * n * n * n;
}

absl::StatusOr<std::unique_ptr<PcaModel>> PcaFromMoments(const Eigen::MatrixXd& moments,
                                                         const Eigen::RowVectorXd& mean, int k) {
  const int64_t d = moments.rows();
  if (moments.cols() != d || mean.size() != d || k < 1 || k > d) {
    return absl::InvalidArgumentError("PCA: inconsistent moment matrix");
  }
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> solver(moments);
  if (solver.info() != Eigen::Success) {
    return absl::InternalError("PCA: eigen-decomposition did not converge");
  }
  const Eigen::VectorXd& values = solver.eigenvalues();  // Ascending.
  const Eigen::MatrixXd& vectors = solver.eigenvectors();
  std::vector<float> components(static_cast<size_t>(k * d));
  std::vector<double> eig(k);
  for (int j = 0; j < k; ++j) {
    const int64_t col = d - 1 - j;
    eig[j] = std::max(0.0, values(col));
    Eigen::Index arg = 0;
    vectors.col(col).cwiseAbs().maxCoeff(&arg);
    const double sign = vectors(arg, col) < 0 ? -1.0 : 1.0;
    for (int64_t i = 0; i < d; ++i) {
      components[j * d + i] = static_cast<float>(sign * vectors(i, col));
    }
  }
  for (int j = 1; j < k; ++j) eig[j] = std::min(eig[j], eig[j - 1]);
  std::vector<float> meanf(d);
  for (int64_t i = 0; i < d; ++i) meanf[i] = static_cast<float>(mean(i));
  return PcaModel::Create(d, k, std::move(meanf), std::move(components), std::move(eig),
                          std::max(0.0, moments.trace()));
}

}  // namespace internal

absl::StatusOr<std::unique_ptr<PcaModel>> FitPca(const FloatMatrix& x, int k,
                                                 const PcaOptions& options) {
  const int64_t n = x.rows, d = x.cols;
  if (n < 1 || d < 1 || static_cast<int64_t>(x.data.size()) != n * d) {
    return absl::InvalidArgumentError("FitPca: empty or malformed data matrix");
  }
  if (k < 1 || k > d) {
    return absl::InvalidArgumentError("FitPca: k=" + std::to_string(k) + " must be in [1, " +
                                      std::to_string(d) + "]");
  }
  if (d > 16384) return absl::InvalidArgumentError("FitPca: input too wide for exact PCA");
  if (!AllFinite(x.data)) return absl::InvalidArgumentError("FitPca: non-finite input");
  const auto start = std::chrono::steady_clock::now();
  const int64_t blocks = (n + kRowBlock - 1) / kRowBlock;
  // ETA: the covariance blocks left at the rate so far (the mean's pass over the rows included),
  // then the eigen-decomposition's estimate.
  const double eigen_seconds = internal::EigenDecompositionSeconds(d);
  auto report = [&](int64_t step, int phase_index, const char* phase) {
    if (!options.progress) return;
    TrainingProgress p;
    p.phase = phase;
    p.phase_index = phase_index;
    p.phase_count = 2;
    p.epoch = 1;
    p.epochs = 1;
    p.step = step;
    p.steps_per_epoch = blocks;
    p.elapsed_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (p.elapsed_seconds > 0) {
      p.samples_per_second = std::min(n, step * kRowBlock) / p.elapsed_seconds;
    }
    p.eta_seconds = eigen_seconds;
    if (phase_index == 1 && step > 0) {
      p.eta_seconds +=
          p.elapsed_seconds / static_cast<double>(step) * static_cast<double>(blocks - step);
    }
    options.progress(p);
  };
  auto cancelled = [&] { return options.cancel != nullptr && options.cancel->cancelled(); };
  try {
    Eigen::Map<const RowMatrixF> xm(x.data.data(), n, d);
    Eigen::RowVectorXd mean = Eigen::RowVectorXd::Zero(d);
    RowMatrixD block;
    for (int64_t r0 = 0; r0 < n; r0 += kRowBlock) {
      block = xm.middleRows(r0, std::min(kRowBlock, n - r0)).cast<double>();
      mean += block.colwise().sum();
    }
    mean /= static_cast<double>(n);
    Eigen::MatrixXd cov = Eigen::MatrixXd::Zero(d, d);
    for (int64_t b = 0; b < blocks; ++b) {
      if (cancelled()) return absl::CancelledError("PCA cancelled");
      const int64_t r0 = b * kRowBlock, rows = std::min(kRowBlock, n - r0);
      block = xm.middleRows(r0, rows).cast<double>();
      block.rowwise() -= mean;
      cov.noalias() += block.transpose() * block;
      report(b + 1, 1, "PCA covariance");
    }
    cov /= static_cast<double>(n);
    if (cancelled()) return absl::CancelledError("PCA cancelled");
    report(blocks, 2, "PCA eigen-decomposition");  // Before: it is the slow part for wide inputs.
    return internal::PcaFromMoments(cov, mean, k);
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError("FitPca: out of memory");
  }
}

}  // namespace bn
