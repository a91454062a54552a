#include "engine/nn/dropout.h"

namespace bn {
namespace {

// SplitMix64: a small portable generator (Steele et al. 2014); each call gives 64 bits.
uint64_t SplitMix64(uint64_t* state) {
  uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

}  // namespace

void DropoutMask(float rate, uint64_t seed, int64_t count, float* mask) {
  if (!(rate > 0)) {
    for (int64_t i = 0; i < count; ++i) mask[i] = 1.0f;
    return;
  }
  // A unit is dropped when its 16-bit draw is below rate * 65536; four draws per 64 bits.
  const uint32_t threshold = static_cast<uint32_t>(static_cast<double>(rate) * 65536.0 + 0.5);
  const float keep = 1.0f / (1.0f - rate);
  uint64_t state = seed;
  uint64_t bits = 0;
  for (int64_t i = 0; i < count; ++i) {
    if ((i & 3) == 0) bits = SplitMix64(&state);
    const uint32_t draw = static_cast<uint32_t>(bits & 0xffffu);
    bits >>= 16;
    mask[i] = draw < threshold ? 0.0f : keep;
  }
}

void ApplyDropoutMask(const float* mask, const float* x, int64_t count, float* y) {
  for (int64_t i = 0; i < count; ++i) y[i] = x[i] * mask[i];
}

void DropoutForward(float rate, uint64_t step_seed, int64_t layer, const float* x, int64_t count,
                    float* mask, float* y) {
  DropoutMask(rate, step_seed * 131 + static_cast<uint64_t>(layer), count, mask);
  ApplyDropoutMask(mask, x, count, y);
}

}  // namespace bn
