#include "engine/train/classifier_trainer.h"

#include <new>
#include <string>
#include <utility>

#include "engine/model/classifier_net.h"
#include "engine/nn/context.h"
#include "engine/train/loop.h"
#include "engine/train/rbm_pretraining.h"

namespace bn {
namespace {

absl::Status CheckRows(const FloatMatrix& x, const std::vector<int>& labels,
                       const ClassifierSpec& spec, const char* what) {
  if (x.cols != spec.input_size || static_cast<int64_t>(x.data.size()) != x.rows * x.cols ||
      static_cast<int64_t>(labels.size()) != x.rows) {
    return absl::InvalidArgumentError(std::string(what) + " data does not match the spec");
  }
  for (int y : labels) {
    if (y < 0 || y >= spec.num_classes) {
      return absl::InvalidArgumentError(std::string(what) + " label out of range");
    }
  }
  return absl::OkStatus();
}

// The trained net and the loop's statistics (TrainResult::model stays null).
struct Trained {
  std::unique_ptr<ClassifierNet> net;
  TrainResult result;
};

absl::StatusOr<Trained> Train(const FloatMatrix& x, const std::vector<int>& labels,
                              const FloatMatrix* validation_x,
                              const std::vector<int>* validation_labels, const ClassifierSpec& spec,
                              const ClassifierInit& init, const TrainOptions& options,
                              const ProgressCallback& progress, const CancellationFlag* cancel) {
  if (absl::Status s = ValidateClassifierSpec(spec); !s.ok()) return s;
  if (x.rows < 1) return absl::InvalidArgumentError("no training rows");
  if (absl::Status s = CheckRows(x, labels, spec, "classifier"); !s.ok()) return s;
  if ((validation_x == nullptr) != (validation_labels == nullptr)) {
    return absl::InvalidArgumentError("validation rows and labels go together");
  }
  if (validation_x != nullptr) {
    if (absl::Status s = CheckRows(*validation_x, *validation_labels, spec, "validation");
        !s.ok()) {
      return s;
    }
  }
  if (spec.pretraining && !init.layers.empty()) {
    return absl::InvalidArgumentError(
        "RBM pre-training and given initial layers exclude each other");
  }
  if (absl::Status s = ValidateTrainOptions(options); !s.ok()) return s;
  if (options.neighbour_count > 0) {
    return absl::InvalidArgumentError("neighbour targets apply to document auto-encoders only");
  }
  SetNnThreads(options.threads);
  auto created = ClassifierNet::Create(spec);
  if (!created.ok()) return created.status();
  Trained out;
  out.net = std::move(*created);
  ClassifierNet* net = out.net.get();
  net->InitWeights(options.seed);
  if (absl::Status s = net->SetLayers(init.layers); !s.ok()) return s;
  if (init.freeze) net->set_frozen_layers(static_cast<int>(init.layers.size()));
  net->set_dropout(options.dropout);

  LoopSettings settings;  // No corruption, no code noise.
  // Phases: one RBM per hidden layer, then fine-tuning.
  settings.phase_count = spec.pretraining ? static_cast<int>(spec.hidden_sizes.size()) + 1 : 1;
  if (spec.pretraining) {
    settings.pretrain = [&](const Examples& rows) {
      return PretrainClassifier(*rows.x, options, settings.phase_count, progress, cancel, net);
    };
  }
  const Examples validation{validation_x, validation_labels};
  auto result = RunTrainingLoop({&x, &labels}, validation_x != nullptr ? &validation : nullptr,
                                options, settings, progress, cancel, net);
  if (!result.ok()) return result.status();
  out.result = std::move(*result);
  return out;
}

// Backend exceptions become Statuses here: none crosses the engine's API.
template <typename F>
auto Guarded(F train) -> decltype(train()) {
  try {
    return train();
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError("out of memory while training the classifier");
  } catch (const dnnl::error& e) {
    return DnnlError("training the classifier", e);
  } catch (const std::exception& e) {
    return absl::InternalError(std::string("training the classifier failed: ") + e.what());
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<DenseClassifier>> TrainDenseClassifier(
    const FloatMatrix& x, const std::vector<int>& labels, const ClassifierSpec& spec,
    const TrainOptions& options, const ProgressCallback& progress, const CancellationFlag* cancel) {
  return Guarded([&]() -> absl::StatusOr<std::unique_ptr<DenseClassifier>> {
    auto trained = Train(x, labels, nullptr, nullptr, spec, {}, options, progress, cancel);
    if (!trained.ok()) return trained.status();
    return NewDenseClassifier(std::move(trained->net));
  });
}

absl::StatusOr<TrainResult> TrainClassifier(const FloatMatrix& x, const std::vector<int>& labels,
                                            const FloatMatrix* validation_x,
                                            const std::vector<int>* validation_labels,
                                            const ClassifierSpec& spec, const ClassifierInit& init,
                                            const TrainOptions& options,
                                            const ProgressCallback& progress,
                                            const CancellationFlag* cancel) {
  return Guarded([&]() -> absl::StatusOr<TrainResult> {
    auto trained =
        Train(x, labels, validation_x, validation_labels, spec, init, options, progress, cancel);
    if (!trained.ok()) return trained.status();
    TrainResult result = std::move(trained->result);
    result.model = NewClassifierModel(std::move(trained->net));
    return result;
  });
}

}  // namespace bn
