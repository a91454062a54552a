// Little-endian binary serialization with bounds checks, for model files, snapshots and store
// records. A ByteReader never reads past its buffer: every getter returns false (and leaves the
// reader failed) instead.
#ifndef BOTTLENECK_ENGINE_UTIL_BYTES_H_
#define BOTTLENECK_ENGINE_UTIL_BYTES_H_

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace bn {

class ByteWriter {
 public:
  explicit ByteWriter(std::string* out) : out_(out) {}
  void U8(uint8_t v) { out_->push_back(static_cast<char>(v)); }
  void U32(uint32_t v) { Raw(&v, sizeof(v)); }
  void U64(uint64_t v) { Raw(&v, sizeof(v)); }
  void I64(int64_t v) { Raw(&v, sizeof(v)); }
  void F32(float v) { Raw(&v, sizeof(v)); }
  void F64(double v) { Raw(&v, sizeof(v)); }
  // Length-prefixed (u64) byte string.
  void Str(absl::string_view s) {
    U64(s.size());
    out_->append(s.data(), s.size());
  }
  // Length-prefixed (u64 element count) float array.
  void Floats(const float* data, size_t n) {
    U64(n);
    Raw(data, n * sizeof(float));
  }
  void Floats(const std::vector<float>& v) { Floats(v.data(), v.size()); }
  void Raw(const void* data, size_t n) { out_->append(static_cast<const char*>(data), n); }

 private:
  std::string* out_;  // Not owned.
};

class ByteReader {
 public:
  explicit ByteReader(absl::string_view in) : in_(in) {}
  [[nodiscard]] bool U8(uint8_t* v) { return Raw(v, sizeof(*v)); }
  [[nodiscard]] bool U32(uint32_t* v) { return Raw(v, sizeof(*v)); }
  [[nodiscard]] bool U64(uint64_t* v) { return Raw(v, sizeof(*v)); }
  [[nodiscard]] bool I64(int64_t* v) { return Raw(v, sizeof(*v)); }
  [[nodiscard]] bool F32(float* v) { return Raw(v, sizeof(*v)); }
  [[nodiscard]] bool F64(double* v) { return Raw(v, sizeof(*v)); }
  [[nodiscard]] bool Str(std::string* s) {
    uint64_t n = 0;
    if (!U64(&n) || n > remaining()) return Fail();
    s->assign(in_.data() + pos_, n);
    pos_ += n;
    return true;
  }
  // Reads a float array; fails if the count exceeds `max_count` or the remaining bytes.
  [[nodiscard]] bool Floats(std::vector<float>* v, uint64_t max_count) {
    uint64_t n = 0;
    if (!U64(&n) || n > max_count || n > remaining() / sizeof(float)) return Fail();
    v->resize(n);
    return Raw(v->data(), n * sizeof(float));
  }
  [[nodiscard]] bool Raw(void* out, size_t n) {
    if (failed_ || n > remaining()) return Fail();
    if (n > 0) std::memcpy(out, in_.data() + pos_, n);  // `out` may be null when n == 0.
    pos_ += n;
    return true;
  }
  size_t remaining() const { return in_.size() - pos_; }
  bool failed() const { return failed_; }
  bool at_end() const { return pos_ == in_.size(); }

 private:
  bool Fail() {
    failed_ = true;
    return false;
  }
  absl::string_view in_;
  size_t pos_ = 0;
  bool failed_ = false;
};

// CRC-32 (zlib's polynomial) of `data`.
uint32_t Crc32(absl::string_view data);

}  // namespace bn

#endif  // BOTTLENECK_ENGINE_UTIL_BYTES_H_
