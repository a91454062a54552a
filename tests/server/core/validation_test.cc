#include "server/core/validation.h"

#include <vector>

#include "gtest/gtest.h"

namespace bn {
namespace {

TEST(ValidationTest, Names) {
  EXPECT_TRUE(ValidateName("collection", "fashion_mnist-1").ok());
  EXPECT_TRUE(ValidateName("collection", std::string(64, 'a')).ok());
  for (const std::string& bad :
       std::vector<std::string>{"", "../x", "a/b", ".hidden", "-dash", "_u", "sp ace", "a\\b",
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

}  // namespace
}  // namespace bn
