#include "server/core/validation.h"

#include "engine/input/text.h"

namespace bn {

absl::Status ValidateName(const std::string& field, const std::string& name) {
  if (name.empty()) return absl::InvalidArgumentError(field + " must not be empty");
  if (name.size() > 64) {
    return absl::InvalidArgumentError(field + " must be at most 64 characters");
  }
  auto alnum = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
  };
  if (!alnum(name[0])) {
    return absl::InvalidArgumentError(field + " must start with a letter or digit");
  }
  for (char c : name) {
    if (!alnum(c) && c != '_' && c != '-') {
      return absl::InvalidArgumentError(field + " may only contain A-Z, a-z, 0-9, '_' and '-'");
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateItemId(const std::string& id) {
  if (id.empty()) return absl::InvalidArgumentError("item id must not be empty");
  if (id.size() > 256) return absl::InvalidArgumentError("item id must be at most 256 bytes");
  if (!ValidateUtf8(id).ok()) return absl::InvalidArgumentError("item id must be valid UTF-8");
  for (unsigned char c : id) {
    if (c < 0x20 || c == 0x7f) {
      return absl::InvalidArgumentError("item id must not contain control characters");
    }
  }
  return absl::OkStatus();
}

}  // namespace bn
