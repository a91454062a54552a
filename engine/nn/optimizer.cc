#include "engine/nn/optimizer.h"

#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <cmath>

namespace bn {

int Optimizer::AddBlock(float* param, int64_t count, bool decay) {
  Block b{param, count, decay, std::vector<float>(static_cast<size_t>(count), 0.0f), {}};
  if (options_.kind == OptimizerKind::kAdam) b.v.assign(static_cast<size_t>(count), 0.0f);
  blocks_.push_back(std::move(b));
  return static_cast<int>(blocks_.size()) - 1;
}

namespace {

// Element-wise kernels, compiled for AVX-512, AVX2 and baseline x86-64 with runtime dispatch
// (the project builds for baseline x86-64). Each element's update is independent, so results do
// not depend on how the range is split across threads.
struct SgdArgs {
  float lr, mu, wd;
};
struct AdamArgs {
  float lr, b1, b2, c1, c2, eps, wd;
};

// ifunc-based clones run their resolver before sanitizer runtimes initialise (a TSan build crashed
// at startup here), so sanitizer builds use the default version only.
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
#define BN_SGD_CLONES
#else
#define BN_SGD_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#endif
BN_SGD_CLONES void SgdKernel(
    float* w, float* m, const float* g, int64_t begin, int64_t end, SgdArgs a) {
  for (int64_t i = begin; i < end; ++i) {
    m[i] = a.mu * m[i] - a.lr * (g[i] + a.wd * w[i]);
    w[i] += m[i];
  }
}

// Adam needs sqrt, which the compiler will not vectorise while it must set errno, hence
// explicit AVX-512 / AVX2 versions (selected at run time) and a scalar fallback.
void AdamScalar(float* w, float* m, float* v, const float* g, int64_t begin, int64_t end,
                AdamArgs a) {
  for (int64_t i = begin; i < end; ++i) {
    const float gi = g[i] + a.wd * w[i];
    m[i] = a.b1 * m[i] + (1.0f - a.b1) * gi;
    v[i] = a.b2 * v[i] + (1.0f - a.b2) * gi * gi;
    w[i] -= a.lr * (m[i] * a.c1) / (std::sqrt(v[i] * a.c2) + a.eps);
  }
}

__attribute__((target("avx512f"))) void AdamAvx512(float* w, float* m, float* v, const float* g,
                                                   int64_t begin, int64_t end, AdamArgs a) {
  const __m512 b1 = _mm512_set1_ps(a.b1), nb1 = _mm512_set1_ps(1.0f - a.b1);
  const __m512 b2 = _mm512_set1_ps(a.b2), nb2 = _mm512_set1_ps(1.0f - a.b2);
  const __m512 c1 = _mm512_set1_ps(a.c1), c2 = _mm512_set1_ps(a.c2);
  const __m512 lr = _mm512_set1_ps(a.lr), eps = _mm512_set1_ps(a.eps), wd = _mm512_set1_ps(a.wd);
  int64_t i = begin;
  for (; i + 16 <= end; i += 16) {
    const __m512 wi = _mm512_loadu_ps(w + i);
    const __m512 gi = _mm512_add_ps(_mm512_loadu_ps(g + i), _mm512_mul_ps(wd, wi));
    const __m512 mi =
        _mm512_add_ps(_mm512_mul_ps(b1, _mm512_loadu_ps(m + i)), _mm512_mul_ps(nb1, gi));
    const __m512 vi = _mm512_add_ps(_mm512_mul_ps(b2, _mm512_loadu_ps(v + i)),
                                    _mm512_mul_ps(nb2, _mm512_mul_ps(gi, gi)));
    // The masked form avoids GCC 12's maybe-uninitialized false positive in _mm512_sqrt_ps.
    const __m512 scaled = _mm512_mul_ps(vi, c2);
    const __m512 den =
        _mm512_add_ps(_mm512_mask_sqrt_ps(scaled, static_cast<__mmask16>(0xFFFF), scaled), eps);
    const __m512 step = _mm512_div_ps(_mm512_mul_ps(lr, _mm512_mul_ps(mi, c1)), den);
    _mm512_storeu_ps(m + i, mi);
    _mm512_storeu_ps(v + i, vi);
    _mm512_storeu_ps(w + i, _mm512_sub_ps(wi, step));
  }
  AdamScalar(w, m, v, g, i, end, a);
}

__attribute__((target("avx2"))) void AdamAvx2(float* w, float* m, float* v, const float* g,
                                              int64_t begin, int64_t end, AdamArgs a) {
  const __m256 b1 = _mm256_set1_ps(a.b1), nb1 = _mm256_set1_ps(1.0f - a.b1);
  const __m256 b2 = _mm256_set1_ps(a.b2), nb2 = _mm256_set1_ps(1.0f - a.b2);
  const __m256 c1 = _mm256_set1_ps(a.c1), c2 = _mm256_set1_ps(a.c2);
  const __m256 lr = _mm256_set1_ps(a.lr), eps = _mm256_set1_ps(a.eps), wd = _mm256_set1_ps(a.wd);
  int64_t i = begin;
  for (; i + 8 <= end; i += 8) {
    const __m256 wi = _mm256_loadu_ps(w + i);
    const __m256 gi = _mm256_add_ps(_mm256_loadu_ps(g + i), _mm256_mul_ps(wd, wi));
    const __m256 mi =
        _mm256_add_ps(_mm256_mul_ps(b1, _mm256_loadu_ps(m + i)), _mm256_mul_ps(nb1, gi));
    const __m256 vi = _mm256_add_ps(_mm256_mul_ps(b2, _mm256_loadu_ps(v + i)),
                                    _mm256_mul_ps(nb2, _mm256_mul_ps(gi, gi)));
    const __m256 den = _mm256_add_ps(_mm256_sqrt_ps(_mm256_mul_ps(vi, c2)), eps);
    const __m256 step = _mm256_div_ps(_mm256_mul_ps(lr, _mm256_mul_ps(mi, c1)), den);
    _mm256_storeu_ps(m + i, mi);
    _mm256_storeu_ps(v + i, vi);
    _mm256_storeu_ps(w + i, _mm256_sub_ps(wi, step));
  }
  AdamScalar(w, m, v, g, i, end, a);
}

void AdamKernel(float* w, float* m, float* v, const float* g, int64_t begin, int64_t end,
                AdamArgs a) {
  static const int level =
      __builtin_cpu_supports("avx512f") ? 2 : (__builtin_cpu_supports("avx2") ? 1 : 0);
  if (level == 2) {
    AdamAvx512(w, m, v, g, begin, end, a);
  } else if (level == 1) {
    AdamAvx2(w, m, v, g, begin, end, a);
  } else {
    AdamScalar(w, m, v, g, begin, end, a);
  }
}

// Runs f(begin, end) over [0, count) split evenly across the OpenMP threads (serially when
// small).
template <typename F>
void ParallelRange(int64_t count, F f) {
  if (count < (int64_t{1} << 16)) {
    f(int64_t{0}, count);
    return;
  }
#pragma omp parallel
  {
    const int64_t nt = omp_get_num_threads(), t = omp_get_thread_num();
    const int64_t chunk = (count + nt - 1) / nt;
    const int64_t begin = std::min(count, t * chunk), end = std::min(count, begin + chunk);
    if (begin < end) f(begin, end);
  }
}

}  // namespace

void Optimizer::Update(int index, const float* grad) {
  Block& b = blocks_[static_cast<size_t>(index)];
  float* w = b.param;
  float* m = b.m.data();
  const float wd = b.decay ? options_.weight_decay : 0.0f;
  if (options_.kind == OptimizerKind::kSgd) {
    const SgdArgs a{options_.learning_rate, options_.momentum, wd};
    ParallelRange(b.count, [&](int64_t s, int64_t e) { SgdKernel(w, m, grad, s, e, a); });
    return;
  }
  float* v = b.v.data();
  const double t = static_cast<double>(step_ < 1 ? 1 : step_);
  AdamArgs a;
  a.lr = options_.learning_rate;
  a.b1 = options_.beta1;
  a.b2 = options_.beta2;
  a.eps = options_.epsilon;
  a.wd = wd;
  a.c1 = static_cast<float>(1.0 / (1.0 - std::pow(static_cast<double>(a.b1), t)));
  a.c2 = static_cast<float>(1.0 / (1.0 - std::pow(static_cast<double>(a.b2), t)));
  ParallelRange(b.count, [&](int64_t s, int64_t e) { AdamKernel(w, m, v, grad, s, e, a); });
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
