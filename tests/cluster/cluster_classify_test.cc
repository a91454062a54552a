// Cluster mode, Classify: a classifier version trained on one node (from an auto-encoder version
// trained on another, which it installs in its workspace first) answers on every node, with the
// single node's checks and statuses, and its answers are the model's: the version's stored record
// (read from the training node's store after a clean stop) run here gives the same labels and
// probabilities.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "engine/model/classifier.h"
#include "engine/model/model_file.h"
#include "engine/store/blob_store.h"
#include "engine/store/store.h"
#include "server/core/inputs.h"
#include "server/core/model_record.h"
#include "tests/cluster/cluster_harness.h"
#include "tests/cluster/fashion_util.h"
#include "tests/integration/client_util.h"

namespace bn::testing {
namespace {

namespace v1 = ::bottleneck::v1;

constexpr int kTest = 200;
constexpr uint32_t kTop = 3;

v1::ClassifyRequest TestImages(uint64_t version) {
  const LabeledImages& images = Fashion(DatasetSplit::kTest, kTest);
  v1::ClassifyRequest request;
  request.set_collection("fashion");
  request.set_model_version(version);
  request.set_k(kTop);
  for (int i = 0; i < kTest; ++i) *request.add_inputs() = FashionInput(images, i);
  return request;
}

grpc::Status Classify(Api& api, const v1::ClassifyRequest& request,
                      v1::ClassifyResponse* response) {
  return api.query->Classify(Ctx(60).get(), request, response);
}

TEST(ClusterClassifyTest, AnyNodeClassifiesWithTheSingleNodesChecksAndTheModelsAnswers) {
  ClusterHarness cluster;
  std::string error;
  ASSERT_TRUE(cluster.StartNats(&error)) << error;
  for (const char* id : {"a", "b"}) ASSERT_TRUE(cluster.StartNode(id, {}, &error)) << error;
  ASSERT_TRUE(cluster.StartNode("q", {"--no-training"}, &error)) << error;
  Api a(cluster.Channel("a")), b(cluster.Channel("b")), q(cluster.Channel("q"));
  ASSERT_TRUE(CreateFashionCollection(a, "fashion", 2, 2).ok());
  ASSERT_TRUE(UploadFashion(a, "fashion", "train", 1000).ok());
  v1::ClassifyResponse response;

  // Bad requests, as on a single node.
  v1::ClassifyRequest bad = TestImages(0);
  bad.set_collection("nope");
  grpc::Status status = Classify(q, bad, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND) << status.error_message();
  bad = TestImages(0);
  bad.clear_inputs();
  status = Classify(q, bad, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << status.error_message();
  EXPECT_EQ(status.error_message(), "inputs must hold 1..1024 inputs");
  bad = TestImages(0);
  bad.set_k(1001);
  status = Classify(q, bad, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << status.error_message();
  status = Classify(q, TestImages(0), &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << status.error_message();
  EXPECT_NE(status.error_message().find("has no classifier version yet"), std::string::npos)
      << status.error_message();

  // v1: an auto-encoder, trained on a.
  v1::ModelSpec encoder;
  encoder.mutable_dense()->add_encoder_sizes(64);
  encoder.mutable_dense()->set_code_size(16);
  encoder.mutable_training()->set_epochs(2);
  ASSERT_EQ(Train(a, "fashion", "train", encoder, /*promote=*/false, 180).model_version(), 1u);
  status = Classify(q, TestImages(1), &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << status.error_message();
  EXPECT_NE(status.error_message().find("is not a classifier"), std::string::npos)
      << status.error_message();
  status = Classify(q, TestImages(9), &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND) << status.error_message();

  // A classifier version cannot be promoted when done (refused before anything starts).
  v1::ModelSpec classifier;
  classifier.mutable_classifier()->set_encoder_model_version(1);
  classifier.mutable_classifier()->add_hidden_sizes(32);
  classifier.mutable_training()->set_epochs(6);
  v1::StartTrainingRequest start;
  start.set_collection("fashion");
  start.set_dataset("train");
  *start.mutable_spec() = classifier;
  start.set_promote_when_done(true);
  v1::Job refused;
  status = b.training->StartTraining(Ctx().get(), start, &refused);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << status.error_message();

  // v2: the classifier from v1's encoder, trained on b (whose workspace never held v1).
  const v1::Job job = Train(b, "fashion", "train", classifier, /*promote=*/false, 180);
  ASSERT_EQ(job.model_version(), 2u) << job.DebugString();
  v1::PromoteModelRequest promote;
  promote.set_collection("fashion");
  promote.set_version(2);
  v1::Promotion promotion;
  status = a.models->PromoteModel(Ctx().get(), promote, &promotion);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << status.error_message();
  v1::EncodeRequest encode;
  encode.set_collection("fashion");
  encode.set_model_version(2);
  *encode.add_inputs() = TestImages(0).inputs(0);
  v1::EncodeResponse codes;
  status = q.query->Encode(Ctx().get(), encode, &codes);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << status.error_message();

  // Every node answers with the newest classifier version, the same answers.
  std::vector<v1::ClassifyResponse> answers(3);
  Api* nodes[] = {&a, &b, &q};
  for (int n = 0; n < 3; ++n) {
    status = Classify(*nodes[n], TestImages(0), &answers[n]);
    ASSERT_TRUE(status.ok()) << n << ": " << status.error_message();
    ASSERT_EQ(answers[n].model_version(), 2u);
    ASSERT_EQ(answers[n].classifications_size(), kTest);
  }
  for (int n = 1; n < 3; ++n) {
    for (int i = 0; i < kTest; ++i) {
      const auto& want = answers[0].classifications(i);
      const auto& got = answers[n].classifications(i);
      ASSERT_EQ(got.labels_size(), static_cast<int>(kTop));
      for (uint32_t j = 0; j < kTop; ++j) {
        EXPECT_NEAR(got.labels(j).probability(), want.labels(j).probability(), 1e-5) << n;
      }
    }
  }
  const LabeledImages& images = Fashion(DatasetSplit::kTest, kTest);
  int right = 0;
  for (int i = 0; i < kTest; ++i) {
    right += answers[2].classifications(i).labels(0).label() == std::to_string(images.labels[i]);
  }
  std::cout << "cluster Classify accuracy on " << kTest
            << " test images: " << static_cast<double>(right) / kTest << "\n";
  // A sanity bound (ten classes: chance is 0.1); the check that matters is the model's below.
  EXPECT_GT(right, kTest * 3 / 10);

  // The model's own answers: v2's record from b's store (b trained and published it), run here.
  cluster.StopNode("b");
  StoreOptions options;
  options.read_only = true;
  options.create_if_missing = false;
  auto store = Store::Open(cluster.DataDir("b"), options);
  ASSERT_TRUE(store.ok()) << store.status();
  auto blob = BlobStore(store->get()).GetModel("fashion__t", 2);
  ASSERT_TRUE(blob.ok()) << blob.status();
  auto record = DecodeModelRecord(*blob);
  ASSERT_TRUE(record.ok()) << record.status();
  EXPECT_EQ(record->meta.collection(), "fashion");
  EXPECT_EQ(record->meta.job_id(), job.id());
  auto model = DeserializeModel(record->model_file);
  ASSERT_TRUE(model.ok()) << model.status();
  const int64_t classes = (*model)->code_size();
  ASSERT_EQ(record->meta.class_labels_size(), classes);
  v1::CollectionSpec spec;
  spec.mutable_image()->set_height(28);
  spec.mutable_image()->set_width(28);
  spec.mutable_image()->set_channels(1);
  std::vector<float> x;
  const v1::ClassifyRequest request = TestImages(0);
  for (const v1::Input& input : request.inputs())
    ASSERT_TRUE(InputToVector(spec, nullptr, input, &x).ok());
  std::vector<float> probs(static_cast<size_t>(kTest * classes));
  ASSERT_TRUE((*model)->Encode(x.data(), kTest, probs.data()).ok());
  // Top-1 accuracy as the model computes it (MisclassifiedFraction, which also links the
  // classifier's loader into this binary) is the cluster's, up to a near tie.
  std::vector<int> truth(kTest, -1);
  for (int i = 0; i < kTest; ++i) {
    for (int c = 0; c < classes; ++c) {
      if (record->meta.class_labels(c) == std::to_string(images.labels[i])) truth[i] = c;
    }
  }
  const double model_accuracy =
      1.0 - MisclassifiedFraction(probs.data(), truth.data(), kTest, static_cast<int>(classes));
  EXPECT_NEAR(model_accuracy, static_cast<double>(right) / kTest, 1.5 / kTest);
  for (int i = 0; i < kTest; ++i) {
    const v1::Classification& got = answers[2].classifications(i);
    for (uint32_t j = 0; j < kTop; ++j) {
      int label = -1;
      for (int c = 0; c < classes; ++c) {
        if (record->meta.class_labels(c) == got.labels(j).label()) label = c;
      }
      ASSERT_GE(label, 0) << got.labels(j).label();
      EXPECT_NEAR(got.labels(j).probability(), probs[i * classes + label], 1e-4) << i << "/" << j;
      // No label left out is more probable than one returned.
      for (int c = 0; c < classes; ++c) {
        bool returned = false;
        for (const auto& l : got.labels()) {
          returned = returned || l.label() == record->meta.class_labels(c);
        }
        if (!returned) {
          EXPECT_LE(probs[i * classes + c], got.labels(j).probability() + 1e-4) << i;
        }
      }
    }
  }
}

}  // namespace
}  // namespace bn::testing
