#include "engine/model/rbm.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <string>

#include "engine/nn/optimizer.h"

// Restricted Boltzmann machines (Hinton & Salakhutdinov 2006).
//
// Visible units: binary (Bernoulli, probabilities in [0,1] as data) or replicated softmax
// (constrained-Poisson): data rows are word distributions v (counts / N, N = the document's
// number of counted words) and each row carries its own N, so the hidden input is N W v + c and
// the reconstruction is N softmax(W^T h + b) (the mean of N words drawn from the softmax). Hidden
// units: binary (sampled in the positive phase) or linear with unit-variance Gaussian noise (the
// code layer). Updates follow the paper's Matlab code: momentum SGD on (positive - negative
// statistics)/batch with L2 weight decay on the weights. Up/down passes and the statistics (v^T h)
// run on the oneDNN dense layer (engine/nn/dense.h).

namespace bn {
namespace {

void SoftmaxRowsTimes(float* x, int64_t n, int64_t d, const float* lengths, float fixed) {
  for (int64_t r = 0; r < n; ++r) {
    float* row = x + r * d;
    const float mx = *std::max_element(row, row + d);
    double sum = 0;
    for (int64_t i = 0; i < d; ++i) {
      row[i] = std::exp(row[i] - mx);
      sum += row[i];
    }
    const float scale = static_cast<float>((lengths != nullptr ? lengths[r] : fixed) / sum);
    for (int64_t i = 0; i < d; ++i) row[i] *= scale;
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<Rbm>> Rbm::Create(int64_t visible, int64_t hidden, RbmVisible vtype,
                                                 RbmHidden htype) {
  if (visible < 1 || hidden < 1 || visible > (1 << 20) || hidden > (1 << 20)) {
    return absl::InvalidArgumentError("RBM sizes out of range");
  }
  auto ctx = NewNnContext();
  if (!ctx.ok()) return ctx.status();
  std::unique_ptr<Rbm> rbm(new Rbm());
  rbm->visible_ = visible;
  rbm->hidden_ = hidden;
  rbm->vtype_ = vtype;
  rbm->htype_ = htype;
  rbm->ctx_ = *ctx;
  rbm->up_ = std::make_unique<DenseLayer>(
      rbm->ctx_, visible, hidden,
      htype == RbmHidden::kBinary ? Activation::kLogistic : Activation::kLinear);
  rbm->down_ = std::make_unique<DenseLayer>(
      rbm->ctx_, rbm->up_.get(),
      vtype == RbmVisible::kBinary ? Activation::kLogistic : Activation::kLinear);
  return rbm;
}

Rbm::~Rbm() = default;
std::vector<float>& Rbm::weights() { return up_->weights(); }
std::vector<float>& Rbm::hidden_bias() { return up_->bias(); }
std::vector<float>& Rbm::visible_bias() { return down_->bias(); }

void Rbm::Initialize(uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  for (float& w : up_->weights()) w = 0.1f * dist(rng);
  std::fill(up_->bias().begin(), up_->bias().end(), 0.0f);
  std::fill(down_->bias().begin(), down_->bias().end(), 0.0f);
}

absl::Status Rbm::Up(const float* v, int64_t n, float* h) { return up_->Forward(v, n, h, true); }

absl::Status Rbm::Down(const float* h, int64_t n, const float* lengths, float* v) {
  if (absl::Status s = down_->Forward(h, n, v, true); !s.ok()) return s;
  if (vtype_ == RbmVisible::kReplicatedSoftmax) SoftmaxRowsTimes(v, n, visible_, lengths, 1.0f);
  return absl::OkStatus();
}

absl::Status Rbm::Train(const FloatMatrix& data, const std::vector<float>* lengths,
                        const RbmOptions& options, const std::function<void(int, double)>& on_epoch,
                        const CancellationFlag* cancel) {
  if (data.cols != visible_ || data.rows < 1) {
    return absl::InvalidArgumentError("RBM data does not match the visible size");
  }
  if (lengths != nullptr && static_cast<int64_t>(lengths->size()) != data.rows) {
    return absl::InvalidArgumentError("one document length per row expected");
  }
  if (options.batch_size < 1 || options.cd_steps < 1 || !(options.learning_rate > 0)) {
    return absl::InvalidArgumentError("bad RBM options");
  }
  const bool softmax = vtype_ == RbmVisible::kReplicatedSoftmax;
  if (softmax && lengths == nullptr &&
      !(options.document_length > 0 && std::isfinite(options.document_length))) {
    return absl::InvalidArgumentError("the document length must be finite and positive");
  }
  double length_sum = 0;
  if (lengths != nullptr) {
    for (float l : *lengths) {
      if (softmax && !(l > 0 && std::isfinite(l))) {
        return absl::InvalidArgumentError("document lengths must be finite and positive");
      }
      length_sum += l;
    }
  }
  document_length_ = lengths != nullptr && softmax
                         ? static_cast<float>(length_sum / static_cast<double>(data.rows))
                         : options.document_length;
  OptimizerOptions oo;
  oo.kind = OptimizerKind::kSgd;
  oo.learning_rate = options.learning_rate;
  oo.momentum = options.initial_momentum;
  oo.weight_decay = options.weight_decay;
  Optimizer opt(oo);
  const int bw = opt.AddBlock(up_->weights().data(), visible_ * hidden_, true);
  const int bh = opt.AddBlock(up_->bias().data(), hidden_, false);
  const int bv = opt.AddBlock(down_->bias().data(), visible_, false);
  const int64_t n = data.rows, batch = std::min<int64_t>(options.batch_size, n);
  const int64_t V = visible_, H = hidden_;
  std::vector<float> v0(static_cast<size_t>(batch * V)), v1(v0.size());
  std::vector<float> h0(static_cast<size_t>(batch * H)), hs(h0.size()), h1(h0.size());
  std::vector<float> len(static_cast<size_t>(batch));
  std::vector<float> pos_w(static_cast<size_t>(V * H)), neg_w(pos_w.size());
  std::vector<float> pos_h(static_cast<size_t>(H)), neg_h(pos_h.size()), grad_v(V);
  std::vector<int64_t> order(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) order[i] = i;
  std::mt19937_64 rng(options.seed);
  std::uniform_real_distribution<float> uniform(0.0f, 1.0f);
  std::normal_distribution<float> gauss(0.0f, 1.0f);
  for (int epoch = 1; epoch <= options.epochs; ++epoch) {
    opt.options().momentum =
        epoch > options.momentum_switch_epoch ? options.final_momentum : options.initial_momentum;
    for (size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[rng() % i]);
    double err = 0;
    for (int64_t b0 = 0; b0 < n; b0 += batch) {
      if (cancel != nullptr && cancel->cancelled()) return absl::CancelledError("cancelled");
      const int64_t m = std::min(batch, n - b0);
      for (int64_t r = 0; r < m; ++r) {
        const int64_t src = order[b0 + r];
        len[r] = lengths != nullptr ? (*lengths)[src] : options.document_length;
        const float scale = softmax ? len[r] : 1.0f;
        for (int64_t i = 0; i < V; ++i) v0[r * V + i] = data.row(src)[i] * scale;
      }
      // Positive phase: h0 = p(h | v0); statistics h0^T v0 (the dense layer's weight gradient).
      if (absl::Status s = Up(v0.data(), m, h0.data()); !s.ok()) return s;
      if (absl::Status s =
              up_->Backward(m, v0.data(), h0.data(), nullptr, pos_w.data(), pos_h.data());
          !s.ok()) {
        return s;
      }
      const float* hcur = h0.data();
      for (int k = 0; k < options.cd_steps; ++k) {
        for (int64_t i = 0; i < m * H; ++i) {
          hs[i] = htype_ == RbmHidden::kBinary ? (hcur[i] > uniform(rng) ? 1.0f : 0.0f)
                                               : hcur[i] + gauss(rng);
        }
        // Negative phase: mean-field reconstruction and its hidden probabilities.
        if (absl::Status s = Down(hs.data(), m, len.data(), v1.data()); !s.ok()) return s;
        if (absl::Status s = Up(v1.data(), m, h1.data()); !s.ok()) return s;
        hcur = h1.data();
      }
      if (absl::Status s =
              up_->Backward(m, v1.data(), h1.data(), nullptr, neg_w.data(), neg_h.data());
          !s.ok()) {
        return s;
      }
      const float inv = 1.0f / static_cast<float>(m);
      for (size_t i = 0; i < pos_w.size(); ++i) pos_w[i] = (neg_w[i] - pos_w[i]) * inv;
      for (int64_t j = 0; j < H; ++j) pos_h[j] = (neg_h[j] - pos_h[j]) * inv;
      std::fill(grad_v.begin(), grad_v.end(), 0.0f);
      for (int64_t r = 0; r < m; ++r) {
        for (int64_t i = 0; i < V; ++i) {
          const float d = v1[r * V + i] - v0[r * V + i];
          grad_v[i] += d * inv;
          err += static_cast<double>(d) * d;
        }
      }
      opt.BeginStep();
      opt.Update(bw, pos_w.data());
      opt.Update(bh, pos_h.data());
      opt.Update(bv, grad_v.data());
    }
    if (!std::isfinite(err)) return absl::InternalError("RBM training diverged");
    if (on_epoch) on_epoch(epoch, err / static_cast<double>(n));
  }
  return absl::OkStatus();
}

absl::StatusOr<FloatMatrix> Rbm::HiddenMeans(const FloatMatrix& data,
                                             const std::vector<float>* lengths) {
  if (data.cols != visible_) return absl::InvalidArgumentError("width mismatch");
  if (lengths != nullptr && static_cast<int64_t>(lengths->size()) != data.rows) {
    return absl::InvalidArgumentError("one document length per row expected");
  }
  FloatMatrix out(data.rows, hidden_);
  constexpr int64_t kChunk = 256;
  for (int64_t s = 0; s < data.rows; s += kChunk) {
    const int64_t m = std::min(kChunk, data.rows - s);
    const float* v = data.row(s);
    if (vtype_ == RbmVisible::kReplicatedSoftmax) {
      scaled_.assign(v, v + m * visible_);
      for (int64_t r = 0; r < m; ++r) {
        const float n = lengths != nullptr ? (*lengths)[s + r] : document_length_;
        for (int64_t i = 0; i < visible_; ++i) scaled_[r * visible_ + i] *= n;
      }
      v = scaled_.data();
    }
    if (absl::Status st = up_->Forward(v, m, out.row(s), false); !st.ok()) return st;
  }
  return out;
}

absl::StatusOr<double> Rbm::ReconstructionError(const FloatMatrix& data) {
  auto h = HiddenMeans(data);
  if (!h.ok()) return h.status();
  FloatMatrix v(data.rows, visible_);
  constexpr int64_t kChunk = 256;
  for (int64_t s = 0; s < data.rows; s += kChunk) {
    const int64_t m = std::min(kChunk, data.rows - s);
    if (absl::Status st = down_->Forward(h->row(s), m, v.row(s), false); !st.ok()) return st;
    if (vtype_ == RbmVisible::kReplicatedSoftmax)
      SoftmaxRowsTimes(v.row(s), m, visible_, nullptr, 1);
  }
  double err = 0;
  for (size_t i = 0; i < v.data.size(); ++i) {
    const double d = static_cast<double>(v.data[i]) - data.data[i];
    err += d * d;
  }
  return data.rows > 0 ? err / static_cast<double>(data.rows) : 0.0;
}

absl::StatusOr<double> Rbm::MeanFreeEnergy(const FloatMatrix& data) {
  if (vtype_ != RbmVisible::kBinary || htype_ != RbmHidden::kBinary) {
    return absl::FailedPreconditionError("free energy implemented for binary units only");
  }
  if (data.cols != visible_) return absl::InvalidArgumentError("width mismatch");
  // Pre-activations W v + c through a linear view of the same weights.
  DenseLayer linear(ctx_, visible_, hidden_, Activation::kLinear);
  linear.weights() = up_->weights();
  linear.bias() = up_->bias();
  FloatMatrix z(data.rows, hidden_);
  constexpr int64_t kChunk = 256;
  for (int64_t s = 0; s < data.rows; s += kChunk) {
    const int64_t m = std::min(kChunk, data.rows - s);
    if (absl::Status st = linear.Forward(data.row(s), m, z.row(s), false); !st.ok()) return st;
  }
  double total = 0;
  const std::vector<float>& bv = down_->bias();
  for (int64_t r = 0; r < data.rows; ++r) {
    double f = 0;
    for (int64_t i = 0; i < visible_; ++i) f -= static_cast<double>(bv[i]) * data.row(r)[i];
    for (int64_t j = 0; j < hidden_; ++j) {
      const double x = z.row(r)[j];
      f -= std::max(x, 0.0) + std::log1p(std::exp(-std::fabs(x)));  // log(1 + e^x)
    }
    total += f;
  }
  return data.rows > 0 ? total / static_cast<double>(data.rows) : 0.0;
}

}  // namespace bn
