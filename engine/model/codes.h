// Binary codes: packing logistic code activations into bits and Hamming distances.
//
// Layout: row r of an n x bits code matrix packs into bytes [r * B, (r + 1) * B) with
// B = (bits + 7) / 8; code unit i goes to byte i / 8, bit i % 8 (least significant first); unused
// high bits of the last byte are 0. A unit is 1 when its activation is > 0.5.
// Thread safety: pure functions.
#ifndef BOTTLENECK_ENGINE_MODEL_CODES_H_
#define BOTTLENECK_ENGINE_MODEL_CODES_H_

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace bn {

inline constexpr int64_t kMinCodeBits = 1;
inline constexpr int64_t kMaxCodeBits = 4096;

inline int64_t PackedBytes(int64_t bits) { return (bits + 7) / 8; }

// InvalidArgument if bits is outside [kMinCodeBits, kMaxCodeBits] or n < 0.
[[nodiscard]] absl::StatusOr<std::vector<uint8_t>> PackBits(const float* codes, int64_t n,
                                                            int64_t bits);
// Writes n * bits values 0.0 / 1.0 to `out`. InvalidArgument as for PackBits.
[[nodiscard]] absl::Status UnpackBits(const uint8_t* packed, int64_t n, int64_t bits, float* out);
// Number of differing bits between two packed codes of `bytes` bytes.
int64_t HammingDistance(const uint8_t* a, const uint8_t* b, int64_t bytes);

}  // namespace bn

#endif  // BOTTLENECK_ENGINE_MODEL_CODES_H_
