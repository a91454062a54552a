#include "engine/util/log.h"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <mutex>

namespace bn {
namespace {
std::atomic<int> g_min_level{static_cast<int>(LogLevel::kInfo)};
std::atomic<int> g_format{static_cast<int>(LogFormat::kText)};
std::mutex g_write_mutex;

std::string& ThreadRequestIdSlot() {
  thread_local std::string id;
  return id;
}

const char* Basename(const char* path) {
  const char* base = path;
  for (const char* p = path; *p != '\0'; ++p) {
    if (*p == '/') base = p + 1;
  }
  return base;
}

const char* LevelName(LogLevel level) {
  static const char* const kNames[] = {"debug", "info", "warning", "error"};
  return kNames[static_cast<int>(level)];
}

std::string Timestamp() {
  using std::chrono::system_clock;
  const auto now = system_clock::now();
  const std::time_t secs = system_clock::to_time_t(now);
  const auto millis =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char stamp[64];
  std::snprintf(stamp, sizeof(stamp), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(millis));
  return stamp;
}

// logfmt: bare when the value is non-empty and has no space, '=', '"', '\\' or control byte.
// Appends `c` inside a quoted string: quote and backslash escaped, \n \r \t by name, other
// control characters with `control_format` (printf of the byte: "\\x%02x" or "\\u%04x").
void AppendEscaped(char c, const char* control_format, std::string* out) {
  const auto u = static_cast<unsigned char>(c);
  if (c == '"' || c == '\\') {
    out->push_back('\\');
    out->push_back(c);
  } else if (c == '\n') {
    out->append("\\n");
  } else if (c == '\r') {
    out->append("\\r");
  } else if (c == '\t') {
    out->append("\\t");
  } else if (u < 0x20 || u == 0x7f) {
    char buf[8];
    std::snprintf(buf, sizeof(buf), control_format, u);
    out->append(buf);
  } else {
    out->push_back(c);
  }
}

void AppendTextValue(std::string_view value, bool always_quote, std::string* out) {
  bool quote = always_quote || value.empty();
  for (char c : value) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7f || c == '=' || c == '"' || c == '\\') quote = true;
  }
  if (!quote) {
    out->append(value);
    return;
  }
  out->push_back('"');
  for (char c : value) AppendEscaped(c, "\\x%02x", out);
  out->push_back('"');
}

// Length of the valid UTF-8 sequence starting at s[i], or 0 when it is invalid.
size_t Utf8SequenceLength(std::string_view s, size_t i) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  size_t n = 0;
  uint32_t min = 0;
  if (b0 >= 0xc2 && b0 <= 0xdf) {
    n = 2, min = 0x80;
  } else if (b0 >= 0xe0 && b0 <= 0xef) {
    n = 3, min = 0x800;
  } else if (b0 >= 0xf0 && b0 <= 0xf4) {
    n = 4, min = 0x10000;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  uint32_t cp = b0 & (0x7f >> n);
  for (size_t k = 1; k < n; ++k) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    if ((b & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (b & 0x3f);
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
  return n;
}

void AppendJsonString(std::string_view value, std::string* out) {
  out->push_back('"');
  for (size_t i = 0; i < value.size();) {
    const char c = value[i];
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x80) {
      const size_t n = Utf8SequenceLength(value, i);
      if (n == 0) {
        out->append("\\ufffd");
        ++i;
      } else {
        out->append(value.substr(i, n));
        i += n;
      }
      continue;
    }
    AppendEscaped(c, "\\u%04x", out);
    ++i;
  }
  out->push_back('"');
}

}  // namespace

void SetMinLogLevel(LogLevel level) { g_min_level.store(static_cast<int>(level)); }

LogLevel MinLogLevel() { return static_cast<LogLevel>(g_min_level.load()); }

bool ParseLogLevel(std::string_view text, LogLevel* level) {
  if (text == "debug") {
    *level = LogLevel::kDebug;
  } else if (text == "info") {
    *level = LogLevel::kInfo;
  } else if (text == "warning") {
    *level = LogLevel::kWarning;
  } else if (text == "error") {
    *level = LogLevel::kError;
  } else {
    return false;
  }
  return true;
}

void SetLogFormat(LogFormat format) { g_format.store(static_cast<int>(format)); }

LogFormat GetLogFormat() { return static_cast<LogFormat>(g_format.load()); }

bool ParseLogFormat(std::string_view text, LogFormat* format) {
  if (text == "text") {
    *format = LogFormat::kText;
  } else if (text == "json") {
    *format = LogFormat::kJson;
  } else {
    return false;
  }
  return true;
}

const std::string& ThreadRequestId() { return ThreadRequestIdSlot(); }

void SetThreadRequestId(std::string id) { ThreadRequestIdSlot() = std::move(id); }

ScopedRequestId::ScopedRequestId(std::string id) : previous_(std::move(ThreadRequestIdSlot())) {
  ThreadRequestIdSlot() = std::move(id);
}

ScopedRequestId::~ScopedRequestId() { ThreadRequestIdSlot() = std::move(previous_); }

namespace internal {

std::string FormatLogRecord(LogFormat format, const LogRecord& record) {
  std::string out;
  out.reserve(96 + record.message.size());
  if (format == LogFormat::kJson) {
    auto member = [&out](std::string_view key, std::string_view value) {
      if (out.size() > 1) out.push_back(',');
      AppendJsonString(key, &out);
      out.push_back(':');
      AppendJsonString(value, &out);
    };
    out.push_back('{');
    member("ts", record.timestamp);
    member("level", LevelName(record.level));
    member("src", record.source);
    member("msg", record.message);
    if (!record.request_id.empty()) member("request_id", record.request_id);
    for (const auto& [key, value] : record.fields) member(key, value);
    out.append("}\n");
    return out;
  }
  auto pair = [&out](std::string_view key, std::string_view value, bool quote) {
    if (!out.empty()) out.push_back(' ');
    out.append(key);
    out.push_back('=');
    AppendTextValue(value, quote, &out);
  };
  pair("ts", record.timestamp, false);
  pair("level", LevelName(record.level), false);
  pair("src", record.source, false);
  pair("msg", record.message, true);
  if (!record.request_id.empty()) pair("request_id", record.request_id, false);
  for (const auto& [key, value] : record.fields) pair(key, value, false);
  out.push_back('\n');
  return out;
}

LogMessage::LogMessage(LogLevel level, const char* file, int line, LogFields fields)
    : level_(level), file_(file), line_(line), fields_(std::move(fields)) {}

LogMessage::~LogMessage() {
  LogRecord record;
  record.timestamp = Timestamp();
  record.level = level_;
  record.source = std::string(Basename(file_)) + ":" + std::to_string(line_);
  record.message = stream_.str();
  record.request_id = ThreadRequestId();
  record.fields = std::move(fields_);
  const std::string line = FormatLogRecord(GetLogFormat(), record);
  std::lock_guard<std::mutex> lock(g_write_mutex);
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}

}  // namespace internal
}  // namespace bn
