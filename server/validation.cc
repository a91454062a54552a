#include "server/validation.h"

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

bool IsValidUtf8(const std::string& text) {
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  size_t i = 0, n = text.size();
  while (i < n) {
    unsigned char c = s[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    int len;
    uint32_t cp;
    if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + len > n) return false;
    for (int k = 1; k < len; ++k) {
      if ((s[i + k] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (s[i + k] & 0x3F);
    }
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
        cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
      return false;
    }
    i += len;
  }
  return true;
}

absl::Status ValidateItemId(const std::string& id) {
  if (id.empty()) return absl::InvalidArgumentError("item id must not be empty");
  if (id.size() > 256) return absl::InvalidArgumentError("item id must be at most 256 bytes");
  if (!IsValidUtf8(id)) return absl::InvalidArgumentError("item id must be valid UTF-8");
  for (unsigned char c : id) {
    if (c < 0x20 || c == 0x7f) {
      return absl::InvalidArgumentError("item id must not contain control characters");
    }
  }
  return absl::OkStatus();
}

}  // namespace bn
