#include "engine/train/classifier_trainer.h"

#include <new>
#include <utility>

#include "engine/model/classifier_net.h"
#include "engine/nn/context.h"
#include "engine/train/loop.h"
#include "engine/train/rbm_pretraining.h"

namespace bn {
namespace {

absl::StatusOr<std::unique_ptr<DenseClassifier>> Train(
    const FloatMatrix& x, const std::vector<int>& labels, const ClassifierSpec& spec,
    const TrainOptions& options, const ProgressCallback& progress, const CancellationFlag* cancel) {
  if (absl::Status s = ValidateClassifierSpec(spec); !s.ok()) return s;
  if (x.cols != spec.input_size || x.rows < 1 ||
      static_cast<int64_t>(x.data.size()) != x.rows * x.cols ||
      static_cast<int64_t>(labels.size()) != x.rows) {
    return absl::InvalidArgumentError("classifier data does not match the spec");
  }
  for (int y : labels) {
    if (y < 0 || y >= spec.num_classes) return absl::InvalidArgumentError("label out of range");
  }
  if (absl::Status s = ValidateTrainOptions(options); !s.ok()) return s;
  SetNnThreads(options.threads);
  auto created = ClassifierNet::Create(spec);
  if (!created.ok()) return created.status();
  std::unique_ptr<ClassifierNet> net = std::move(*created);
  net->InitWeights(options.seed);

  LoopSettings settings;  // No corruption, no code noise.
  // Phases: one RBM per hidden layer, then fine-tuning.
  settings.phase_count = spec.pretraining ? static_cast<int>(spec.hidden_sizes.size()) + 1 : 1;
  if (spec.pretraining) {
    settings.pretrain = [&](const Examples& rows) {
      return PretrainClassifier(*rows.x, options, settings.phase_count, progress, cancel,
                                net.get());
    };
  }
  auto result =
      RunTrainingLoop({&x, &labels}, nullptr, options, settings, progress, cancel, net.get());
  if (!result.ok()) return result.status();
  return NewDenseClassifier(std::move(net));
}

}  // namespace

absl::StatusOr<std::unique_ptr<DenseClassifier>> TrainDenseClassifier(
    const FloatMatrix& x, const std::vector<int>& labels, const ClassifierSpec& spec,
    const TrainOptions& options, const ProgressCallback& progress, const CancellationFlag* cancel) {
  // Backend exceptions become Statuses here: none crosses the engine's API.
  try {
    return Train(x, labels, spec, options, progress, cancel);
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError("out of memory while training the classifier");
  } catch (const dnnl::error& e) {
    return DnnlError("training the classifier", e);
  }
}

}  // namespace bn
