#include "engine/index/hnsw_body.h"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

namespace bn {
namespace {

// Reads little-endian PODs from a byte range; `ok` turns false once a read runs past the end.
class BodyReader {
 public:
  explicit BodyReader(absl::string_view in) : in_(in) {}
  template <typename T>
  T Read() {
    T v{};
    if (in_.size() - pos_ < sizeof(T)) {
      ok_ = false;
      pos_ = in_.size();
      return v;
    }
    std::memcpy(&v, in_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }
  void Skip(size_t n) {
    if (remaining() < n) {
      ok_ = false;
      n = remaining();
    }
    pos_ += n;
  }
  bool ok() const { return ok_; }
  size_t pos() const { return pos_; }
  size_t remaining() const { return in_.size() - pos_; }

 private:
  absl::string_view in_;
  size_t pos_ = 0;
  bool ok_ = true;
};

}  // namespace

std::string ValidateHnswBody(absl::string_view body, size_t data_bytes, HnswBodyShape* shape) {
  using tableint = uint32_t;  // hnswlib::tableint
  BodyReader r(body);
  const size_t offset_level0 = r.Read<size_t>();
  const size_t max_elements = r.Read<size_t>();
  const size_t count = r.Read<size_t>();
  const size_t size_data_per_element = r.Read<size_t>();
  const size_t label_offset = r.Read<size_t>();
  const size_t offset_data = r.Read<size_t>();
  const int maxlevel = r.Read<int>();
  const tableint enterpoint = r.Read<tableint>();
  const size_t max_m = r.Read<size_t>();
  const size_t max_m0 = r.Read<size_t>();
  const size_t m = r.Read<size_t>();
  const double mult = r.Read<double>();
  const size_t ef_construction = r.Read<size_t>();
  if (!r.ok()) return "header truncated";
  if (m < 2 || m > 1000 || max_m != m || max_m0 != 2 * m) return "bad M";
  const double expected_mult = 1 / std::log(1.0 * m);
  if (!(std::fabs(mult - expected_mult) <= 1e-9 * expected_mult)) return "bad level multiplier";
  if (ef_construction < m || ef_construction > (size_t{1} << 31)) return "bad ef_construction";
  const size_t links0_bytes = max_m0 * sizeof(tableint) + sizeof(tableint);
  const size_t links_bytes = max_m * sizeof(tableint) + sizeof(tableint);
  if (offset_level0 != 0 || offset_data != links0_bytes ||
      label_offset != links0_bytes + data_bytes ||
      size_data_per_element != links0_bytes + data_bytes + sizeof(size_t)) {
    return "node layout does not match the index's vector size";
  }
  // Every node takes its level-0 record and a 4-byte upper-link size.
  if (count > r.remaining() / (size_data_per_element + sizeof(uint32_t)) ||
      count > std::numeric_limits<tableint>::max() - 1) {
    return "node count exceeds the body";
  }
  if (max_elements < count) return "capacity below the node count";
  if (count == 0) {
    if (maxlevel != -1 || enterpoint != static_cast<tableint>(-1) || r.remaining() != 0) {
      return "empty index with an entry point or trailing bytes";
    }
    shape->count = 0;
    shape->max_elements = max_elements;
    return "";
  }
  if (maxlevel < 0 || enterpoint >= count) return "entry point out of range";
  const char* nodes = body.data() + r.pos();
  const size_t nodes_bytes = count * size_data_per_element;
  BodyReader upper(body.substr(r.pos() + nodes_bytes));
  // Pass 1: levels and the offsets of the upper link lists.
  std::vector<int> levels(count);
  std::vector<size_t> upper_pos(count);
  for (size_t i = 0; i < count; ++i) {
    const uint32_t bytes = upper.Read<uint32_t>();
    if (!upper.ok() || bytes % links_bytes != 0 || bytes > upper.remaining()) {
      return "bad upper link list of node " + std::to_string(i);
    }
    const size_t level = bytes / links_bytes;
    if (level > static_cast<size_t>(maxlevel)) return "node above the top level";
    levels[i] = static_cast<int>(level);
    upper_pos[i] = upper.pos();
    upper.Skip(bytes);
  }
  if (upper.remaining() != 0) return "trailing bytes after the link lists";
  if (levels[enterpoint] != maxlevel) return "entry point is not on the top level";
  // Pass 2: link counts and neighbour ids (a neighbour on level L must reach level L).
  const char* upper_base = body.data() + r.pos() + nodes_bytes;
  auto check_list = [&](const char* list, size_t max_links, int level) {
    uint32_t header = 0;
    std::memcpy(&header, list, sizeof(header));
    const size_t n = header & 0xffff;
    if (n > max_links) return false;
    for (size_t j = 0; j < n; ++j) {
      tableint link = 0;
      std::memcpy(&link, list + sizeof(tableint) * (j + 1), sizeof(link));
      if (link >= count || levels[link] < level) return false;
    }
    return true;
  };
  for (size_t i = 0; i < count; ++i) {
    if (!check_list(nodes + i * size_data_per_element, max_m0, 0)) {
      return "bad level-0 links of node " + std::to_string(i);
    }
    for (int level = 1; level <= levels[i]; ++level) {
      if (!check_list(upper_base + upper_pos[i] + (level - 1) * links_bytes, max_m, level)) {
        return "bad level-" + std::to_string(level) + " links of node " + std::to_string(i);
      }
    }
  }
  shape->count = count;
  shape->max_elements = max_elements;
  return "";
}

}  // namespace bn
