#include "engine/train/rbm_pretraining.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <functional>
#include <memory>
#include <string>
#include <utility>

#include "engine/model/rbm.h"

namespace bn {
namespace {

// One RBM of a greedy stack. options.seed is set by TrainStack.
struct StackLayer {
  int64_t visible = 0, hidden = 0;
  RbmVisible vtype = RbmVisible::kBinary;
  RbmHidden htype = RbmHidden::kBinary;
  RbmOptions options;
  const std::vector<float>* lengths = nullptr;  // the rows' document lengths (softmax visible)
};

// Cost of an epoch in "RBM units": rows x visible x hidden, the multiply-adds of a CD pass up to
// a constant factor (the same for every layer).
double EpochCost(int64_t rows, const StackLayer& layer) {
  return static_cast<double>(rows) * static_cast<double>(layer.visible) *
         static_cast<double>(layer.hidden);
}

// Fine-tuning that follows pre-training, in the same units: an epoch of a net whose layers have
// these weights, at `per_weight` units per weight and row. Measured on Fashion-MNIST
// (784-1000-500-250-30, 2 threads, Adam): an RBM epoch runs at 7.5e9 units/s and a fine-tuning
// epoch at 7.3e9 rows x encoder weights/s, so a mirrored auto-encoder's fine-tuning costs about
// 1.0 unit per encoder weight and row (forward and backward through encoder and decoder), and a
// classifier's about half.
double FineTuneCost(int64_t rows, int epochs, const std::vector<StackLayer>& layers,
                    double per_weight) {
  double cost = 0;
  for (const StackLayer& layer : layers) cost += EpochCost(rows, layer);
  return cost * per_weight * std::max(0, epochs);
}

// Trains the RBMs bottom-up, each on the previous one's hidden probabilities, and hands each
// trained RBM to `unroll`. RBM l is initialised from seed + 100 + l and trained with seed + 200 +
// l. Progress: each epoch's end (as a whole epoch of mini-batch steps, so that it counts as an
// epoch in job histories), with an ETA for the rest of pre-training plus `finetune_cost` (the
// fine-tuning to come, in EpochCost's units) at the rate measured so far.
absl::Status TrainStack(const FloatMatrix& train, const std::vector<StackLayer>& layers,
                        uint64_t seed, int phase_count, double finetune_cost,
                        const ProgressCallback& progress, const CancellationFlag* cancel,
                        const std::function<void(size_t, Rbm&)>& unroll) {
  FloatMatrix owned;
  const FloatMatrix* data = &train;
  const auto start = std::chrono::steady_clock::now();
  double pretrain_cost = 0;  // All the layers' epochs.
  for (const StackLayer& layer : layers) {
    pretrain_cost += EpochCost(train.rows, layer) * std::max(0, layer.options.epochs);
  }
  double done_before = 0;  // The finished layers' epochs.
  for (size_t l = 0; l < layers.size(); ++l) {
    const StackLayer& layer = layers[l];
    auto rbm = Rbm::Create(layer.visible, layer.hidden, layer.vtype, layer.htype);
    if (!rbm.ok()) return rbm.status();
    (*rbm)->Initialize(seed + 100 + static_cast<uint64_t>(l));
    RbmOptions ro = layer.options;
    ro.seed = seed + 200 + static_cast<uint64_t>(l);
    const std::string phase =
        "RBM layer " + std::to_string(l + 1) + "/" + std::to_string(layers.size());
    const auto layer_start = std::chrono::steady_clock::now();
    auto on_epoch = [&](int epoch, double err) {
      if (!progress) return;
      TrainingProgress p;
      p.phase = phase;
      p.phase_index = static_cast<int>(l) + 1;
      p.phase_count = phase_count;
      p.epoch = epoch;
      p.epochs = ro.epochs;
      p.steps_per_epoch = (data->rows + ro.batch_size - 1) / std::max(1, ro.batch_size);
      p.step = p.steps_per_epoch;
      p.loss = err;
      const auto now = std::chrono::steady_clock::now();
      p.elapsed_seconds = std::chrono::duration<double>(now - start).count();
      p.samples_per_second =
          data->rows * static_cast<double>(epoch) /
          std::max(1e-9, std::chrono::duration<double>(now - layer_start).count());
      const double done = done_before + EpochCost(data->rows, layer) * epoch;
      p.eta_seconds =
          (pretrain_cost - done + finetune_cost) * p.elapsed_seconds / std::max(done, 1e-9);
      progress(p);
    };
    if (absl::Status s = (*rbm)->Train(*data, layer.lengths, ro, on_epoch, cancel); !s.ok()) {
      return s;
    }
    unroll(l, **rbm);
    done_before += EpochCost(data->rows, layer) * std::max(0, ro.epochs);
    if (l + 1 < layers.size()) {
      auto next = (*rbm)->HiddenMeans(*data, layer.lengths);
      if (!next.ok()) return next.status();
      owned = std::move(*next);
      data = &owned;
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status PretrainWithRbms(const FloatMatrix& train, const std::vector<float>* document_lengths,
                              const TrainOptions& options, int phase_count,
                              const ProgressCallback& progress, const CancellationFlag* cancel,
                              AutoencoderNet* net) {
  if (document_lengths != nullptr && static_cast<int64_t>(document_lengths->size()) != train.rows) {
    return absl::InvalidArgumentError("one document length per training row expected");
  }
  const float max_mean = options.pretrain_max_mean_document_length;
  if (!(max_mean >= 0) || !std::isfinite(max_mean)) {
    return absl::InvalidArgumentError("the maximum mean document length must be finite and >= 0");
  }
  // Long documents: every length scaled so that the mean is max_mean (TrainOptions).
  std::vector<float> scaled_lengths;
  if (document_lengths != nullptr && max_mean > 0 && !document_lengths->empty()) {
    double sum = 0;
    for (float l : *document_lengths) sum += l;
    const double mean = sum / static_cast<double>(document_lengths->size());
    if (mean > max_mean) {
      const double scale = max_mean / mean;
      for (float l : *document_lengths) scaled_lengths.push_back(static_cast<float>(l * scale));
      document_lengths = &scaled_lengths;
    }
  }
  const DenseAutoencoderSpec& spec = net->spec();
  const std::vector<int64_t> mirror(spec.encoder_sizes.rbegin(), spec.encoder_sizes.rend());
  if (spec.decoder_sizes != mirror) {
    return absl::InvalidArgumentError("RBM pre-training needs a mirrored decoder");
  }
  if (spec.hidden_activation != Activation::kLogistic ||
      (spec.code_activation != Activation::kLogistic &&
       spec.code_activation != Activation::kLinear)) {
    return absl::InvalidArgumentError(
        "RBM pre-training needs logistic hidden units and a linear or logistic code");
  }
  // One RBM per encoder layer up to the code: a replicated softmax first with a softmax output,
  // linear hidden units last with a linear code.
  const int rbms = net->code_layer() + 1;
  std::vector<StackLayer> layers(static_cast<size_t>(rbms));
  for (int l = 0; l < rbms; ++l) {
    StackLayer& s = layers[static_cast<size_t>(l)];
    s.visible = net->layer(l).in_size();
    s.hidden = net->layer(l).out_size();
    const bool softmax = l == 0 && spec.output == OutputKind::kSoftmaxCrossEntropy;
    const bool gaussian = l == 0 && spec.gaussian_visible;
    s.vtype = softmax    ? RbmVisible::kReplicatedSoftmax
              : gaussian ? RbmVisible::kGaussian
                         : RbmVisible::kBinary;
    s.htype = l == rbms - 1 && spec.code_activation == Activation::kLinear ? RbmHidden::kLinear
                                                                           : RbmHidden::kBinary;
    s.options.epochs = options.pretrain_epochs;
    s.options.batch_size = options.pretrain_batch_size;
    // Linear units on either side (Gaussian visible, linear code) take the small linear rate.
    s.options.learning_rate = softmax ? options.pretrain_softmax_learning_rate
                              : s.htype == RbmHidden::kLinear || gaussian
                                  ? options.pretrain_linear_learning_rate
                                  : options.pretrain_learning_rate;
    s.options.document_length = options.pretrain_document_length;
    s.options.cd_steps = options.pretrain_cd_steps;
    s.lengths = softmax ? document_lengths : nullptr;
  }
  // Unroll: encoder layer l = (W, c) (N_mean W for the replicated softmax, whose input here is
  // the normalised row); mirrored decoder layer = (W^T, b).
  const int num = net->num_layers();
  auto unroll = [&](size_t l, Rbm& rbm) {
    DenseLayer& enc = net->layer(static_cast<int>(l));
    enc.weights() = rbm.weights();
    if (layers[l].vtype == RbmVisible::kReplicatedSoftmax) {
      const float n_mean = rbm.document_length();
      for (float& w : enc.weights()) w *= n_mean;
    }
    enc.bias() = rbm.hidden_bias();
    DenseLayer& dec = net->layer(num - 1 - static_cast<int>(l));
    if (!dec.tied()) {
      const int64_t V = enc.in_size(), H = enc.out_size();
      const std::vector<float>& w = rbm.weights();
      for (int64_t i = 0; i < V; ++i) {
        for (int64_t j = 0; j < H; ++j) dec.weights()[i * H + j] = w[j * V + i];
      }
    }
    dec.bias() = rbm.visible_bias();
  };
  return TrainStack(train, layers, options.seed, phase_count,
                    FineTuneCost(train.rows, options.epochs, layers, 1.0), progress, cancel,
                    unroll);
}

absl::Status PretrainClassifier(const FloatMatrix& train, const TrainOptions& options,
                                int phase_count, const ProgressCallback& progress,
                                const CancellationFlag* cancel, ClassifierNet* net) {
  for (int l = 0; l + 1 < net->num_layers(); ++l) {
    if (net->layer(l).activation() != Activation::kLogistic) {
      return absl::InvalidArgumentError("RBM pre-training needs logistic hidden units");
    }
  }
  // Binary CD-1 RBMs (pretrain_cd_steps and the softmax / linear rates do not apply).
  std::vector<StackLayer> layers(static_cast<size_t>(net->num_layers() - 1));
  for (size_t l = 0; l < layers.size(); ++l) {
    layers[l].visible = net->layer(static_cast<int>(l)).in_size();
    layers[l].hidden = net->layer(static_cast<int>(l)).out_size();
    layers[l].options.epochs = options.pretrain_epochs;
    layers[l].options.batch_size = options.pretrain_batch_size;
    layers[l].options.learning_rate = options.pretrain_learning_rate;
  }
  auto unroll = [&](size_t l, Rbm& rbm) {
    DenseLayer& layer = net->layer(static_cast<int>(l));
    layer.weights() = rbm.weights();
    layer.bias() = rbm.hidden_bias();
  };
  // Fine-tuning runs through every layer, the output layer too, without a decoder.
  std::vector<StackLayer> net_layers(static_cast<size_t>(net->num_layers()));
  for (size_t l = 0; l < net_layers.size(); ++l) {
    net_layers[l].visible = net->layer(static_cast<int>(l)).in_size();
    net_layers[l].hidden = net->layer(static_cast<int>(l)).out_size();
  }
  return TrainStack(train, layers, options.seed, phase_count,
                    FineTuneCost(train.rows, options.epochs, net_layers, 0.5), progress, cancel,
                    unroll);
}

}  // namespace bn
