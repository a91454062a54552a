// Test-only helpers for the model and trainer tests: synthetic data, reading a Fashion-MNIST
// subset (gzipped IDX) without depending on engine/data, a model file envelope around a payload
// and a PCA baseline computed with Eigen.
#ifndef BOTTLENECK_TESTS_ENGINE_MODEL_AUTOENCODER_TEST_UTIL_H_
#define BOTTLENECK_TESTS_ENGINE_MODEL_AUTOENCODER_TEST_UTIL_H_

#include <zlib.h>

#include <Eigen/Dense>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "engine/model/model.h"
#include "engine/model/model_file.h"
#include "engine/util/bytes.h"
#include "engine/util/matrix.h"

namespace bn {
namespace testing {

// Rows of a rank-3 structure plus noise, squashed into [0, 1], so there is something to learn.
inline FloatMatrix RandomData(int64_t rows, int64_t cols, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> g(0.0f, 1.0f);
  const int64_t rank = 3;
  std::vector<float> basis(static_cast<size_t>(rank * cols));
  for (float& b : basis) b = g(rng);
  FloatMatrix m(rows, cols);
  for (int64_t r = 0; r < rows; ++r) {
    float z[rank];
    for (float& v : z) v = g(rng);
    for (int64_t c = 0; c < cols; ++c) {
      float s = 0.1f * g(rng);
      for (int64_t k = 0; k < rank; ++k) s += z[k] * basis[k * cols + c];
      m.at(r, c) = 1.0f / (1.0f + std::exp(-s));
    }
  }
  return m;
}

// Uniform [0, 1) pixels.
inline FloatMatrix RandomImages(int64_t n, int64_t d, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  FloatMatrix m(n, d);
  for (float& v : m.data) v = u(rng);
  return m;
}

// Wraps a payload in the model file envelope (format documented in model_file.h), with a
// valid checksum, to reach the payload loader with hostile contents.
inline std::string ModelEnvelope(ModelKind kind, const std::string& payload) {
  std::string out("BNMODEL", 8);
  ByteWriter w(&out);
  w.U32(kModelFormatVersion);
  w.U32(static_cast<uint32_t>(kind));
  w.U64(payload.size());
  out += payload;
  w.U32(Crc32(out));
  return out;
}

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
