#include "engine/train/options.h"

namespace bn {

absl::Status ValidateTrainOptions(const TrainOptions& options) {
  if (options.batch_size < 1 || options.epochs < 0 || !(options.learning_rate > 0) ||
      !(options.validation_fraction >= 0) || options.validation_fraction >= 1) {
    return absl::InvalidArgumentError("bad training options");
  }
  return absl::OkStatus();
}

}  // namespace bn
