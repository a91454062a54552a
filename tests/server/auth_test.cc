#include "server/auth.h"

#include <fstream>

#include "gtest/gtest.h"
#include "tests/util/temp_dir.h"

namespace bn {
namespace {

TEST(AuthenticatorTest, ConstantTimeEquals) {
  EXPECT_TRUE(Authenticator::ConstantTimeEquals("secret-token", "secret-token"));
  EXPECT_FALSE(Authenticator::ConstantTimeEquals("secret-tokeN", "secret-token"));
  EXPECT_FALSE(Authenticator::ConstantTimeEquals("secret", "secret-token"));
  EXPECT_FALSE(Authenticator::ConstantTimeEquals("secret-token-longer", "secret-token"));
  EXPECT_FALSE(Authenticator::ConstantTimeEquals("", "x"));
  EXPECT_FALSE(Authenticator::ConstantTimeEquals("x", ""));
  EXPECT_TRUE(Authenticator::ConstantTimeEquals("", ""));
}

TEST(AuthenticatorTest, LoadsTokensAndRejectsBadFiles) {
  testing::TempDir dir;
  std::ofstream(dir.Sub("admin")) << "# admins\n\n  admin-1  \nadmin-2\n";
  std::ofstream(dir.Sub("query")) << "query-1\n";
  std::ofstream(dir.Sub("empty")) << "# nothing\n";
  auto auth = Authenticator::Load(dir.Sub("admin"), dir.Sub("query"));
  ASSERT_TRUE(auth.ok()) << auth.status();
  EXPECT_TRUE((*auth)->enabled());
  EXPECT_FALSE(Authenticator::Load(dir.Sub("empty"), "").ok());
  EXPECT_FALSE(Authenticator::Load(dir.Sub("missing"), "").ok());
  // A query-only configuration would leave nobody able to administer.
  EXPECT_FALSE(Authenticator::Load("", dir.Sub("query")).ok());
  EXPECT_FALSE(Authenticator::Disabled()->enabled());
}

}  // namespace
}  // namespace bn
