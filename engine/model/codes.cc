#include "engine/model/codes.h"

#include <cstring>

namespace bn {
namespace {

absl::Status CheckArgs(int64_t n, int64_t bits) {
  if (bits < kMinCodeBits || bits > kMaxCodeBits) {
    return absl::InvalidArgumentError("code bits must be in [1, 4096]");
  }
  if (n < 0) return absl::InvalidArgumentError("negative row count");
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::vector<uint8_t>> PackBits(const float* codes, int64_t n, int64_t bits) {
  if (absl::Status s = CheckArgs(n, bits); !s.ok()) return s;
  const int64_t bytes = PackedBytes(bits);
  std::vector<uint8_t> out(static_cast<size_t>(n * bytes), 0);
  for (int64_t r = 0; r < n; ++r) {
    const float* row = codes + r * bits;
    uint8_t* dst = out.data() + r * bytes;
    for (int64_t i = 0; i < bits; ++i) {
      if (row[i] > 0.5f) dst[i / 8] = static_cast<uint8_t>(dst[i / 8] | (1u << (i % 8)));
    }
  }
  return out;
}

absl::Status UnpackBits(const uint8_t* packed, int64_t n, int64_t bits, float* out) {
  if (absl::Status s = CheckArgs(n, bits); !s.ok()) return s;
  const int64_t bytes = PackedBytes(bits);
  for (int64_t r = 0; r < n; ++r) {
    for (int64_t i = 0; i < bits; ++i) {
      out[r * bits + i] = (packed[r * bytes + i / 8] >> (i % 8)) & 1u ? 1.0f : 0.0f;
    }
  }
  return absl::OkStatus();
}

int64_t HammingDistance(const uint8_t* a, const uint8_t* b, int64_t bytes) {
  int64_t d = 0, i = 0;
  for (; i + 8 <= bytes; i += 8) {
    uint64_t x, y;
    std::memcpy(&x, a + i, 8);
    std::memcpy(&y, b + i, 8);
    d += __builtin_popcountll(x ^ y);
  }
  for (; i < bytes; ++i) d += __builtin_popcount(static_cast<unsigned>(a[i] ^ b[i]));
  return d;
}

}  // namespace bn
