// Request validation shared by every service: names, ids, numbers. Each function returns OK or
// InvalidArgument with a message that names the field.
#ifndef BOTTLENECK_SERVER_CORE_VALIDATION_H_
#define BOTTLENECK_SERVER_CORE_VALIDATION_H_

#include <string>

#include "absl/status/status.h"

namespace bn {

// 1-64 characters of [A-Za-z0-9_-], starting with a letter or digit (no path characters, so a
// name can never escape the data directory). `field` names it in the message.
[[nodiscard]] absl::Status ValidateName(const std::string& field, const std::string& name);

// 1-256 bytes of valid UTF-8 (engine/input/text.h's ValidateUtf8) without control characters.
[[nodiscard]] absl::Status ValidateItemId(const std::string& id);

}  // namespace bn

#endif  // BOTTLENECK_SERVER_CORE_VALIDATION_H_
