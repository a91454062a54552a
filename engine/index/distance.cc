#include "engine/index/distance.h"

#include <immintrin.h>

#include <cstring>

// GCC 12's _mm512_reduce_add_ps extracts halves into _mm256_undefined_pd(), which -Wuninitialized
// reports once inlined at -O3 (a false positive of the header, not of this file).
#pragma GCC diagnostic ignored "-Wuninitialized"

namespace bn {
namespace {

// --- AVX-512F: 16 lanes, two accumulators, one masked step for the tail. ---

__attribute__((target("avx512f"))) float L2Avx512(const void* a, const void* b, const void* p) {
  const size_t dim = *static_cast<const size_t*>(p);
  const float* x = static_cast<const float*>(a);
  const float* y = static_cast<const float*>(b);
  __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
  size_t i = 0;
  for (; i + 32 <= dim; i += 32) {
    const __m512 d0 = _mm512_sub_ps(_mm512_loadu_ps(x + i), _mm512_loadu_ps(y + i));
    const __m512 d1 = _mm512_sub_ps(_mm512_loadu_ps(x + i + 16), _mm512_loadu_ps(y + i + 16));
    s0 = _mm512_fmadd_ps(d0, d0, s0);
    s1 = _mm512_fmadd_ps(d1, d1, s1);
  }
  for (; i < dim; i += 16) {
    const size_t left = dim - i;
    const __mmask16 m = left >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << left) - 1);
    const __m512 d =
        _mm512_sub_ps(_mm512_maskz_loadu_ps(m, x + i), _mm512_maskz_loadu_ps(m, y + i));
    s0 = _mm512_fmadd_ps(d, d, s0);
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
}

__attribute__((target("avx512f"))) float IpAvx512(const void* a, const void* b, const void* p) {
  const size_t dim = *static_cast<const size_t*>(p);
  const float* x = static_cast<const float*>(a);
  const float* y = static_cast<const float*>(b);
  __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
  size_t i = 0;
  for (; i + 32 <= dim; i += 32) {
    s0 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i), _mm512_loadu_ps(y + i), s0);
    s1 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i + 16), _mm512_loadu_ps(y + i + 16), s1);
  }
  for (; i < dim; i += 16) {
    const size_t left = dim - i;
    const __mmask16 m = left >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << left) - 1);
    s0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, x + i), _mm512_maskz_loadu_ps(m, y + i), s0);
  }
  return 1.0f - _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
}

// --- AVX2 + FMA: 8 lanes, a masked load for the tail. ---

__attribute__((target("avx2,fma"))) __m256i TailMask(size_t left) {
  alignas(32) static const int kOnes[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(kOnes + 8 - left));
}

__attribute__((target("avx2,fma"))) float HorizontalSum(__m256 v) {
  const __m128 lo = _mm256_castps256_ps128(v);
  const __m128 hi = _mm256_extractf128_ps(v, 1);
  __m128 s = _mm_add_ps(lo, hi);
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
  return _mm_cvtss_f32(s);
}

__attribute__((target("avx2,fma"))) float L2Avx2(const void* a, const void* b, const void* p) {
  const size_t dim = *static_cast<const size_t*>(p);
  const float* x = static_cast<const float*>(a);
  const float* y = static_cast<const float*>(b);
  __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + 16 <= dim; i += 16) {
    const __m256 d0 = _mm256_sub_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i));
    const __m256 d1 = _mm256_sub_ps(_mm256_loadu_ps(x + i + 8), _mm256_loadu_ps(y + i + 8));
    s0 = _mm256_fmadd_ps(d0, d0, s0);
    s1 = _mm256_fmadd_ps(d1, d1, s1);
  }
  for (; i < dim; i += 8) {
    const size_t left = dim - i;
    const __m256i m = TailMask(left >= 8 ? 8 : left);
    const __m256 d = _mm256_sub_ps(_mm256_maskload_ps(x + i, m), _mm256_maskload_ps(y + i, m));
    s0 = _mm256_fmadd_ps(d, d, s0);
  }
  return HorizontalSum(_mm256_add_ps(s0, s1));
}

__attribute__((target("avx2,fma"))) float IpAvx2(const void* a, const void* b, const void* p) {
  const size_t dim = *static_cast<const size_t*>(p);
  const float* x = static_cast<const float*>(a);
  const float* y = static_cast<const float*>(b);
  __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + 16 <= dim; i += 16) {
    s0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i), s0);
    s1 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 8), _mm256_loadu_ps(y + i + 8), s1);
  }
  for (; i < dim; i += 8) {
    const size_t left = dim - i;
    const __m256i m = TailMask(left >= 8 ? 8 : left);
    s0 = _mm256_fmadd_ps(_mm256_maskload_ps(x + i, m), _mm256_maskload_ps(y + i, m), s0);
  }
  return 1.0f - HorizontalSum(_mm256_add_ps(s0, s1));
}

enum class Isa { kNone, kAvx2, kAvx512 };

Isa Detect() {
  if (__builtin_cpu_supports("avx512f")) return Isa::kAvx512;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return Isa::kAvx2;
  return Isa::kNone;
}

Isa& Chosen() {
  static Isa isa = Detect();
  return isa;
}

}  // namespace

DistanceFn FastL2Squared() {
  switch (Chosen()) {
    case Isa::kAvx512:
      return L2Avx512;
    case Isa::kAvx2:
      return L2Avx2;
    case Isa::kNone:
      break;
  }
  return nullptr;
}

DistanceFn FastInnerProductDistance() {
  switch (Chosen()) {
    case Isa::kAvx512:
      return IpAvx512;
    case Isa::kAvx2:
      return IpAvx2;
    case Isa::kNone:
      break;
  }
  return nullptr;
}

const char* FastDistanceIsa() {
  switch (Chosen()) {
    case Isa::kAvx512:
      return "avx512f";
    case Isa::kAvx2:
      return "avx2";
    case Isa::kNone:
      break;
  }
  return "none";
}

bool SetFastDistanceIsaForTesting(const char* isa) {
  const Isa best = Detect();
  Isa want;
  if (std::strcmp(isa, "avx512f") == 0) {
    want = Isa::kAvx512;
  } else if (std::strcmp(isa, "avx2") == 0) {
    want = Isa::kAvx2;
  } else if (std::strcmp(isa, "none") == 0) {
    want = Isa::kNone;
  } else {
    return false;
  }
  if (static_cast<int>(want) > static_cast<int>(best)) return false;
  Chosen() = want;
  return true;
}

}  // namespace bn
