// The engine's training options for a (normalized) v1 ModelSpec, shared by the auto-encoder
// trainer (trainer.cc) and the classifier trainer (trainer_classifier.cc). Stateless.
#ifndef BOTTLENECK_SERVER_CORE_TRAINER_OPTIONS_H_
#define BOTTLENECK_SERVER_CORE_TRAINER_OPTIONS_H_

#include <optional>

#include "absl/status/status.h"
#include "bottleneck/v1/collection.pb.h"
#include "bottleneck/v1/model.pb.h"
#include "engine/input/augment.h"
#include "engine/nn/dense.h"
#include "engine/train/options.h"
#include "server/core/trainer.h"

namespace bn {

// ACTIVATION_UNSPECIFIED (already replaced by its default in a normalized spec) maps to logistic.
Activation ToEngineActivation(bottleneck::v1::Activation activation);

// spec.training() (optimizer, rates, epochs, schedule, early stopping; best-epoch restore on),
// the dense spec's RBM pre-training options, and the hooks' threads and checkpoints.
TrainOptions ToEngineOptions(const bottleneck::v1::ModelSpec& spec, const TrainingHooks& hooks);

// For an image collection whose spec asks for augmentation: makes the augmenter in `*holder`
// and points options->augment at it (`*holder` must outlive the training run). Nothing for
// documents or no augmentation. InvalidArgument for options that do not fit the geometry.
[[nodiscard]] absl::Status SetUpAugmentation(const bottleneck::v1::CollectionSpec& collection,
                                             const bottleneck::v1::ModelSpec& spec,
                                             std::optional<ImageAugmenter>* holder,
                                             TrainOptions* options);

}  // namespace bn

#endif  // BOTTLENECK_SERVER_CORE_TRAINER_OPTIONS_H_
