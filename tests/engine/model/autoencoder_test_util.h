// Test-only helpers: reading a Fashion-MNIST subset (gzipped IDX) without depending on
// engine/data, and a PCA baseline computed with Eigen.
#ifndef BOTTLENECK_TESTS_ENGINE_MODEL_AUTOENCODER_TEST_UTIL_H_
#define BOTTLENECK_TESTS_ENGINE_MODEL_AUTOENCODER_TEST_UTIL_H_

#include <zlib.h>

#include <Eigen/Dense>
#include <cstdint>
#include <string>
#include <vector>

#include "engine/util/matrix.h"

namespace bn {
namespace testing {

// The first `n` images of a gzipped IDX image file, pixels / 255. Empty matrix on any error.
inline FloatMatrix ReadFashionImages(const std::string& name, int64_t n) {
  const std::string path = std::string(BN_FASHION_MNIST_DIR) + "/" + name;
  gzFile f = gzopen(path.c_str(), "rb");
  if (f == nullptr) return {};
  unsigned char header[16];
  if (gzread(f, header, 16) != 16 || header[2] != 0x08 || header[3] != 3) {
    gzclose(f);
    return {};
  }
  auto be = [&](int o) {
    return (int64_t{header[o]} << 24) | (header[o + 1] << 16) | (header[o + 2] << 8) |
           header[o + 3];
  };
  const int64_t count = be(4), rows = be(8), cols = be(12);
  if (n > count) n = count;
  FloatMatrix m(n, rows * cols);
  std::string buf(static_cast<size_t>(n * rows * cols), '\0');
  const int got = gzread(f, buf.data(), static_cast<unsigned>(buf.size()));
  gzclose(f);
  if (got != static_cast<int>(buf.size())) return {};
  for (size_t i = 0; i < buf.size(); ++i) {
    m.data[i] = static_cast<unsigned char>(buf[i]) / 255.0f;
  }
  return m;
}

// The first `n` labels of a gzipped IDX label file. Empty on any error.
inline std::vector<int> ReadFashionLabels(const std::string& name, int64_t n) {
  const std::string path = std::string(BN_FASHION_MNIST_DIR) + "/" + name;
  gzFile f = gzopen(path.c_str(), "rb");
  if (f == nullptr) return {};
  unsigned char header[8];
  std::string buf(static_cast<size_t>(n), '\0');
  const bool ok = gzread(f, header, 8) == 8 && header[2] == 0x08 && header[3] == 1 &&
                  gzread(f, buf.data(), static_cast<unsigned>(n)) == static_cast<int>(n);
  gzclose(f);
  if (!ok) return {};
  std::vector<int> labels(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) labels[i] = static_cast<unsigned char>(buf[i]);
  return labels;
}

// Summed squared reconstruction error per row of `test` by the top-k principal subspace of
// `train` (mean-centred), via Eigen's self-adjoint eigensolver on the covariance.
inline double PcaHeldOutError(const FloatMatrix& train, const FloatMatrix& test, int k) {
  using Mat = Eigen::MatrixXd;
  Eigen::Map<const Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>> xt(
      train.data.data(), train.rows, train.cols);
  Mat x = xt.cast<double>();
  Eigen::RowVectorXd mean = x.colwise().mean();
  x.rowwise() -= mean;
  Mat cov = (x.transpose() * x) / static_cast<double>(train.rows);
  Eigen::SelfAdjointEigenSolver<Mat> eig(cov);
  Mat basis = eig.eigenvectors().rightCols(k);  // Largest eigenvalues last.
  Eigen::Map<const Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>> yt(
      test.data.data(), test.rows, test.cols);
  Mat y = yt.cast<double>();
  y.rowwise() -= mean;
  Mat recon = (y * basis) * basis.transpose();
  return (recon - y).squaredNorm() / static_cast<double>(test.rows);
}

}  // namespace testing
}  // namespace bn

#endif  // BOTTLENECK_TESTS_ENGINE_MODEL_AUTOENCODER_TEST_UTIL_H_
