// The structured log line formats (logfmt text and JSON lines) and the thread's request id.
#include "engine/util/log.h"

#include <map>
#include <string>
#include <thread>

#include "gtest/gtest.h"

namespace bn {
namespace {

internal::LogRecord Record(std::string message) {
  internal::LogRecord record;
  record.timestamp = "2026-11-29T17:34:14.123Z";
  record.level = LogLevel::kWarning;
  record.source = "file.cc:42";
  record.message = std::move(message);
  return record;
}

// Reads a logfmt line back: key=value or key="escaped value", separated by single spaces.
std::map<std::string, std::string> ParseLogfmt(const std::string& line) {
  std::map<std::string, std::string> out;
  size_t i = 0;
  while (i < line.size() && line[i] != '\n') {
    std::string key;
    while (i < line.size() && line[i] != '=') key += line[i++];
    ++i;
    std::string value;
    if (i < line.size() && line[i] == '"') {
      ++i;
      while (i < line.size() && line[i] != '"') {
        if (line[i] == '\\') {
          const char next = line[i + 1];
          value += next == 'n' ? '\n' : next == 't' ? '\t' : next == 'r' ? '\r' : next;
          i += 2;
        } else {
          value += line[i++];
        }
      }
      ++i;
    } else {
      while (i < line.size() && line[i] != ' ' && line[i] != '\n') value += line[i++];
    }
    out[key] = value;
    if (i < line.size() && line[i] == ' ') ++i;
  }
  return out;
}

TEST(LogFormatTest, TextIsOneLogfmtLineThatParsesBack) {
  internal::LogRecord record = Record("loaded \"a=b\" from\nC:\\dir");
  record.request_id = "0123456789abcdef";
  record.fields = {
      {"method", "/bottleneck.v1.QueryService/Search"}, {"peer", "ipv4:1.2.3.4:5"}, {"empty", ""}};
  const std::string line = internal::FormatLogRecord(LogFormat::kText, record);
  ASSERT_FALSE(line.empty());
  EXPECT_EQ(line.back(), '\n');
  EXPECT_EQ(line.find('\n'), line.size() - 1) << line;  // One line whatever the message holds.
  EXPECT_EQ(line.rfind("ts=2026-11-29T17:34:14.123Z level=warning src=file.cc:42 msg=\"", 0), 0u)
      << line;
  const auto parsed = ParseLogfmt(line);
  EXPECT_EQ(parsed.at("msg"), record.message);
  EXPECT_EQ(parsed.at("request_id"), "0123456789abcdef");
  EXPECT_EQ(parsed.at("method"), "/bottleneck.v1.QueryService/Search");
  EXPECT_EQ(parsed.at("peer"), "ipv4:1.2.3.4:5");
  EXPECT_EQ(parsed.at("empty"), "");
  EXPECT_EQ(parsed.at("level"), "warning");
}

TEST(LogFormatTest, TextOmitsAnEmptyRequestId) {
  const std::string line = internal::FormatLogRecord(LogFormat::kText, Record("x"));
  EXPECT_EQ(line.find("request_id"), std::string::npos) << line;
}

TEST(LogFormatTest, JsonIsOneEscapedObjectPerLine) {
  internal::LogRecord record =
      Record(std::string("tab\there \"q\" \\ nl\n ctl\x01 utf8 \xc3\xa9 bad \xff"));
  record.request_id = "r1";
  record.fields = {{"code", "OK"}};
  const std::string line = internal::FormatLogRecord(LogFormat::kJson, record);
  EXPECT_EQ(line,
            "{\"ts\":\"2026-11-29T17:34:14.123Z\",\"level\":\"warning\",\"src\":\"file.cc:42\","
            "\"msg\":\"tab\\there \\\"q\\\" \\\\ nl\\n ctl\\u0001 utf8 \xc3\xa9 bad \\ufffd\","
            "\"request_id\":\"r1\",\"code\":\"OK\"}\n");
}

TEST(LogFormatTest, ParsesFormatNames) {
  LogFormat format = LogFormat::kText;
  EXPECT_TRUE(ParseLogFormat("json", &format));
  EXPECT_EQ(format, LogFormat::kJson);
  EXPECT_TRUE(ParseLogFormat("text", &format));
  EXPECT_EQ(format, LogFormat::kText);
  EXPECT_FALSE(ParseLogFormat("xml", &format));
}

TEST(LogFormatTest, RequestIdIsPerThreadAndScoped) {
  EXPECT_EQ(ThreadRequestId(), "");
  {
    ScopedRequestId outer("outer");
    EXPECT_EQ(ThreadRequestId(), "outer");
    {
      ScopedRequestId inner("inner");
      EXPECT_EQ(ThreadRequestId(), "inner");
      std::string seen = "unset";
      std::thread([&seen] { seen = ThreadRequestId(); }).join();
      EXPECT_EQ(seen, "");  // Other threads do not see it.
    }
    EXPECT_EQ(ThreadRequestId(), "outer");
  }
  EXPECT_EQ(ThreadRequestId(), "");
  SetThreadRequestId("set");
  EXPECT_EQ(ThreadRequestId(), "set");
  SetThreadRequestId("");
  EXPECT_EQ(ThreadRequestId(), "");
}

TEST(LogFormatTest, LogMacrosWriteStructuredLinesToStderr) {
  const LogFormat saved = GetLogFormat();
  SetLogFormat(LogFormat::kJson);
  ::testing::internal::CaptureStderr();
  {
    ScopedRequestId id("abc123");
    BN_LOG(INFO) << "plain " << 42;
    BN_LOG_WITH(WARNING, {{"k", "v w"}, {"n", std::to_string(7)}}) << "with fields";
    BN_LOG(DEBUG) << "below the level";  // Default minimum level: info.
  }
  const std::string out = ::testing::internal::GetCapturedStderr();
  SetLogFormat(saved);
  EXPECT_NE(out.find("\"level\":\"info\""), std::string::npos) << out;
  EXPECT_NE(out.find("\"msg\":\"plain 42\",\"request_id\":\"abc123\"}"), std::string::npos) << out;
  EXPECT_NE(
      out.find("\"msg\":\"with fields\",\"request_id\":\"abc123\",\"k\":\"v w\",\"n\":\"7\"}"),
      std::string::npos)
      << out;
  EXPECT_EQ(out.find("below the level"), std::string::npos) << out;
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 2) << out;
}

}  // namespace
}  // namespace bn
