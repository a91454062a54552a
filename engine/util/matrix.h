// A dense row-major float matrix: the unit of data passed between datasets, models and metrics.
#ifndef BOTTLENECK_ENGINE_UTIL_MATRIX_H_
#define BOTTLENECK_ENGINE_UTIL_MATRIX_H_

#include <algorithm>
#include <cstdint>
#include <vector>

namespace bn {

struct FloatMatrix {
  int64_t rows = 0;
  int64_t cols = 0;
  std::vector<float> data;  // rows * cols values, row-major.

  FloatMatrix() = default;
  FloatMatrix(int64_t r, int64_t c) : rows(r), cols(c), data(static_cast<size_t>(r * c)) {}

  float* row(int64_t i) { return data.data() + i * cols; }
  const float* row(int64_t i) const { return data.data() + i * cols; }
  float& at(int64_t i, int64_t j) { return data[static_cast<size_t>(i * cols + j)]; }
  float at(int64_t i, int64_t j) const { return data[static_cast<size_t>(i * cols + j)]; }
};

// The first `n` rows (n <= rows) of `m`, copied.
inline FloatMatrix HeadRows(const FloatMatrix& m, int64_t n) {
  FloatMatrix out(n, m.cols);
  std::copy(m.data.begin(), m.data.begin() + n * m.cols, out.data.begin());
  return out;
}

}  // namespace bn

#endif  // BOTTLENECK_ENGINE_UTIL_MATRIX_H_
