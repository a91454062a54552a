#include "engine/model/autoencoder.h"

#include <algorithm>
#include <mutex>
#include <new>
#include <utility>

#include "engine/model/autoencoder_net.h"
#include "engine/model/model_file.h"
#include "engine/nn/bf16_mlp.h"

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

std::unique_ptr<Model> NewDenseAutoencoderModel(std::unique_ptr<AutoencoderNet> net) {
  return std::make_unique<DenseAutoencoderModel>(std::move(net));
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
