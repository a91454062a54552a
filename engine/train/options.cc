#include "engine/train/options.h"

#include <cmath>
#include <string>

#include "engine/nn/dropout.h"
#include "engine/train/neighbour_targets.h"

namespace bn {

absl::Status ValidateTrainOptions(const TrainOptions& options) {
  if (options.batch_size < 1 || options.epochs < 0 || !(options.learning_rate > 0) ||
      !(options.validation_fraction >= 0) || options.validation_fraction >= 1) {
    return absl::InvalidArgumentError("bad training options");
  }
  if (!(options.dropout >= 0) || options.dropout > kMaxDropoutRate) {
    return absl::InvalidArgumentError("dropout must be in [0, 0.9]");
  }
  if (options.neighbour_count < 0 || options.neighbour_count > kMaxNeighbourCount ||
      !(options.neighbour_weight >= 0) || options.neighbour_weight > 1) {
    return absl::InvalidArgumentError("neighbour targets need a count in 0.." +
                                      std::to_string(kMaxNeighbourCount) +
                                      " and a weight in [0, 1]");
  }
  switch (options.lr_schedule) {
    case LrSchedule::kConstant:
      break;
    case LrSchedule::kStep:
      if (options.lr_step_epochs < 1 || !(options.lr_step_gamma > 0) || options.lr_step_gamma > 1) {
        return absl::InvalidArgumentError("bad step schedule");
      }
      break;
    case LrSchedule::kCosine:
      if (!(options.lr_min_factor >= 0) || options.lr_min_factor > 1) {
        return absl::InvalidArgumentError("bad cosine schedule");
      }
      break;
    default:
      return absl::InvalidArgumentError("unknown learning-rate schedule");
  }
  return absl::OkStatus();
}

float LearningRateAt(const TrainOptions& options, int epoch) {
  const double lr = options.learning_rate;
  switch (options.lr_schedule) {
    case LrSchedule::kStep:
      return static_cast<float>(
          lr * std::pow(options.lr_step_gamma, (epoch - 1) / options.lr_step_epochs));
    case LrSchedule::kCosine: {
      if (options.epochs <= 1) return static_cast<float>(lr);
      const double t = static_cast<double>(epoch - 1) / (options.epochs - 1);
      const double floor = lr * options.lr_min_factor;
      return static_cast<float>(floor + (lr - floor) * 0.5 * (1 + std::cos(3.14159265358979 * t)));
    }
    default:
      return static_cast<float>(lr);
  }
}

}  // namespace bn
