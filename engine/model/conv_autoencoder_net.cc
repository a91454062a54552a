#include "engine/model/conv_autoencoder_net.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <utility>

#include "engine/nn/loss.h"

// The convolutional auto-encoder's architecture:
//
//   input [n, H*W*C] (HWC pixels in [0,1]; NCHW inside)
//   encoder, per layer l: conv(filters_l, kernel_l x kernel_l, stride_l, "same" padding) + act
//                         -> max pool(pool_l x pool_l) unless pool_l == 1
//   dense hidden layers (dense_sizes, + act; none by default) -> dense code layer (code_size,
//   code activation; logistic + fixed per-example noise with binary_codes) -> dense layers
//   back through dense_sizes in reverse to the last feature map (+ act)
//   decoder, per encoder layer in reverse: unpool (kSwitches or kRepeat, if pool_l > 1)
//                         -> deconv(back to layer l's input channels and size) + act
//   the last deconvolution is linear; logistic output + logistic cross-entropy loss (as the
//   dense auto-encoder's kLogisticCrossEntropy).
//
// Switch unpooling and decoding from a code: during training (and Reconstruct) each unpooling
// layer uses the switches of its paired max-pooling layer from the same forward pass. Decode
// starts from a code alone and has no switches: it then places each value at the top-left
// position of its window ("fixed switches", Dosovitskiy et al. 2015), zeros elsewhere. So for
// kSwitches models, Encode -> Decode differs from the training-time reconstruction; kRepeat
// models have no such gap. Not supported: RBM pre-training, contractive penalty.

namespace bn {
namespace {

// In place y = act(y).
void ActForward(Activation act, float* y, int64_t count) {
  switch (act) {
    case Activation::kRelu:
      for (int64_t i = 0; i < count; ++i) y[i] = y[i] > 0 ? y[i] : 0.0f;
      return;
    case Activation::kLogistic:
      for (int64_t i = 0; i < count; ++i) y[i] = 1.0f / (1.0f + std::exp(-y[i]));
      return;
    case Activation::kTanh:
      for (int64_t i = 0; i < count; ++i) y[i] = std::tanh(y[i]);
      return;
    case Activation::kLinear:
      return;
  }
}

// In place d = d * act'(.) from the output y.
void ActBackward(Activation act, const float* y, float* d, int64_t count) {
  switch (act) {
    case Activation::kRelu:
      for (int64_t i = 0; i < count; ++i) d[i] = y[i] > 0 ? d[i] : 0.0f;
      return;
    case Activation::kLogistic:
      for (int64_t i = 0; i < count; ++i) d[i] *= y[i] * (1.0f - y[i]);
      return;
    case Activation::kTanh:
      for (int64_t i = 0; i < count; ++i) d[i] *= 1.0f - y[i] * y[i];
      return;
    case Activation::kLinear:
      return;
  }
}

void HwcToNchw(const float* in, int64_t n, int64_t h, int64_t w, int64_t c, float* out) {
  for (int64_t r = 0; r < n; ++r) {
    const float* s = in + r * h * w * c;
    float* d = out + r * h * w * c;
    for (int64_t p = 0; p < h * w; ++p) {
      for (int64_t ch = 0; ch < c; ++ch) d[ch * h * w + p] = s[p * c + ch];
    }
  }
}

void NchwToHwc(const float* in, int64_t n, int64_t h, int64_t w, int64_t c, float* out) {
  for (int64_t r = 0; r < n; ++r) {
    const float* s = in + r * h * w * c;
    float* d = out + r * h * w * c;
    for (int64_t p = 0; p < h * w; ++p) {
      for (int64_t ch = 0; ch < c; ++ch) d[p * c + ch] = s[ch * h * w + p];
    }
  }
}

}  // namespace

ConvAutoencoderNet::~ConvAutoencoderNet() = default;

absl::StatusOr<std::unique_ptr<ConvAutoencoderNet>> ConvAutoencoderNet::Create(
    const ConvAutoencoderSpec& spec) {
  if (absl::Status s = ValidateConvSpec(spec); !s.ok()) return s;
  std::unique_ptr<ConvAutoencoderNet> net(new ConvAutoencoderNet(spec));
  if (spec.binary_codes) net->spec_.code_activation = Activation::kLogistic;
  if (absl::Status s = net->Build(); !s.ok()) return s;
  return net;
}

absl::Status ConvAutoencoderNet::Build() {
  auto ctx = NewNnContext();
  if (!ctx.ok()) return ctx.status();
  ctx_ = *ctx;
  num_ = static_cast<int>(spec_.layers.size());
  int64_t c = spec_.channels, h = spec_.height, w = spec_.width;
  for (int l = 0; l < num_; ++l) {
    const ConvLayerSpec& ls = spec_.layers[l];
    auto conv = Conv2DLayer::Create(ctx_, c, h, w, ls.filters, ls.kernel, ls.stride);
    if (!conv.ok()) return conv.status();
    const ConvShape s = (*conv)->shape();
    auto deconv =
        Deconv2DLayer::Create(ctx_, ls.filters, s.out_h, s.out_w, c, h, w, ls.kernel, ls.stride);
    if (!deconv.ok()) return deconv.status();
    conv_.push_back(std::move(*conv));
    deconv_.push_back(std::move(*deconv));
    c = s.out_c;
    h = s.out_h;
    w = s.out_w;
    if (ls.pool > 1) {
      auto pool = MaxPoolLayer::Create(ctx_, c, h, w, ls.pool);
      if (!pool.ok()) return pool.status();
      auto unpool = UnpoolLayer::Create(spec_.unpool, pool->get());
      if (!unpool.ok()) return unpool.status();
      h = (*pool)->out_h();
      w = (*pool)->out_w();
      pool_.push_back(std::move(*pool));
      unpool_.push_back(std::move(*unpool));
    } else {
      pool_.push_back(nullptr);
      unpool_.push_back(nullptr);
    }
  }
  feature_size_ = c * h * w;
  std::vector<int64_t> sizes = {feature_size_};
  sizes.insert(sizes.end(), spec_.dense_sizes.begin(), spec_.dense_sizes.end());
  sizes.push_back(spec_.code_size);
  const size_t e = sizes.size() - 1;  // dense layers each way
  for (size_t i = 0; i < e; ++i) {
    enc_fc_.push_back(
        std::make_unique<DenseLayer>(ctx_, sizes[i], sizes[i + 1],
                                     i + 1 == e ? spec_.code_activation : spec_.hidden_activation));
    dec_fc_.push_back(std::make_unique<DenseLayer>(ctx_, sizes[e - i], sizes[e - i - 1],
                                                   spec_.hidden_activation));
  }
  // Parameters in payload order: conv l (w, b), encoder dense (w, b) ending with the code layer,
  // decoder dense (w, b), deconv l (w, b).
  std::vector<std::pair<std::vector<float>*, bool>> blocks;
  for (auto& l : conv_) {
    blocks.push_back({&l->weights(), true});
    blocks.push_back({&l->bias(), false});
  }
  for (const auto* fcs : {&enc_fc_, &dec_fc_}) {
    for (const auto& l : *fcs) {
      blocks.push_back({&l->weights(), true});
      blocks.push_back({&l->bias(), false});
    }
  }
  for (auto& l : deconv_) {
    blocks.push_back({&l->weights(), true});
    blocks.push_back({&l->bias(), false});
  }
  grads_.resize(blocks.size());
  for (size_t i = 0; i < blocks.size(); ++i) {
    grads_[i].assign(blocks[i].first->size(), 0.0f);
    params_.push_back({blocks[i].first, &grads_[i], blocks[i].second});
  }
  return absl::OkStatus();
}

int64_t ConvAutoencoderNet::parameter_count() const {
  int64_t total = 0;
  for (const Param& p : params_) total += static_cast<int64_t>(p.value->size());
  return total;
}

void ConvAutoencoderNet::InitWeights(uint64_t seed) {
  std::mt19937_64 rng(seed);
  auto fill = [&](std::vector<float>* w, double fan_in, double fan_out, Activation act) {
    double stddev = std::sqrt(2.0 / (fan_in + fan_out));
    if (act == Activation::kRelu) stddev = std::sqrt(2.0 / fan_in);
    std::normal_distribution<double> dist(0.0, stddev);
    for (float& v : *w) v = static_cast<float>(dist(rng));
  };
  for (int l = 0; l < num_; ++l) {
    const ConvShape& s = conv_[l]->shape();
    const double k2 = static_cast<double>(s.kernel * s.kernel);
    fill(&conv_[l]->weights(), s.in_c * k2, s.out_c * k2, spec_.hidden_activation);
    const ConvShape& d = deconv_[l]->shape();
    // Each deconv output sums about in_c * k^2 / stride^2 inputs.
    const double st2 = static_cast<double>(d.stride * d.stride);
    fill(&deconv_[l]->weights(), d.in_c * k2 / st2, d.out_c * k2,
         l == 0 ? Activation::kLinear : spec_.hidden_activation);
  }
  for (const auto* fcs : {&enc_fc_, &dec_fc_}) {
    for (const auto& l : *fcs) {
      fill(&l->weights(), static_cast<double>(l->in_size()), static_cast<double>(l->out_size()),
           l->activation());
      std::fill(l->bias().begin(), l->bias().end(), 0.0f);
    }
  }
  for (int l = 0; l < num_; ++l) {
    std::fill(conv_[l]->bias().begin(), conv_[l]->bias().end(), 0.0f);
    std::fill(deconv_[l]->bias().begin(), deconv_[l]->bias().end(), 0.0f);
  }
}

void ConvAutoencoderNet::EnsureBuffers(int64_t n) {
  if (n <= rows_) return;
  auto size = [n](std::vector<float>* v, int64_t per) { v->resize(static_cast<size_t>(n * per)); };
  const size_t L = static_cast<size_t>(num_);
  for (auto* v :
       {&conv_out_, &pool_out_, &unpool_out_, &dec_, &d_conv_, &d_pool_, &d_unpool_, &d_dec_}) {
    v->resize(L);
  }
  size(&x_, input_size());
  size(&target_, input_size());
  const size_t e = enc_fc_.size();
  for (auto* v : {&enc_fc_out_, &d_enc_fc_, &dec_fc_out_, &d_dec_fc_}) v->resize(e);
  for (size_t i = 0; i < e; ++i) {
    size(&enc_fc_out_[i], enc_fc_[i]->out_size());
    size(&d_enc_fc_[i], enc_fc_[i]->out_size());
    size(&dec_fc_out_[i], dec_fc_[i]->out_size());
    size(&d_dec_fc_[i], dec_fc_[i]->out_size());
  }
  for (size_t l = 0; l < L; ++l) {
    const int64_t conv_size = conv_[l]->shape().out_size();
    size(&conv_out_[l], conv_size);
    size(&d_conv_[l], conv_size);
    size(&dec_[l], deconv_[l]->shape().out_size());
    size(&d_dec_[l], deconv_[l]->shape().out_size());
    if (pool_[l] != nullptr) {
      size(&pool_out_[l], pool_[l]->out_size());
      size(&d_pool_[l], pool_[l]->out_size());
      size(&unpool_out_[l], conv_size);
      size(&d_unpool_[l], conv_size);
    }
  }
  rows_ = n;
}

absl::Status ConvAutoencoderNet::EncodeNchw(const float* x, int64_t n, bool training,
                                            const float* code_noise) {
  const float* src = x;
  for (int l = 0; l < num_; ++l) {
    float* out = conv_out_[l].data();
    if (absl::Status s = conv_[l]->Forward(src, n, out, training); !s.ok()) return s;
    ActForward(spec_.hidden_activation, out, n * conv_[l]->shape().out_size());
    src = out;
    if (pool_[l] != nullptr) {
      if (absl::Status s = pool_[l]->Forward(src, n, pool_out_[l].data(), training); !s.ok()) {
        return s;
      }
      src = pool_out_[l].data();
    }
  }
  const size_t e = enc_fc_.size();
  for (size_t i = 0; i < e; ++i) {
    if (absl::Status s = enc_fc_[i]->Forward(src, n, enc_fc_out_[i].data(), training,
                                             i + 1 == e ? code_noise : nullptr);
        !s.ok()) {
      return s;
    }
    src = enc_fc_out_[i].data();
  }
  return absl::OkStatus();
}

absl::Status ConvAutoencoderNet::DecodeToLogits(int64_t n, bool training, bool switches) {
  const float* fsrc = code_out().data();
  for (size_t i = 0; i < dec_fc_.size(); ++i) {
    if (absl::Status s = dec_fc_[i]->Forward(fsrc, n, dec_fc_out_[i].data(), training); !s.ok()) {
      return s;
    }
    fsrc = dec_fc_out_[i].data();
  }
  for (int l = num_ - 1; l >= 0; --l) {
    const float* src = l == num_ - 1 ? fc_out().data() : dec_[l + 1].data();
    if (unpool_[l] != nullptr) {
      if (absl::Status s = unpool_[l]->Forward(src, n, unpool_out_[l].data(), switches); !s.ok()) {
        return s;
      }
      src = unpool_out_[l].data();
    }
    if (absl::Status s = deconv_[l]->Forward(src, n, dec_[l].data(), training); !s.ok()) return s;
    if (l > 0)
      ActForward(spec_.hidden_activation, dec_[l].data(), n * deconv_[l]->shape().out_size());
  }
  return absl::OkStatus();
}

absl::Status ConvAutoencoderNet::Encode(const float* x, int64_t n, float* codes) {
  const int64_t d = input_size(), k = spec_.code_size;
  for (int64_t start = 0; start < n; start += kChunk) {
    const int64_t m = std::min(kChunk, n - start);
    EnsureBuffers(m);
    HwcToNchw(x + start * d, m, spec_.height, spec_.width, spec_.channels, x_.data());
    if (absl::Status s = EncodeNchw(x_.data(), m, false, nullptr); !s.ok()) return s;
    std::copy_n(code_out().data(), m * k, codes + start * k);
  }
  return absl::OkStatus();
}

absl::Status ConvAutoencoderNet::Decode(const float* codes, int64_t n, float* x) {
  const int64_t d = input_size(), k = spec_.code_size;
  for (int64_t start = 0; start < n; start += kChunk) {
    const int64_t m = std::min(kChunk, n - start);
    EnsureBuffers(m);
    std::copy_n(codes + start * k, m * k, code_out().data());
    if (absl::Status s = DecodeToLogits(m, false, false); !s.ok()) return s;
    ApplyOutputTransform(LossKind::kLogisticCrossEntropy, dec_[0].data(), m, d);
    NchwToHwc(dec_[0].data(), m, spec_.height, spec_.width, spec_.channels, x + start * d);
  }
  return absl::OkStatus();
}

absl::Status ConvAutoencoderNet::Reconstruct(const float* x, int64_t n, float* out) {
  const int64_t d = input_size();
  for (int64_t start = 0; start < n; start += kChunk) {
    const int64_t m = std::min(kChunk, n - start);
    EnsureBuffers(m);
    HwcToNchw(x + start * d, m, spec_.height, spec_.width, spec_.channels, x_.data());
    // Training-mode pooling records the switches; nothing else depends on the mode.
    if (absl::Status s = EncodeNchw(x_.data(), m, true, nullptr); !s.ok()) return s;
    if (absl::Status s = DecodeToLogits(m, false, true); !s.ok()) return s;
    ApplyOutputTransform(LossKind::kLogisticCrossEntropy, dec_[0].data(), m, d);
    NchwToHwc(dec_[0].data(), m, spec_.height, spec_.width, spec_.channels, out + start * d);
  }
  return absl::OkStatus();
}

absl::Status ConvAutoencoderNet::ComputeGradients(const float* x_in, const float* target, int64_t n,
                                                  const float* code_noise, double* loss) {
  if (n < 1) return absl::InvalidArgumentError("empty batch");
  EnsureBuffers(n);
  const int64_t d = input_size();
  HwcToNchw(x_in, n, spec_.height, spec_.width, spec_.channels, x_.data());
  HwcToNchw(target, n, spec_.height, spec_.width, spec_.channels, target_.data());
  if (absl::Status s = EncodeNchw(x_.data(), n, true, code_noise); !s.ok()) return s;
  if (absl::Status s = DecodeToLogits(n, true, true); !s.ok()) return s;
  *loss = LossAndGradient(LossKind::kLogisticCrossEntropy, dec_[0].data(), target_.data(), n, d,
                          d_dec_[0].data());
  // Gradient slots: conv l -> 2l, 2l+1; encoder dense i -> 2L+2i, +1; decoder dense i ->
  // 2L+2E+2i, +1; deconv l -> 2L+4E+2l, +1 (E dense layers each way).
  const int L = num_;
  const int E = static_cast<int>(enc_fc_.size());
  auto gw = [&](int slot) { return grads_[static_cast<size_t>(slot)].data(); };
  // Decoder, backwards: d_dec_[l] = dL/d(deconv l output after activation).
  for (int l = 0; l < L; ++l) {
    const int64_t out_count = n * deconv_[l]->shape().out_size();
    if (l > 0) ActBackward(spec_.hidden_activation, dec_[l].data(), d_dec_[l].data(), out_count);
    const bool pooled = unpool_[l] != nullptr;
    const float* src =
        pooled ? unpool_out_[l].data() : (l == L - 1 ? fc_out().data() : dec_[l + 1].data());
    float* d_src = pooled ? d_unpool_[l].data()
                          : (l == L - 1 ? d_dec_fc_.back().data() : d_dec_[l + 1].data());
    const int slot = 2 * L + 4 * E + 2 * l;
    if (absl::Status s =
            deconv_[l]->Backward(n, src, d_dec_[l].data(), d_src, gw(slot), gw(slot + 1));
        !s.ok()) {
      return s;
    }
    if (pooled) {
      float* d_in = l == L - 1 ? d_dec_fc_.back().data() : d_dec_[l + 1].data();
      if (absl::Status s = unpool_[l]->Backward(n, d_unpool_[l].data(), d_in, true); !s.ok()) {
        return s;
      }
    }
  }
  // Decoder dense layers, backwards: d_dec_fc_[i] = dL/d(output of decoder dense i).
  for (int i = E - 1; i >= 0; --i) {
    float* d = d_dec_fc_[i].data();
    if (absl::Status s = dec_fc_[i]->ActivationBackward(n, dec_fc_out_[i].data(), d, d); !s.ok()) {
      return s;
    }
    const float* src = i == 0 ? code_out().data() : dec_fc_out_[i - 1].data();
    float* d_src = i == 0 ? d_enc_fc_.back().data() : d_dec_fc_[i - 1].data();
    const int slot = 2 * L + 2 * E + 2 * i;
    if (absl::Status s = dec_fc_[i]->Backward(n, src, d, d_src, gw(slot), gw(slot + 1)); !s.ok()) {
      return s;
    }
  }
  // Encoder dense layers, backwards from the code.
  {
    const bool pooled = pool_[L - 1] != nullptr;
    const float* features = pooled ? pool_out_[L - 1].data() : conv_out_[L - 1].data();
    float* d_features = pooled ? d_pool_[L - 1].data() : d_conv_[L - 1].data();
    for (int i = E - 1; i >= 0; --i) {
      float* d = d_enc_fc_[i].data();
      if (absl::Status s = enc_fc_[i]->ActivationBackward(n, enc_fc_out_[i].data(), d, d);
          !s.ok()) {
        return s;
      }
      const float* src = i == 0 ? features : enc_fc_out_[i - 1].data();
      float* d_src = i == 0 ? d_features : d_enc_fc_[i - 1].data();
      if (absl::Status s =
              enc_fc_[i]->Backward(n, src, d, d_src, gw(2 * L + 2 * i), gw(2 * L + 2 * i + 1));
          !s.ok()) {
        return s;
      }
    }
  }
  // Encoder, backwards: d_pool_[l] (or d_conv_[l] without pooling) holds dL/d(layer l output).
  for (int l = L - 1; l >= 0; --l) {
    if (pool_[l] != nullptr) {
      if (absl::Status s = pool_[l]->Backward(n, d_pool_[l].data(), d_conv_[l].data()); !s.ok()) {
        return s;
      }
    }
    ActBackward(spec_.hidden_activation, conv_out_[l].data(), d_conv_[l].data(),
                n * conv_[l]->shape().out_size());
    const float* src = x_.data();
    float* d_src = nullptr;
    if (l > 0) {
      const bool pooled = pool_[l - 1] != nullptr;
      src = pooled ? pool_out_[l - 1].data() : conv_out_[l - 1].data();
      d_src = pooled ? d_pool_[l - 1].data() : d_conv_[l - 1].data();
    }
    if (absl::Status s =
            conv_[l]->Backward(n, src, d_conv_[l].data(), d_src, gw(2 * l), gw(2 * l + 1));
        !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

absl::Status ConvAutoencoderNet::TrainStep(const float* x_in, const float* target, int64_t n,
                                           const float* code_noise, Optimizer* optimizer,
                                           double* loss) {
  if (absl::Status s = ComputeGradients(x_in, target, n, code_noise, loss); !s.ok()) return s;
  optimizer->BeginStep();
  for (const Param& p : params_) optimizer->Update(p.block, p.grad->data());
  return absl::OkStatus();
}

void ConvAutoencoderNet::RegisterParameters(Optimizer* optimizer) {
  for (Param& p : params_) {
    p.block = optimizer->AddBlock(p.value->data(), static_cast<int64_t>(p.value->size()), p.decay);
  }
}

std::vector<float> ConvAutoencoderNet::FlatGradients() const {
  std::vector<float> flat;
  for (const Param& p : params_) flat.insert(flat.end(), p.grad->begin(), p.grad->end());
  return flat;
}

std::vector<float> ConvAutoencoderNet::FlatParameters() const {
  std::vector<float> flat;
  flat.reserve(static_cast<size_t>(parameter_count()));
  for (const Param& p : params_) flat.insert(flat.end(), p.value->begin(), p.value->end());
  return flat;
}

void ConvAutoencoderNet::SetFlatParameters(const std::vector<float>& flat) {
  size_t pos = 0;
  for (const Param& p : params_) {
    std::copy_n(flat.begin() + pos, p.value->size(), p.value->begin());
    pos += p.value->size();
  }
}

absl::Status ConvAutoencoderNet::TrainStep(const TrainBatch& batch, Optimizer* optimizer,
                                           double* loss) {
  return TrainStep(batch.input, batch.target, batch.size, batch.code_noise, optimizer, loss);
}

absl::StatusOr<double> ConvAutoencoderNet::Evaluate(const FloatMatrix& x,
                                                    const std::vector<int>* /*labels*/) {
  if (x.rows == 0) return 0.0;
  FloatMatrix codes(x.rows, spec_.code_size);
  FloatMatrix recon(x.rows, x.cols);
  if (absl::Status s = Encode(x.data.data(), x.rows, codes.data.data()); !s.ok()) return s;
  if (absl::Status s = Decode(codes.data.data(), x.rows, recon.data.data()); !s.ok()) return s;
  return SumSquaredError(recon.data.data(), x.data.data(), x.rows * x.cols) /
         static_cast<double>(x.rows);
}

}  // namespace bn
