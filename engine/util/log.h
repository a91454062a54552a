// Levelled, structured, thread-safe logging to stderr.
//
//   BN_LOG(INFO) << "rebuilt index for " << name << " from " << n << " codes";
//   BN_LOG_WITH(INFO, {{"method", m}, {"code", "OK"}}) << "rpc";
//
// Each statement writes one record on one line, atomically, in the process-wide format
// (SetLogFormat):
//   text (logfmt, the default):
//     ts=2026-11-29T17:34:14.123Z level=info src=file.cc:42 msg="rebuilt index" request_id=1f..
//   json (one object per line):
//     {"ts":"2026-11-29T17:34:14.123Z","level":"info","src":"file.cc:42","msg":"...",...}
// The streamed text is the `msg`; `request_id` is added while the thread handles an RPC
// (ScopedRequestId); BN_LOG_WITH's fields follow in order. Values are quoted and escaped as the
// format needs (text: quoted when they hold a space, '=', '"' or a control character; json:
// escaped, invalid UTF-8 replaced by U+FFFD), so a record never spans lines.
// Lines below the process-wide minimum level (SetMinLogLevel, default INFO) are skipped
// cheaply. Never log secrets (tokens, key material, request metadata other than the request id).
#ifndef BOTTLENECK_ENGINE_UTIL_LOG_H_
#define BOTTLENECK_ENGINE_UTIL_LOG_H_

#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace bn {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };
enum class LogFormat { kText = 0, kJson = 1 };

// Thread-safe.
void SetMinLogLevel(LogLevel level);
LogLevel MinLogLevel();
// Parses "debug", "info", "warning", "error"; returns false for anything else.
[[nodiscard]] bool ParseLogLevel(std::string_view text, LogLevel* level);

// Thread-safe; default kText.
void SetLogFormat(LogFormat format);
LogFormat GetLogFormat();
// Parses "text", "json"; returns false for anything else.
[[nodiscard]] bool ParseLogFormat(std::string_view text, LogFormat* format);

// Extra key=value pairs of one record. Keys should be [a-z_]+ (they are written as given).
using LogFields = std::vector<std::pair<std::string, std::string>>;

// The request id of the RPC the calling thread is handling; empty when none.
const std::string& ThreadRequestId();

// Sets the calling thread's request id for its lifetime and restores the previous one after.
// Not copyable; use on one thread.
class ScopedRequestId {
 public:
  explicit ScopedRequestId(std::string id);
  ~ScopedRequestId();
  ScopedRequestId(const ScopedRequestId&) = delete;
  ScopedRequestId& operator=(const ScopedRequestId&) = delete;

 private:
  std::string previous_;
};

// Sets the calling thread's request id until changed again (empty clears it). For code whose
// begin and end do not share a scope (the RPC interceptor); prefer ScopedRequestId.
void SetThreadRequestId(std::string id);

namespace internal {

struct LogRecord {
  std::string timestamp;  // RFC 3339, UTC, milliseconds.
  LogLevel level = LogLevel::kInfo;
  std::string source;  // "file.cc:42".
  std::string message;
  std::string request_id;  // Omitted when empty.
  LogFields fields;
};
// One line (with the trailing '\n') in `format`. Pure; exposed for tests.
std::string FormatLogRecord(LogFormat format, const LogRecord& record);

class LogMessage {
 public:
  LogMessage(LogLevel level, const char* file, int line, LogFields fields = {});
  ~LogMessage();  // Writes the line.
  LogMessage(const LogMessage&) = delete;
  LogMessage& operator=(const LogMessage&) = delete;
  std::ostream& stream() { return stream_; }

 private:
  LogLevel level_;
  const char* file_;
  int line_;
  LogFields fields_;
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

#define BN_LOG(severity)                          \
  (BN_LOG_LEVEL_##severity < ::bn::MinLogLevel()) \
      ? (void)0                                   \
      : ::bn::internal::Voidify() &               \
            ::bn::internal::LogMessage(BN_LOG_LEVEL_##severity, __FILE__, __LINE__).stream()

// BN_LOG with extra fields: BN_LOG_WITH(INFO, {{"method", m}, {"code", c}}) << "rpc". The
// fields are evaluated only when the level is enabled.
#define BN_LOG_WITH(severity, ...)                                                                \
  (BN_LOG_LEVEL_##severity < ::bn::MinLogLevel())                                                 \
      ? (void)0                                                                                   \
      : ::bn::internal::Voidify() & ::bn::internal::LogMessage(BN_LOG_LEVEL_##severity, __FILE__, \
                                                               __LINE__,                          \
                                                               ::bn::LogFields __VA_ARGS__)       \
                                        .stream()

#endif  // BOTTLENECK_ENGINE_UTIL_LOG_H_
