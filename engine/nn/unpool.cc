#include "engine/nn/unpool.h"

#include <algorithm>

namespace bn {

absl::StatusOr<std::unique_ptr<UnpoolLayer>> UnpoolLayer::Create(UnpoolMode mode,
                                                                 MaxPoolLayer* paired) {
  if (paired == nullptr) return absl::InvalidArgumentError("unpooling needs a pooling layer");
  if (mode != UnpoolMode::kSwitches && mode != UnpoolMode::kRepeat) {
    return absl::InvalidArgumentError("unknown unpooling mode");
  }
  return std::unique_ptr<UnpoolLayer>(new UnpoolLayer(mode, paired));
}

absl::Status UnpoolLayer::Forward(const float* src, int64_t n, float* dst, bool use_switches) {
  if (n == 0) return absl::OkStatus();
  if (n < 0) return absl::InvalidArgumentError("negative batch size");
  if (mode_ == UnpoolMode::kSwitches && use_switches) return pool_->Scatter(n, src, dst);
  const int64_t c = pool_->channels(), h = pool_->in_h(), w = pool_->in_w();
  const int64_t oh = pool_->out_h(), ow = pool_->out_w(), p = pool_->pool();
  const bool repeat = mode_ == UnpoolMode::kRepeat;
  std::fill(dst, dst + n * c * h * w, 0.0f);
  // Shapes: src [n*c][oh][ow] -> dst [n*c][h][w].
  for (int64_t plane = 0; plane < n * c; ++plane) {
    const float* s = src + plane * oh * ow;
    float* d = dst + plane * h * w;
    for (int64_t y = 0; y < oh; ++y) {
      for (int64_t x = 0; x < ow; ++x) {
        const float v = s[y * ow + x];
        if (!repeat) {
          d[(y * p) * w + x * p] = v;
          continue;
        }
        for (int64_t dy = 0; dy < p; ++dy) {
          for (int64_t dx = 0; dx < p; ++dx) d[(y * p + dy) * w + x * p + dx] = v;
        }
      }
    }
  }
  return absl::OkStatus();
}

absl::Status UnpoolLayer::Backward(int64_t n, const float* diff_dst, float* diff_src,
                                   bool use_switches) {
  if (n == 0) return absl::OkStatus();
  if (n < 0) return absl::InvalidArgumentError("negative batch size");
  const int64_t ins = in_size(), outs = out_size();
  if (mode_ == UnpoolMode::kSwitches && use_switches) {
    // Gather: diff_src[j] = diff_dst[argmax(j)].
    if (absl::Status s = pool_->Switches(n, &switches_); !s.ok()) return s;
    for (int64_t r = 0; r < n; ++r) {
      const float* d = diff_dst + r * outs;
      for (int64_t j = 0; j < ins; ++j) diff_src[r * ins + j] = d[switches_[r * ins + j]];
    }
    return absl::OkStatus();
  }
  const int64_t c = pool_->channels(), h = pool_->in_h(), w = pool_->in_w();
  const int64_t oh = pool_->out_h(), ow = pool_->out_w(), p = pool_->pool();
  const bool repeat = mode_ == UnpoolMode::kRepeat;
  for (int64_t plane = 0; plane < n * c; ++plane) {
    const float* d = diff_dst + plane * h * w;
    float* s = diff_src + plane * oh * ow;
    for (int64_t y = 0; y < oh; ++y) {
      for (int64_t x = 0; x < ow; ++x) {
        if (!repeat) {
          s[y * ow + x] = d[(y * p) * w + x * p];
          continue;
        }
        float sum = 0.0f;
        for (int64_t dy = 0; dy < p; ++dy) {
          for (int64_t dx = 0; dx < p; ++dx) sum += d[(y * p + dy) * w + x * p + dx];
        }
        s[y * ow + x] = sum;
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace bn
