// The `bottleneck` CLI against a real server: the walkthrough of the README, command by command.
#include <sys/wait.h>

#include <algorithm>

#include "gtest/gtest.h"
#include "tests/integration/server_process.h"
#include "tests/util/temp_dir.h"

namespace bn::testing {
namespace {

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string error;
    server_ = ServerProcess::Start(dir_.Sub("data"), {}, &error);
    ASSERT_NE(server_, nullptr) << error;
  }
  // Runs the CLI; returns its exit code (or -1) and its combined output.
  int Cli(std::vector<std::string> args, std::string* output) {
    args.insert(args.begin(), {BN_CLI, "--server", server_->address()});
    output->clear();
    int status = RunProgram(args, output);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  TempDir dir_;
  std::unique_ptr<ServerProcess> server_;
};

TEST_F(CliTest, WalkthroughFromCollectionToSearch) {
  const std::string f = BN_FASHION_MNIST_DIR;
  std::string out;
  ASSERT_EQ(Cli({"collections", "create", "fashion", "--image", "28x28x1"}, &out), 0) << out;
  EXPECT_NE(out.find("fashion"), std::string::npos);
  ASSERT_EQ(
      Cli({"datasets", "upload", "fashion", "train", "--images", f + "/train-images-idx3-ubyte.gz",
           "--labels", f + "/train-labels-idx1-ubyte.gz", "--limit", "1000"},
          &out),
      0)
      << out;
  EXPECT_NE(out.find("1000 examples (1000 labelled)"), std::string::npos) << out;
  ASSERT_EQ(Cli({"train", "fashion", "train", "--pca", "20", "--promote"}, &out), 0) << out;
  EXPECT_NE(out.find("SUCCEEDED: model v1"), std::string::npos) << out;
  ASSERT_EQ(Cli({"models", "promote", "fashion", "1", "--wait"}, &out), 0) << out;
  ASSERT_EQ(Cli({"models", "list", "fashion"}, &out), 0) << out;
  EXPECT_NE(out.find("v1 *"), std::string::npos) << out;
  EXPECT_NE(out.find("PCA"), std::string::npos) << out;
  ASSERT_EQ(
      Cli({"items", "upsert", "fashion", "--images", f + "/t10k-images-idx3-ubyte.gz", "--labels",
           f + "/t10k-labels-idx1-ubyte.gz", "--limit", "300", "--id-prefix", "t"},
          &out),
      0)
      << out;
  EXPECT_NE(out.find("upserted 300 items"), std::string::npos) << out;
  ASSERT_EQ(Cli({"search", "fashion", "--item", "t0", "--k", "5"}, &out), 0) << out;
  EXPECT_NE(out.find("RANK"), std::string::npos) << out;
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 6) << out;
  ASSERT_EQ(Cli({"--json", "collections", "get", "fashion"}, &out), 0) << out;
  EXPECT_NE(out.find("\"item_count\":\"300\""), std::string::npos) << out;
  ASSERT_EQ(Cli({"items", "get", "fashion", "t1", "--code"}, &out), 0) << out;
  EXPECT_NE(out.find("code (v1)"), std::string::npos) << out;
  ASSERT_EQ(Cli({"jobs", "list", "fashion"}, &out), 0) << out;
  EXPECT_NE(out.find("SUCCEEDED"), std::string::npos) << out;
  ASSERT_EQ(Cli({"items", "delete", "fashion", "t1", "t2", "missing"}, &out), 0) << out;
  EXPECT_NE(out.find("deleted 2 items"), std::string::npos) << out;
}

TEST_F(CliTest, ErrorsExitNonZeroWithTheStatus) {
  std::string out;
  EXPECT_EQ(Cli({"collections", "get", "nope"}, &out), 1);
  EXPECT_NE(out.find("NOT_FOUND"), std::string::npos) << out;
  EXPECT_EQ(Cli({"collections", "create", "bad/name", "--image", "28x28x1"}, &out), 1);
  EXPECT_NE(out.find("INVALID_ARGUMENT"), std::string::npos) << out;
  EXPECT_EQ(Cli({"collections", "create", "x"}, &out), 2);  // Usage error.
  EXPECT_EQ(Cli({"frobnicate"}, &out), 2);
  EXPECT_EQ(Cli({"--help"}, &out), 0);
  EXPECT_NE(out.find("collections create|list|get|delete"), std::string::npos);
}

}  // namespace
}  // namespace bn::testing
