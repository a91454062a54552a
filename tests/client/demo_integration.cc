// `bottleneck demo` against a real server on a tiny subset: every step runs, every plot file is
// written and decodes (PNG with the engine's decoder, SVG with Python's XML parser), the
// precision@10 lines are printed, and the collection is deleted at the end. Linked into
// integration_tests (see tests/CMakeLists.txt).
#include <sys/wait.h>

#include <regex>

#include "engine/input/image.h"
#include "engine/util/atomic_file.h"
#include "gtest/gtest.h"
#include "tests/integration/server_process.h"
#include "tests/util/temp_dir.h"

namespace bn::testing {
namespace {

TEST(DemoCli, TinyDemoWritesEveryPlotAndPrintsPrecision) {
  TempDir dir;
  std::string error;
  auto server = ServerProcess::Start(dir.Sub("data"), {}, &error);
  ASSERT_NE(server, nullptr) << error;
  const std::string out_dir = dir.Sub("plots");
  std::string out;
  const int status = RunProgram({BN_CLI,
                                 "demo",
                                 "--server",
                                 server->address(),
                                 "--out",
                                 out_dir,
                                 "--data",
                                 BN_FASHION_MNIST_DIR,
                                 "--train-examples",
                                 "2000",
                                 "--test-examples",
                                 "300",
                                 "--epochs",
                                 "1",
                                 "--pretrain-epochs",
                                 "1",
                                 "--examples-2d",
                                 "1000",
                                 "--epochs-2d",
                                 "2",
                                 "--collection",
                                 "demo-test"},
                                &out);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << out;

  // The story's steps and the precision lines, each with a number in [0, 1].
  for (int step = 1; step <= 9; ++step) {
    EXPECT_NE(out.find("[" + std::to_string(step) + "/9]"), std::string::npos) << step << out;
  }
  for (const char* line :
       {"P@10 AE-30 (server report)", "P@10 PCA-30 (server report)", "P@10 AE-30 via Search",
        "P@10 AE-30 codes from Encode", "P@10 PCA-30 fitted on the training images"}) {
    const size_t at = out.find(line);
    ASSERT_NE(at, std::string::npos) << line << "\n" << out;
    const size_t eol = out.find('\n', at);
    const std::string rest = out.substr(at + std::string(line).size(), eol - at);
    std::smatch m;
    ASSERT_TRUE(std::regex_search(rest, m, std::regex("([01]\\.[0-9]{3})"))) << rest;
    const double p = std::stod(m[1]);
    EXPECT_GE(p, 0.0);
    EXPECT_LE(p, 1.0);
  }
  EXPECT_NE(out.find("deleted collection 'demo-test'"), std::string::npos) << out;
  EXPECT_NE(out.find("demo finished"), std::string::npos) << out;

  // Every plot exists, is reported, and decodes; the PNGs are real pictures (more than a few
  // distinct grey levels).
  for (const char* name :
       {"codes_2d.png", "reconstructions.png", "neighbours.png", "decoder_grid.png",
        "loss_pretraining.png", "loss_finetune_ae30.png", "loss_ae2.png", "validation_error.png"}) {
    const std::string path = out_dir + "/" + name;
    EXPECT_NE(out.find("wrote " + path), std::string::npos) << name;
    auto bytes = ReadFileToString(path);
    ASSERT_TRUE(bytes.ok()) << path << ": " << bytes.status();
    auto image = DecodePng(*bytes);
    ASSERT_TRUE(image.ok()) << path << ": " << image.status();
    EXPECT_GE(image->width, 200) << name;
    EXPECT_GE(image->height, 150) << name;
  }
  for (const char* name : {"codes_2d.svg", "loss_pretraining.svg", "loss_finetune_ae30.svg",
                           "loss_ae2.svg", "validation_error.svg"}) {
    const std::string path = out_dir + "/" + name;
    EXPECT_NE(out.find("wrote " + path), std::string::npos) << name;
    std::string parsed;
    const int rc = RunProgram(
        {"/usr/bin/python3", "-c",
         "import sys, xml.etree.ElementTree as E; E.parse(sys.argv[1]); print('ok')", path},
        &parsed);
    EXPECT_TRUE(WIFEXITED(rc) && WEXITSTATUS(rc) == 0 && parsed.find("ok") != std::string::npos)
        << path << ": " << parsed;
  }
  // Without --keep the collection is gone.
  const int get =
      RunProgram({BN_CLI, "--server", server->address(), "collections", "get", "demo-test"}, &out);
  EXPECT_TRUE(WIFEXITED(get) && WEXITSTATUS(get) == 1) << out;
  EXPECT_NE(out.find("NOT_FOUND"), std::string::npos) << out;
}

}  // namespace
}  // namespace bn::testing
