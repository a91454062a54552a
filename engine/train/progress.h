// The progress and cancellation types every trainer takes: TrainingProgress / ProgressCallback
// (engine/util/progress.h) and CancellationFlag (engine/util/cancellation.h). They live in util/
// so that models (PCA, LSA, the RBM) can use them; this header gathers them for callers of the
// trainers (server/core includes it).
#ifndef BOTTLENECK_ENGINE_TRAIN_PROGRESS_H_
#define BOTTLENECK_ENGINE_TRAIN_PROGRESS_H_

#include "engine/util/cancellation.h"
#include "engine/util/progress.h"

#endif  // BOTTLENECK_ENGINE_TRAIN_PROGRESS_H_
