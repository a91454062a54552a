// Classifier versions and label votes over loopback gRPC (issue 21), on a Fashion-MNIST subset:
// an auto-encoder, a classifier fine-tuned from its encoder and one from random weights, Classify
// on held-out images, kNN label votes from Search, and the CLI's train --classifier, classify and
// search --votes.
#include <sys/wait.h>

#include <string>
#include <vector>

#include "bottleneck/v1/collection.grpc.pb.h"
#include "bottleneck/v1/item.grpc.pb.h"
#include "bottleneck/v1/model.grpc.pb.h"
#include "bottleneck/v1/query.grpc.pb.h"
#include "bottleneck/v1/training.grpc.pb.h"
#include "client/lib/raw_input.h"
#include "engine/data/idx.h"
#include "gtest/gtest.h"
#include "tests/integration/client_util.h"
#include "tests/integration/server_process.h"
#include "tests/util/temp_dir.h"

namespace bn::testing {
namespace {

namespace v1 = ::bottleneck::v1;

constexpr int kTrain = 1500;
constexpr int kTest = 300;

class ClassifierFlowTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto train = LoadFashionMnist(BN_FASHION_MNIST_DIR, DatasetSplit::kTrain, kTrain);
    auto test = LoadFashionMnist(BN_FASHION_MNIST_DIR, DatasetSplit::kTest, kTest);
    ASSERT_TRUE(train.ok() && test.ok());
    train_ = std::move(*train);
    test_ = std::move(*test);
    std::string error;
    server_ = ServerProcess::Start(dir_.Sub("data"), {}, &error);
    ASSERT_NE(server_, nullptr) << error;
    auto channel = server_->Channel();
    api_ = std::make_unique<Api>(channel);
  }

  v1::Input Image(const LabeledImages& d, int64_t row) {
    return GreyRowToInput(d.images, row, d.height, d.width);
  }

  // Starts a job and waits for it to succeed; returns its model version (0 on failure).
  uint64_t TrainAndWait(const v1::ModelSpec& spec, bool promote = false) {
    v1::StartTrainingRequest start;
    start.set_collection("fashion");
    start.set_dataset("train");
    *start.mutable_spec() = spec;
    start.set_promote_when_done(promote);
    v1::Job job;
    grpc::Status s = api_->training->StartTraining(Ctx().get(), start, &job);
    EXPECT_TRUE(s.ok()) << s.error_message();
    if (!s.ok()) return 0;
    const bool ended = Eventually([&] {
      v1::GetJobRequest get;
      get.set_job_id(job.id());
      return api_->training->GetJob(Ctx().get(), get, &job).ok() &&
             job.state() != v1::JOB_STATE_QUEUED && job.state() != v1::JOB_STATE_RUNNING;
    });
    EXPECT_TRUE(ended) << "job " << job.id() << " did not end";
    EXPECT_EQ(job.state(), v1::JOB_STATE_SUCCEEDED) << job.error();
    return job.state() == v1::JOB_STATE_SUCCEEDED ? job.model_version() : 0;
  }

  // The fraction of the test images whose most probable label (by `version`) is theirs.
  double ClassifyAccuracy(uint64_t version, uint64_t* used) {
    v1::ClassifyRequest request;
    request.set_collection("fashion");
    request.set_model_version(version);
    request.set_k(3);
    for (int i = 0; i < kTest; ++i) *request.add_inputs() = Image(test_, i);
    v1::ClassifyResponse response;
    grpc::Status s = api_->query->Classify(Ctx().get(), request, &response);
    EXPECT_TRUE(s.ok()) << s.error_message();
    if (!s.ok() || response.classifications_size() != kTest) return 0;
    *used = response.model_version();
    int right = 0;
    for (int i = 0; i < kTest; ++i) {
      const v1::Classification& c = response.classifications(i);
      EXPECT_EQ(c.labels_size(), 3);
      right += c.labels(0).label() == std::to_string(test_.labels[i]);
    }
    return static_cast<double>(right) / kTest;
  }

  int Cli(std::vector<std::string> args, std::string* output) {
    args.insert(args.begin(), {BN_CLI, "--server", server_->address()});
    output->clear();
    const int status = RunProgram(args, output);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  LabeledImages train_, test_;
  TempDir dir_;
  std::unique_ptr<ServerProcess> server_;
  std::unique_ptr<Api> api_;  // The five service stubs.
};

TEST_F(ClassifierFlowTest, ClassifyWithAndWithoutPretrainingAndVoteWithSearch) {
  v1::CreateCollectionRequest create;
  create.set_name("fashion");
  create.mutable_spec()->mutable_image()->set_height(28);
  create.mutable_spec()->mutable_image()->set_width(28);
  create.mutable_spec()->mutable_image()->set_channels(1);
  v1::Collection collection;
  ASSERT_TRUE(api_->collections->CreateCollection(Ctx().get(), create, &collection).ok());
  {
    auto ctx = Ctx();
    v1::Dataset dataset;
    auto writer = api_->training->UploadDataset(ctx.get(), &dataset);
    v1::UploadDatasetRequest message;
    message.set_collection("fashion");
    message.set_dataset("train");
    for (int i = 0; i < kTrain; ++i) {
      v1::Example* example = message.add_examples();
      *example->mutable_input() = Image(train_, i);
      example->set_label(std::to_string(train_.labels[i]));
    }
    ASSERT_TRUE(writer->Write(message));
    writer->WritesDone();
    grpc::Status s = writer->Finish();
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  v1::ModelSpec ae;
  ae.mutable_dense()->add_encoder_sizes(128);
  ae.mutable_dense()->set_code_size(16);
  ae.mutable_training()->set_epochs(4);
  const uint64_t encoder = TrainAndWait(ae, /*promote=*/true);
  ASSERT_EQ(encoder, 1u);

  v1::ModelSpec classifier;
  classifier.mutable_classifier()->set_encoder_model_version(encoder);
  classifier.mutable_training()->set_epochs(6);
  const uint64_t pretrained = TrainAndWait(classifier);
  classifier.mutable_classifier()->set_encoder_model_version(0);
  classifier.mutable_classifier()->add_hidden_sizes(128);
  const uint64_t random = TrainAndWait(classifier);
  ASSERT_EQ(pretrained, 2u);
  ASSERT_EQ(random, 3u);

  v1::GetModelRequest get;
  get.set_collection("fashion");
  get.set_version(pretrained);
  v1::Model model;
  ASSERT_TRUE(api_->models->GetModel(Ctx().get(), get, &model).ok());
  EXPECT_EQ(model.class_labels_size(), 10);
  EXPECT_EQ(model.code_size(), 10u);
  EXPECT_GT(model.report().classification_error(), 0);
  EXPECT_LT(model.report().classification_error(), 0.4);

  uint64_t used = 0;
  const double newest = ClassifyAccuracy(0, &used);
  EXPECT_EQ(used, random);
  const double from_encoder = ClassifyAccuracy(pretrained, &used);
  EXPECT_EQ(used, pretrained);
  std::printf(
      "Fashion-MNIST, %d training images: Classify accuracy %.3f from the encoder, %.3f "
      "from random weights\n",
      kTrain, from_encoder, newest);
  EXPECT_GT(from_encoder, 0.6);  // Ten classes: chance is 0.1.
  EXPECT_GT(newest, 0.6);

  v1::PromoteModelRequest promote;
  promote.set_collection("fashion");
  promote.set_version(pretrained);
  v1::Promotion promotion;
  grpc::Status refused = api_->models->PromoteModel(Ctx().get(), promote, &promotion);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::FAILED_PRECONDITION);

  // kNN votes: the training images as items, each test image searching them.
  v1::UpsertRequest upsert;
  upsert.set_collection("fashion");
  for (int i = 0; i < kTrain; ++i) {
    v1::Item* item = upsert.add_items();
    item->set_id("train-" + std::to_string(i));
    *item->mutable_input() = Image(train_, i);
    item->set_label(std::to_string(train_.labels[i]));
  }
  v1::UpsertResponse upserted;
  grpc::Status s = api_->items->Upsert(Ctx().get(), upsert, &upserted);
  ASSERT_TRUE(s.ok()) << s.error_message();
  int right = 0;
  constexpr int kQueries = 100;
  for (int i = 0; i < kQueries; ++i) {
    v1::SearchRequest search;
    search.set_collection("fashion");
    *search.mutable_input() = Image(test_, i);
    search.set_k(10);
    search.set_label_votes(true);
    v1::SearchResponse found;
    s = api_->query->Search(Ctx().get(), search, &found);
    ASSERT_TRUE(s.ok()) << s.error_message();
    ASSERT_FALSE(found.label_votes().empty());
    uint32_t votes = 0;
    for (const auto& v : found.label_votes()) votes += v.count();
    EXPECT_EQ(votes, static_cast<uint32_t>(found.neighbors_size()));
    right += found.label_votes(0).label() == std::to_string(test_.labels[i]);
  }
  std::printf("kNN vote accuracy (k = 10, codes of v1): %.3f\n",
              static_cast<double>(right) / kQueries);
  EXPECT_GT(right, kQueries * 6 / 10);

  // The CLI: train --classifier, classify, search --votes, models list.
  std::string out;
  ASSERT_EQ(Cli({"train", "fashion", "train", "--classifier", "--from-model", "1",
                 "--freeze-encoder", "--epochs", "2"},
                &out),
            0)
      << out;
  EXPECT_NE(out.find("SUCCEEDED: model v4"), std::string::npos) << out;
  const std::string png = std::string(BN_SOURCE_DIR) + "/tests/data/images/grey_8x6.png";
  ASSERT_EQ(Cli({"classify", "fashion", "--image", png, "--k", "3"}, &out), 0) << out;
  EXPECT_NE(out.find("classifier v4"), std::string::npos) << out;
  EXPECT_NE(out.find("PROBABILITY"), std::string::npos) << out;
  ASSERT_EQ(Cli({"--json", "classify", "fashion", "--image", png, "--model", "2"}, &out), 0) << out;
  EXPECT_NE(out.find("\"model_version\":\"2\""), std::string::npos) << out;
  ASSERT_EQ(Cli({"search", "fashion", "--image", png, "--k", "5", "--votes"}, &out), 0) << out;
  EXPECT_NE(out.find("VOTES"), std::string::npos) << out;
  ASSERT_EQ(Cli({"models", "list", "fashion"}, &out), 0) << out;
  EXPECT_NE(out.find("classifier from v1"), std::string::npos) << out;
  EXPECT_EQ(Cli({"train", "fashion", "train", "--classifier", "--from-model", "3"}, &out), 1);
  EXPECT_NE(out.find("FAILED_PRECONDITION"), std::string::npos) << out;
}

}  // namespace
}  // namespace bn::testing
