#include "engine/train/classifier.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <mutex>
#include <random>
#include <string>

#include "engine/model/rbm.h"
#include "engine/nn/loss.h"
#include "engine/nn/optimizer.h"

namespace bn {
namespace {

class Classifier : public DenseClassifier {
 public:
  Classifier(const ClassifierSpec& spec, std::shared_ptr<NnContext> ctx) : spec_(spec) {
    std::vector<int64_t> sizes = {spec.input_size};
    sizes.insert(sizes.end(), spec.hidden_sizes.begin(), spec.hidden_sizes.end());
    sizes.push_back(spec.num_classes);
    for (size_t l = 0; l + 1 < sizes.size(); ++l) {
      const bool last = l + 2 == sizes.size();
      layers_.push_back(std::make_unique<DenseLayer>(
          ctx, sizes[l], sizes[l + 1], last ? Activation::kLinear : spec.hidden_activation));
    }
  }
  int num_classes() const override { return spec_.num_classes; }
  int64_t input_size() const override { return spec_.input_size; }

  absl::Status Predict(const float* x, int64_t n, float* probs) const override {
    if (n < 0) return absl::InvalidArgumentError("negative row count");
    std::lock_guard<std::mutex> lock(mutex_);
    constexpr int64_t kChunk = 256;
    for (int64_t s = 0; s < n; s += kChunk) {
      const int64_t m = std::min(kChunk, n - s);
      const float* src = x + s * spec_.input_size;
      for (size_t l = 0; l < layers_.size(); ++l) {
        const bool last = l + 1 == layers_.size();
        float* dst = probs + s * spec_.num_classes;
        if (!last) {
          scratch_[l % 2].resize(static_cast<size_t>(m * layers_[l]->out_size()));
          dst = scratch_[l % 2].data();
        }
        if (absl::Status st = layers_[l]->Forward(src, m, dst, false); !st.ok()) return st;
        src = dst;
      }
      ApplyOutputTransform(LossKind::kSoftmaxCrossEntropy, probs + s * spec_.num_classes, m,
                           spec_.num_classes);
    }
    return absl::OkStatus();
  }

  std::vector<std::unique_ptr<DenseLayer>>& layers() { return layers_; }

 private:
  ClassifierSpec spec_;
  mutable std::mutex mutex_;
  std::vector<std::unique_ptr<DenseLayer>> layers_;
  mutable std::vector<float> scratch_[2];
};

absl::StatusOr<std::unique_ptr<DenseClassifier>> TrainImpl(
    const FloatMatrix& x, const std::vector<int>& labels, const ClassifierSpec& spec,
    const TrainOptions& options, const ProgressCallback& progress, const CancellationFlag* cancel) {
  if (spec.input_size < 1 || spec.num_classes < 2 || x.cols != spec.input_size || x.rows < 1 ||
      static_cast<int64_t>(labels.size()) != x.rows || spec.hidden_sizes.size() > 32) {
    return absl::InvalidArgumentError("classifier data or spec invalid");
  }
  for (int64_t s : spec.hidden_sizes) {
    if (s < 1 || s > (1 << 20)) return absl::InvalidArgumentError("bad hidden size");
  }
  for (int y : labels) {
    if (y < 0 || y >= spec.num_classes) return absl::InvalidArgumentError("label out of range");
  }
  if (options.batch_size < 1 || options.epochs < 0 || !(options.learning_rate > 0)) {
    return absl::InvalidArgumentError("bad training options");
  }
  if (spec.pretraining && spec.hidden_activation != Activation::kLogistic) {
    return absl::InvalidArgumentError("RBM pre-training needs logistic hidden units");
  }
  SetNnThreads(options.threads);
  auto ctx = NewNnContext();
  if (!ctx.ok()) return ctx.status();
  auto net = std::make_unique<Classifier>(spec, *ctx);
  auto& layers = net->layers();
  const int phases = spec.pretraining ? static_cast<int>(spec.hidden_sizes.size()) + 1 : 1;
  std::mt19937_64 init(options.seed);
  for (auto& l : layers) {
    const double sd = l->activation() == Activation::kRelu
                          ? std::sqrt(2.0 / l->in_size())
                          : std::sqrt(2.0 / (l->in_size() + l->out_size()));
    std::normal_distribution<double> g(0.0, sd);
    for (float& w : l->weights()) w = static_cast<float>(g(init));
  }
  if (spec.pretraining) {
    FloatMatrix owned;
    const FloatMatrix* data = &x;
    for (size_t l = 0; l + 1 < layers.size(); ++l) {
      auto rbm = Rbm::Create(layers[l]->in_size(), layers[l]->out_size(), RbmVisible::kBinary,
                             RbmHidden::kBinary);
      if (!rbm.ok()) return rbm.status();
      (*rbm)->Initialize(options.seed + 100 + l);
      RbmOptions ro;
      ro.epochs = options.pretrain_epochs;
      ro.batch_size = options.pretrain_batch_size;
      ro.learning_rate = options.pretrain_learning_rate;
      ro.seed = options.seed + 200 + l;
      const std::string phase =
          "RBM layer " + std::to_string(l + 1) + "/" + std::to_string(layers.size() - 1);
      auto on_epoch = [&](int epoch, double err) {
        if (!progress) return;
        TrainingProgress p;
        p.phase = phase;
        p.phase_index = static_cast<int>(l) + 1;
        p.phase_count = phases;
        p.epoch = epoch;
        p.epochs = ro.epochs;
        p.loss = err;
        progress(p);
      };
      if (absl::Status s = (*rbm)->Train(*data, nullptr, ro, on_epoch, cancel); !s.ok()) return s;
      layers[l]->weights() = (*rbm)->weights();
      layers[l]->bias() = (*rbm)->hidden_bias();
      auto next = (*rbm)->HiddenMeans(*data);
      if (!next.ok()) return next.status();
      owned = std::move(*next);
      data = &owned;
    }
  }
  OptimizerOptions oo;
  oo.kind = options.optimizer;
  oo.learning_rate = options.learning_rate;
  oo.momentum = options.momentum;
  oo.weight_decay = options.weight_decay;
  Optimizer opt(oo);
  std::vector<int> wb, bb;
  for (auto& l : layers) {
    wb.push_back(
        opt.AddBlock(l->weights().data(), static_cast<int64_t>(l->weights().size()), true));
    bb.push_back(opt.AddBlock(l->bias().data(), static_cast<int64_t>(l->bias().size()), false));
  }
  const int64_t n = x.rows, d = x.cols, c = spec.num_classes;
  const int64_t batch = std::min<int64_t>(options.batch_size, n);
  const size_t L = layers.size();
  std::vector<std::vector<float>> acts(L + 1), diffs(L + 1), gw(L), gb(L);
  for (size_t l = 0; l < L; ++l) {
    acts[l + 1].resize(static_cast<size_t>(batch * layers[l]->out_size()));
    diffs[l + 1].resize(acts[l + 1].size());
    gw[l].resize(layers[l]->weights().size());
    gb[l].resize(layers[l]->bias().size());
  }
  acts[0].resize(static_cast<size_t>(batch * d));
  std::vector<float> target(static_cast<size_t>(batch * c));
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::mt19937_64 rng(options.seed + 1);
  const auto start = std::chrono::steady_clock::now();
  for (int epoch = 1; epoch <= options.epochs; ++epoch) {
    for (int64_t i = 0; i < n; ++i) order[i] = i;
    for (size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[rng() % i]);
    double loss_sum = 0;
    for (int64_t b0 = 0; b0 < n; b0 += batch) {
      if (cancel != nullptr && cancel->cancelled()) return absl::CancelledError("cancelled");
      const int64_t m = std::min(batch, n - b0);
      std::fill(target.begin(), target.end(), 0.0f);
      for (int64_t r = 0; r < m; ++r) {
        std::copy_n(x.row(order[b0 + r]), d, acts[0].data() + r * d);
        target[r * c + labels[order[b0 + r]]] = 1.0f;
      }
      for (size_t l = 0; l < L; ++l) {
        if (absl::Status s = layers[l]->Forward(acts[l].data(), m, acts[l + 1].data(), true);
            !s.ok()) {
          return s;
        }
      }
      loss_sum += m * LossAndGradient(LossKind::kSoftmaxCrossEntropy, acts[L].data(), target.data(),
                                      m, c, diffs[L].data());
      for (size_t l = L; l-- > 0;) {
        float* diff = diffs[l + 1].data();
        if (absl::Status s = layers[l]->ActivationBackward(m, acts[l + 1].data(), diff, diff);
            !s.ok()) {
          return s;
        }
        if (absl::Status s =
                layers[l]->Backward(m, acts[l].data(), diff, l == 0 ? nullptr : diffs[l].data(),
                                    gw[l].data(), gb[l].data());
            !s.ok()) {
          return s;
        }
      }
      opt.BeginStep();
      for (size_t l = 0; l < L; ++l) {
        opt.Update(wb[l], gw[l].data());
        opt.Update(bb[l], gb[l].data());
      }
    }
    if (progress) {
      TrainingProgress p;
      p.phase = "fine-tune";
      p.phase_index = phases;
      p.phase_count = phases;
      p.epoch = epoch;
      p.epochs = options.epochs;
      p.loss = loss_sum / static_cast<double>(n);
      p.elapsed_seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      p.samples_per_second = static_cast<double>(n) * epoch / std::max(p.elapsed_seconds, 1e-9);
      progress(p);
    }
  }
  return std::unique_ptr<DenseClassifier>(std::move(net));
}

}  // namespace

absl::StatusOr<double> DenseClassifier::ErrorRate(const FloatMatrix& x,
                                                  const std::vector<int>& labels) const {
  if (x.cols != input_size() || static_cast<int64_t>(labels.size()) != x.rows) {
    return absl::InvalidArgumentError("data does not match the classifier");
  }
  if (x.rows == 0) return 0.0;
  std::vector<float> probs(static_cast<size_t>(x.rows * num_classes()));
  if (absl::Status s = Predict(x.data.data(), x.rows, probs.data()); !s.ok()) return s;
  int64_t wrong = 0;
  for (int64_t r = 0; r < x.rows; ++r) {
    const float* p = probs.data() + r * num_classes();
    wrong += (std::max_element(p, p + num_classes()) - p) != labels[r];
  }
  return static_cast<double>(wrong) / static_cast<double>(x.rows);
}

absl::StatusOr<std::unique_ptr<DenseClassifier>> TrainDenseClassifier(
    const FloatMatrix& x, const std::vector<int>& labels, const ClassifierSpec& spec,
    const TrainOptions& options, const ProgressCallback& progress, const CancellationFlag* cancel) {
  try {
    return TrainImpl(x, labels, spec, options, progress, cancel);
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError("out of memory while training the classifier");
  } catch (const dnnl::error& e) {
    return DnnlError("training the classifier", e);
  }
}

}  // namespace bn
