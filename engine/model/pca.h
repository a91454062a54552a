// Exact PCA, the linear baseline of Hinton & Salakhutdinov 2006, served like any other Model.
//
// Fitting: the mean and the covariance of the training rows are accumulated in double precision
// and eigen-decomposed with Eigen's SelfAdjointEigenSolver; the k eigenvectors of largest
// eigenvalue are the components. Each component's sign is fixed (its largest-magnitude entry is
// positive), so fitting the same data twice gives the same model.
//
//   Encode: codes = (x - mean) * components^T      (n x k)
//   Decode: x     = codes * components + mean      (n x d)
//
// Thread safety: a PcaModel is immutable; Encode and Decode may be called concurrently.
#ifndef BOTTLENECK_ENGINE_MODEL_PCA_H_
#define BOTTLENECK_ENGINE_MODEL_PCA_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/model/model.h"
#include "engine/util/cancellation.h"
#include "engine/util/matrix.h"
#include "engine/util/progress.h"

namespace bn {

class PcaModel final : public Model {
 public:
  // components: k x d row-major (orthonormal rows); mean: d; eigenvalues: k (descending, the
  // variance along each component); total_variance: the trace of the covariance.
  // InvalidArgument if the sizes disagree or any value is not finite.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<PcaModel>> Create(
      int64_t input_size, int64_t code_size, std::vector<float> mean, std::vector<float> components,
      std::vector<double> eigenvalues, double total_variance);

  // The registered loader of ModelKind::kPca payloads (validates every field).
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<Model>> LoadPayload(
      absl::string_view payload);

  ModelKind kind() const override { return ModelKind::kPca; }
  int64_t input_size() const override { return input_size_; }
  int64_t code_size() const override { return code_size_; }
  CodeType code_type() const override { return CodeType::kFloat; }
  int64_t parameter_count() const override { return input_size_ * (code_size_ + 1); }

  [[nodiscard]] absl::Status Encode(const float* x, int64_t n, float* codes) const override;
  [[nodiscard]] absl::Status Decode(const float* codes, int64_t n, float* x) const override;
  [[nodiscard]] absl::Status SavePayload(std::string* out) const override;

  const std::vector<float>& mean() const { return mean_; }
  const std::vector<float>& components() const { return components_; }  // k x d.
  const std::vector<double>& eigenvalues() const { return eigenvalues_; }
  double total_variance() const { return total_variance_; }
  // total_variance() minus the kept eigenvalues: on the training data, the mean summed squared
  // reconstruction error per row (see FitPca).
  double discarded_variance() const;

 private:
  PcaModel() = default;

  int64_t input_size_ = 0;
  int64_t code_size_ = 0;
  std::vector<float> mean_;
  std::vector<float> components_;
  std::vector<double> eigenvalues_;
  double total_variance_ = 0;
  std::vector<float> mean_codes_;  // components * mean (k), subtracted in Encode.
};

struct PcaOptions {
  ProgressCallback progress;                 // Optional; phase "PCA".
  const CancellationFlag* cancel = nullptr;  // Optional; checked between row blocks.
};

// Fits PCA with k components on the rows of x. The covariance is normalised by n (population
// covariance), so eigenvalues are mean squared projections and, on the training data, the mean
// summed squared reconstruction error per row equals the sum of the discarded eigenvalues.
// InvalidArgument for k < 1, k > x.cols, x.rows < 1 or non-finite input; Cancelled if the flag
// is set; ResourceExhausted if memory runs out.
[[nodiscard]] absl::StatusOr<std::unique_ptr<PcaModel>> FitPca(const FloatMatrix& x, int k,
                                                               const PcaOptions& options = {});

}  // namespace bn

#endif  // BOTTLENECK_ENGINE_MODEL_PCA_H_
