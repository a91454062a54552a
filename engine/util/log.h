// Levelled, thread-safe logging to stderr.
//
//   BN_LOG(INFO) << "rebuilt index for " << name << " from " << n << " codes";
//
// Each statement writes one line "2026-11-29T17:34:14.123Z I file.cc:42] message" atomically.
// Lines below the process-wide minimum level (SetMinLogLevel, default INFO) are skipped
// cheaply. Never log secrets (tokens, key material).
#ifndef BOTTLENECK_ENGINE_UTIL_LOG_H_
#define BOTTLENECK_ENGINE_UTIL_LOG_H_

#include <sstream>
#include <string_view>

namespace bn {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };

// Thread-safe.
void SetMinLogLevel(LogLevel level);
LogLevel MinLogLevel();
// Parses "debug", "info", "warning", "error"; returns false for anything else.
[[nodiscard]] bool ParseLogLevel(std::string_view text, LogLevel* level);

namespace internal {
class LogMessage {
 public:
  LogMessage(LogLevel level, const char* file, int line);
  ~LogMessage();  // Writes the line.
  LogMessage(const LogMessage&) = delete;
  LogMessage& operator=(const LogMessage&) = delete;
  std::ostream& stream() { return stream_; }

 private:
  LogLevel level_;
  std::ostringstream stream_;
};
// Lets BN_LOG be a single expression (safe inside an unbraced if/else).
struct Voidify {
  void operator&(std::ostream&) {}
};
}  // namespace internal

}  // namespace bn

#define BN_LOG_LEVEL_DEBUG ::bn::LogLevel::kDebug
#define BN_LOG_LEVEL_INFO ::bn::LogLevel::kInfo
#define BN_LOG_LEVEL_WARNING ::bn::LogLevel::kWarning
#define BN_LOG_LEVEL_ERROR ::bn::LogLevel::kError

#define BN_LOG(severity)                                \
  (BN_LOG_LEVEL_##severity < ::bn::MinLogLevel())       \
      ? (void)0                                         \
      : ::bn::internal::Voidify() &                     \
            ::bn::internal::LogMessage(BN_LOG_LEVEL_##severity, __FILE__, __LINE__).stream()

#endif  // BOTTLENECK_ENGINE_UTIL_LOG_H_
