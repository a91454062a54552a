#include "engine/train/neighbour_targets.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

namespace bn {
namespace {

// Rows or columns of a sparse matrix: entries [start[i], start[i + 1]) of index / value.
struct Sparse {
  std::vector<int64_t> start;
  std::vector<int32_t> index;
  std::vector<float> value;
};

// idf = log((1 + n) / (1 + df)) + 1 over the rows of `corpus`: Vocabulary::idf's formula
// (engine/input may not be included from engine/train; tests/engine/dependency_graph_test.cc).
std::vector<double> Idf(const FloatMatrix& corpus) {
  const int64_t n = corpus.rows, v = corpus.cols;
  std::vector<int64_t> df(static_cast<size_t>(v), 0);
  for (int64_t r = 0; r < n; ++r) {
    for (int64_t c = 0; c < v; ++c) df[c] += corpus.at(r, c) > 0;
  }
  std::vector<double> idf(static_cast<size_t>(v));
  for (int64_t c = 0; c < v; ++c) {
    idf[c] = std::log((1.0 + n) / (1.0 + static_cast<double>(df[c]))) + 1.0;
  }
  return idf;
}

// The rows as unit-length tf-idf vectors (CSR).
Sparse TfIdf(const FloatMatrix& rows, const std::vector<double>& idf) {
  Sparse out;
  out.start.assign(1, 0);
  for (int64_t r = 0; r < rows.rows; ++r) {
    const size_t first = out.index.size();
    double norm = 0;
    for (int64_t c = 0; c < rows.cols; ++c) {
      if (!(rows.at(r, c) > 0)) continue;
      const double x = rows.at(r, c) * idf[c];
      out.index.push_back(static_cast<int32_t>(c));
      out.value.push_back(static_cast<float>(x));
      norm += x * x;
    }
    const double scale = norm > 0 ? 1.0 / std::sqrt(norm) : 0.0;
    for (size_t i = first; i < out.value.size(); ++i) {
      out.value[i] = static_cast<float>(out.value[i] * scale);
    }
    out.start.push_back(static_cast<int64_t>(out.index.size()));
  }
  return out;
}

// The transpose of `by_row` (`columns` columns): for each word, the rows that contain it, in row
// order (the inverted index).
Sparse Transpose(const Sparse& by_row, int64_t columns) {
  Sparse out;
  out.start.assign(static_cast<size_t>(columns) + 1, 0);
  for (int32_t c : by_row.index) ++out.start[static_cast<size_t>(c) + 1];
  for (int64_t c = 0; c < columns; ++c) out.start[c + 1] += out.start[c];
  out.index.resize(by_row.index.size());
  out.value.resize(by_row.index.size());
  std::vector<int64_t> fill(out.start.begin(), out.start.end() - 1);
  const int64_t rows = static_cast<int64_t>(by_row.start.size()) - 1;
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t i = by_row.start[r]; i < by_row.start[r + 1]; ++i) {
      const int64_t at = fill[by_row.index[i]]++;
      out.index[at] = static_cast<int32_t>(r);
      out.value[at] = by_row.value[i];
    }
  }
  return out;
}

absl::Status Check(const FloatMatrix& m, const NeighbourTargetOptions& options) {
  if (options.count < 1 || options.count > kMaxNeighbourCount) {
    return absl::InvalidArgumentError("neighbour count must be in 1.." +
                                      std::to_string(kMaxNeighbourCount));
  }
  if (!(options.weight >= 0 && options.weight <= 1)) {
    return absl::InvalidArgumentError("neighbour weight must be in [0, 1]");
  }
  if (options.threads < 1) return absl::InvalidArgumentError("threads must be >= 1");
  if (m.rows < 0 || static_cast<int64_t>(m.data.size()) != m.rows * m.cols) {
    return absl::InvalidArgumentError("the rows matrix has the wrong shape");
  }
  for (float x : m.data) {
    if (!(x >= 0) || !std::isfinite(x)) {
      return absl::InvalidArgumentError("neighbour targets need finite non-negative rows");
    }
  }
  return absl::OkStatus();
}

// The targets of `queries` from the rows of `corpus`; with `self`, queries is corpus and a row
// is never its own neighbour.
absl::StatusOr<FloatMatrix> Smooth(const FloatMatrix& queries, const FloatMatrix& corpus, bool self,
                                   const NeighbourTargetOptions& options,
                                   const CancellationFlag* cancel) {
  FloatMatrix out = queries;
  const int64_t n = corpus.rows, v = corpus.cols;
  if (n < (self ? 2 : 1) || options.weight == 0) return out;
  const std::vector<double> idf = Idf(corpus);
  const Sparse by_row = TfIdf(queries, idf);
  const Sparse by_word = Transpose(self ? by_row : TfIdf(corpus, idf), v);
  const int64_t k = std::min<int64_t>(options.count, self ? n - 1 : n);
  const double weight = options.weight;
  std::atomic<bool> stopped{false};

  // Queries [begin, end): each one's scores against every corpus row sharing a word, its k best
  // (ties to the lower row), and the mixed target.
  auto work = [&](int64_t begin, int64_t end) {
    std::vector<float> score(static_cast<size_t>(n), 0.0f);
    std::vector<char> touched(static_cast<size_t>(n), 0);
    std::vector<int32_t> candidates;
    std::vector<double> mean(static_cast<size_t>(v));
    for (int64_t d = begin; d < end; ++d) {
      if ((d - begin) % 64 == 0 &&
          (stopped.load(std::memory_order_relaxed) || (cancel != nullptr && cancel->cancelled()))) {
        stopped.store(true, std::memory_order_relaxed);
        return;
      }
      candidates.clear();
      for (int64_t i = by_row.start[d]; i < by_row.start[d + 1]; ++i) {
        const float x = by_row.value[i];
        const int32_t word = by_row.index[i];
        for (int64_t j = by_word.start[word]; j < by_word.start[word + 1]; ++j) {
          const int32_t e = by_word.index[j];
          if (!touched[e]) {
            touched[e] = 1;
            candidates.push_back(e);
          }
          score[e] += x * by_word.value[j];
        }
      }
      for (int32_t e : candidates) touched[e] = 0;
      if (self) {
        candidates.erase(std::remove(candidates.begin(), candidates.end(), static_cast<int32_t>(d)),
                         candidates.end());
        score[d] = 0.0f;
      }
      const int64_t m = std::min<int64_t>(k, static_cast<int64_t>(candidates.size()));
      if (m > 0) {
        const auto better = [&score](int32_t a, int32_t b) {
          return score[a] > score[b] || (score[a] == score[b] && a < b);
        };
        std::partial_sort(candidates.begin(), candidates.begin() + m, candidates.end(), better);
        std::fill(mean.begin(), mean.end(), 0.0);
        for (int64_t i = 0; i < m; ++i) {
          const float* row = corpus.row(candidates[i]);
          for (int64_t c = 0; c < v; ++c) mean[c] += row[c];
        }
        const float* own = queries.row(d);
        float* target = out.row(d);
        for (int64_t c = 0; c < v; ++c) {
          target[c] = static_cast<float>((1 - weight) * own[c] + weight * mean[c] / m);
        }
      }
      for (int32_t e : candidates) score[e] = 0.0f;
    }
  };
  const int64_t rows = queries.rows;
  const int64_t threads = std::max<int64_t>(1, std::min<int64_t>(options.threads, rows));
  std::vector<std::thread> pool;
  for (int64_t t = 1; t < threads; ++t) {
    const int64_t begin = rows * t / threads, end = rows * (t + 1) / threads;
    try {
      pool.emplace_back(work, begin, end);
    } catch (const std::system_error&) {
      work(begin, end);  // No thread to be had: this one does the range.
    }
  }
  work(0, rows / threads);
  for (std::thread& t : pool) t.join();
  if (stopped.load()) return absl::CancelledError("training cancelled");
  return out;
}

}  // namespace

absl::StatusOr<FloatMatrix> NeighbourSmoothedTargets(const FloatMatrix& rows,
                                                     const NeighbourTargetOptions& options,
                                                     const CancellationFlag* cancel) {
  if (absl::Status s = Check(rows, options); !s.ok()) return s;
  return Smooth(rows, rows, /*self=*/true, options, cancel);
}

absl::StatusOr<FloatMatrix> NeighbourSmoothedTargetsFrom(const FloatMatrix& queries,
                                                         const FloatMatrix& corpus,
                                                         const NeighbourTargetOptions& options,
                                                         const CancellationFlag* cancel) {
  if (absl::Status s = Check(queries, options); !s.ok()) return s;
  if (absl::Status s = Check(corpus, options); !s.ok()) return s;
  if (queries.cols != corpus.cols) {
    return absl::InvalidArgumentError("queries and corpus have different widths");
  }
  return Smooth(queries, corpus, /*self=*/false, options, cancel);
}

}  // namespace bn
