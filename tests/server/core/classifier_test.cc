// Classifier versions in process (issue 21): a classifier job fine-tunes an auto-encoder
// version's encoder (or the same net from random weights) on the dataset's labels; Classify
// serves it (top-k labels), promotion, Encode and Decode refuse it, and bad requests change
// nothing. Also the label votes of Search.
#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "tests/server/core/core_fixture.h"

namespace bn::testing {
namespace {

namespace v1 = ::bottleneck::v1;
using absl::StatusCode;

class ClassifierTest : public CoreFixture {
 protected:
  void SetUp() override {
    CoreFixture::SetUp();
    CreateImages("imgs");
    Upload("imgs", "train", 400);  // Four classes of bars, labelled c0..c3.
  }

  // A small ReLU auto-encoder 64-32-(4 linear).
  static v1::ModelSpec Autoencoder() {
    v1::ModelSpec spec;
    spec.mutable_dense()->add_encoder_sizes(32);
    spec.mutable_dense()->set_code_size(4);
    spec.mutable_training()->set_epochs(3);
    spec.mutable_training()->set_batch_size(16);
    return spec;
  }
  static v1::ModelSpec Classifier(uint64_t encoder_version) {
    v1::ModelSpec spec;
    spec.mutable_classifier()->set_encoder_model_version(encoder_version);
    spec.mutable_training()->set_epochs(6);
    spec.mutable_training()->set_batch_size(16);
    spec.mutable_training()->set_learning_rate(3e-3f);
    return spec;
  }
  v1::StartTrainingRequest Request(const v1::ModelSpec& spec,
                                   const std::string& dataset = "train") {
    v1::StartTrainingRequest request;
    request.set_collection("imgs");
    request.set_dataset(dataset);
    *request.mutable_spec() = spec;
    return request;
  }
  uint64_t TrainOk(const v1::ModelSpec& spec, bool promote = false) {
    const v1::Job job = Train("imgs", "train", spec, promote);
    EXPECT_EQ(job.state(), v1::JOB_STATE_SUCCEEDED) << job.error();
    return job.model_version();
  }
  // Two images of each class (variants never uploaded).
  static v1::ClassifyRequest Queries(uint64_t version, uint32_t k) {
    v1::ClassifyRequest request;
    request.set_collection("imgs");
    request.set_model_version(version);
    request.set_k(k);
    for (int i = 0; i < 8; ++i) *request.add_inputs() = ImageInput(i % 4, 5000 + i);
    return request;
  }
  size_t ModelCount() { return core().collections().ListModels("imgs")->models_size(); }
};

TEST_F(ClassifierTest, AClassifierFromAnEncoderVersionClassifiesAndNeverServesTheIndex) {
  const uint64_t ae = TrainOk(Autoencoder(), /*promote=*/true);
  ASSERT_EQ(ae, 1u);
  WaitServing("imgs", ae);
  const v1::Job job = Train("imgs", "train", Classifier(ae));
  ASSERT_EQ(job.state(), v1::JOB_STATE_SUCCEEDED) << job.error();
  ASSERT_EQ(job.model_version(), 2u);
  // The stored spec says what was reused: every hidden layer (the one of 32 units).
  EXPECT_EQ(job.spec().classifier().encoder_layers(), 1u);
  EXPECT_EQ(job.spec().classifier().hidden_activation(), v1::ACTIVATION_RELU);
  EXPECT_FALSE(job.spec().classifier().freeze_encoder());
  std::vector<std::string> phases;
  for (const auto& h : job.history()) phases.push_back(h.phase());
  EXPECT_EQ(std::count(phases.begin(), phases.end(), "fine-tune"), 6);

  auto model = core().collections().GetModel("imgs", 2);
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_TRUE(model->spec().has_classifier());
  EXPECT_EQ(std::vector<std::string>(model->class_labels().begin(), model->class_labels().end()),
            (std::vector<std::string>{"c0", "c1", "c2", "c3"}));
  EXPECT_EQ(model->code_size(), 4u);
  EXPECT_EQ(model->parameter_count(), (64 + 1) * 32 + (32 + 1) * 4);
  const v1::EvaluationReport& r = model->report();
  EXPECT_EQ(r.validation_items(), 40u);
  EXPECT_LT(r.classification_error(), 0.1);  // Four easy classes.
  EXPECT_EQ(r.reconstruction_error(), 0);
  EXPECT_EQ(r.pca_reconstruction_error(), 0);
  EXPECT_GE(r.best_epoch(), 1u);
  EXPECT_FALSE(model->serving());

  auto check = [&](const v1::ClassifyResponse& response, int k) {
    EXPECT_EQ(response.model_version(), 2u);
    ASSERT_EQ(response.classifications_size(), 8);
    int right = 0;
    for (int i = 0; i < 8; ++i) {
      const v1::Classification& c = response.classifications(i);
      ASSERT_EQ(c.labels_size(), k);
      float sum = 0;
      for (int j = 0; j < k; ++j) {
        sum += c.labels(j).probability();
        if (j > 0) {
          EXPECT_GE(c.labels(j - 1).probability(), c.labels(j).probability());
        }
      }
      EXPECT_LE(sum, 1.0f + 1e-5f);
      if (k == 4) {
        EXPECT_NEAR(sum, 1.0f, 1e-5);
      }
      right += c.labels(0).label() == "c" + std::to_string(i % 4);
    }
    EXPECT_GE(right, 7);
  };
  auto top2 = core().queries().Classify(Queries(2, 2));
  ASSERT_TRUE(top2.ok()) << top2.status();
  check(*top2, 2);
  auto newest = core().queries().Classify(Queries(0, 0));  // k 0: 5, all four labels here.
  ASSERT_TRUE(newest.ok()) << newest.status();
  check(*newest, 4);

  // Not a serving model: promotion, Encode and Decode refuse it; Classify refuses the AE.
  auto promoted = core().promoter().Promote("imgs", 2);
  EXPECT_EQ(promoted.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(promoted.status().message().find("classifier"), absl::string_view::npos);
  v1::EncodeRequest encode;
  encode.set_collection("imgs");
  encode.set_model_version(2);
  *encode.add_inputs() = ImageInput(0, 1);
  EXPECT_EQ(core().queries().Encode(encode).status().code(), StatusCode::kFailedPrecondition);
  v1::DecodeRequest decode;
  decode.set_collection("imgs");
  decode.set_model_version(2);
  for (int i = 0; i < 4; ++i) decode.add_codes()->mutable_float_code()->add_values(0.25f);
  EXPECT_EQ(core().queries().Decode(decode).status().code(), StatusCode::kFailedPrecondition);
  v1::ClassifyRequest document = Queries(2, 2);
  document.mutable_inputs(3)->mutable_document()->set_text("not an image");
  auto refused = core().queries().Classify(document);
  EXPECT_EQ(refused.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(refused.status().message().find("inputs[3]"), absl::string_view::npos);
  auto on_ae = core().queries().Classify(Queries(1, 2));
  EXPECT_EQ(on_ae.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(on_ae.status().message().find("not a classifier"), absl::string_view::npos);
  EXPECT_EQ(core().queries().Classify(Queries(9, 2)).status().code(), StatusCode::kNotFound);
  auto described = core().collections().Describe("imgs");
  ASSERT_TRUE(described.ok());
  EXPECT_EQ(described->stats().serving_model_version(), 1u);

  // After a restart the stored version classifies the same.
  Reopen();
  auto again = core().queries().Classify(Queries(0, 2));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->SerializeAsString(), top2->SerializeAsString());
}

TEST_F(ClassifierTest, WithoutPretrainingTheDefaultLayersMatchTheDefaultEncoderAndTheNewestServes) {
  v1::ModelSpec none = Classifier(0);
  const uint64_t v1_random = TrainOk(none);
  auto model = core().collections().GetModel("imgs", v1_random);
  ASSERT_TRUE(model.ok());
  // 64 inputs: the default recipe's encoder is 4d, 2d, d.
  EXPECT_EQ(std::vector<uint32_t>(model->spec().classifier().hidden_sizes().begin(),
                                  model->spec().classifier().hidden_sizes().end()),
            (std::vector<uint32_t>{256, 128, 64}));
  EXPECT_LT(model->report().classification_error(), 0.1);
  auto first = core().queries().Classify(Queries(0, 1));
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->model_version(), v1_random);

  // An auto-encoder, then a classifier keeping its code layer with the encoder frozen: the
  // newest classifier serves version 0; a later non-classifier version changes nothing.
  const uint64_t ae = TrainOk(Autoencoder());
  v1::ModelSpec frozen = Classifier(ae);
  frozen.mutable_classifier()->set_encoder_layers(2);
  frozen.mutable_classifier()->add_hidden_sizes(8);
  frozen.mutable_classifier()->set_freeze_encoder(true);
  const uint64_t v_frozen = TrainOk(frozen);
  auto stored = core().collections().GetModel("imgs", v_frozen);
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->parameter_count(), (64 + 1) * 32 + (32 + 1) * 4 + (4 + 1) * 8 + (8 + 1) * 4);
  TrainOk(PcaSpec(3));
  auto newest = core().queries().Classify(Queries(0, 1));
  ASSERT_TRUE(newest.ok()) << newest.status();
  EXPECT_EQ(newest->model_version(), v_frozen);
  auto named = core().queries().Classify(Queries(v1_random, 1));
  ASSERT_TRUE(named.ok()) << named.status();
  EXPECT_EQ(named->model_version(), v1_random);

  // A collection without a classifier version.
  CreateImages("other");
  v1::ClassifyRequest request = Queries(0, 1);
  request.set_collection("other");
  auto missing = core().queries().Classify(request);
  EXPECT_EQ(missing.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(missing.status().message().find("no classifier version"), absl::string_view::npos);
}

TEST_F(ClassifierTest, BadClassifierRequestsAreRefusedPreciselyAndChangeNothing) {
  const uint64_t ae = TrainOk(Autoencoder());
  const uint64_t pca = TrainOk(PcaSpec(3));
  {  // A dataset with unlabelled examples, and one with a single label.
    auto upload = core().datasets().BeginUpload();
    v1::UploadDatasetRequest message;
    message.set_collection("imgs");
    message.set_dataset("partly");
    for (int i = 0; i < 10; ++i) {
      v1::Example* example = message.add_examples();
      *example->mutable_input() = ImageInput(i % 4, i);
      if (i < 5) example->set_label("x");
    }
    ASSERT_TRUE(upload->Append(message).ok());
    ASSERT_TRUE(upload->Commit().ok());
    upload = core().datasets().BeginUpload();
    message.set_dataset("one-label");
    for (auto& example : *message.mutable_examples()) example.set_label("x");
    ASSERT_TRUE(upload->Append(message).ok());
    ASSERT_TRUE(upload->Commit().ok());
  }
  const size_t models = ModelCount();
  const int jobs = core().jobs().List("")->jobs_size();
  struct Case {
    std::string name;
    v1::StartTrainingRequest request;
    StatusCode code;
    std::string message;  // A part of the expected message.
  };
  std::vector<Case> cases;
  cases.push_back({"unlabelled examples", Request(Classifier(ae), "partly"),
                   StatusCode::kFailedPrecondition, "only 5 of the 10"});
  cases.push_back({"a PCA version as encoder", Request(Classifier(pca)),
                   StatusCode::kFailedPrecondition, "is a PCA model"});
  cases.push_back(
      {"an unknown encoder version", Request(Classifier(99)), StatusCode::kNotFound, "99"});
  v1::ModelSpec spec = Classifier(ae);
  spec.mutable_classifier()->set_encoder_layers(3);
  cases.push_back({"more encoder layers than it has", Request(spec), StatusCode::kInvalidArgument,
                   "has 2 encoder layers"});
  spec = Classifier(0);
  spec.mutable_classifier()->set_encoder_layers(1);
  cases.push_back({"encoder layers without an encoder", Request(spec), StatusCode::kInvalidArgument,
                   "encoder_layers needs"});
  spec = Classifier(0);
  spec.mutable_classifier()->set_freeze_encoder(true);
  cases.push_back({"freeze without an encoder", Request(spec), StatusCode::kInvalidArgument,
                   "freeze_encoder needs"});
  spec = Classifier(ae);
  spec.mutable_training()->set_validation(v1::VALIDATION_SPLIT_BY_LABEL);
  cases.push_back({"validation by label", Request(spec), StatusCode::kInvalidArgument, "BY_LABEL"});
  spec = Classifier(ae);
  spec.mutable_classifier()->add_hidden_sizes(0);
  cases.push_back({"a hidden layer of 0 units", Request(spec), StatusCode::kInvalidArgument,
                   "classifier.hidden_sizes[0]"});
  v1::StartTrainingRequest promote = Request(Classifier(ae));
  promote.set_promote_when_done(true);
  cases.push_back(
      {"promote when done", promote, StatusCode::kInvalidArgument, "promote_when_done"});
  for (const Case& c : cases) {
    auto started = core().jobs().Start(c.request);
    EXPECT_EQ(started.status().code(), c.code) << c.name << ": " << started.status();
    EXPECT_NE(started.status().message().find(c.message), absl::string_view::npos)
        << c.name << ": " << started.status();
  }
  EXPECT_EQ(core().jobs().List("")->jobs_size(), jobs);

  // Classify's own faults.
  v1::ClassifyRequest bad = Queries(0, 1001);
  EXPECT_EQ(core().queries().Classify(bad).status().code(), StatusCode::kInvalidArgument);
  bad = Queries(0, 1);
  bad.clear_inputs();
  EXPECT_EQ(core().queries().Classify(bad).status().code(), StatusCode::kInvalidArgument);
  for (int i = 0; i < 1025; ++i) *bad.add_inputs() = ImageInput(0, 0);
  EXPECT_EQ(core().queries().Classify(bad).status().code(), StatusCode::kInvalidArgument);
  bad = Queries(0, 1);
  bad.set_collection("missing");
  EXPECT_EQ(core().queries().Classify(bad).status().code(), StatusCode::kNotFound);

  // One label: the job starts (the dataset is labelled) and fails without adding a version.
  const v1::Job one = Train("imgs", "one-label", Classifier(ae));
  EXPECT_EQ(one.state(), v1::JOB_STATE_FAILED);
  EXPECT_NE(one.error().find("at least two distinct labels"), std::string::npos) << one.error();
  EXPECT_EQ(ModelCount(), models);
}

TEST_F(ClassifierTest, SearchCountsTheLabelsOfTheReturnedNeighbours) {
  const uint64_t ae = TrainOk(Autoencoder(), /*promote=*/true);
  WaitServing("imgs", ae);
  UpsertItems("imgs", "it", 40);
  v1::SearchRequest search;
  search.set_collection("imgs");
  *search.mutable_input() = ImageInput(2, 9000);
  search.set_k(7);
  search.set_exact(true);
  auto plain = core().queries().Search(search);
  ASSERT_TRUE(plain.ok()) << plain.status();
  EXPECT_EQ(plain->label_votes_size(), 0);
  search.set_label_votes(true);
  auto voted = core().queries().Search(search);
  ASSERT_TRUE(voted.ok()) << voted.status();
  ASSERT_EQ(voted->neighbors_size(), 7);
  std::map<std::string, uint32_t> expected;
  for (const auto& n : voted->neighbors()) ++expected[n.label()];
  ASSERT_EQ(voted->label_votes_size(), static_cast<int>(expected.size()));
  uint32_t total = 0;
  for (int i = 0; i < voted->label_votes_size(); ++i) {
    const v1::LabelVote& vote = voted->label_votes(i);
    EXPECT_EQ(vote.count(), expected[vote.label()]);
    EXPECT_FLOAT_EQ(vote.fraction(), vote.count() / 7.0f);
    total += vote.count();
    if (i > 0) {
      const v1::LabelVote& prev = voted->label_votes(i - 1);
      EXPECT_TRUE(prev.count() > vote.count() ||
                  (prev.count() == vote.count() && prev.label() < vote.label()));
    }
  }
  EXPECT_EQ(total, 7u);
  EXPECT_EQ(voted->label_votes(0).label(), "c2");  // The bars of the query's class win.
}

}  // namespace
}  // namespace bn::testing
