// The CLI's --json contract (README "Scripting with --json") for every command against a real
// server: stdout holds only JSON lines, the last is the command's result message, failures add
// an {"error": ...} object; and the train flags for convolutional nets, code noise and waiting.
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <sys/wait.h>

#include <filesystem>
#include <sstream>

#include "bottleneck/v1/collection.pb.h"
#include "bottleneck/v1/item.pb.h"
#include "bottleneck/v1/model.pb.h"
#include "bottleneck/v1/query.pb.h"
#include "bottleneck/v1/training.pb.h"
#include "grpc/health/v1/health.pb.h"
#include "gtest/gtest.h"
#include "tests/integration/server_process.h"
#include "tests/util/temp_dir.h"

namespace bn::testing {
namespace {

namespace v1 = ::bottleneck::v1;
using google::protobuf::util::JsonStringToMessage;

class CliJsonTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string error;
    server_ = ServerProcess::Start(dir_.Sub("data"), {}, &error);
    ASSERT_NE(server_, nullptr) << error;
  }

  // Runs `bottleneck --server ADDRESS --json ARGS` and returns its exit code; `lines` gets its
  // stdout's lines (stderr is dropped: the contract is about stdout).
  int Json(std::vector<std::string> args, std::vector<std::string>* lines) {
    args.insert(args.begin(), {"/bin/sh", "-c", "exec \"$@\" 2>/dev/null", "sh", BN_CLI, "--server",
                               server_->address(), "--json"});
    std::string out;
    const int status = RunProgram(args, &out);
    lines->clear();
    std::istringstream in(out);
    for (std::string line; std::getline(in, line);) lines->push_back(line);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  // Runs a command that must succeed with one JSON line, parsed into `result`.
  template <typename Message>
  void Result(const std::vector<std::string>& args, Message* result) {
    std::vector<std::string> lines;
    ASSERT_EQ(Json(args, &lines), 0) << args[0];
    ASSERT_EQ(lines.size(), 1u) << args[0];
    ASSERT_TRUE(JsonStringToMessage(lines[0], result).ok()) << lines[0];
  }

  // A command that must fail with the code: stdout's last line is {"error": {...}}.
  void ExpectError(const std::vector<std::string>& args, const std::string& code) {
    std::vector<std::string> lines;
    EXPECT_EQ(Json(args, &lines), 1) << args[0];
    ASSERT_FALSE(lines.empty()) << args[0];
    google::protobuf::Struct error;
    ASSERT_TRUE(JsonStringToMessage(lines.back(), &error).ok()) << lines.back();
    const auto& body = error.fields().at("error").struct_value().fields();
    EXPECT_EQ(body.at("code").string_value(), code) << lines.back();
    EXPECT_FALSE(body.at("message").string_value().empty());
  }

  TempDir dir_;
  std::unique_ptr<ServerProcess> server_;
};

TEST_F(CliJsonTest, EveryCommandPrintsItsResultMessage) {
  const std::string f = BN_FASHION_MNIST_DIR;
  grpc::health::v1::HealthCheckResponse health;
  Result({"health"}, &health);
  EXPECT_EQ(health.status(), grpc::health::v1::HealthCheckResponse::SERVING);

  v1::Collection collection;
  Result({"collections", "create", "c", "--image", "28x28x1"}, &collection);
  EXPECT_EQ(collection.name(), "c");
  Result({"collections", "get", "c"}, &collection);
  EXPECT_EQ(collection.spec().image().height(), 28u);
  // Numeric and indexed metadata keys, comma-separated.
  Result({"collections", "create", "keys", "--image", "4x4x1", "--numeric", "price,n", "--indexed",
          "brand,shop"},
         &collection);
  Result({"collections", "get", "keys"}, &collection);
  EXPECT_EQ(std::vector<std::string>(collection.spec().numeric_metadata_keys().begin(),
                                     collection.spec().numeric_metadata_keys().end()),
            (std::vector<std::string>{"price", "n"}));
  EXPECT_EQ(std::vector<std::string>(collection.spec().indexed_metadata_keys().begin(),
                                     collection.spec().indexed_metadata_keys().end()),
            (std::vector<std::string>{"brand", "shop"}));
  ExpectError({"collections", "create", "dup", "--image", "4x4x1", "--indexed", "a,a"},
              "INVALID_ARGUMENT");
  v1::DeleteCollectionResponse deleted_keys;
  Result({"collections", "delete", "keys"}, &deleted_keys);
  v1::ListCollectionsResponse collections;
  Result({"collections", "list"}, &collections);
  ASSERT_EQ(collections.collections_size(), 1);

  v1::Dataset dataset;
  Result({"datasets", "upload", "c", "train", "--images", f + "/train-images-idx3-ubyte.gz",
          "--labels", f + "/train-labels-idx1-ubyte.gz", "--limit", "500"},
         &dataset);
  EXPECT_EQ(dataset.example_count(), 500u);
  Result({"datasets", "upload", "c", "spare", "--images", f + "/train-images-idx3-ubyte.gz",
          "--limit", "10"},
         &dataset);
  v1::ListDatasetsResponse datasets;
  Result({"datasets", "list", "c"}, &datasets);
  EXPECT_EQ(datasets.datasets_size(), 2);
  v1::DeleteDatasetResponse deleted_dataset;
  Result({"datasets", "delete", "c", "spare"}, &deleted_dataset);

  v1::UpsertResponse upserted;
  Result({"items", "upsert", "c", "--images", f + "/t10k-images-idx3-ubyte.gz", "--limit", "100",
          "--id-prefix", "t"},
         &upserted);
  EXPECT_EQ(upserted.upserted(), 100u);
  EXPECT_EQ(upserted.pending(), 100u);

  // train: one JobProgress per update, then the final Job, after the switch with --promote.
  std::vector<std::string> lines;
  ASSERT_EQ(Json({"train", "c", "train", "--pca", "8", "--promote"}, &lines), 0);
  ASSERT_GE(lines.size(), 2u);
  for (size_t i = 0; i + 1 < lines.size(); ++i) {
    v1::JobProgress progress;
    ASSERT_TRUE(JsonStringToMessage(lines[i], &progress).ok()) << lines[i];
    EXPECT_EQ(progress.job_id(), "c.1");
  }
  v1::Job job;
  ASSERT_TRUE(JsonStringToMessage(lines.back(), &job).ok()) << lines.back();
  EXPECT_EQ(job.state(), v1::JOB_STATE_SUCCEEDED);
  EXPECT_EQ(job.model_version(), 1u);
  // Zero values are printed too: a script can rely on every field being there.
  EXPECT_NE(lines.back().find("\"error\":\"\""), std::string::npos) << lines.back();
  Result({"collections", "get", "c"}, &collection);  // Serving when train returned.
  EXPECT_EQ(collection.stats().serving_model_version(), 1u);
  EXPECT_FALSE(collection.stats().has_promotion());

  Result({"jobs", "get", "c.1"}, &job);
  EXPECT_EQ(job.id(), "c.1");
  v1::ListJobsResponse jobs;
  Result({"jobs", "list", "c"}, &jobs);
  EXPECT_EQ(jobs.jobs_size(), 1);
  ASSERT_EQ(Json({"jobs", "watch", "c.1"}, &lines), 0);  // A finished job: its state, then it.
  ASSERT_TRUE(JsonStringToMessage(lines.back(), &job).ok());
  EXPECT_EQ(job.state(), v1::JOB_STATE_SUCCEEDED);
  Result({"jobs", "cancel", "c.1"}, &job);  // A no-op on a finished job.
  EXPECT_EQ(job.state(), v1::JOB_STATE_SUCCEEDED);
  ExpectError({"jobs", "resume", "c.1"}, "FAILED_PRECONDITION");

  // --no-wait: the queued job at once; promote then waits for the switch (the Collection).
  Result({"train", "c", "train", "--pca", "4", "--promote", "--no-wait"}, &job);
  EXPECT_EQ(job.id(), "c.2");
  EXPECT_TRUE(job.promote_when_done());
  ASSERT_EQ(Json({"jobs", "watch", "c.2"}, &lines), 0);
  Result({"models", "promote", "c", "2"}, &collection);
  EXPECT_EQ(collection.stats().serving_model_version(), 2u);
  v1::Promotion promotion;
  Result({"models", "promote", "c", "1", "--no-wait"}, &promotion);
  EXPECT_EQ(promotion.target_model_version(), 1u);
  Result({"models", "promote", "c", "1"}, &collection);
  EXPECT_EQ(collection.stats().serving_model_version(), 1u);
  v1::ListModelsResponse models;
  Result({"models", "list", "c"}, &models);
  ASSERT_EQ(models.models_size(), 2);
  v1::Model model;
  Result({"models", "get", "c", "2"}, &model);
  EXPECT_EQ(model.code_size(), 4u);

  v1::GetItemResponse item;
  Result({"items", "get", "c", "t1", "--code"}, &item);
  EXPECT_EQ(item.code().float_code().values_size(), 8);
  v1::SearchResponse search;
  Result({"search", "c", "--item", "t1", "--k", "3"}, &search);
  EXPECT_EQ(search.neighbors_size(), 3);
  const std::string png = dir_.Sub("query.png");
  v1::DecodeResponse decoded;
  std::string code;
  for (float v : item.code().float_code().values()) {
    code += (code.empty() ? "" : ",") + std::to_string(v);
  }
  Result({"decode", "c", "--code", code, "--out", png}, &decoded);
  ASSERT_EQ(decoded.outputs_size(), 1);
  EXPECT_TRUE(std::filesystem::exists(png));
  v1::EncodeResponse encoded;
  Result({"encode", "c", "--image", png}, &encoded);
  EXPECT_EQ(encoded.codes(0).float_code().values_size(), 8);
  v1::DeleteItemsResponse deleted_items;
  Result({"items", "delete", "c", "t1", "missing"}, &deleted_items);
  EXPECT_EQ(deleted_items.deleted(), 1u);

  ExpectError({"collections", "get", "nope"}, "NOT_FOUND");
  ExpectError({"search", "c", "--item", "t1"}, "NOT_FOUND");  // Deleted above.
  v1::DeleteCollectionResponse deleted;
  Result({"collections", "delete", "c"}, &deleted);
}

// The convolutional net's flags, binary-code noise, and bad flags (usage errors, exit 2).
TEST_F(CliJsonTest, TrainFlagsForConvNetsAndCodeNoise) {
  const std::string f = BN_FASHION_MNIST_DIR;
  std::vector<std::string> lines;
  ASSERT_EQ(Json({"collections", "create", "c", "--image", "28x28x1"}, &lines), 0);
  ASSERT_EQ(Json({"collections", "create", "b", "--image", "28x28x1", "--binary"}, &lines), 0);
  for (const char* name : {"c", "b"}) {
    ASSERT_EQ(Json({"datasets", "upload", name, "train", "--images",
                    f + "/train-images-idx3-ubyte.gz", "--limit", "300"},
                   &lines),
              0);
  }
  ASSERT_EQ(Json({"train", "c", "train", "--conv", "4,8", "--kernel", "5,3", "--pool", "2",
                  "--dense", "16", "--unpool", "switches", "--code", "6", "--epochs", "1"},
                 &lines),
            0);
  v1::Model model;
  Result({"models", "get", "c", "1"}, &model);
  const v1::ConvAutoencoderSpec& conv = model.spec().conv();
  ASSERT_EQ(conv.encoder_size(), 2);
  EXPECT_EQ(conv.encoder(0).filters(), 4u);
  EXPECT_EQ(conv.encoder(0).kernel_size(), 5u);
  EXPECT_EQ(conv.encoder(1).kernel_size(), 3u);
  EXPECT_EQ(conv.encoder(1).pool_size(), 2u);
  EXPECT_EQ(conv.encoder(1).stride(), 1u);
  EXPECT_EQ(conv.dense_sizes_size(), 1);
  EXPECT_EQ(conv.unpooling(), v1::UNPOOLING_SWITCHES);
  EXPECT_EQ(model.code_size(), 6u);
  ASSERT_EQ(Json({"train", "b", "train", "--dense", "32", "--code", "16", "--code-noise", "2.5",
                  "--epochs", "1"},
                 &lines),
            0);
  Result({"models", "get", "b", "1"}, &model);
  EXPECT_FLOAT_EQ(model.spec().dense().binary().noise_stddev(), 2.5f);
  for (const std::vector<std::string>& bad : std::vector<std::vector<std::string>>{
           {"train", "c", "train", "--kernel", "3"},                         // --conv only
           {"train", "c", "train", "--conv", "4,8", "--kernel", "3,3,3"},    // one per layer
           {"train", "c", "train", "--conv", "4", "--unpool", "nearest"},    // unknown
           {"train", "c", "train", "--conv", "4,x"},                         // not a size
           {"train", "c", "train", "--dense", "8", "--activation", "gelu"},  // unknown
           {"train", "c", "train", "--code", "8"}}) {                        // no architecture
    EXPECT_EQ(Json(bad, &lines), 2) << bad[3];
    EXPECT_TRUE(lines.empty()) << bad[3];  // Usage goes to stderr.
  }
  ExpectError({"train", "c", "train", "--conv", "4", "--pool", "9"}, "INVALID_ARGUMENT");
}

// `demo --json`: the story goes to stderr, stdout gets one object with the figures.
TEST_F(CliJsonTest, DemoPrintsItsFiguresAsOneObject) {
  std::vector<std::string> lines;
  ASSERT_EQ(
      Json({"demo", "--out", dir_.Sub("plots"), "--data", BN_FASHION_MNIST_DIR, "--train-examples",
            "1000", "--test-examples", "200", "--epochs", "1", "--pretrain-epochs", "1",
            "--examples-2d", "500", "--epochs-2d", "1", "--scatter-points", "200"},
           &lines),
      0);
  ASSERT_EQ(lines.size(), 1u);
  google::protobuf::Struct summary;
  ASSERT_TRUE(JsonStringToMessage(lines[0], &summary).ok()) << lines[0];
  const auto& fields = summary.fields();
  EXPECT_EQ(fields.at("collection").string_value(), "demo-fashion");
  EXPECT_EQ(fields.at("model_version").number_value(), 1);
  EXPECT_EQ(fields.at("model_2d_version").number_value(), 2);
  EXPECT_GT(fields.at("validation_error").number_value(), 0);
  EXPECT_GT(fields.at("files_written").number_value(), 10);
  for (const char* p :
       {"server_report", "server_report_pca", "search", "encode_exact", "pca_exact"}) {
    const double value = fields.at("precision_at_10").struct_value().fields().at(p).number_value();
    EXPECT_GT(value, 0.1) << p;
    EXPECT_LE(value, 1.0) << p;
  }
}

}  // namespace
}  // namespace bn::testing
