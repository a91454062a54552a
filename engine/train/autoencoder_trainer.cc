#include "engine/train/autoencoder_trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <memory>
#include <new>
#include <string>
#include <utility>

#include "engine/model/autoencoder_net.h"
#include "engine/model/conv_autoencoder_net.h"
#include "engine/nn/context.h"
#include "engine/train/loop.h"
#include "engine/train/neighbour_targets.h"
#include "engine/train/rbm_pretraining.h"
#include "engine/util/log.h"

namespace bn {
namespace {

bool HasShape(const FloatMatrix& m, int64_t cols) {
  return m.cols == cols && static_cast<int64_t>(m.data.size()) == m.rows * m.cols;
}

// A net trained on standardised rows, validated in the inputs' own units: the reconstruction
// error per row is that of the restored output (the squared differences times scale^2).
class StandardizedNet : public Trainable {
 public:
  StandardizedNet(AutoencoderNet* net, const InputStandardization* standardization)
      : net_(net), standardization_(standardization) {}
  int64_t parameter_count() const override { return net_->parameter_count(); }
  void RegisterParameters(Optimizer* optimizer) override { net_->RegisterParameters(optimizer); }
  absl::Status TrainStep(const TrainBatch& batch, Optimizer* optimizer, double* loss) override {
    return net_->TrainStep(batch, optimizer, loss);
  }
  absl::StatusOr<double> Evaluate(const FloatMatrix& x, const std::vector<int>*) override {
    FloatMatrix codes(x.rows, net_->spec().code_size), out(x.rows, x.cols);
    if (absl::Status s = net_->Encode(x.data.data(), x.rows, codes.data.data()); !s.ok()) return s;
    if (absl::Status s = net_->Decode(codes.data.data(), x.rows, out.data.data()); !s.ok()) {
      return s;
    }
    double sum = 0;
    for (int64_t r = 0; r < x.rows; ++r) {
      for (int64_t j = 0; j < x.cols; ++j) {
        const double d = (double(out.at(r, j)) - x.at(r, j)) * standardization_->scale[j];
        sum += d * d;
      }
    }
    return x.rows > 0 ? sum / static_cast<double>(x.rows) : 0.0;
  }
  std::vector<float> FlatParameters() const override { return net_->FlatParameters(); }
  void SetFlatParameters(const std::vector<float>& flat) override { net_->SetFlatParameters(flat); }
  std::string SpecBytes() const override { return net_->SpecBytes(); }

 private:
  AutoencoderNet* net_;
  const InputStandardization* standardization_;
};

absl::StatusOr<TrainResult> TrainDense(
    const FloatMatrix& train_in, const FloatMatrix* validation_in, const DenseAutoencoderSpec& spec,
    const TrainOptions& options, const ProgressCallback& progress, const CancellationFlag* cancel) {
  if (absl::Status s = ValidateSpec(spec); !s.ok()) return s;
  if (!HasShape(train_in, spec.input_size) || train_in.rows < 1) {
    return absl::InvalidArgumentError("training matrix does not match input_size");
  }
  if (validation_in != nullptr && !HasShape(*validation_in, spec.input_size)) {
    return absl::InvalidArgumentError("validation matrix does not match input_size");
  }
  // Gaussian visible units: the net trains on standardised copies (training statistics).
  InputStandardization standardization;
  FloatMatrix train_std, validation_std;
  const FloatMatrix* train = &train_in;
  const FloatMatrix* validation = validation_in;
  if (spec.gaussian_visible) {
    standardization = InputStandardization::Of(train_in);
    train_std = standardization.Apply(train_in);
    train = &train_std;
    if (validation_in != nullptr) {
      validation_std = standardization.Apply(*validation_in);
      validation = &validation_std;
    }
  }
  if (absl::Status s = ValidateTrainOptions(options); !s.ok()) return s;
  if (!(options.code_noise_stddev >= 0) || options.code_noise_stddev > 1e3f) {
    return absl::InvalidArgumentError("bad training options");
  }
  if (options.neighbour_count > 0 && spec.output != OutputKind::kSoftmaxCrossEntropy) {
    return absl::InvalidArgumentError(
        "neighbour targets need a document auto-encoder (softmax output)");
  }
  SetNnThreads(options.threads);
  if (const std::vector<float>* lengths = options.document_lengths; lengths != nullptr) {
    if (static_cast<int64_t>(lengths->size()) != train->rows) {
      return absl::InvalidArgumentError("one document length per training row expected");
    }
    for (float l : *lengths) {
      if (!(l > 0) || !std::isfinite(l)) {
        return absl::InvalidArgumentError("document lengths must be finite and positive");
      }
    }
  }
  DenseAutoencoderSpec net_spec = spec;
  if (spec.binary_codes) net_spec.code_activation = Activation::kLogistic;
  auto created = AutoencoderNet::Create(net_spec);
  if (!created.ok()) return created.status();
  std::unique_ptr<AutoencoderNet> net = std::move(*created);
  net->InitWeights(options.seed);
  net->set_dropout(options.dropout);

  LoopSettings settings;
  settings.noise = BatchNoiseFor(spec, spec.code_size, options.seed);
  settings.noise.fresh_code_noise_stddev = options.code_noise_stddev;  // ignored with binary codes
  // Phases: one per RBM (encoder layers and the code layer), then fine-tuning.
  settings.phase_count = spec.pretraining ? static_cast<int>(spec.encoder_sizes.size()) + 2 : 1;
  if (spec.pretraining) {
    settings.pretrain = [&](const Examples& rows) {
      return PretrainWithRbms(*rows.x, rows.lengths, options, settings.phase_count, progress,
                              cancel, net.get());
    };
  }
  if (options.neighbour_count > 0) {
    settings.targets = [&](const FloatMatrix& rows, const FloatMatrix* corpus) {
      NeighbourTargetOptions nt;
      nt.count = options.neighbour_count;
      nt.weight = options.neighbour_weight;
      nt.threads = std::max(options.threads, 1);
      const auto start = std::chrono::steady_clock::now();
      auto made = corpus == nullptr ? NeighbourSmoothedTargets(rows, nt, cancel)
                                    : NeighbourSmoothedTargetsFrom(rows, *corpus, nt, cancel);
      BN_LOG(INFO)
          << "neighbour targets of " << rows.rows << " rows from "
          << (corpus == nullptr ? rows.rows : corpus->rows) << " in "
          << std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count()
          << " s";
      return made;
    };
  }
  const Examples train_rows{train, nullptr, options.document_lengths};
  const Examples validation_rows{validation};
  StandardizedNet standardized(net.get(), &standardization);
  Trainable* trained = spec.gaussian_visible ? static_cast<Trainable*>(&standardized) : net.get();
  auto result = RunTrainingLoop(train_rows, validation != nullptr ? &validation_rows : nullptr,
                                options, settings, progress, cancel, trained);
  if (!result.ok()) return result.status();
  result->model = NewDenseAutoencoderModel(std::move(net), std::move(standardization));
  return result;
}

absl::StatusOr<TrainResult> TrainConv(const FloatMatrix& train, const FloatMatrix* validation,
                                      const ConvAutoencoderSpec& spec, const TrainOptions& options,
                                      const ProgressCallback& progress,
                                      const CancellationFlag* cancel) {
  if (absl::Status s = ValidateConvSpec(spec); !s.ok()) return s;
  const int64_t d = spec.height * spec.width * spec.channels;
  if (!HasShape(train, d) || train.rows < 1) {
    return absl::InvalidArgumentError("training matrix does not match H*W*C");
  }
  if (validation != nullptr && !HasShape(*validation, d)) {
    return absl::InvalidArgumentError("validation matrix does not match H*W*C");
  }
  if (absl::Status s = ValidateTrainOptions(options); !s.ok()) return s;
  if (options.dropout > 0) {
    return absl::InvalidArgumentError("dropout applies to dense auto-encoders and classifiers");
  }
  if (options.neighbour_count > 0) {
    return absl::InvalidArgumentError(
        "neighbour targets need a document auto-encoder (softmax output)");
  }
  SetNnThreads(options.threads);
  auto created = ConvAutoencoderNet::Create(spec);
  if (!created.ok()) return created.status();
  std::unique_ptr<ConvAutoencoderNet> net = std::move(*created);
  net->InitWeights(options.seed);

  LoopSettings settings;  // No fresh code noise (options.code_noise_stddev is the dense AE's).
  settings.noise = BatchNoiseFor(spec, spec.code_size, options.seed);
  const Examples train_rows{&train};
  const Examples validation_rows{validation};
  auto result = RunTrainingLoop(train_rows, validation != nullptr ? &validation_rows : nullptr,
                                options, settings, progress, cancel, net.get());
  if (!result.ok()) return result.status();
  result->model = NewConvAutoencoderModel(std::move(net));
  return result;
}

// Backend exceptions become Statuses here: none crosses the engine's API.
template <typename F>
absl::StatusOr<TrainResult> Guarded(F train) {
  try {
    return train();
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError("out of memory while training");
  } catch (const dnnl::error& e) {
    return DnnlError("training", e);
  } catch (const std::exception& e) {
    return absl::InternalError(std::string("training failed: ") + e.what());
  }
}

}  // namespace

absl::StatusOr<TrainResult> TrainDenseAutoencoder(
    const FloatMatrix& train, const FloatMatrix* validation, const DenseAutoencoderSpec& spec,
    const TrainOptions& options, const ProgressCallback& progress, const CancellationFlag* cancel) {
  return Guarded([&] { return TrainDense(train, validation, spec, options, progress, cancel); });
}

absl::StatusOr<TrainResult> TrainConvAutoencoder(
    const FloatMatrix& train, const FloatMatrix* validation, const ConvAutoencoderSpec& spec,
    const TrainOptions& options, const ProgressCallback& progress, const CancellationFlag* cancel) {
  return Guarded([&] { return TrainConv(train, validation, spec, options, progress, cancel); });
}

}  // namespace bn
