#include "server/core/trainer.h"

#include <algorithm>
#include <chrono>
#include <numeric>
#include <optional>
#include <random>

#include "engine/eval/metrics.h"
#include "engine/input/augment.h"
#include "engine/model/autoencoder.h"
#include "engine/model/conv_autoencoder.h"
#include "engine/model/lsa.h"
#include "engine/model/pca.h"
#include "engine/train/autoencoder_trainer.h"
#include "server/core/specs.h"
#include "server/core/trainer_options.h"

namespace bn {

namespace v1 = ::bottleneck::v1;

namespace {

LabelledMatrix Rows(const LabelledMatrix& all, const std::vector<int64_t>& rows) {
  LabelledMatrix out;
  out.label_names = all.label_names;
  out.x = FloatMatrix(static_cast<int64_t>(rows.size()), all.x.cols);
  for (size_t i = 0; i < rows.size(); ++i) {
    std::copy(all.x.row(rows[i]), all.x.row(rows[i]) + all.x.cols, out.x.row(i));
    if (!all.labels.empty()) out.labels.push_back(all.labels[rows[i]]);
    if (!all.lengths.empty()) out.lengths.push_back(all.lengths[rows[i]]);
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

Corruption ToCorruption(v1::Corruption c) {
  switch (c) {
    case v1::CORRUPTION_MASKING:
      return Corruption::kMasking;
    case v1::CORRUPTION_GAUSSIAN:
      return Corruption::kGaussian;
    case v1::CORRUPTION_SALT_AND_PEPPER:
      return Corruption::kSaltAndPepper;
    default:
      return Corruption::kNone;
  }
}

DenseAutoencoderSpec ToEngineSpec(const v1::CollectionSpec& collection, const v1::ModelSpec& spec,
                                  int64_t input_size) {
  const v1::DenseAutoencoderSpec& d = spec.dense();
  DenseAutoencoderSpec out;
  out.input_size = input_size;
  out.encoder_sizes.assign(d.encoder_sizes().begin(), d.encoder_sizes().end());
  out.decoder_sizes.assign(d.decoder_sizes().begin(), d.decoder_sizes().end());
  out.code_size = d.code_size();
  out.hidden_activation = ToEngineActivation(d.hidden_activation());
  out.code_activation = ToEngineActivation(d.code_activation());
  out.tied_weights = d.tied_weights();
  if (collection.has_image()) {
    // Pixels in [0, 1]; standardised pixels with Gaussian visible units.
    out.output =
        d.gaussian_visible() ? OutputKind::kLinearSquaredError : OutputKind::kLogisticCrossEntropy;
    out.gaussian_visible = d.gaussian_visible();
  } else if (spec.text().representation() == v1::DOCUMENT_REPRESENTATION_LOG_TF ||
             spec.text().representation() == v1::DOCUMENT_REPRESENTATION_TF_IDF) {
    out.output = OutputKind::kLinearSquaredError;
  } else {
    out.output = OutputKind::kSoftmaxCrossEntropy;  // The paper's word distributions.
  }
  out.binary_codes = collection.code_kind() == v1::CODE_KIND_BINARY;
  if (out.binary_codes) out.code_noise_stddev = d.binary().noise_stddev();
  out.corruption = ToCorruption(d.denoising().corruption());
  out.corruption_level = d.denoising().level();
  out.contractive_lambda = d.contractive().lambda();
  out.pretraining = d.pretraining().enabled();
  return out;
}

ConvAutoencoderSpec ToEngineConvSpec(const v1::CollectionSpec& collection,
                                     const v1::ConvAutoencoderSpec& c) {
  ConvAutoencoderSpec out;
  out.height = collection.image().height();
  out.width = collection.image().width();
  out.channels = collection.image().channels();
  out.layers.clear();
  for (const v1::ConvLayerSpec& l : c.encoder()) {
    ConvLayerSpec layer;
    layer.filters = l.filters();
    layer.kernel = l.kernel_size();
    layer.stride = l.stride();
    layer.pool = l.pool_size() == 0 ? 1 : l.pool_size();
    out.layers.push_back(layer);
  }
  out.dense_sizes.assign(c.dense_sizes().begin(), c.dense_sizes().end());
  out.code_size = c.code_size();
  out.hidden_activation = ToEngineActivation(c.hidden_activation());
  out.unpool =
      c.unpooling() == v1::UNPOOLING_SWITCHES ? UnpoolMode::kSwitches : UnpoolMode::kRepeat;
  out.binary_codes = collection.code_kind() == v1::CODE_KIND_BINARY;
  if (out.binary_codes) out.code_noise_stddev = c.binary().noise_stddev();
  out.corruption = ToCorruption(c.denoising().corruption());
  out.corruption_level = c.denoising().level();
  return out;
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

absl::Status SplitForTraining(const LabelledMatrix& all, const v1::TrainingOptions& options,
                              LabelledMatrix* train, ValidationData* validation) {
  const double fraction = options.validation_fraction();
  if (options.validation() != v1::VALIDATION_SPLIT_BY_LABEL) {
    return SplitForValidation(all, fraction, options.seed(), train, &validation->validation);
  }
  if (!HasLabels(all)) {
    return absl::FailedPreconditionError(
        "validation BY_LABEL needs every example of the dataset labelled");
  }
  const int labels = static_cast<int>(all.label_names.size());
  if (labels < 2) {
    return absl::FailedPreconditionError(
        "validation BY_LABEL needs at least two labels; the "
        "dataset has " +
        std::to_string(labels));
  }
  std::vector<int> order(labels);
  std::iota(order.begin(), order.end(), 0);
  std::mt19937_64 rng(options.seed() ^ 0x1abe1ULL);
  std::shuffle(order.begin(), order.end(), rng);
  const int held = std::clamp(static_cast<int>(fraction * labels + 0.5), 1, labels - 1);
  std::vector<bool> out(labels, false);
  for (int i = 0; i < held; ++i) out[order[i]] = true;
  std::vector<int64_t> kept_rows, heldout_rows;
  for (int64_t r = 0; r < all.x.rows; ++r) {
    (out[all.labels[r]] ? heldout_rows : kept_rows).push_back(r);
  }
  validation->heldout = Rows(all, heldout_rows);
  for (int l = 0; l < labels; ++l) {
    if (out[l]) validation->heldout_labels.push_back(all.label_names[l]);
  }
  std::sort(validation->heldout_labels.begin(), validation->heldout_labels.end());
  return SplitForValidation(Rows(all, kept_rows), fraction, options.seed(), train,
                            &validation->validation);
}

namespace {

int64_t CodeSizeOf(const v1::ModelSpec& spec) {
  switch (spec.architecture_case()) {
    case v1::ModelSpec::kPca:
      return spec.pca().code_size();
    case v1::ModelSpec::kLsa:
      return spec.lsa().code_size();
    case v1::ModelSpec::kDense:
      return spec.dense().code_size();
    case v1::ModelSpec::kConv:
      return spec.conv().code_size();
    default:
      return 0;
  }
}

// Trains the auto-encoder of `spec` (dense or conv), validating each epoch on `watched`.
absl::StatusOr<TrainResult> TrainAutoencoder(const v1::CollectionSpec& collection,
                                             const v1::ModelSpec& spec, const LabelledMatrix& train,
                                             const FloatMatrix& watched, const TrainingHooks& hooks,
                                             const ProgressCallback& progress,
                                             const CancellationFlag& cancel) {
  TrainOptions options = ToEngineOptions(spec, hooks);
  std::optional<ImageAugmenter> augmenter;  // Outlives the training run.
  if (absl::Status s = SetUpAugmentation(collection, spec, &augmenter, &options); !s.ok()) {
    return s;
  }
  if (spec.has_dense()) {
    DenseAutoencoderSpec dense = ToEngineSpec(collection, spec, train.x.cols);
    if (dense.output == OutputKind::kSoftmaxCrossEntropy && !train.lengths.empty()) {
      options.document_lengths = &train.lengths;
    }
    return TrainDenseAutoencoder(train.x, &watched, dense, options, progress, &cancel);
  }
  ConvAutoencoderSpec conv = ToEngineConvSpec(collection, spec.conv());
  return TrainConvAutoencoder(train.x, &watched, conv, options, progress, &cancel);
}

// Reconstruction error (and precision@10 against the training codes, when every row is
// labelled) of `model` on `validation`.
struct Scores {
  double error = 0;
  double precision_at_10 = 0;
};
absl::StatusOr<Scores> Score(const Model& model, const LabelledMatrix& train,
                             const LabelledMatrix& validation, CodeDistance distance) {
  Scores scores;
  auto error = ReconstructionError(model, validation.x);
  if (!error.ok()) return error.status();
  scores.error = *error;
  if (HasLabels(train) && HasLabels(validation)) {
    auto p = PrecisionAt10(model, train, validation, distance);
    if (!p.ok()) return p.status();
    scores.precision_at_10 = *p;
  }
  return scores;
}

}  // namespace

absl::StatusOr<TrainedModel> TrainAndEvaluate(
    const v1::CollectionSpec& collection, const v1::ModelSpec& spec, const LabelledMatrix& train,
    const ValidationData& validation, const TrainingHooks& hooks, const CancellationFlag& cancel) {
  if (spec.has_classifier()) {
    return absl::InvalidArgumentError("classifiers train with TrainClassifierAndEvaluate");
  }
  const ProgressCallback& progress = hooks.progress;
  const auto start = std::chrono::steady_clock::now();
  const int64_t code_size = CodeSizeOf(spec);
  if (code_size == 0) return absl::InvalidArgumentError("spec has no architecture");
  // PCA baseline, the model's own phases (RBM layers, fine-tuning), evaluate: refined once the
  // auto-encoder reports how many phases it has, so that "evaluate" is always the last.
  int phases = spec.has_pca() ? 2 : 3;  // LSA: baseline, LSA, evaluate.
  auto report_phase = [&](const std::string& name, int index) {
    TrainingProgress p;
    p.phase = name;
    p.phase_index = index;
    p.phase_count = phases;
    p.elapsed_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (progress) progress(p);
  };

  // PCA's and LSA's own reports (blocks of rows, then the eigen-decomposition) as the job's
  // phase `index`: "PCA baseline: covariance" with the blocks as steps and no epochs (they are
  // not epochs of the job's history). Their ETA is the job's only when that computation is the
  // model (a PCA or LSA spec); before an auto-encoder the rest of the job is unknown.
  auto sub_phases = [&](const std::string& name, int index, bool is_model) -> ProgressCallback {
    if (!progress) return nullptr;
    const std::string rows = std::to_string(train.x.rows), cols = std::to_string(train.x.cols);
    return [&progress, &phases, start, name, index, is_model, rows,
            cols](const TrainingProgress& p) {
      TrainingProgress q = p;
      // "PCA covariance" -> "PCA baseline: covariance of 5000 rows" (of 784 values each).
      const size_t space = p.phase.find(' ');
      q.phase = name + ": " + (space == std::string::npos ? p.phase : p.phase.substr(space + 1)) +
                (p.phase_index == 1 ? " of " + rows + " rows"
                                    : " of a " + cols + " x " + cols + " matrix");
      q.phase_index = index;
      q.phase_count = phases;
      q.epoch = 0;
      q.epochs = 0;
      if (p.phase_index != 1) {  // The eigen-decomposition is one step, not blocks of rows.
        q.step = 0;
        q.steps_per_epoch = 0;
        q.samples_per_second = 0;
      }
      q.eta_seconds = is_model ? p.eta_seconds : -1;
      q.elapsed_seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      progress(q);
    };
  };

  // Phase 1: the PCA baseline of the same code size (or the model itself for a PCA spec).
  report_phase("PCA baseline", 1);
  PcaOptions pca_options;
  pca_options.cancel = &cancel;
  pca_options.progress = sub_phases("PCA baseline", 1, spec.has_pca());
  auto pca =
      FitPca(train.x, static_cast<int>(std::min<int64_t>(code_size, train.x.cols)), pca_options);
  if (!pca.ok()) return pca.status();
  if (cancel.cancelled()) return absl::CancelledError("cancelled");

  TrainedModel result;
  v1::EvaluationReport& report = result.report;
  const bool by_label = validation.heldout.x.rows > 0;
  if (spec.has_pca()) {
    result.model = std::move(*pca);
  } else if (spec.has_lsa()) {
    report_phase("LSA", 2);
    LsaOptions lsa_options;
    lsa_options.cancel = &cancel;
    lsa_options.progress = sub_phases("LSA", 2, true);
    auto lsa = FitLsa(train.x, static_cast<int>(code_size), lsa_options);
    if (!lsa.ok()) return lsa.status();
    result.model = std::move(*lsa);
  } else {
    // Phases: PCA baseline, the auto-encoder's own phases (RBM layers, fine-tune), evaluate.
    ProgressCallback nested = [&](const TrainingProgress& p) {
      TrainingProgress shifted = p;
      shifted.phase_index = 1 + std::max(1, p.phase_index);
      shifted.phase_count = 2 + std::max(1, p.phase_count);
      phases = shifted.phase_count;
      if (progress) progress(shifted);
    };
    auto trained = TrainAutoencoder(collection, spec, train,
                                    by_label ? validation.heldout.x : validation.validation.x,
                                    hooks, nested, cancel);
    if (!trained.ok()) return trained.status();
    result.model = std::move(trained->model);
    report.set_epochs_run(trained->epochs_run);
    report.set_best_epoch(trained->best_epoch);
  }
  const Model& baseline = spec.has_pca() ? *result.model : **pca;

  report_phase("evaluate", phases);
  const CodeDistance distance = DistanceFor(collection);
  report.set_validation(by_label ? v1::VALIDATION_SPLIT_BY_LABEL : v1::VALIDATION_SPLIT_RANDOM);
  report.set_validation_items(validation.validation.x.rows);
  auto model_scores = Score(*result.model, train, validation.validation, distance);
  if (!model_scores.ok()) return model_scores.status();
  // PCA codes are real-valued: by L2 when the model's codes are bits (Hamming).
  auto pca_scores = Score(baseline, train, validation.validation,
                          distance == CodeDistance::kHamming ? CodeDistance::kL2 : distance);
  if (!pca_scores.ok()) return pca_scores.status();
  report.set_reconstruction_error(model_scores->error);
  report.set_precision_at_10(model_scores->precision_at_10);
  report.set_pca_reconstruction_error(pca_scores->error);
  report.set_pca_precision_at_10(pca_scores->precision_at_10);
  if (by_label) {
    for (const std::string& label : validation.heldout_labels) report.add_heldout_labels(label);
    report.set_heldout_items(validation.heldout.x.rows);
    auto heldout = ReconstructionError(*result.model, validation.heldout.x);
    if (!heldout.ok()) return heldout.status();
    auto heldout_pca = ReconstructionError(baseline, validation.heldout.x);
    if (!heldout_pca.ok()) return heldout_pca.status();
    report.set_heldout_reconstruction_error(*heldout);
    report.set_heldout_pca_reconstruction_error(*heldout_pca);
  }
  report.set_training_seconds(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  return result;
}

}  // namespace bn
