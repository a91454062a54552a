// The `bottleneck` CLI against a real server: the walkthrough of the README, command by command.
#include <sys/wait.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "gtest/gtest.h"
#include "tests/integration/server_process.h"
#include "tests/util/temp_dir.h"
#include "tests/util/topic_corpus.h"

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
  // Filtered (label 5 sandals or 7 sneakers, with a negated conjunction that holds for all).
  ASSERT_EQ(Cli({"--json", "search", "fashion", "--item", "t0", "--k", "5", "--filter",
                 "label=5,7 & !(label=5 & label=7)"},
                &out),
            0)
      << out;
  size_t matching = 0;
  for (size_t at = 0; (at = out.find("\"label\":", at)) != std::string::npos; ++at) {
    EXPECT_TRUE(out.compare(at, 11, "\"label\":\"5\"") == 0 ||
                out.compare(at, 11, "\"label\":\"7\"") == 0)
        << out.substr(at, 20);
    ++matching;
  }
  EXPECT_EQ(matching, 5u) << out;
  EXPECT_EQ(Cli({"search", "fashion", "--item", "t0", "--filter", "label=5 &"}, &out), 2) << out;
  EXPECT_NE(out.find("--filter: expected a field or value at offset 9"), std::string::npos) << out;
  EXPECT_EQ(Cli({"search", "fashion", "--item", "t0", "--filter", "size<3"}, &out), 1) << out;
  EXPECT_NE(out.find("not declared numeric"), std::string::npos) << out;
  ASSERT_EQ(Cli({"--json", "collections", "get", "fashion"}, &out), 0) << out;
  EXPECT_NE(out.find("\"item_count\":\"300\""), std::string::npos) << out;
  ASSERT_EQ(Cli({"items", "get", "fashion", "t1", "--code"}, &out), 0) << out;
  EXPECT_NE(out.find("code (v1)"), std::string::npos) << out;
  ASSERT_EQ(Cli({"jobs", "list", "fashion"}, &out), 0) << out;
  EXPECT_NE(out.find("SUCCEEDED"), std::string::npos) << out;
  ASSERT_EQ(Cli({"items", "delete", "fashion", "t1", "t2", "missing"}, &out), 0) << out;
  EXPECT_NE(out.find("deleted 2 items"), std::string::npos) << out;
  // Listing, counting and deleting by filter: as many sneakers (7) listed as counted, then gone.
  ASSERT_EQ(Cli({"items", "count", "fashion", "--filter", "label=7"}, &out), 0) << out;
  const int sneakers = std::stoi(out);
  EXPECT_GT(sneakers, 10) << out;
  ASSERT_EQ(Cli({"items", "list", "fashion", "--filter", "label=7", "--page-size", "4"}, &out), 0)
      << out;
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), sneakers + 1) << out;
  ASSERT_EQ(Cli({"items", "delete", "fashion", "--filter", "label=7"}, &out), 0) << out;
  EXPECT_NE(out.find("deleted " + std::to_string(sneakers) + " items"), std::string::npos) << out;
  ASSERT_EQ(Cli({"items", "count", "fashion"}, &out), 0) << out;
  EXPECT_EQ(std::stoi(out), 298 - sneakers) << out;
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

// Bag-of-words files with a vocabulary file, as the paper's data and the UCI sets come; text
// files in Latin-1 and Windows-1252; uploads that skip what does not decode.
TEST_F(CliTest, BagOfWordsVocabulariesAndEncodings) {
  const TopicCorpus corpus = MakeTopicCorpus(200, 4, 10);
  auto write = [&](const std::string& name, const std::string& contents) {
    const std::string path = dir_.Sub(name);
    std::filesystem::create_directories(std::filesystem::path(path).parent_path());
    std::ofstream(path, std::ios::binary) << contents;
    return path;
  };
  std::string vocab, data = "200\n40\n0\n", labels;
  for (size_t i = 0; i < corpus.vocabulary.size(); ++i) {
    vocab += (i == 3 ? "OILD" : corpus.vocabulary[i]) + "\r\n";  // CRLF, upper case.
  }
  for (size_t d = 0; d < corpus.documents.size(); ++d) {
    const TopicDocument& doc = corpus.documents[d];
    for (size_t i = 0; i < doc.ids.size(); ++i) {
      data += std::to_string(d + 1) + " " + std::to_string(doc.ids[i] + 1) + " " +
              std::to_string(static_cast<int>(doc.counts[i])) + "\n";
    }
    labels += doc.label() + "\n";
  }
  const std::string vocab_file = write("vocab.txt", vocab);
  std::string out;
  ASSERT_EQ(Cli({"collections", "create", "docs", "--vocab", vocab_file, "--text"}, &out), 0)
      << out;
  EXPECT_NE(out.find("document V=40 words text"), std::string::npos) << out;
  ASSERT_EQ(Cli({"datasets", "upload", "docs", "train", "--bow", write("train.data", data),
                 "--bow-labels", write("train.label", labels)},
                &out),
            0)
      << out;
  EXPECT_NE(out.find("200 examples (200 labelled)"), std::string::npos) << out;
  ASSERT_EQ(Cli({"train", "docs", "train", "--pca", "4", "--promote"}, &out), 0) << out;
  ASSERT_EQ(Cli({"models", "promote", "docs", "1", "--wait"}, &out), 0) << out;
  ASSERT_EQ(Cli({"items", "upsert", "docs", "--bow", dir_.Sub("train.data"), "--bow-labels",
                 dir_.Sub("train.label"), "--limit", "20", "--id-prefix", "d"},
                &out),
            0)
      << out;
  EXPECT_NE(out.find("upserted 20 items"), std::string::npos) << out;
  ASSERT_EQ(Cli({"search", "docs", "--text", "Oila OILB oilc, oild!", "--k", "3"}, &out), 0) << out;
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 4) << out;

  // A text file whose second line is Latin-1: refused as UTF-8, naming the line and the fix.
  const std::string mail = write("mail.txt",
                                 "topica\toila oilb oilc\ntopicb\tna\xEFve graina "
                                 "grainb caf\xE9\n\ntopica\toild oile\n");
  EXPECT_EQ(Cli({"datasets", "upload", "docs", "mail", "--text", mail}, &out), 2) << out;
  EXPECT_NE(out.find("mail.txt line 2: invalid UTF-8 at byte offset 2"), std::string::npos) << out;
  EXPECT_NE(out.find("--encoding latin-1"), std::string::npos) << out;
  // --skip-invalid: the server leaves it out and says which (the blank line is no document).
  ASSERT_EQ(Cli({"datasets", "upload", "docs", "mail", "--text", mail, "--skip-invalid"}, &out), 0)
      << out;
  EXPECT_NE(out.find("skipped: " + mail + " line 2: examples[1]: document.text: invalid UTF-8"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("2 examples (2 labelled), 1 skipped"), std::string::npos) << out;
  ASSERT_EQ(Cli({"datasets", "list", "docs"}, &out), 0) << out;
  EXPECT_NE(out.find("SKIPPED"), std::string::npos) << out;
  // --encoding latin-1 transcodes it.
  ASSERT_EQ(
      Cli({"datasets", "upload", "docs", "mail1", "--text", mail, "--encoding", "latin-1"}, &out),
      0)
      << out;
  EXPECT_NE(out.find("3 examples (3 labelled)"), std::string::npos) << out;
  // A folder of text files (label subfolders), one in Windows-1252.
  write("news/topica/1", "oila oilb \x93quoted\x94");
  write("news/topicb/2", "graina grainb");
  write("news/topicb/.hidden", "ignored");
  ASSERT_EQ(Cli({"datasets", "upload", "docs", "folder", "--folder", dir_.Sub("news"), "--encoding",
                 "cp1252"},
                &out),
            0)
      << out;
  EXPECT_NE(out.find("2 examples (2 labelled)"), std::string::npos) << out;
  // A vocabulary of the wrong length is refused by the server, naming the problem.
  EXPECT_EQ(Cli({"datasets", "upload", "docs", "short", "--bow", dir_.Sub("train.data"), "--vocab",
                 write("short.txt", "oila\noilb\n")},
                &out),
            1)
      << out;
  EXPECT_NE(out.find("INVALID_ARGUMENT: vocabulary_words has 2 words"), std::string::npos) << out;
  EXPECT_EQ(Cli({"datasets", "upload", "docs", "x", "--text", mail, "--encoding", "ebcdic"}, &out),
            2);
}

}  // namespace
}  // namespace bn::testing
