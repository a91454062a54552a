// A small strict JSON reader (RFC 8259) for the project's data files (the Reuters-21578 JSON
// package): objects, arrays, strings (all escapes, \u surrogate pairs -> UTF-8), numbers (as
// double), true/false/null. Nesting depth and input size are bounded; malformed input returns
// InvalidArgument with the byte offset.
//
// Thread safety: no shared state.
#ifndef BOTTLENECK_ENGINE_DATA_JSON_H_
#define BOTTLENECK_ENGINE_DATA_JSON_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace bn {

struct JsonValue {
  enum class Type { kNull, kBool, kNumber, kString, kArray, kObject };
  Type type = Type::kNull;
  bool boolean = false;
  double number = 0;
  std::string string;
  std::vector<JsonValue> array;
  std::map<std::string, JsonValue> object;  // Duplicate keys: the last one wins.

  // The member `key` of an object, or nullptr.
  const JsonValue* Find(const std::string& key) const;
};

// Parses a whole document (surrounding whitespace allowed, nothing else).
[[nodiscard]] absl::StatusOr<JsonValue> ParseJson(absl::string_view text, int max_depth = 64);

}  // namespace bn

#endif  // BOTTLENECK_ENGINE_DATA_JSON_H_
