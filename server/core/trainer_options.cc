#include "server/core/trainer_options.h"

#include "server/core/specs.h"

namespace bn {

namespace v1 = ::bottleneck::v1;

Activation ToEngineActivation(v1::Activation a) {
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

TrainOptions ToEngineOptions(const v1::ModelSpec& spec, const TrainingHooks& hooks) {
  const v1::TrainingOptions& t = spec.training();
  TrainOptions out;
  out.optimizer =
      t.optimizer() == v1::OPTIMIZER_KIND_SGD ? OptimizerKind::kSgd : OptimizerKind::kAdam;
  out.learning_rate = t.learning_rate();
  out.momentum = t.momentum();
  out.weight_decay = t.weight_decay();
  out.dropout = t.dropout();
  out.neighbour_count = static_cast<int>(spec.dense().neighbour_targets().count());
  if (out.neighbour_count > 0) out.neighbour_weight = spec.dense().neighbour_targets().weight();
  out.batch_size = static_cast<int>(t.batch_size());
  out.epochs = static_cast<int>(t.epochs());
  out.seed = t.seed();
  out.early_stopping_patience = static_cast<int>(t.early_stopping_patience());
  out.restore_best = !t.keep_last_epoch();  // Patience is 0 then (NormalizeTraining).
  switch (t.lr_schedule()) {
    case v1::LEARNING_RATE_SCHEDULE_STEP:
      out.lr_schedule = LrSchedule::kStep;
      out.lr_step_epochs = static_cast<int>(t.lr_step_epochs());
      out.lr_step_gamma = t.lr_step_gamma();
      break;
    case v1::LEARNING_RATE_SCHEDULE_COSINE:
      out.lr_schedule = LrSchedule::kCosine;
      out.lr_min_factor = t.lr_min_factor();
      break;
    default:
      out.lr_schedule = LrSchedule::kConstant;
  }
  out.threads = hooks.threads;
  const v1::RbmPretraining& p = spec.dense().pretraining();
  if (p.enabled()) {
    out.pretrain_epochs = static_cast<int>(p.epochs_per_layer());
    out.pretrain_batch_size = static_cast<int>(p.batch_size());
    out.pretrain_learning_rate = p.learning_rate();
    out.pretrain_linear_learning_rate = p.code_learning_rate();
    if (p.cd_steps() > 0) out.pretrain_cd_steps = static_cast<int>(p.cd_steps());
    if (p.max_mean_document_length() > 0) {
      out.pretrain_max_mean_document_length = p.max_mean_document_length();
    }
  }
  out.on_checkpoint = hooks.on_checkpoint;
  out.want_checkpoint = hooks.want_checkpoint;
  out.resume_from = hooks.resume_from;
  return out;
}

absl::Status SetUpAugmentation(const v1::CollectionSpec& collection, const v1::ModelSpec& spec,
                               std::optional<ImageAugmenter>* holder, TrainOptions* options) {
  const AugmentOptions augment = AugmentOptionsFrom(spec.training().augmentation());
  if (!collection.has_image() || !augment.enabled()) return absl::OkStatus();
  const v1::ImageGeometry& g = collection.image();
  auto created = ImageAugmenter::Create(augment, g.height(), g.width(), g.channels());
  if (!created.ok()) return created.status();
  *holder = *created;
  options->augment = [holder](float* rows, int64_t m, std::mt19937_64* rng) {
    (*holder)->Apply(rows, m, rng);
  };
  return absl::OkStatus();
}

}  // namespace bn
