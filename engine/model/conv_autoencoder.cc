#include "engine/model/conv_autoencoder.h"

#include <mutex>
#include <utility>

#include "engine/model/conv_autoencoder_net.h"
#include "engine/model/model_file.h"

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

}  // namespace

std::unique_ptr<Model> NewConvAutoencoderModel(std::unique_ptr<ConvAutoencoderNet> net) {
  return std::make_unique<ConvAutoencoderModel>(std::move(net));
}

absl::Status ReconstructWithSwitches(const Model& model, const float* x, int64_t n, float* out) {
  const auto* conv = dynamic_cast<const ConvAutoencoderModel*>(&model);
  if (conv == nullptr) return absl::InvalidArgumentError("not a convolutional auto-encoder");
  return conv->Reconstruct(x, n, out);
}

}  // namespace bn
