// TrainClassifierAndEvaluate (trainer.h): a classifier version's computation. The reused encoder
// layers come from the auto-encoder version as they are (weights, biases, activations: ReLU or
// logistic hidden layers, a linear or logistic code layer); the layers after them and the
// softmax layer start from random weights.
#include <algorithm>
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "engine/model/autoencoder.h"
#include "engine/model/classifier.h"
#include "engine/train/classifier_trainer.h"
#include "server/core/trainer.h"
#include "server/core/trainer_options.h"

namespace bn {

namespace v1 = ::bottleneck::v1;

namespace {

bool AllLabelled(const LabelledMatrix& m) {
  return static_cast<int64_t>(m.labels.size()) == m.x.rows &&
         std::all_of(m.labels.begin(), m.labels.end(), [](int l) { return l >= 0; });
}

// The engine spec and initial layers of `c` for inputs of `input_size` and `classes` labels.
absl::Status ToEngineClassifier(const v1::ClassifierSpec& c, const Model* encoder,
                                int64_t input_size, int classes, ClassifierSpec* spec,
                                ClassifierInit* init) {
  spec->input_size = input_size;
  spec->num_classes = classes;
  spec->hidden_sizes.clear();
  spec->hidden_activations.clear();
  spec->pretraining = false;
  if (c.encoder_model_version() != 0) {
    const std::string version = "model version " + std::to_string(c.encoder_model_version());
    if (encoder == nullptr) return absl::InternalError(version + " was not loaded");
    auto layers = DenseEncoderLayers(*encoder);
    if (!layers.ok()) {
      return absl::FailedPreconditionError(version + " is not a dense auto-encoder");
    }
    if (c.encoder_layers() < 1 || c.encoder_layers() > layers->size()) {
      return absl::FailedPreconditionError(
          "classifier.encoder_layers is " + std::to_string(c.encoder_layers()) + "; " + version +
          " has " + std::to_string(layers->size()) + " encoder layers");
    }
    layers->resize(c.encoder_layers());
    if (layers->front().in_size != input_size) {
      return absl::FailedPreconditionError(
          version + " takes " + std::to_string(layers->front().in_size) +
          " inputs; the dataset's rows have " + std::to_string(input_size));
    }
    for (const DenseLayerWeights& l : *layers) {
      spec->hidden_sizes.push_back(l.out_size);
      spec->hidden_activations.push_back(l.activation);
    }
    init->layers = std::move(*layers);
    init->freeze = c.freeze_encoder();
  }
  for (uint32_t size : c.hidden_sizes()) {
    spec->hidden_sizes.push_back(size);
    spec->hidden_activations.push_back(ToEngineActivation(c.hidden_activation()));
  }
  return ValidateClassifierSpec(*spec);
}

}  // namespace

absl::StatusOr<TrainedModel> TrainClassifierAndEvaluate(
    const v1::CollectionSpec& collection, const v1::ModelSpec& spec, const Model* encoder,
    const LabelledMatrix& train, const ValidationData& validation, const TrainingHooks& hooks,
    const CancellationFlag& cancel) {
  if (!spec.has_classifier()) return absl::InvalidArgumentError("not a classifier spec");
  const auto start = std::chrono::steady_clock::now();
  const LabelledMatrix& held = validation.validation;
  if (!AllLabelled(train) || !AllLabelled(held)) {
    return absl::FailedPreconditionError(
        "a classifier trains on labels: every example of the dataset needs one");
  }
  const int classes = static_cast<int>(train.label_names.size());
  if (classes < 2) {
    return absl::FailedPreconditionError(
        "a classifier needs at least two distinct labels; the dataset has " +
        std::to_string(classes));
  }
  ClassifierSpec engine_spec;
  ClassifierInit init;
  if (absl::Status s = ToEngineClassifier(spec.classifier(), encoder, train.x.cols, classes,
                                          &engine_spec, &init);
      !s.ok()) {
    return s;
  }
  TrainOptions options = ToEngineOptions(spec, hooks);
  std::optional<ImageAugmenter> augmenter;  // Outlives the training run.
  if (absl::Status s = SetUpAugmentation(collection, spec, &augmenter, &options); !s.ok()) {
    return s;
  }
  // Phases: the classifier's own (fine-tune), then "evaluate".
  int phases = 2;
  ProgressCallback nested = [&](const TrainingProgress& p) {
    TrainingProgress shifted = p;
    shifted.phase_count = std::max(1, p.phase_count) + 1;
    phases = shifted.phase_count;
    if (hooks.progress) hooks.progress(shifted);
  };
  auto trained = TrainClassifier(train.x, train.labels, &held.x, &held.labels, engine_spec, init,
                                 options, nested, &cancel);
  if (!trained.ok()) return trained.status();

  if (hooks.progress) {
    TrainingProgress p;
    p.phase = "evaluate";
    p.phase_index = phases;
    p.phase_count = phases;
    p.elapsed_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    hooks.progress(p);
  }
  TrainedModel result;
  result.model = std::move(trained->model);
  // The stored model's error on the validation rows (the weights of the best epoch).
  std::vector<float> probs(static_cast<size_t>(held.x.rows) * classes);
  if (absl::Status s = result.model->Encode(held.x.data.data(), held.x.rows, probs.data());
      !s.ok()) {
    return s;
  }
  v1::EvaluationReport& report = result.report;
  report.set_validation(v1::VALIDATION_SPLIT_RANDOM);
  report.set_validation_items(held.x.rows);
  report.set_classification_error(
      MisclassifiedFraction(probs.data(), held.labels.data(), held.x.rows, classes));
  report.set_epochs_run(trained->epochs_run);
  report.set_best_epoch(trained->best_epoch);
  report.set_training_seconds(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  return result;
}

}  // namespace bn
