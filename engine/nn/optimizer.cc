#include "engine/nn/optimizer.h"

#include <cmath>

namespace bn {

int Optimizer::AddBlock(float* param, int64_t count, bool decay) {
  Block b{param, count, decay, std::vector<float>(static_cast<size_t>(count), 0.0f), {}};
  if (options_.kind == OptimizerKind::kAdam) b.v.assign(static_cast<size_t>(count), 0.0f);
  blocks_.push_back(std::move(b));
  return static_cast<int>(blocks_.size()) - 1;
}

void Optimizer::Update(int index, const float* grad) {
  Block& b = blocks_[static_cast<size_t>(index)];
  float* w = b.param;
  float* m = b.m.data();
  const int64_t count = b.count;
  const float lr = options_.learning_rate;
  const float wd = b.decay ? options_.weight_decay : 0.0f;
  if (options_.kind == OptimizerKind::kSgd) {
    const float mu = options_.momentum;
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < count; ++i) {
      m[i] = mu * m[i] - lr * (grad[i] + wd * w[i]);
      w[i] += m[i];
    }
    return;
  }
  float* v = b.v.data();
  const float b1 = options_.beta1, b2 = options_.beta2, eps = options_.epsilon;
  const double t = static_cast<double>(step_ < 1 ? 1 : step_);
  const float c1 = static_cast<float>(1.0 / (1.0 - std::pow(static_cast<double>(b1), t)));
  const float c2 = static_cast<float>(1.0 / (1.0 - std::pow(static_cast<double>(b2), t)));
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < count; ++i) {
    const float g = grad[i] + wd * w[i];
    m[i] = b1 * m[i] + (1.0f - b1) * g;
    v[i] = b2 * v[i] + (1.0f - b2) * g * g;
    w[i] -= lr * (m[i] * c1) / (std::sqrt(v[i] * c2) + eps);
  }
}

void Optimizer::SaveState(ByteWriter* w) const {
  w->U32(static_cast<uint32_t>(options_.kind));
  w->I64(step_);
  w->U64(blocks_.size());
  for (const Block& b : blocks_) {
    w->Floats(b.m);
    w->Floats(b.v);
  }
}

bool Optimizer::LoadState(ByteReader* r) {
  uint32_t kind = 0;
  int64_t step = 0;
  uint64_t nblocks = 0;
  if (!r->U32(&kind) || kind != static_cast<uint32_t>(options_.kind) || !r->I64(&step) ||
      step < 0 || !r->U64(&nblocks) || nblocks != blocks_.size()) {
    return false;
  }
  std::vector<std::vector<float>> ms(blocks_.size()), vs(blocks_.size());
  for (size_t i = 0; i < blocks_.size(); ++i) {
    if (!r->Floats(&ms[i], static_cast<uint64_t>(blocks_[i].count)) ||
        ms[i].size() != blocks_[i].m.size() ||
        !r->Floats(&vs[i], static_cast<uint64_t>(blocks_[i].count)) ||
        vs[i].size() != blocks_[i].v.size()) {
      return false;
    }
  }
  for (size_t i = 0; i < blocks_.size(); ++i) {
    blocks_[i].m = std::move(ms[i]);
    blocks_[i].v = std::move(vs[i]);
  }
  step_ = step;
  return true;
}

}  // namespace bn
