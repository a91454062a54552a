#include "engine/model/autoencoder.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <mutex>
#include <random>
#include <sstream>
#include <utility>

#include "engine/model/autoencoder_net.h"
#include "engine/model/model_file.h"
#include "engine/model/rbm.h"
#include "engine/nn/bf16_mlp.h"
#include "engine/train/batching.h"
#include "engine/train/checkpoint.h"
#include "engine/util/log.h"

namespace bn {
namespace {

class DenseAutoencoderModel : public Model {
 public:
  explicit DenseAutoencoderModel(std::unique_ptr<AutoencoderNet> net) : net_(std::move(net)) {}

  ModelKind kind() const override { return ModelKind::kDenseAutoencoder; }
  int64_t input_size() const override { return net_->spec().input_size; }
  int64_t code_size() const override { return net_->spec().code_size; }
  CodeType code_type() const override {
    return net_->spec().binary_codes ? CodeType::kBinary : CodeType::kFloat;
  }
  int64_t parameter_count() const override { return net_->parameter_count(); }

  absl::Status Encode(const float* x, int64_t n, float* codes) const override {
    if (n < 0) return absl::InvalidArgumentError("negative row count");
    std::lock_guard<std::mutex> lock(mutex_);
    if (bf16_encoder_ == nullptr) return net_->Encode(x, n, codes);
    // In chunks, so that primitives are cached for a few batch sizes only.
    const int64_t in = input_size(), out = code_size();
    for (int64_t start = 0; start < n; start += AutoencoderNet::kChunk) {
      const int64_t m = std::min(AutoencoderNet::kChunk, n - start);
      if (absl::Status s = bf16_encoder_->Run(x + start * in, m, codes + start * out); !s.ok()) {
        return s;
      }
    }
    return absl::OkStatus();
  }

  // The encoder's layers (0 .. code layer) as a bf16 stack.
  absl::Status UseBf16Encoder() {
    std::vector<Bf16Mlp::LayerWeights> layers;
    for (int l = 0; l <= net_->code_layer(); ++l) {
      const DenseLayer& layer = net_->layer(l);
      layers.push_back({layer.in_size(), layer.out_size(), layer.weight_data(), layer.bias().data(),
                        layer.activation()});
    }
    auto mlp = Bf16Mlp::Create(layers);
    if (!mlp.ok()) return mlp.status();
    std::lock_guard<std::mutex> lock(mutex_);
    bf16_encoder_ = std::move(*mlp);
    return absl::OkStatus();
  }
  absl::Status Decode(const float* codes, int64_t n, float* x) const override {
    if (n < 0) return absl::InvalidArgumentError("negative row count");
    std::lock_guard<std::mutex> lock(mutex_);
    return net_->Decode(codes, n, x);
  }
  absl::Status SavePayload(std::string* out) const override {
    std::lock_guard<std::mutex> lock(mutex_);
    net_->SavePayload(out);
    return absl::OkStatus();
  }

  static absl::StatusOr<std::unique_ptr<Model>> Load(absl::string_view payload) {
    ByteReader r(payload);
    auto net = AutoencoderNet::LoadPayload(&r);
    if (!net.ok()) return net.status();
    if (!r.at_end()) return absl::InvalidArgumentError("dense auto-encoder payload: extra bytes");
    return std::unique_ptr<Model>(new DenseAutoencoderModel(std::move(*net)));
  }

 private:
  mutable std::mutex mutex_;  // Guards net_'s cached primitives and scratch buffers.
  std::unique_ptr<AutoencoderNet> net_;
  std::unique_ptr<Bf16Mlp> bf16_encoder_;  // Set: Encode runs in bf16 (guarded by mutex_).
};

BN_REGISTER_MODEL_LOADER(kDenseAutoencoder, &DenseAutoencoderModel::Load);

}  // namespace

absl::StatusOr<std::unique_ptr<Model>> WithBf16Encode(std::unique_ptr<Model> model) {
  if (model == nullptr || model->kind() != ModelKind::kDenseAutoencoder) {
    return absl::InvalidArgumentError("bf16 encoding is for dense auto-encoders only");
  }
  // Every kDenseAutoencoder Model is a DenseAutoencoderModel: only this file makes them.
  auto* dense = static_cast<DenseAutoencoderModel*>(model.get());
  if (absl::Status s = dense->UseBf16Encoder(); !s.ok()) return s;
  return model;
}

namespace {

struct LoopState {
  int epoch = 0;  // completed epochs
  double best = INFINITY;
  int since_best = 0;
  std::vector<float> best_params;
};

// The loop's state as a checkpoint (engine/train/checkpoint.h), identified by the net's spec.
std::string SaveCheckpoint(const AutoencoderNet& net, const Optimizer& opt,
                           const std::mt19937_64& rng, const LoopState& st,
                           const TrainResult& result) {
  TrainingCheckpoint c;
  c.epoch = st.epoch;
  c.params = net.FlatParameters();
  c.rng = rng;
  c.best = st.best;
  c.since_best = st.since_best;
  c.best_params = st.best_params;
  c.validation_error = result.validation_error;
  c.train_loss = result.train_loss;
  std::string spec;
  net.SaveSpec(&spec);
  return EncodeTrainingCheckpoint(spec, c, opt);
}

absl::Status LoadCheckpoint(absl::string_view bytes, AutoencoderNet* net, Optimizer* opt,
                            std::mt19937_64* rng, LoopState* st, TrainResult* result) {
  std::string spec;
  net->SaveSpec(&spec);
  TrainingCheckpoint c;
  if (absl::Status s = DecodeTrainingCheckpoint(bytes, spec, net->parameter_count(), opt, &c);
      !s.ok()) {
    return s;
  }
  net->SetFlatParameters(c.params);
  *rng = c.rng;
  st->epoch = static_cast<int>(std::min<int64_t>(c.epoch, 1 << 30));
  st->best = c.best;
  st->since_best = static_cast<int>(std::min<int64_t>(c.since_best, 1 << 30));
  st->best_params = std::move(c.best_params);
  result->validation_error = c.validation_error;
  result->train_loss = c.train_loss;
  result->epochs_run = st->epoch;
  return absl::OkStatus();
}

absl::StatusOr<double> NetError(AutoencoderNet* net, const FloatMatrix& x) {
  if (x.rows == 0) return 0.0;
  FloatMatrix codes(x.rows, net->spec().code_size);
  FloatMatrix recon(x.rows, x.cols);
  if (absl::Status s = net->Encode(x.data.data(), x.rows, codes.data.data()); !s.ok()) return s;
  if (absl::Status s = net->Decode(codes.data.data(), x.rows, recon.data.data()); !s.ok()) {
    return s;
  }
  return SumSquaredError(recon.data.data(), x.data.data(), x.rows * x.cols) /
         static_cast<double>(x.rows);
}

absl::StatusOr<TrainResult> TrainImpl(const FloatMatrix& train_in, const FloatMatrix* validation,
                                      const DenseAutoencoderSpec& spec, const TrainOptions& options,
                                      const ProgressCallback& progress,
                                      const CancellationFlag* cancel) {
  if (absl::Status s = ValidateSpec(spec); !s.ok()) return s;
  if (train_in.cols != spec.input_size || train_in.rows < 1 ||
      static_cast<int64_t>(train_in.data.size()) != train_in.rows * train_in.cols) {
    return absl::InvalidArgumentError("training matrix does not match input_size");
  }
  if (validation != nullptr &&
      (validation->cols != spec.input_size ||
       static_cast<int64_t>(validation->data.size()) != validation->rows * validation->cols)) {
    return absl::InvalidArgumentError("validation matrix does not match input_size");
  }
  if (options.batch_size < 1 || options.epochs < 0 || !(options.learning_rate > 0) ||
      !(options.code_noise_stddev >= 0) || options.code_noise_stddev > 1e3f ||
      options.validation_fraction < 0 || options.validation_fraction >= 1) {
    return absl::InvalidArgumentError("bad training options");
  }
  SetNnThreads(options.threads);
  if (options.document_lengths != nullptr &&
      static_cast<int64_t>(options.document_lengths->size()) != train_in.rows) {
    return absl::InvalidArgumentError("one document length per training row expected");
  }
  if (options.document_lengths != nullptr) {
    for (float l : *options.document_lengths) {
      if (!(l > 0) || !std::isfinite(l)) {
        return absl::InvalidArgumentError("document lengths must be finite and positive");
      }
    }
  }
  // Hold out a seeded validation subset if asked and none is given (lengths follow their rows).
  const FloatMatrix* train = &train_in;
  const std::vector<float>* lengths = options.document_lengths;
  FloatMatrix train_part, val_part;
  std::vector<float> lengths_part;
  if (validation == nullptr && options.validation_fraction > 0) {
    std::vector<int64_t> idx(static_cast<size_t>(train_in.rows));
    for (int64_t i = 0; i < train_in.rows; ++i) idx[i] = i;
    std::mt19937_64 split_rng(options.seed ^ 0x5eedull);
    Shuffle(&idx, &split_rng);
    const int64_t nv = static_cast<int64_t>(options.validation_fraction * train_in.rows);
    if (nv >= 1 && nv < train_in.rows) {
      val_part = FloatMatrix(nv, train_in.cols);
      train_part = FloatMatrix(train_in.rows - nv, train_in.cols);
      for (int64_t i = 0; i < train_in.rows; ++i) {
        float* dst = i < nv ? val_part.row(i) : train_part.row(i - nv);
        std::copy_n(train_in.row(idx[i]), train_in.cols, dst);
        if (lengths != nullptr && i >= nv) lengths_part.push_back((*lengths)[idx[i]]);
      }
      if (lengths != nullptr) lengths = &lengths_part;
      train = &train_part;
      validation = &val_part;
    }
  }
  DenseAutoencoderSpec net_spec = spec;
  if (spec.binary_codes) net_spec.code_activation = Activation::kLogistic;
  auto net_or = AutoencoderNet::Create(net_spec);
  if (!net_or.ok()) return net_or.status();
  std::unique_ptr<AutoencoderNet> net = std::move(*net_or);
  net->InitWeights(options.seed);
  const auto start = std::chrono::steady_clock::now();
  auto elapsed = [&]() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  const int phases = spec.pretraining ? 1 + static_cast<int>(spec.encoder_sizes.size()) + 1 : 1;
  if (spec.pretraining && options.resume_from == nullptr) {
    if (absl::Status s =
            PretrainWithRbms(*train, lengths, options, phases, progress, cancel, net.get());
        !s.ok()) {
      return s;
    }
  }

  OptimizerOptions oo;
  oo.kind = options.optimizer;
  oo.learning_rate = options.learning_rate;
  oo.momentum = options.momentum;
  oo.weight_decay = options.weight_decay;
  Optimizer optimizer(oo);
  net->RegisterParameters(&optimizer);

  const int64_t n = train->rows, d = train->cols, k = spec.code_size;
  const int64_t batch = std::min<int64_t>(options.batch_size, n);
  const int64_t steps = (n + batch - 1) / batch;
  std::vector<int64_t> order(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) order[i] = i;
  std::mt19937_64 rng(options.seed + 1);
  std::vector<float> xb(static_cast<size_t>(batch * d)), tb(xb.size());
  std::vector<float> noise(static_cast<size_t>(batch * k));
  TrainResult result;
  LoopState st;
  if (options.resume_from != nullptr) {
    if (absl::Status s =
            LoadCheckpoint(*options.resume_from, net.get(), &optimizer, &rng, &st, &result);
        !s.ok()) {
      return s;
    }
  }
  double& best = st.best;
  std::vector<float>& best_params = st.best_params;
  int& since_best = st.since_best;
  const double finetune_start = elapsed();
  auto last_report = std::chrono::steady_clock::now();
  int64_t samples_done = 0;
  const double resumed_samples = static_cast<double>(st.epoch) * static_cast<double>(n);
  bool out_of_time = false;
  const BatchNoise batch_noise = BatchNoiseFor(spec, k, options.seed);
  for (int epoch = st.epoch + 1; epoch <= options.epochs && !out_of_time; ++epoch) {
    // A fresh permutation each epoch depends only on the random state (so resuming works).
    for (int64_t i = 0; i < n; ++i) order[i] = i;
    Shuffle(&order, &rng);
    double loss_sum = 0;
    int64_t seen = 0;
    for (int64_t step = 0; step < steps; ++step) {
      if (cancel != nullptr && cancel->cancelled()) {
        return absl::CancelledError("training cancelled");
      }
      const int64_t b0 = step * batch, m = std::min(batch, n - b0);
      const float* input = PrepareBatch(*train, order.data() + b0, m, batch_noise, &rng, tb.data(),
                                        xb.data(), noise.data());
      const bool fresh_noise = !spec.binary_codes && options.code_noise_stddev > 0;
      if (fresh_noise) {
        std::normal_distribution<float> gauss(0.0f, options.code_noise_stddev);
        for (int64_t i = 0; i < m * k; ++i) noise[i] = gauss(rng);
      }
      double loss = 0;
      if (absl::Status s = net->TrainStep(input, tb.data(), m,
                                          spec.binary_codes || fresh_noise ? noise.data() : nullptr,
                                          &optimizer, &loss);
          !s.ok()) {
        return s;
      }
      if (!std::isfinite(loss)) {
        return absl::InternalError("training diverged (non-finite loss); lower the learning rate");
      }
      loss_sum += loss * static_cast<double>(m);
      seen += m;
      samples_done += m;
      const auto now = std::chrono::steady_clock::now();
      const double ft = elapsed() - finetune_start;
      if (options.max_seconds > 0 && ft > options.max_seconds) {
        out_of_time = true;
        break;
      }
      if (progress && step + 1 < steps && now - last_report > std::chrono::milliseconds(250)) {
        last_report = now;
        TrainingProgress p;
        p.phase = "fine-tune";
        p.phase_index = phases;
        p.phase_count = phases;
        p.epoch = epoch;
        p.epochs = options.epochs;
        p.step = step + 1;
        p.steps_per_epoch = steps;
        p.loss = loss_sum / static_cast<double>(seen);
        p.validation_error = result.validation_error;
        p.samples_per_second = samples_done / std::max(ft, 1e-9);
        p.eta_seconds = (static_cast<double>(options.epochs) * n - resumed_samples - samples_done) /
                        std::max(p.samples_per_second, 1e-9);
        p.elapsed_seconds = elapsed();
        progress(p);
      }
    }
    result.train_loss = seen > 0 ? loss_sum / static_cast<double>(seen) : 0;
    result.epochs_run = epoch;
    st.epoch = epoch;
    bool stop = false;
    if (validation != nullptr && validation->rows > 0) {
      auto err = NetError(net.get(), *validation);
      if (!err.ok()) return err.status();
      result.validation_error = *err;
      if (*err < best) {
        best = *err;
        since_best = 0;
        if (options.early_stopping_patience > 0) best_params = net->FlatParameters();
      } else if (options.early_stopping_patience > 0 &&
                 ++since_best >= options.early_stopping_patience) {
        BN_LOG(INFO) << "early stopping after epoch " << epoch;
        stop = true;
      }
    }
    if (options.on_checkpoint && (!options.want_checkpoint || options.want_checkpoint())) {
      options.on_checkpoint(SaveCheckpoint(*net, optimizer, rng, st, result));
    }
    if (progress) {
      TrainingProgress p;
      p.phase = "fine-tune";
      p.phase_index = phases;
      p.phase_count = phases;
      p.epoch = epoch;
      p.epochs = options.epochs;
      p.step = steps;
      p.steps_per_epoch = steps;
      p.loss = result.train_loss;
      p.validation_error = result.validation_error;
      const double ft = elapsed() - finetune_start;
      p.samples_per_second = samples_done / std::max(ft, 1e-9);
      p.eta_seconds = (static_cast<double>(options.epochs) * n - resumed_samples - samples_done) /
                      std::max(p.samples_per_second, 1e-9);
      p.elapsed_seconds = elapsed();
      progress(p);
    }
    if (stop) break;
  }
  if (!best_params.empty() && best < result.validation_error) {
    net->SetFlatParameters(best_params);
    result.validation_error = best;
  }
  result.model = std::make_unique<DenseAutoencoderModel>(std::move(net));
  return result;
}

}  // namespace

absl::StatusOr<TrainResult> TrainDenseAutoencoder(
    const FloatMatrix& train, const FloatMatrix* validation, const DenseAutoencoderSpec& spec,
    const TrainOptions& options, const ProgressCallback& progress, const CancellationFlag* cancel) {
  try {
    return TrainImpl(train, validation, spec, options, progress, cancel);
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError("out of memory while training");
  } catch (const dnnl::error& e) {
    return DnnlError("training", e);
  } catch (const std::exception& e) {
    return absl::InternalError(std::string("training failed: ") + e.what());
  }
}

absl::StatusOr<double> ReconstructionErrorPerItem(const Model& model, const FloatMatrix& x) {
  if (x.cols != model.input_size()) return absl::InvalidArgumentError("width mismatch");
  if (x.rows == 0) return 0.0;
  try {
    FloatMatrix codes(x.rows, model.code_size());
    FloatMatrix recon(x.rows, x.cols);
    if (absl::Status s = model.Encode(x.data.data(), x.rows, codes.data.data()); !s.ok()) return s;
    if (absl::Status s = model.Decode(codes.data.data(), x.rows, recon.data.data()); !s.ok()) {
      return s;
    }
    return SumSquaredError(recon.data.data(), x.data.data(), x.rows * x.cols) /
           static_cast<double>(x.rows);
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError("out of memory");
  }
}

}  // namespace bn
