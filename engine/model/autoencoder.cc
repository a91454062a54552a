#include "engine/model/autoencoder.h"

#include <algorithm>
#include <cmath>
#include <mutex>
#include <new>
#include <utility>

#include "engine/model/autoencoder_net.h"
#include "engine/model/model_file.h"
#include "engine/nn/bf16_mlp.h"

namespace bn {
namespace {

// The payload's optional block after the net: the input standardisation (format 1).
constexpr uint32_t kStandardizationTag = 0x31445453;  // "STD1"

class DenseAutoencoderModel : public Model {
 public:
  DenseAutoencoderModel(std::unique_ptr<AutoencoderNet> net, InputStandardization standardization)
      : net_(std::move(net)), standardization_(std::move(standardization)) {}

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
    const int64_t in = input_size(), out = code_size();
    if (bf16_encoder_ == nullptr && standardization_.empty()) return net_->Encode(x, n, codes);
    // In chunks, so that primitives are cached for a few batch sizes only.
    for (int64_t start = 0; start < n; start += AutoencoderNet::kChunk) {
      const int64_t m = std::min(AutoencoderNet::kChunk, n - start);
      const float* rows = x + start * in;
      if (!standardization_.empty()) {
        standardized_.resize(static_cast<size_t>(m * in));
        for (int64_t i = 0; i < m * in; ++i) {
          const int64_t j = i % in;
          standardized_[i] = (rows[i] - standardization_.mean[j]) / standardization_.scale[j];
        }
        rows = standardized_.data();
      }
      absl::Status s = bf16_encoder_ != nullptr ? bf16_encoder_->Run(rows, m, codes + start * out)
                                                : net_->Encode(rows, m, codes + start * out);
      if (!s.ok()) return s;
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
  // Copies of the layers from the input to the code layer.
  std::vector<DenseLayerWeights> EncoderLayers() const {
    std::lock_guard<std::mutex> lock(mutex_);
    std::vector<DenseLayerWeights> out;
    for (int l = 0; l <= net_->code_layer(); ++l) {
      const DenseLayer& layer = net_->layer(l);
      out.push_back(
          {layer.in_size(), layer.out_size(), layer.activation(), layer.weights(), layer.bias()});
    }
    return out;
  }

  absl::Status Decode(const float* codes, int64_t n, float* x) const override {
    if (n < 0) return absl::InvalidArgumentError("negative row count");
    std::lock_guard<std::mutex> lock(mutex_);
    if (absl::Status s = net_->Decode(codes, n, x); !s.ok()) return s;
    if (!standardization_.empty()) {
      const int64_t in = input_size();
      for (int64_t i = 0; i < n * in; ++i) {
        const int64_t j = i % in;
        x[i] = x[i] * standardization_.scale[j] + standardization_.mean[j];
      }
    }
    return absl::OkStatus();
  }
  absl::Status SavePayload(std::string* out) const override {
    std::lock_guard<std::mutex> lock(mutex_);
    net_->SavePayload(out);
    if (!standardization_.empty()) {
      ByteWriter w(out);
      w.U32(kStandardizationTag);
      w.Floats(standardization_.mean);
      w.Floats(standardization_.scale);
    }
    return absl::OkStatus();
  }

  static absl::StatusOr<std::unique_ptr<Model>> Load(absl::string_view payload) {
    ByteReader r(payload);
    auto net = AutoencoderNet::LoadPayload(&r);
    if (!net.ok()) return net.status();
    InputStandardization standardization;
    if (!r.at_end()) {  // Models without standardisation end here (every model before it).
      const uint64_t in = static_cast<uint64_t>((*net)->spec().input_size);
      uint32_t tag = 0;
      if (!r.U32(&tag) || tag != kStandardizationTag || !r.Floats(&standardization.mean, in) ||
          !r.Floats(&standardization.scale, in) || standardization.mean.size() != in ||
          standardization.scale.size() != in || !r.at_end()) {
        return absl::InvalidArgumentError("dense auto-encoder payload: bad standardisation");
      }
      for (size_t j = 0; j < in; ++j) {
        if (!std::isfinite(standardization.mean[j]) || !(standardization.scale[j] > 0) ||
            !std::isfinite(standardization.scale[j])) {
          return absl::InvalidArgumentError("dense auto-encoder payload: bad standardisation");
        }
      }
    }
    return std::unique_ptr<Model>(
        new DenseAutoencoderModel(std::move(*net), std::move(standardization)));
  }

 private:
  mutable std::mutex mutex_;  // Guards net_'s cached primitives and scratch buffers.
  std::unique_ptr<AutoencoderNet> net_;
  std::unique_ptr<Bf16Mlp> bf16_encoder_;  // Set: Encode runs in bf16 (guarded by mutex_).
  const InputStandardization standardization_;
  mutable std::vector<float> standardized_;  // Encode's scratch (guarded by mutex_).
};

BN_REGISTER_MODEL_LOADER(kDenseAutoencoder, &DenseAutoencoderModel::Load);

}  // namespace

std::unique_ptr<Model> NewDenseAutoencoderModel(std::unique_ptr<AutoencoderNet> net,
                                                InputStandardization standardization) {
  return std::make_unique<DenseAutoencoderModel>(std::move(net), std::move(standardization));
}

InputStandardization InputStandardization::Of(const FloatMatrix& x) {
  InputStandardization out;
  std::vector<double> sum(static_cast<size_t>(x.cols), 0.0), sq(sum.size(), 0.0);
  for (int64_t r = 0; r < x.rows; ++r) {
    const float* row = x.row(r);
    for (int64_t j = 0; j < x.cols; ++j) {
      sum[j] += row[j];
      sq[j] += double(row[j]) * row[j];
    }
  }
  const double n = static_cast<double>(std::max<int64_t>(x.rows, 1));
  for (int64_t j = 0; j < x.cols; ++j) {
    const double mean = sum[j] / n;
    const double var = std::max(0.0, sq[j] / n - mean * mean);
    out.mean.push_back(static_cast<float>(mean));
    out.scale.push_back(std::max(kMinInputScale, static_cast<float>(std::sqrt(var))));
  }
  return out;
}

FloatMatrix InputStandardization::Apply(const FloatMatrix& x) const {
  FloatMatrix out(x.rows, x.cols);
  for (int64_t r = 0; r < x.rows; ++r) {
    for (int64_t j = 0; j < x.cols; ++j) out.at(r, j) = (x.at(r, j) - mean[j]) / scale[j];
  }
  return out;
}

absl::StatusOr<std::unique_ptr<Model>> WithBf16Encode(std::unique_ptr<Model> model) {
  if (model == nullptr || model->kind() != ModelKind::kDenseAutoencoder) {
    return absl::InvalidArgumentError("bf16 encoding is for dense auto-encoders only");
  }
  // Every kDenseAutoencoder Model is a DenseAutoencoderModel: only this file makes them.
  auto* dense = static_cast<DenseAutoencoderModel*>(model.get());
  if (absl::Status s = dense->UseBf16Encoder(); !s.ok()) return s;
  return model;
}

absl::StatusOr<std::vector<DenseLayerWeights>> DenseEncoderLayers(const Model& model) {
  if (model.kind() != ModelKind::kDenseAutoencoder) {
    return absl::InvalidArgumentError("not a dense auto-encoder");
  }
  // Every kDenseAutoencoder Model is a DenseAutoencoderModel: only this file makes them.
  try {
    return static_cast<const DenseAutoencoderModel&>(model).EncoderLayers();
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError("out of memory copying the encoder");
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
