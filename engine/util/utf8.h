// UTF-8 encoding of one code point (validation lives in engine/input/text.h: ValidateUtf8).
#ifndef BOTTLENECK_ENGINE_UTIL_UTF8_H_
#define BOTTLENECK_ENGINE_UTIL_UTF8_H_

#include <string>

namespace bn {

// Appends the UTF-8 encoding of code point `c` (<= U+10FFFF) to *out.
void AppendUtf8(char32_t c, std::string* out);

}  // namespace bn

#endif  // BOTTLENECK_ENGINE_UTIL_UTF8_H_
