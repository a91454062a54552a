// Bag-of-words documents through the real server on a small synthetic topic corpus
// (tests/util/topic_corpus.h): word-id datasets with a vocabulary, skipped examples, and binary
// codes (semantic hashing) from training to Hamming search.
#include <cmath>

#include "bottleneck/v1/collection.grpc.pb.h"
#include "bottleneck/v1/item.grpc.pb.h"
#include "bottleneck/v1/model.grpc.pb.h"
#include "bottleneck/v1/query.grpc.pb.h"
#include "bottleneck/v1/training.grpc.pb.h"
#include "gtest/gtest.h"
#include "tests/integration/client_util.h"
#include "tests/integration/server_process.h"
#include "tests/util/temp_dir.h"
#include "tests/util/topic_corpus.h"

namespace bn::testing {
namespace {

namespace v1 = ::bottleneck::v1;

constexpr int kTopics = 4;
constexpr int kWordsPerTopic = 10;
constexpr int kV = kTopics * kWordsPerTopic;

v1::Input IdsInput(const TopicDocument& d) {
  v1::Input input;
  v1::SparseCounts* ids = input.mutable_document()->mutable_word_ids();
  *ids->mutable_ids() = {d.ids.begin(), d.ids.end()};
  *ids->mutable_counts() = {d.counts.begin(), d.counts.end()};
  return input;
}

class BagOfWordsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string error;
    server_ = ServerProcess::Start(dir_.Sub("data"), {}, &error);
    ASSERT_NE(server_, nullptr) << error;
    auto channel = server_->Channel();
    api_ = std::make_unique<Api>(channel);
  }

  // Streams `messages` as one upload.
  grpc::Status Upload(const std::vector<v1::UploadDatasetRequest>& messages, v1::Dataset* out) {
    auto ctx = Ctx(60);
    auto writer = api_->training->UploadDataset(ctx.get(), out);
    for (const auto& m : messages) {
      if (!writer->Write(m)) break;
    }
    writer->WritesDone();
    return writer->Finish();
  }

  TempDir dir_;
  std::unique_ptr<ServerProcess> server_;
  std::unique_ptr<Api> api_;  // The five service stubs.
};

TEST_F(BagOfWordsTest, BinaryCodesForDocumentsFromTrainingToHammingSearch) {
  const TopicCorpus corpus = MakeTopicCorpus(400, kTopics, kWordsPerTopic);
  v1::CreateCollectionRequest create;
  create.set_name("hash");
  v1::DocumentGeometry* g = create.mutable_spec()->mutable_document();
  g->set_allow_raw_text(true);
  *g->mutable_vocabulary_words() = {corpus.vocabulary.begin(), corpus.vocabulary.end()};
  create.mutable_spec()->set_code_kind(v1::CODE_KIND_BINARY);
  v1::Collection collection;
  grpc::Status s = api_->collections->CreateCollection(Ctx().get(), create, &collection);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(collection.spec().document().vocabulary_size(), static_cast<uint32_t>(kV));
  EXPECT_EQ(collection.spec().distance(), v1::DISTANCE_HAMMING);

  std::vector<v1::UploadDatasetRequest> messages(2);
  for (size_t i = 0; i < corpus.documents.size(); ++i) {
    v1::Example* e = messages[i % 2].add_examples();
    *e->mutable_input() = IdsInput(corpus.documents[i]);
    e->set_label(corpus.documents[i].label());
  }
  messages[0].set_collection("hash");
  messages[0].set_dataset("train");
  v1::Dataset dataset;
  s = Upload(messages, &dataset);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(dataset.example_count(), 400u);

  // Semantic hashing: 16 logistic code units with the fixed code noise, RBM pre-training with
  // a replicated-softmax first layer.
  v1::StartTrainingRequest start;
  start.set_collection("hash");
  start.set_dataset("train");
  v1::DenseAutoencoderSpec* dense = start.mutable_spec()->mutable_dense();
  dense->add_encoder_sizes(32);
  dense->set_code_size(16);
  dense->set_hidden_activation(v1::ACTIVATION_LOGISTIC);
  dense->mutable_pretraining()->set_enabled(true);
  dense->mutable_pretraining()->set_epochs_per_layer(5);
  start.mutable_spec()->mutable_training()->set_epochs(30);
  start.mutable_spec()->mutable_training()->set_batch_size(32);
  start.mutable_spec()->mutable_training()->set_learning_rate(0.01f);
  start.set_promote_when_done(true);
  v1::Job job;
  s = api_->training->StartTraining(Ctx().get(), start, &job);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_TRUE(Eventually([&] {
    v1::GetJobRequest get;
    get.set_job_id(job.id());
    return api_->training->GetJob(Ctx().get(), get, &job).ok() &&
           job.state() > v1::JOB_STATE_RUNNING;
  }));
  ASSERT_EQ(job.state(), v1::JOB_STATE_SUCCEEDED) << job.error();
  ASSERT_TRUE(Eventually([&] {
    v1::GetCollectionRequest get;
    get.set_name("hash");
    return api_->collections->GetCollection(Ctx().get(), get, &collection).ok() &&
           collection.stats().serving_model_version() == job.model_version();
  }));

  v1::GetModelRequest get_model;
  get_model.set_collection("hash");
  get_model.set_version(job.model_version());
  v1::Model model;
  ASSERT_TRUE(api_->models->GetModel(Ctx().get(), get_model, &model).ok());
  EXPECT_EQ(model.spec().dense().code_activation(), v1::ACTIVATION_LOGISTIC);
  EXPECT_EQ(model.spec().dense().binary().noise_stddev(), 4.0f);
  EXPECT_EQ(model.vocabulary_source(), v1::VOCABULARY_SOURCE_COLLECTION);
  const v1::EvaluationReport& report = model.report();
  EXPECT_EQ(report.validation_items(), 40u);
  EXPECT_GT(report.reconstruction_error(), 0);
  EXPECT_GT(report.pca_reconstruction_error(), 0);
  EXPECT_GT(report.precision_at_10(), 0.5) << report.ShortDebugString();  // Chance: 0.25.
  EXPECT_GT(report.pca_precision_at_10(), 0.5) << report.ShortDebugString();
  EXPECT_GT(report.training_seconds(), 0);

  // Items are stored with packed bits and searched by Hamming distance.
  const TopicCorpus held_out = MakeTopicCorpus(100, kTopics, kWordsPerTopic, 12, 0.8, 9);
  v1::UpsertRequest upsert;
  upsert.set_collection("hash");
  for (size_t i = 0; i < held_out.documents.size(); ++i) {
    v1::Item* item = upsert.add_items();
    item->set_id("d" + std::to_string(i));
    *item->mutable_input() = IdsInput(held_out.documents[i]);
    item->set_label(held_out.documents[i].label());
  }
  v1::UpsertResponse upserted;
  ASSERT_TRUE(api_->items->Upsert(Ctx().get(), upsert, &upserted).ok());
  v1::GetItemRequest get_item;
  get_item.set_collection("hash");
  get_item.set_id("d3");
  get_item.set_include_code(true);
  v1::GetItemResponse item;
  ASSERT_TRUE(api_->items->GetItem(Ctx().get(), get_item, &item).ok());
  ASSERT_TRUE(item.code().has_binary_code());
  EXPECT_EQ(item.code().binary_code().num_bits(), 16u);
  EXPECT_EQ(item.code().binary_code().bits().size(), 2u);

  int same = 0, total = 0;
  for (int i = 0; i < 20; ++i) {
    v1::SearchRequest search;
    search.set_collection("hash");
    search.set_item_id("d" + std::to_string(i));
    search.set_k(10);
    v1::SearchResponse response;
    s = api_->query->Search(Ctx().get(), search, &response);
    ASSERT_TRUE(s.ok()) << s.error_message();
    ASSERT_EQ(response.neighbors_size(), 10);
    float previous = 0;
    for (const auto& n : response.neighbors()) {
      EXPECT_EQ(n.distance(), std::floor(n.distance())) << "Hamming distances are whole bits";
      EXPECT_GE(n.distance(), previous);
      EXPECT_LE(n.distance(), 16);
      previous = n.distance();
      same += n.label() == held_out.documents[i].label();
      ++total;
    }
  }
  EXPECT_GT(static_cast<double>(same) / total, 0.5) << same << "/" << total;

  // The collection's vocabulary lets a text query the word-id-trained model.
  v1::SearchRequest by_text;
  by_text.set_collection("hash");
  by_text.mutable_input()->mutable_document()->set_text(corpus.documents[2].text);
  v1::SearchResponse response;
  s = api_->query->Search(Ctx().get(), by_text, &response);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(response.query_code().binary_code().num_bits(), 16u);
}

TEST_F(BagOfWordsTest, UploadWithAVocabularySkipsInvalidExamplesAndReportsThem) {
  const TopicCorpus corpus = MakeTopicCorpus(30, kTopics, kWordsPerTopic);
  v1::CreateCollectionRequest create;
  create.set_name("docs");
  create.mutable_spec()->mutable_document()->set_vocabulary_size(kV);
  v1::Collection collection;
  ASSERT_TRUE(api_->collections->CreateCollection(Ctx().get(), create, &collection).ok());
  v1::UploadDatasetRequest first;
  first.set_collection("docs");
  first.set_dataset("train");
  *first.mutable_vocabulary_words() = {corpus.vocabulary.begin(), corpus.vocabulary.end()};
  first.set_skip_invalid(true);
  v1::UploadDatasetRequest second = first;
  second.clear_vocabulary_words();
  for (int i = 0; i < 30; ++i) {
    v1::Example* e = (i < 15 ? first : second).add_examples();
    *e->mutable_input() = IdsInput(corpus.documents[i]);
    e->set_label(corpus.documents[i].label());
  }
  // One message in Latin-1 (the 11,000-document upload died on one), an id outside the
  // vocabulary, a text (fine: the vocabulary maps it).
  second.mutable_examples(2)->mutable_input()->mutable_document()->set_text("na\xEFve caf\xE9");
  second.mutable_examples(4)->mutable_input()->mutable_document()->mutable_word_ids()->set_ids(0,
                                                                                               kV);
  second.mutable_examples(6)->mutable_input()->mutable_document()->set_text(
      corpus.documents[6].text);
  v1::Dataset dataset;
  grpc::Status s = Upload({first, second}, &dataset);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(dataset.example_count(), 28u);
  EXPECT_EQ(dataset.skipped_count(), 2u);
  EXPECT_EQ(dataset.vocabulary_word_count(), static_cast<uint32_t>(kV));
  ASSERT_EQ(dataset.skipped_size(), 2);
  EXPECT_EQ(dataset.skipped(0).index(), 17u);
  EXPECT_NE(dataset.skipped(0).reason().find("invalid UTF-8 at byte offset 2"), std::string::npos)
      << dataset.skipped(0).reason();
  EXPECT_EQ(dataset.skipped(1).index(), 19u);
  EXPECT_NE(dataset.skipped(1).reason().find("outside the vocabulary"), std::string::npos)
      << dataset.skipped(1).reason();
  v1::GetDatasetRequest get;
  get.set_collection("docs");
  get.set_dataset("train");
  v1::Dataset stored;
  ASSERT_TRUE(api_->training->GetDataset(Ctx().get(), get, &stored).ok());
  EXPECT_EQ(stored.SerializeAsString(), dataset.SerializeAsString());
}

}  // namespace
}  // namespace bn::testing
