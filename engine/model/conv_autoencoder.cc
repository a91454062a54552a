#include "engine/model/conv_autoencoder.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <mutex>
#include <random>
#include <utility>

#include "engine/model/conv_autoencoder_net.h"
#include "engine/model/model_file.h"
#include "engine/train/batching.h"
#include "engine/train/checkpoint.h"
#include "engine/util/log.h"

namespace bn {
namespace {

class ConvAutoencoderModel : public Model {
 public:
  explicit ConvAutoencoderModel(std::unique_ptr<ConvAutoencoderNet> net) : net_(std::move(net)) {}

  ModelKind kind() const override { return ModelKind::kConvAutoencoder; }
  int64_t input_size() const override { return net_->input_size(); }
  int64_t code_size() const override { return net_->spec().code_size; }
  CodeType code_type() const override {
    return net_->spec().binary_codes ? CodeType::kBinary : CodeType::kFloat;
  }
  int64_t parameter_count() const override { return net_->parameter_count(); }

  absl::Status Encode(const float* x, int64_t n, float* codes) const override {
    if (n < 0) return absl::InvalidArgumentError("negative row count");
    std::lock_guard<std::mutex> lock(mutex_);
    return Guard([&] { return net_->Encode(x, n, codes); });
  }
  absl::Status Decode(const float* codes, int64_t n, float* x) const override {
    if (n < 0) return absl::InvalidArgumentError("negative row count");
    std::lock_guard<std::mutex> lock(mutex_);
    return Guard([&] { return net_->Decode(codes, n, x); });
  }
  absl::Status Reconstruct(const float* x, int64_t n, float* out) const {
    if (n < 0) return absl::InvalidArgumentError("negative row count");
    std::lock_guard<std::mutex> lock(mutex_);
    return Guard([&] { return net_->Reconstruct(x, n, out); });
  }
  absl::Status SavePayload(std::string* out) const override {
    std::lock_guard<std::mutex> lock(mutex_);
    return Guard([&] {
      net_->SavePayload(out);
      return absl::OkStatus();
    });
  }

  static absl::StatusOr<std::unique_ptr<Model>> Load(absl::string_view payload) {
    try {
      ByteReader r(payload);
      auto net = ConvAutoencoderNet::LoadPayload(&r);
      if (!net.ok()) return net.status();
      if (!r.at_end()) return absl::InvalidArgumentError("conv auto-encoder payload: extra bytes");
      return std::unique_ptr<Model>(new ConvAutoencoderModel(std::move(*net)));
    } catch (const std::bad_alloc&) {
      return absl::ResourceExhaustedError("out of memory loading a conv auto-encoder");
    }
  }

 private:
  template <typename F>
  static absl::Status Guard(F f) {
    try {
      return f();
    } catch (const std::bad_alloc&) {
      return absl::ResourceExhaustedError("out of memory");
    } catch (const dnnl::error& e) {
      return DnnlError("conv auto-encoder", e);
    }
  }

  mutable std::mutex mutex_;  // Guards net_'s cached primitives and buffers.
  std::unique_ptr<ConvAutoencoderNet> net_;
};

BN_REGISTER_MODEL_LOADER(kConvAutoencoder, &ConvAutoencoderModel::Load);

absl::StatusOr<double> ModelError(const Model& model, const FloatMatrix& x) {
  return ReconstructionErrorPerItem(model, x);
}

absl::StatusOr<TrainResult> TrainImpl(const FloatMatrix& train_in, const FloatMatrix* validation,
                                      const ConvAutoencoderSpec& spec, const TrainOptions& options,
                                      const ProgressCallback& progress,
                                      const CancellationFlag* cancel) {
  if (absl::Status s = ValidateConvSpec(spec); !s.ok()) return s;
  const int64_t d = spec.height * spec.width * spec.channels;
  if (train_in.cols != d || train_in.rows < 1 ||
      static_cast<int64_t>(train_in.data.size()) != train_in.rows * train_in.cols) {
    return absl::InvalidArgumentError("training matrix does not match H*W*C");
  }
  if (validation != nullptr &&
      (validation->cols != d ||
       static_cast<int64_t>(validation->data.size()) != validation->rows * validation->cols)) {
    return absl::InvalidArgumentError("validation matrix does not match H*W*C");
  }
  if (options.batch_size < 1 || options.epochs < 0 || !(options.learning_rate > 0) ||
      options.validation_fraction < 0 || options.validation_fraction >= 1) {
    return absl::InvalidArgumentError("bad training options");
  }
  SetNnThreads(options.threads);
  const FloatMatrix* train = &train_in;
  FloatMatrix train_part, val_part;
  if (validation == nullptr && options.validation_fraction > 0) {
    std::vector<int64_t> idx(static_cast<size_t>(train_in.rows));
    for (int64_t i = 0; i < train_in.rows; ++i) idx[i] = i;
    std::mt19937_64 split_rng(options.seed ^ 0x5eedull);
    Shuffle(&idx, &split_rng);
    const int64_t nv = static_cast<int64_t>(options.validation_fraction * train_in.rows);
    if (nv >= 1 && nv < train_in.rows) {
      val_part = FloatMatrix(nv, d);
      train_part = FloatMatrix(train_in.rows - nv, d);
      for (int64_t i = 0; i < train_in.rows; ++i) {
        std::copy_n(train_in.row(idx[i]), d, i < nv ? val_part.row(i) : train_part.row(i - nv));
      }
      train = &train_part;
      validation = &val_part;
    }
  }
  auto net_or = ConvAutoencoderNet::Create(spec);
  if (!net_or.ok()) return net_or.status();
  std::unique_ptr<ConvAutoencoderNet> owned = std::move(*net_or);
  ConvAutoencoderNet* net = owned.get();
  net->InitWeights(options.seed);
  OptimizerOptions oo;
  oo.kind = options.optimizer;
  oo.learning_rate = options.learning_rate;
  oo.momentum = options.momentum;
  oo.weight_decay = options.weight_decay;
  Optimizer optimizer(oo);
  net->RegisterParameters(&optimizer);
  // The model wraps the net from the start so validation goes through Encode -> Decode.
  auto model = std::make_unique<ConvAutoencoderModel>(std::move(owned));

  const int64_t n = train->rows, k = spec.code_size;
  const int64_t batch = std::min<int64_t>(options.batch_size, n);
  const int64_t steps = (n + batch - 1) / batch;
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::mt19937_64 rng(options.seed + 1);
  std::vector<float> xb(static_cast<size_t>(batch * d)), tb(xb.size());
  std::vector<float> noise(static_cast<size_t>(batch * k));
  TrainResult result;
  TrainingCheckpoint st;  // the loop state; also what checkpoints save
  st.rng = rng;
  st.best = INFINITY;
  const std::string spec_bytes = net->SpecBytes();
  if (options.resume_from != nullptr) {
    if (absl::Status s = DecodeTrainingCheckpoint(*options.resume_from, spec_bytes,
                                                  net->parameter_count(), &optimizer, &st);
        !s.ok()) {
      return s;
    }
    net->SetFlatParameters(st.params);
    st.params.clear();
    rng = st.rng;
    result.validation_error = st.validation_error;
    result.train_loss = st.train_loss;
    result.epochs_run = static_cast<int>(std::min<int64_t>(st.epoch, 1 << 30));
  }
  double& best = st.best;
  std::vector<float>& best_params = st.best_params;
  const double resumed_samples = static_cast<double>(st.epoch) * static_cast<double>(n);
  const auto start = std::chrono::steady_clock::now();
  auto elapsed = [&]() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  auto last_report = start;
  int64_t samples_done = 0;
  bool out_of_time = false;
  auto report = [&](int epoch, int64_t step, double loss) {
    TrainingProgress p;
    p.phase = "fine-tune";
    p.phase_index = 1;
    p.phase_count = 1;
    p.epoch = epoch;
    p.epochs = options.epochs;
    p.step = step;
    p.steps_per_epoch = steps;
    p.loss = loss;
    p.validation_error = result.validation_error;
    p.elapsed_seconds = elapsed();
    p.samples_per_second = samples_done / std::max(p.elapsed_seconds, 1e-9);
    p.eta_seconds = (static_cast<double>(options.epochs) * n - resumed_samples - samples_done) /
                    std::max(p.samples_per_second, 1e-9);
    progress(p);
  };
  const BatchNoise batch_noise = BatchNoiseFor(spec, k, options.seed);
  for (int epoch = result.epochs_run + 1; epoch <= options.epochs && !out_of_time; ++epoch) {
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
      double loss = 0;
      if (absl::Status s = net->TrainStep(
              input, tb.data(), m, spec.binary_codes ? noise.data() : nullptr, &optimizer, &loss);
          !s.ok()) {
        return s;
      }
      if (!std::isfinite(loss)) {
        return absl::InternalError("training diverged (non-finite loss); lower the learning rate");
      }
      loss_sum += loss * static_cast<double>(m);
      seen += m;
      samples_done += m;
      if (options.max_seconds > 0 && elapsed() > options.max_seconds) {
        out_of_time = true;
        break;
      }
      const auto now = std::chrono::steady_clock::now();
      if (progress && step + 1 < steps && now - last_report > std::chrono::milliseconds(250)) {
        last_report = now;
        report(epoch, step + 1, loss_sum / static_cast<double>(seen));
      }
    }
    result.train_loss = seen > 0 ? loss_sum / static_cast<double>(seen) : 0;
    result.epochs_run = epoch;
    bool stop = false;
    if (validation != nullptr && validation->rows > 0) {
      auto err = ModelError(*model, *validation);
      if (!err.ok()) return err.status();
      result.validation_error = *err;
      if (*err < best) {
        best = *err;
        st.since_best = 0;
        if (options.early_stopping_patience > 0) best_params = net->FlatParameters();
      } else if (options.early_stopping_patience > 0 &&
                 ++st.since_best >= options.early_stopping_patience) {
        BN_LOG(INFO) << "early stopping after epoch " << epoch;
        stop = true;
      }
    }
    if (options.on_checkpoint && (!options.want_checkpoint || options.want_checkpoint())) {
      st.epoch = epoch;
      st.params = net->FlatParameters();
      st.rng = rng;
      st.validation_error = result.validation_error;
      st.train_loss = result.train_loss;
      options.on_checkpoint(EncodeTrainingCheckpoint(spec_bytes, st, optimizer));
      st.params.clear();
    }
    if (progress) report(epoch, steps, result.train_loss);
    if (stop) break;
  }
  if (!best_params.empty() && best < result.validation_error) {
    net->SetFlatParameters(best_params);
    result.validation_error = best;
  }
  result.model = std::move(model);
  return result;
}

}  // namespace

absl::StatusOr<TrainResult> TrainConvAutoencoder(
    const FloatMatrix& train, const FloatMatrix* validation, const ConvAutoencoderSpec& spec,
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

absl::Status ReconstructWithSwitches(const Model& model, const float* x, int64_t n, float* out) {
  const auto* conv = dynamic_cast<const ConvAutoencoderModel*>(&model);
  if (conv == nullptr) return absl::InvalidArgumentError("not a convolutional auto-encoder");
  return conv->Reconstruct(x, n, out);
}

}  // namespace bn
