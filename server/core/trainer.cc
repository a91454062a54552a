#include "server/core/trainer.h"

#include <algorithm>
#include <chrono>
#include <numeric>
#include <random>

#include "engine/eval/metrics.h"
#include "engine/model/autoencoder.h"
#include "engine/model/conv_autoencoder.h"
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

Activation ToActivation(v1::Activation a) {
  switch (a) {
    case v1::ACTIVATION_RELU:
      return Activation::kRelu;
    case v1::ACTIVATION_TANH:
      return Activation::kTanh;
    case v1::ACTIVATION_LINEAR:
      return Activation::kLinear;
    default:
      return Activation::kLogistic;
  }
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
  out.hidden_activation = ToActivation(d.hidden_activation());
  out.code_activation = ToActivation(d.code_activation());
  out.tied_weights = d.tied_weights();
  if (collection.has_image()) {
    out.output = OutputKind::kLogisticCrossEntropy;  // Pixels in [0, 1].
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
  out.hidden_activation = ToActivation(c.hidden_activation());
  out.unpool =
      c.unpooling() == v1::UNPOOLING_SWITCHES ? UnpoolMode::kSwitches : UnpoolMode::kRepeat;
  out.binary_codes = collection.code_kind() == v1::CODE_KIND_BINARY;
  if (out.binary_codes) out.code_noise_stddev = c.binary().noise_stddev();
  out.corruption = ToCorruption(c.denoising().corruption());
  out.corruption_level = c.denoising().level();
  return out;
}

TrainOptions ToEngineOptions(const v1::ModelSpec& spec, const TrainingHooks& hooks) {
  const v1::TrainingOptions& t = spec.training();
  TrainOptions out;
  out.optimizer =
      t.optimizer() == v1::OPTIMIZER_KIND_SGD ? OptimizerKind::kSgd : OptimizerKind::kAdam;
  out.learning_rate = t.learning_rate();
  out.momentum = t.momentum();
  out.weight_decay = t.weight_decay();
  out.batch_size = static_cast<int>(t.batch_size());
  out.epochs = static_cast<int>(t.epochs());
  out.seed = t.seed();
  out.early_stopping_patience = static_cast<int>(t.early_stopping_patience());
  out.threads = hooks.threads;
  const v1::RbmPretraining& p = spec.dense().pretraining();
  if (p.enabled()) {
    out.pretrain_epochs = static_cast<int>(p.epochs_per_layer());
    out.pretrain_batch_size = static_cast<int>(p.batch_size());
    out.pretrain_learning_rate = p.learning_rate();
    out.pretrain_linear_learning_rate = p.code_learning_rate();
    if (p.cd_steps() > 0) out.pretrain_cd_steps = static_cast<int>(p.cd_steps());
  }
  out.on_checkpoint = hooks.on_checkpoint;
  out.want_checkpoint = hooks.want_checkpoint;
  out.resume_from = hooks.resume_from;
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

absl::StatusOr<TrainedModel> TrainAndEvaluate(
    const v1::CollectionSpec& collection, const v1::ModelSpec& spec, const LabelledMatrix& train,
    const LabelledMatrix& validation, const TrainingHooks& hooks, const CancellationFlag& cancel) {
  const ProgressCallback& progress = hooks.progress;
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
  // PCA baseline, the model's own phases (RBM layers, fine-tuning), evaluate: refined once the
  // auto-encoder reports how many phases it has, so that "evaluate" is always the last.
  int phases = spec.has_pca() ? 2 : 3;
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
    case v1::ModelSpec::kDense: {
      DenseAutoencoderSpec dense = ToEngineSpec(collection, spec, train.x.cols);
      TrainOptions options = ToEngineOptions(spec, hooks);
      if (dense.output == OutputKind::kSoftmaxCrossEntropy && !train.lengths.empty()) {
        options.document_lengths = &train.lengths;
      }
      // Phases: PCA baseline, the auto-encoder's own phases (RBM layers, fine-tune), evaluate.
      ProgressCallback nested = [&](const TrainingProgress& p) {
        TrainingProgress shifted = p;
        shifted.phase_index = 1 + std::max(1, p.phase_index);
        shifted.phase_count = 2 + std::max(1, p.phase_count);
        phases = shifted.phase_count;
        if (progress) progress(shifted);
      };
      auto trained = TrainDenseAutoencoder(train.x, &validation.x, dense, options, nested, &cancel);
      if (!trained.ok()) return trained.status();
      result.model = std::move(trained->model);
      break;
    }
    case v1::ModelSpec::kConv: {
      ConvAutoencoderSpec conv = ToEngineConvSpec(collection, spec.conv());
      TrainOptions options = ToEngineOptions(spec, hooks);
      ProgressCallback nested = [&](const TrainingProgress& p) {
        TrainingProgress shifted = p;
        shifted.phase_index = 2;
        shifted.phase_count = 3;
        if (progress) progress(shifted);
      };
      auto trained = TrainConvAutoencoder(train.x, &validation.x, conv, options, nested, &cancel);
      if (!trained.ok()) return trained.status();
      result.model = std::move(trained->model);
      break;
    }
    default:
      return absl::InvalidArgumentError("spec has no architecture");
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
    // PCA codes are real-valued: by L2 when the model's codes are bits (Hamming).
    auto p = PrecisionAt10(**pca, train, validation,
                           distance == CodeDistance::kHamming ? CodeDistance::kL2 : distance);
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
