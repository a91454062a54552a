#include "engine/data/json.h"

#include "gtest/gtest.h"

namespace bn {
namespace {

TEST(JsonTest, ParsesValues) {
  absl::StatusOr<JsonValue> v = ParseJson(
      R"( [{"id": "12", "topics": ["oil", "gas"], "n": -1.5e2, "t": true, "z": null,
            "s": "a\"b\\c\/\n\u00e9\ud83d\ude00"}, [], {}] )");
  ASSERT_TRUE(v.ok()) << v.status();
  ASSERT_EQ(v->type, JsonValue::Type::kArray);
  ASSERT_EQ(v->array.size(), 3u);
  const JsonValue& doc = v->array[0];
  EXPECT_EQ(doc.Find("id")->string, "12");
  ASSERT_EQ(doc.Find("topics")->array.size(), 2u);
  EXPECT_EQ(doc.Find("topics")->array[1].string, "gas");
  EXPECT_DOUBLE_EQ(doc.Find("n")->number, -150);
  EXPECT_TRUE(doc.Find("t")->boolean);
  EXPECT_EQ(doc.Find("z")->type, JsonValue::Type::kNull);
  EXPECT_EQ(doc.Find("s")->string, "a\"b\\c/\n\xC3\xA9\xF0\x9F\x98\x80");
  EXPECT_EQ(doc.Find("missing"), nullptr);
}

TEST(JsonTest, RejectsMalformedInput) {
  for (const char* bad :
       {"", "[", "[1,]", "{\"a\" 1}", "{\"a\":1,}", "\"abc", "[1] x", "01", "-", "1.", "1e",
        "\"\\x\"", "\"\\ud800\"", "\"\\u12g4\"", "tru", "{1:2}", "\"a\nb\""}) {
    EXPECT_FALSE(ParseJson(bad).ok()) << bad;
  }
  EXPECT_FALSE(ParseJson(std::string(100, '[') + std::string(100, ']')).ok());
  EXPECT_TRUE(ParseJson(std::string(10, '[') + std::string(10, ']')).ok());
}

}  // namespace
}  // namespace bn
