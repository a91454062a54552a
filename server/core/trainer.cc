#include "server/core/trainer.h"

#include <algorithm>
#include <chrono>
#include <numeric>
#include <random>

#include "engine/eval/metrics.h"
#include "engine/model/pca.h"

namespace bn {

namespace v1 = ::bottleneck::v1;

namespace {

LabelledMatrix Rows(const LabelledMatrix& all, const std::vector<int64_t>& rows) {
  LabelledMatrix out;
  out.x = FloatMatrix(static_cast<int64_t>(rows.size()), all.x.cols);
  for (size_t i = 0; i < rows.size(); ++i) {
    std::copy(all.x.row(rows[i]), all.x.row(rows[i]) + all.x.cols, out.x.row(i));
    if (!all.labels.empty()) out.labels.push_back(all.labels[rows[i]]);
  }
  return out;
}

CodeDistance DistanceFor(const v1::CollectionSpec& collection) {
  if (collection.code_kind() == v1::CODE_KIND_BINARY) return CodeDistance::kHamming;
  if (collection.distance() == v1::DISTANCE_COSINE ||
      collection.distance() == v1::DISTANCE_INNER_PRODUCT) {
    return CodeDistance::kCosine;
  }
  return CodeDistance::kL2;
}

// Precision is reported only when every row is labelled.
bool HasLabels(const LabelledMatrix& m) {
  return !m.labels.empty() &&
         std::all_of(m.labels.begin(), m.labels.end(), [](int l) { return l >= 0; });
}

// Precision@10 of validation queries against the training codes (labelled rows only).
absl::StatusOr<double> PrecisionAt10(const Model& model, const LabelledMatrix& train,
                                     const LabelledMatrix& validation, CodeDistance distance) {
  auto train_codes = EncodeAll(model, train.x);
  if (!train_codes.ok()) return train_codes.status();
  auto validation_codes = EncodeAll(model, validation.x);
  if (!validation_codes.ok()) return validation_codes.status();
  auto precision = PrecisionAtK(*validation_codes, validation.labels, *train_codes, train.labels,
                                {10}, distance);
  if (!precision.ok()) return precision.status();
  return (*precision)[0];
}

}  // namespace

absl::Status SplitForValidation(const LabelledMatrix& all, double fraction, uint64_t seed,
                                LabelledMatrix* train, LabelledMatrix* validation) {
  const int64_t n = all.x.rows;
  if (n < 2) return absl::InvalidArgumentError("the dataset needs at least 2 examples");
  std::vector<int64_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::mt19937_64 rng(seed ^ 0x9e3779b97f4a7c15ULL);
  std::shuffle(order.begin(), order.end(), rng);
  int64_t held = std::clamp<int64_t>(static_cast<int64_t>(fraction * n + 0.5), 1, n - 1);
  std::vector<int64_t> validation_rows(order.begin(), order.begin() + held);
  std::vector<int64_t> train_rows(order.begin() + held, order.end());
  std::sort(validation_rows.begin(), validation_rows.end());
  std::sort(train_rows.begin(), train_rows.end());
  *train = Rows(all, train_rows);
  *validation = Rows(all, validation_rows);
  return absl::OkStatus();
}

absl::StatusOr<TrainedModel> TrainAndEvaluate(const v1::CollectionSpec& collection,
                                              const v1::ModelSpec& spec,
                                              const LabelledMatrix& train,
                                              const LabelledMatrix& validation, int threads,
                                              const ProgressCallback& progress,
                                              const CancellationFlag& cancel) {
  (void)threads;
  const auto start = std::chrono::steady_clock::now();
  int64_t code_size = 0;
  switch (spec.architecture_case()) {
    case v1::ModelSpec::kPca:
      code_size = spec.pca().code_size();
      break;
    case v1::ModelSpec::kDense:
      code_size = spec.dense().code_size();
      break;
    case v1::ModelSpec::kConv:
      code_size = spec.conv().code_size();
      break;
    default:
      return absl::InvalidArgumentError("spec has no architecture");
  }
  const int phases = spec.has_pca() ? 2 : 3;
  auto report_phase = [&](const std::string& name, int index) {
    TrainingProgress p;
    p.phase = name;
    p.phase_index = index;
    p.phase_count = phases;
    p.elapsed_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (progress) progress(p);
  };

  // Phase 1: the PCA baseline of the same code size (or the model itself for a PCA spec).
  report_phase("PCA baseline", 1);
  PcaOptions pca_options;
  pca_options.cancel = &cancel;
  const int64_t pca_size = std::min<int64_t>(code_size, train.x.cols);
  auto pca = FitPca(train.x, static_cast<int>(pca_size), pca_options);
  if (!pca.ok()) return pca.status();
  if (cancel.cancelled()) return absl::CancelledError("cancelled");

  TrainedModel result;
  switch (spec.architecture_case()) {
    case v1::ModelSpec::kPca:
      break;
    case v1::ModelSpec::kDense:
      return absl::UnimplementedError("dense auto-encoder training is not available yet");
    default:
      return absl::UnimplementedError(
          "convolutional auto-encoders are not available in this version");
  }

  report_phase("evaluate", phases);
  const CodeDistance distance = DistanceFor(collection);
  v1::EvaluationReport& report = result.report;
  report.set_validation_items(validation.x.rows);
  auto pca_error = ReconstructionError(**pca, validation.x);
  if (!pca_error.ok()) return pca_error.status();
  report.set_pca_reconstruction_error(*pca_error);
  const bool labelled = HasLabels(train) && HasLabels(validation);
  if (labelled) {
    auto p = PrecisionAt10(**pca, train, validation, distance);
    if (!p.ok()) return p.status();
    report.set_pca_precision_at_10(*p);
  }
  if (spec.has_pca()) {
    result.model = std::move(*pca);
    report.set_reconstruction_error(report.pca_reconstruction_error());
    report.set_precision_at_10(report.pca_precision_at_10());
  } else {
    auto error = ReconstructionError(*result.model, validation.x);
    if (!error.ok()) return error.status();
    report.set_reconstruction_error(*error);
    if (labelled) {
      auto p = PrecisionAt10(*result.model, train, validation, distance);
      if (!p.ok()) return p.status();
      report.set_precision_at_10(*p);
    }
  }
  report.set_training_seconds(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  return result;
}

}  // namespace bn
