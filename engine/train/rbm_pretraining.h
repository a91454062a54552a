// Greedy layer-wise RBM pre-training (Hinton & Salakhutdinov 2006): one Rbm (engine/model/rbm.h)
// per layer, each trained on the previous one's hidden probabilities, then unrolled into a net.
//
// Deterministic in options.seed. Reports phases "RBM layer i/L" (phase_index i of phase_count)
// from the calling thread at each epoch's end, with an ETA that covers the rest of pre-training
// and the options.epochs of fine-tuning that follow (estimated from the layer sizes at the rate
// measured so far); Cancelled when `cancel` (nullable) is set, checked every mini-batch.
#ifndef BOTTLENECK_ENGINE_TRAIN_RBM_PRETRAINING_H_
#define BOTTLENECK_ENGINE_TRAIN_RBM_PRETRAINING_H_

#include <vector>

#include "absl/status/status.h"
#include "engine/model/autoencoder_net.h"
#include "engine/model/classifier_net.h"
#include "engine/train/options.h"
#include "engine/util/cancellation.h"
#include "engine/util/matrix.h"
#include "engine/util/progress.h"

namespace bn {

// Pre-trains net's encoder (the last RBM has linear hidden units unless the code is logistic)
// and unrolls it: encoder weights W, mirrored decoder weights W^T. With a softmax output the
// first RBM is a replicated softmax whose rows have `document_lengths` (nullable: all
// options.pretrain_document_length), scaled down to a mean of
// options.pretrain_max_mean_document_length when longer; its unrolled weights are scaled by
// the mean length.
// InvalidArgument for a net that cannot be pre-trained or lengths that do not match `train`.
[[nodiscard]] absl::Status PretrainWithRbms(const FloatMatrix& train,
                                            const std::vector<float>* document_lengths,
                                            const TrainOptions& options, int phase_count,
                                            const ProgressCallback& progress,
                                            const CancellationFlag* cancel, AutoencoderNet* net);

// Pre-trains the classifier's hidden layers with binary CD-1 RBMs (weights W, biases from the
// hidden biases). InvalidArgument unless the hidden units are logistic.
[[nodiscard]] absl::Status PretrainClassifier(const FloatMatrix& train, const TrainOptions& options,
                                              int phase_count, const ProgressCallback& progress,
                                              const CancellationFlag* cancel, ClassifierNet* net);

}  // namespace bn

#endif  // BOTTLENECK_ENGINE_TRAIN_RBM_PRETRAINING_H_
