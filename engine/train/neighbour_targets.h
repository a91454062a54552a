// Neighbour-smoothed reconstruction targets for document auto-encoders.
//
// A document of a few dozen words is a noisy sample of its topic, and an auto-encoder trained to
// reconstruct exactly those words learns their noise too. With neighbour targets each training
// document's target is
//   (1 - weight) * its own word distribution + weight * the mean distribution of its `count`
//   nearest other training documents,
// the nearest by cosine similarity of tf-idf vectors (idf = log((1 + n) / (1 + df)) + 1 from the
// rows themselves, as the service's vocabulary computes it). The code then has to predict what
// its neighbourhood says, a weak supervision from tf-idf neighbours in the spirit of Chaidaroon,
// Ebesu and Fang (SIGIR 2018, "NbrReg"). The input stays the document's own distribution, so
// encoding at serving time is unchanged. Measured in bench/RESULTS-text.md.
//
// Exact search through an inverted index: the work is the sum over words of df^2 multiply-adds
// (1.7 s for 5,864 Reuters documents on one core of a busy machine), spread over `threads`; the
// trainer logs the time. The result is the same for any thread count (each row is computed by
// one thread; ties go to the lower row).
// Memory: one more matrix the size of `rows`.
#ifndef BOTTLENECK_ENGINE_TRAIN_NEIGHBOUR_TARGETS_H_
#define BOTTLENECK_ENGINE_TRAIN_NEIGHBOUR_TARGETS_H_

#include "absl/status/statusor.h"
#include "engine/util/cancellation.h"
#include "engine/util/matrix.h"

namespace bn {

// The largest neighbour count accepted (the engine's and the API's limit).
inline constexpr int kMaxNeighbourCount = 1000;

struct NeighbourTargetOptions {
  int count = 20;       // neighbours per row, 1..kMaxNeighbourCount (fewer when rows are fewer)
  float weight = 0.7f;  // weight of the neighbours' mean, in [0, 1]
  int threads = 1;      // >= 1
};

// Targets for the rows of `rows` (non-negative word weights, one document per row; typically
// distributions summing to 1). A row whose tf-idf vector is zero, or that has no other row
// sharing a word, keeps its own distribution as its target; with a single row every target is
// the row. InvalidArgument for a negative or non-finite value, a count outside
// 1..kMaxNeighbourCount, a weight outside [0, 1] or threads < 1; Cancelled once `cancel`
// (nullable) is set.
[[nodiscard]] absl::StatusOr<FloatMatrix> NeighbourSmoothedTargets(
    const FloatMatrix& rows, const NeighbourTargetOptions& options, const CancellationFlag* cancel);

// The same for rows outside the corpus (validation documents): each row of `queries` is mixed
// with its `count` nearest rows of `corpus` (idf from `corpus`; no row is excluded). The
// validation error of a model trained with neighbour targets compares with these, so that it
// measures the objective the model was trained for. The same errors, and InvalidArgument for
// different widths.
[[nodiscard]] absl::StatusOr<FloatMatrix> NeighbourSmoothedTargetsFrom(
    const FloatMatrix& queries, const FloatMatrix& corpus, const NeighbourTargetOptions& options,
    const CancellationFlag* cancel);

}  // namespace bn

#endif  // BOTTLENECK_ENGINE_TRAIN_NEIGHBOUR_TARGETS_H_
