// Distance kernels for the HNSW index: float codes, chosen once at run time for the CPU (AVX-512F,
// else AVX2+FMA), and packed binary codes (Hamming). hnswlib's own kernels are compiled for the
// build machine's baseline (SSE on a portable build) and handle a dimension that is not a multiple
// of 16 with a scalar loop (30-d codes: 14 of 30 dimensions); these use the widest vectors the CPU
// has and masked loads for the tail.
//
// Signature and parameter follow hnswlib's DISTFUNC: `a` and `b` point at `*dim` floats (any
// alignment), `dim` points at a size_t. Results equal the naive sums up to float rounding (the
// order of additions differs). Thread safe: pure functions.
#ifndef BOTTLENECK_ENGINE_INDEX_DISTANCE_H_
#define BOTTLENECK_ENGINE_INDEX_DISTANCE_H_

#include <cstddef>

namespace bn {

using DistanceFn = float (*)(const void* a, const void* b, const void* dim);

// The widest kernel this CPU runs, or nullptr when it has neither AVX-512F nor AVX2+FMA (the
// caller keeps hnswlib's kernel).
DistanceFn FastL2Squared();             // sum (a_i - b_i)^2
DistanceFn FastInnerProductDistance();  // 1 - sum a_i b_i (hnswlib's inner-product distance)

// Hamming distance of packed binary codes: popcount(a ^ b) over `*words` 64-bit words (the
// parameter points at a size_t), any alignment, as a float. Uses POPCNT when the CPU has it.
DistanceFn HammingDistance();

// The instruction set behind FastL2Squared and FastInnerProductDistance: "avx512f", "avx2" or
// "none".
const char* FastDistanceIsa();

// Force a kernel family, for tests: "avx512f", "avx2" or "none"; false when this CPU cannot run it
// (nothing changes). Not thread safe with concurrent Fast*() calls.
bool SetFastDistanceIsaForTesting(const char* isa);

}  // namespace bn

#endif  // BOTTLENECK_ENGINE_INDEX_DISTANCE_H_
