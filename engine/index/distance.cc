#include "engine/index/distance.h"

#include <immintrin.h>

#include <cstdint>
#include <cstring>

// GCC 12's _mm512_reduce_add_ps extracts halves into _mm256_undefined_pd(), which -Wuninitialized
// reports once inlined at -O3 (a false positive of the header, not of this file).
#pragma GCC diagnostic ignored "-Wuninitialized"

namespace bn {
namespace {

// One step of a sum over lanes: the squared difference (L2) or the product (inner product).
template <bool kL2>
__attribute__((target("avx512f"))) __m512 Step512(__m512 x, __m512 y, __m512 sum) {
  if (kL2) {
    const __m512 d = _mm512_sub_ps(x, y);
    return _mm512_fmadd_ps(d, d, sum);
  }
  return _mm512_fmadd_ps(x, y, sum);
}

template <bool kL2>
__attribute__((target("avx2,fma"))) __m256 Step256(__m256 x, __m256 y, __m256 sum) {
  if (kL2) {
    const __m256 d = _mm256_sub_ps(x, y);
    return _mm256_fmadd_ps(d, d, sum);
  }
  return _mm256_fmadd_ps(x, y, sum);
}

// AVX-512F: 16 lanes, two accumulators, one masked step for the tail. The L2 kernel returns the
// sum; the inner-product one returns 1 - sum, as hnswlib's InnerProductDistance does.
template <bool kL2>
__attribute__((target("avx512f"))) float Avx512(const void* a, const void* b, const void* p) {
  const size_t dim = *static_cast<const size_t*>(p);
  const float* x = static_cast<const float*>(a);
  const float* y = static_cast<const float*>(b);
  __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
  size_t i = 0;
  for (; i + 32 <= dim; i += 32) {
    s0 = Step512<kL2>(_mm512_loadu_ps(x + i), _mm512_loadu_ps(y + i), s0);
    s1 = Step512<kL2>(_mm512_loadu_ps(x + i + 16), _mm512_loadu_ps(y + i + 16), s1);
  }
  for (; i < dim; i += 16) {
    const size_t left = dim - i;
    const __mmask16 m = left >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << left) - 1);
    s0 = Step512<kL2>(_mm512_maskz_loadu_ps(m, x + i), _mm512_maskz_loadu_ps(m, y + i), s0);
  }
  const float sum = _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
  return kL2 ? sum : 1.0f - sum;
}

// AVX2 + FMA: 8 lanes, a masked load for the tail.
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

template <bool kL2>
__attribute__((target("avx2,fma"))) float Avx2(const void* a, const void* b, const void* p) {
  const size_t dim = *static_cast<const size_t*>(p);
  const float* x = static_cast<const float*>(a);
  const float* y = static_cast<const float*>(b);
  __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + 16 <= dim; i += 16) {
    s0 = Step256<kL2>(_mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i), s0);
    s1 = Step256<kL2>(_mm256_loadu_ps(x + i + 8), _mm256_loadu_ps(y + i + 8), s1);
  }
  for (; i < dim; i += 8) {
    const __m256i m = TailMask(dim - i >= 8 ? 8 : dim - i);
    s0 = Step256<kL2>(_mm256_maskload_ps(x + i, m), _mm256_maskload_ps(y + i, m), s0);
  }
  const float sum = HorizontalSum(_mm256_add_ps(s0, s1));
  return kL2 ? sum : 1.0f - sum;
}

// Codes inside hnswlib's node storage follow the layer-0 links (4 * (2M + 1) bytes), so they are
// only 4-byte aligned: words are loaded with memcpy (an unaligned load, no undefined behaviour).
inline uint64_t LoadWord(const void* base, size_t i) {
  uint64_t w;
  std::memcpy(&w, static_cast<const char*>(base) + 8 * i, sizeof(w));
  return w;
}

__attribute__((target("popcnt"))) float HammingPopcnt(const void* a, const void* b,
                                                      const void* param) {
  const size_t words = *static_cast<const size_t*>(param);
  uint64_t bits = 0;
  for (size_t i = 0; i < words; ++i) bits += __builtin_popcountll(LoadWord(a, i) ^ LoadWord(b, i));
  return static_cast<float>(bits);
}

float HammingGeneric(const void* a, const void* b, const void* param) {
  const size_t words = *static_cast<const size_t*>(param);
  uint64_t bits = 0;
  for (size_t i = 0; i < words; ++i) bits += __builtin_popcountll(LoadWord(a, i) ^ LoadWord(b, i));
  return static_cast<float>(bits);
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
      return Avx512<true>;
    case Isa::kAvx2:
      return Avx2<true>;
    case Isa::kNone:
      break;
  }
  return nullptr;
}

DistanceFn FastInnerProductDistance() {
  switch (Chosen()) {
    case Isa::kAvx512:
      return Avx512<false>;
    case Isa::kAvx2:
      return Avx2<false>;
    case Isa::kNone:
      break;
  }
  return nullptr;
}

DistanceFn HammingDistance() {
  return __builtin_cpu_supports("popcnt") ? HammingPopcnt : HammingGeneric;
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
