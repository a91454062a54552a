#include "server/validation.h"

#include <vector>

#include "gtest/gtest.h"

namespace bn {
namespace {

TEST(ValidationTest, Names) {
  EXPECT_TRUE(ValidateName("collection", "fashion_mnist-1").ok());
  EXPECT_TRUE(ValidateName("collection", std::string(64, 'a')).ok());
  for (const std::string& bad : std::vector<std::string>{"", "../x", "a/b", ".hidden", "-dash", "_u", "sp ace", "a\\b",
                                std::string(65, 'a'), std::string("nul\0x", 5), "caf\xc3\xa9"}) {
    absl::Status s = ValidateName("collection", bad);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(s.message().find("collection"), absl::string_view::npos) << s;
  }
}

TEST(ValidationTest, ItemIds) {
  EXPECT_TRUE(ValidateItemId("img-0001").ok());
  EXPECT_TRUE(ValidateItemId("caf\xc3\xa9 \xe2\x82\xac").ok());
  EXPECT_TRUE(ValidateItemId(std::string(256, 'x')).ok());
  EXPECT_FALSE(ValidateItemId("").ok());
  EXPECT_FALSE(ValidateItemId(std::string(257, 'x')).ok());
  EXPECT_FALSE(ValidateItemId("tab\there").ok());
  EXPECT_FALSE(ValidateItemId("bad\xff").ok());
}

TEST(ValidationTest, Utf8) {
  EXPECT_TRUE(IsValidUtf8(""));
  EXPECT_TRUE(IsValidUtf8("plain ascii"));
  EXPECT_TRUE(IsValidUtf8("\xf0\x9f\x98\x80"));        // U+1F600
  EXPECT_FALSE(IsValidUtf8("\xc0\xaf"));               // overlong '/'
  EXPECT_FALSE(IsValidUtf8("\xed\xa0\x80"));           // surrogate U+D800
  EXPECT_FALSE(IsValidUtf8("\xf4\x90\x80\x80"));       // > U+10FFFF
  EXPECT_FALSE(IsValidUtf8("\xe2\x82"));               // truncated
  EXPECT_FALSE(IsValidUtf8("\x80"));                   // lone continuation
}

}  // namespace
}  // namespace bn
