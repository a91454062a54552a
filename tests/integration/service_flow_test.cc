// The service end to end over loopback: upload -> train -> watch -> promote -> upsert -> search
// -> restart -> the same answers; plus the error paths of every service.
#include <signal.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <thread>

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
constexpr int kHeldOut = 300;

std::unique_ptr<grpc::ClientContext> Context(int seconds = 60) {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(seconds));
  return context;
}

v1::Input RawImage(const LabeledImages& data, int64_t row) {
  return GreyRowToInput(data.images, row, data.height, data.width);
}

using Stubs = Api;  // tests/integration/client_util.h

class ServiceFlowTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto train = LoadFashionMnist(BN_FASHION_MNIST_DIR, DatasetSplit::kTrain, kTrain);
    ASSERT_TRUE(train.ok()) << train.status();
    auto test = LoadFashionMnist(BN_FASHION_MNIST_DIR, DatasetSplit::kTest, kHeldOut);
    ASSERT_TRUE(test.ok()) << test.status();
    train_ = new LabeledImages(std::move(*train));
    test_ = new LabeledImages(std::move(*test));
  }
  static void TearDownTestSuite() {
    delete train_;
    delete test_;
  }

  void Start(const std::vector<std::string>& args = {}) {
    std::string error;
    server_ = ServerProcess::Start(dir_.Sub("data"), args, &error);
    ASSERT_NE(server_, nullptr) << error;
    stubs_ = std::make_unique<Stubs>(server_->Channel());
  }

  void CreateFashionCollection(const std::string& name) {
    v1::CreateCollectionRequest request;
    request.set_name(name);
    request.mutable_spec()->mutable_image()->set_height(28);
    request.mutable_spec()->mutable_image()->set_width(28);
    request.mutable_spec()->mutable_image()->set_channels(1);
    v1::Collection collection;
    grpc::Status s = stubs_->collections->CreateCollection(Context().get(), request, &collection);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(collection.spec().distance(), v1::DISTANCE_L2);
  }

  void Upload(const std::string& collection, const std::string& dataset) {
    auto context = Context();
    v1::Dataset result;
    auto writer = stubs_->training->UploadDataset(context.get(), &result);
    for (int start = 0; start < kTrain; start += 500) {
      v1::UploadDatasetRequest message;
      message.set_collection(collection);
      message.set_dataset(dataset);
      for (int i = start; i < std::min(kTrain, start + 500); ++i) {
        v1::Example* example = message.add_examples();
        *example->mutable_input() = RawImage(*train_, i);
        example->set_label(std::to_string(train_->labels[i]));
      }
      ASSERT_TRUE(writer->Write(message));
    }
    writer->WritesDone();
    grpc::Status s = writer->Finish();
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(result.example_count(), static_cast<uint64_t>(kTrain));
    EXPECT_EQ(result.labelled_count(), static_cast<uint64_t>(kTrain));
  }

  // Waits for the collection to serve `version` (promotion done).
  void WaitServing(const std::string& collection, uint64_t version) {
    for (int i = 0; i < 600; ++i) {
      v1::GetCollectionRequest request;
      request.set_name(collection);
      v1::Collection c;
      ASSERT_TRUE(stubs_->collections->GetCollection(Context().get(), request, &c).ok());
      if (c.stats().serving_model_version() == version && !c.stats().has_promotion()) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    FAIL() << "collection never served model v" << version;
  }

  std::vector<std::string> SearchIds(const std::string& collection, const std::string& id) {
    v1::SearchRequest request;
    request.set_collection(collection);
    request.set_item_id(id);
    request.set_k(10);
    v1::SearchResponse response;
    grpc::Status s = stubs_->query->Search(Context().get(), request, &response);
    EXPECT_TRUE(s.ok()) << s.error_message();
    std::vector<std::string> ids;
    for (const auto& n : response.neighbors()) ids.push_back(n.id());
    return ids;
  }

  TempDir dir_;
  std::unique_ptr<ServerProcess> server_;
  std::unique_ptr<Stubs> stubs_;
  static LabeledImages* train_;
  static LabeledImages* test_;
};

LabeledImages* ServiceFlowTest::train_ = nullptr;
LabeledImages* ServiceFlowTest::test_ = nullptr;

TEST_F(ServiceFlowTest, UploadTrainPromoteIngestSearchRestart) {
  ASSERT_NO_FATAL_FAILURE(Start());
  ASSERT_NO_FATAL_FAILURE(CreateFashionCollection("fashion"));
  ASSERT_NO_FATAL_FAILURE(Upload("fashion", "train"));

  // Items upserted before any model are stored and reported pending.
  v1::UpsertRequest early;
  early.set_collection("fashion");
  for (int i = 0; i < 50; ++i) {
    v1::Item* item = early.add_items();
    item->set_id("early-" + std::to_string(i));
    *item->mutable_input() = RawImage(*test_, i);
    item->set_label(std::to_string(test_->labels[i]));
  }
  v1::UpsertResponse early_response;
  ASSERT_TRUE(stubs_->items->Upsert(Context().get(), early, &early_response).ok());
  EXPECT_EQ(early_response.pending(), 50u);
  EXPECT_EQ(early_response.serving_model_version(), 0u);

  v1::StartTrainingRequest start;
  start.set_collection("fashion");
  start.set_dataset("train");
  start.mutable_spec()->mutable_pca()->set_code_size(30);
  v1::Job job;
  grpc::Status s = stubs_->training->StartTraining(Context().get(), start, &job);
  ASSERT_TRUE(s.ok()) << s.error_message();

  // Watch to the end: progress arrives, and the final state is SUCCEEDED.
  v1::WatchJobRequest watch;
  watch.set_job_id(job.id());
  auto context = Context(300);
  auto reader = stubs_->training->WatchJob(context.get(), watch);
  v1::JobProgress progress;
  int updates = 0;
  v1::JobState last = v1::JOB_STATE_UNSPECIFIED;
  while (reader->Read(&progress)) {
    ++updates;
    last = progress.state();
  }
  ASSERT_TRUE(reader->Finish().ok());
  EXPECT_GE(updates, 2);
  ASSERT_EQ(last, v1::JOB_STATE_SUCCEEDED);

  v1::GetJobRequest get_job;
  get_job.set_job_id(job.id());
  ASSERT_TRUE(stubs_->training->GetJob(Context().get(), get_job, &job).ok());
  ASSERT_EQ(job.model_version(), 1u);
  v1::GetModelRequest get_model;
  get_model.set_collection("fashion");
  get_model.set_version(1);
  v1::Model model;
  ASSERT_TRUE(stubs_->models->GetModel(Context().get(), get_model, &model).ok());
  EXPECT_EQ(model.code_size(), 30u);
  EXPECT_GT(model.report().validation_items(), 0u);
  EXPECT_GT(model.report().reconstruction_error(), 0.0);
  EXPECT_GT(model.report().precision_at_10(), 0.5);  // Fashion-MNIST PCA-30 is ~0.75-0.8.

  v1::PromoteModelRequest promote;
  promote.set_collection("fashion");
  promote.set_version(1);
  v1::Promotion promotion;
  s = stubs_->models->PromoteModel(Context().get(), promote, &promotion);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_NO_FATAL_FAILURE(WaitServing("fashion", 1));

  // Held-out items, then search: neighbours mostly share the query's label.
  v1::UpsertRequest upsert;
  upsert.set_collection("fashion");
  for (int i = 50; i < kHeldOut; ++i) {
    v1::Item* item = upsert.add_items();
    item->set_id("test-" + std::to_string(i));
    *item->mutable_input() = RawImage(*test_, i);
    item->set_label(std::to_string(test_->labels[i]));
    (*item->mutable_metadata())["row"] = std::to_string(i);
  }
  v1::UpsertResponse upserted;
  ASSERT_TRUE(stubs_->items->Upsert(Context().get(), upsert, &upserted).ok());
  EXPECT_EQ(upserted.serving_model_version(), 1u);

  v1::GetCollectionRequest get;
  get.set_name("fashion");
  v1::Collection collection;
  ASSERT_TRUE(stubs_->collections->GetCollection(Context().get(), get, &collection).ok());
  EXPECT_EQ(collection.stats().item_count(), static_cast<uint64_t>(kHeldOut));
  EXPECT_EQ(collection.stats().pending_item_count(), 0u);
  EXPECT_GT(collection.stats().index_bytes(), 0u);

  int same = 0, total = 0;
  std::map<std::string, std::vector<std::string>> answers;
  for (int i = 0; i < 40; ++i) {
    const std::string id = "test-" + std::to_string(50 + i);
    v1::SearchRequest request;
    request.set_collection("fashion");
    request.set_item_id(id);
    request.set_k(10);
    v1::SearchResponse response;
    ASSERT_TRUE(stubs_->query->Search(Context().get(), request, &response).ok());
    ASSERT_EQ(response.neighbors_size(), 10);
    for (const auto& n : response.neighbors()) {
      EXPECT_NE(n.id(), id);  // The query item itself is excluded.
      same += n.label() == std::to_string(test_->labels[50 + i]);
      ++total;
      answers[id].push_back(n.id());
    }
  }
  EXPECT_GT(static_cast<double>(same) / total, 0.5) << same << "/" << total;

  // Search by image with the reconstruction; Encode; Decode.
  v1::SearchRequest by_image;
  by_image.set_collection("fashion");
  *by_image.mutable_input() = RawImage(*test_, 7);
  by_image.set_include_reconstruction(true);
  v1::SearchResponse image_response;
  ASSERT_TRUE(stubs_->query->Search(Context().get(), by_image, &image_response).ok());
  EXPECT_EQ(image_response.neighbors(0).id(), "early-7");  // Its own stored copy.
  EXPECT_NEAR(image_response.neighbors(0).distance(), 0.0, 1e-3);
  EXPECT_EQ(image_response.reconstruction().image().encoded().substr(1, 3), "PNG");
  v1::EncodeRequest encode;
  encode.set_collection("fashion");
  *encode.add_inputs() = RawImage(*test_, 7);
  v1::EncodeResponse encoded;
  ASSERT_TRUE(stubs_->query->Encode(Context().get(), encode, &encoded).ok());
  ASSERT_EQ(encoded.codes(0).float_code().values_size(), 30);
  v1::DecodeRequest decode;
  decode.set_collection("fashion");
  *decode.add_codes() = encoded.codes(0);
  v1::DecodeResponse decoded;
  ASSERT_TRUE(stubs_->query->Decode(Context().get(), decode, &decoded).ok());
  EXPECT_EQ(decoded.outputs(0).image().encoded().substr(1, 3), "PNG");

  // Restart: the same version serves and the same answers come back, from the index snapshot
  // written at shutdown.
  ASSERT_NE(server_->SignalAndWait(SIGTERM, 60), -1);
  ASSERT_NO_FATAL_FAILURE(Start());
  EXPECT_NE(server_->Stderr().find("from snapshot"), std::string::npos) << server_->Stderr();
  for (const auto& [id, expected] : answers) {
    EXPECT_EQ(SearchIds("fashion", id), expected) << id;
  }
  // After a crash (SIGKILL) the periodic snapshot plus the change log restore the same index.
  ASSERT_NE(server_->SignalAndWait(SIGKILL, 60), -1);
  ASSERT_NO_FATAL_FAILURE(Start({"--snapshot-interval-seconds", "1"}));
  for (const auto& [id, expected] : answers) {
    EXPECT_EQ(SearchIds("fashion", id), expected) << id;
  }
  // Streaming upsert: batches are committed as they arrive.
  {
    auto context = Context();
    v1::UpsertResponse summary;
    auto writer = stubs_->items->StreamUpsert(context.get(), &summary);
    for (int batch = 0; batch < 3; ++batch) {
      v1::UpsertRequest message;
      if (batch == 0) message.set_collection("fashion");
      for (int i = 0; i < 10; ++i) {
        v1::Item* item = message.add_items();
        item->set_id("stream-" + std::to_string(batch * 10 + i));
        *item->mutable_input() = RawImage(*train_, batch * 10 + i);
      }
      ASSERT_TRUE(writer->Write(message));
    }
    writer->WritesDone();
    ASSERT_TRUE(writer->Finish().ok());
    EXPECT_EQ(summary.upserted(), 30u);
    v1::GetItemRequest get_item;
    get_item.set_collection("fashion");
    get_item.set_id("stream-29");
    get_item.set_include_code(true);
    v1::GetItemResponse item;
    ASSERT_TRUE(stubs_->items->GetItem(Context().get(), get_item, &item).ok());
    EXPECT_EQ(item.model_version(), 1u);
    EXPECT_EQ(item.code().float_code().values_size(), 30);
    EXPECT_EQ(item.item().input().image().raw().data().size(), 784u);
  }
  // Deleting items removes them from search.
  v1::DeleteItemsRequest del;
  del.set_collection("fashion");
  del.add_ids(answers.begin()->second[0]);
  del.add_ids("never-existed");
  v1::DeleteItemsResponse deleted;
  ASSERT_TRUE(stubs_->items->DeleteItems(Context().get(), del, &deleted).ok());
  EXPECT_EQ(deleted.deleted(), 1u);
  for (const std::string& id : SearchIds("fashion", answers.begin()->first)) {
    EXPECT_NE(id, answers.begin()->second[0]);
  }
  // Searches keep their neighbours' heads (id, label, metadata) in memory: an acknowledged
  // re-upsert that changes a neighbour's label and metadata shows in the very next search.
  {
    std::string query;  // A query item that is still there.
    for (const auto& [id, unused] : answers) {
      if (id != answers.begin()->second[0]) query = id;
    }
    v1::SearchRequest request;
    request.set_collection("fashion");
    request.set_item_id(query);
    request.set_k(10);
    v1::SearchResponse before;
    ASSERT_TRUE(stubs_->query->Search(Context().get(), request, &before).ok());
    // The nearest neighbour that is a test image ("test-N" or "early-N" is test image N).
    int nearest = 0;
    while (nearest < before.neighbors_size() &&
           before.neighbors(nearest).id().rfind("stream-", 0) == 0) {
      ++nearest;
    }
    ASSERT_LT(nearest, before.neighbors_size());
    const std::string neighbour = before.neighbors(nearest).id();
    const int row = std::stoi(neighbour.substr(neighbour.find('-') + 1));
    v1::UpsertRequest relabel;
    relabel.set_collection("fashion");
    v1::Item* item = relabel.add_items();
    item->set_id(neighbour);
    *item->mutable_input() = RawImage(*test_, row);  // The same image: the same neighbourhood.
    item->set_label("relabelled");
    (*item->mutable_metadata())["row"] = "changed";
    v1::UpsertResponse relabelled;
    ASSERT_TRUE(stubs_->items->Upsert(Context().get(), relabel, &relabelled).ok());
    v1::SearchResponse after;
    ASSERT_TRUE(stubs_->query->Search(Context().get(), request, &after).ok());
    ASSERT_GT(after.neighbors_size(), nearest);
    EXPECT_EQ(after.neighbors(nearest).id(), neighbour);
    EXPECT_EQ(after.neighbors(nearest).label(), "relabelled");
    ASSERT_EQ(after.neighbors(nearest).metadata().count("row"), 1u);
    EXPECT_EQ(after.neighbors(nearest).metadata().at("row"), "changed");
    // And an acknowledged delete of that neighbour removes it from the next search.
    v1::DeleteItemsRequest drop;
    drop.set_collection("fashion");
    drop.add_ids(neighbour);
    ASSERT_TRUE(stubs_->items->DeleteItems(Context().get(), drop, &deleted).ok());
    for (const std::string& id : SearchIds("fashion", query)) EXPECT_NE(id, neighbour);
  }
}

// Trains a PCA model of `code_size` on the uploaded dataset and returns its version.
uint64_t TrainPca(Stubs& stubs, const std::string& collection, uint32_t code_size) {
  v1::StartTrainingRequest start;
  start.set_collection(collection);
  start.set_dataset("train");
  start.mutable_spec()->mutable_pca()->set_code_size(code_size);
  v1::Job job;
  grpc::Status s = stubs.training->StartTraining(Context().get(), start, &job);
  EXPECT_TRUE(s.ok()) << s.error_message();
  for (int i = 0; i < 1200 && s.ok(); ++i) {
    v1::GetJobRequest get;
    get.set_job_id(job.id());
    EXPECT_TRUE(stubs.training->GetJob(Context().get(), get, &job).ok());
    if (job.state() == v1::JOB_STATE_SUCCEEDED) return job.model_version();
    if (job.state() != v1::JOB_STATE_QUEUED && job.state() != v1::JOB_STATE_RUNNING) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ADD_FAILURE() << "training did not succeed: " << job.ShortDebugString();
  return 0;
}

TEST_F(ServiceFlowTest, PromotionUnderSearchLoadFailsNoSearch) {
  ASSERT_NO_FATAL_FAILURE(Start());
  ASSERT_NO_FATAL_FAILURE(CreateFashionCollection("live"));
  ASSERT_NO_FATAL_FAILURE(Upload("live", "train"));
  const uint64_t v1_version = TrainPca(*stubs_, "live", 16);
  const uint64_t v2_version = TrainPca(*stubs_, "live", 24);
  ASSERT_EQ(v1_version, 1u);
  ASSERT_EQ(v2_version, 2u);
  v1::PromoteModelRequest promote;
  promote.set_collection("live");
  promote.set_version(1);
  v1::Promotion promotion;
  ASSERT_TRUE(stubs_->models->PromoteModel(Context().get(), promote, &promotion).ok());
  ASSERT_NO_FATAL_FAILURE(WaitServing("live", 1));
  for (int start = 0; start < kHeldOut; start += 100) {
    v1::UpsertRequest upsert;
    upsert.set_collection("live");
    for (int i = start; i < start + 100; ++i) {
      v1::Item* item = upsert.add_items();
      item->set_id("t" + std::to_string(i));
      *item->mutable_input() = RawImage(*test_, i);
      item->set_label(std::to_string(test_->labels[i]));
    }
    v1::UpsertResponse response;
    ASSERT_TRUE(stubs_->items->Upsert(Context().get(), upsert, &response).ok());
  }

  // Searches by image run throughout the promotion of v2, and upserts continue meanwhile.
  std::atomic<bool> stop{false};
  std::atomic<int> ok{0}, failed{0};
  std::set<uint64_t> versions_seen;
  std::mutex seen_mutex;
  std::thread searcher([&] {
    int i = 0;
    while (!stop) {
      v1::SearchRequest request;
      request.set_collection("live");
      *request.mutable_input() = RawImage(*test_, i++ % kHeldOut);
      v1::SearchResponse response;
      grpc::Status s = stubs_->query->Search(Context().get(), request, &response);
      if (s.ok() && response.neighbors_size() == 10) {
        ++ok;
        std::lock_guard<std::mutex> lock(seen_mutex);
        versions_seen.insert(response.model_version());
      } else {
        ++failed;
      }
    }
  });
  promote.set_version(2);
  ASSERT_TRUE(stubs_->models->PromoteModel(Context().get(), promote, &promotion).ok());
  v1::UpsertRequest during;
  during.set_collection("live");
  for (int i = 0; i < 20; ++i) {
    v1::Item* item = during.add_items();
    item->set_id("during-" + std::to_string(i));
    *item->mutable_input() = RawImage(*train_, i);
  }
  v1::UpsertResponse during_response;
  ASSERT_TRUE(stubs_->items->Upsert(Context().get(), during, &during_response).ok());
  ASSERT_NO_FATAL_FAILURE(WaitServing("live", 2));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  stop = true;
  searcher.join();
  EXPECT_EQ(failed.load(), 0);
  EXPECT_GT(ok.load(), 0);
  EXPECT_EQ(versions_seen.count(2), 1u);
  // Items upserted during the re-encoding are searchable with the new model.
  v1::SearchRequest request;
  request.set_collection("live");
  *request.mutable_input() = RawImage(*train_, 3);
  v1::SearchResponse response;
  ASSERT_TRUE(stubs_->query->Search(Context().get(), request, &response).ok());
  EXPECT_EQ(response.model_version(), 2u);
  EXPECT_EQ(response.neighbors(0).id(), "during-3");
  v1::GetCollectionRequest get;
  get.set_name("live");
  v1::Collection collection;
  ASSERT_TRUE(stubs_->collections->GetCollection(Context().get(), get, &collection).ok());
  EXPECT_EQ(collection.stats().item_count(), static_cast<uint64_t>(kHeldOut + 20));
  EXPECT_EQ(collection.stats().pending_item_count(), 0u);
}

v1::Job WaitForJob(Stubs& stubs, const std::string& id,
                   const std::function<bool(const v1::Job&)>& done, int seconds) {
  v1::Job job;
  for (int i = 0; i < seconds * 20; ++i) {
    v1::GetJobRequest get;
    get.set_job_id(id);
    grpc::Status s = stubs.training->GetJob(Context().get(), get, &job);
    EXPECT_TRUE(s.ok()) << s.error_message();
    if (!s.ok() || done(job)) return job;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ADD_FAILURE() << "job " << id << " did not reach the expected state: " << job.ShortDebugString();
  return job;
}

v1::StartTrainingRequest DenseJob(const std::string& collection, uint32_t epochs) {
  v1::StartTrainingRequest start;
  start.set_collection(collection);
  start.set_dataset("train");
  v1::DenseAutoencoderSpec* dense = start.mutable_spec()->mutable_dense();
  dense->add_encoder_sizes(128);
  dense->set_code_size(16);
  dense->set_hidden_activation(v1::ACTIVATION_RELU);
  start.mutable_spec()->mutable_training()->set_epochs(epochs);
  // Every epoch runs: the long jobs below must still be running when cancelled or killed.
  start.mutable_spec()->mutable_training()->set_early_stopping_patience(epochs);
  return start;
}

TEST_F(ServiceFlowTest, DenseJobsTrainCancelAndSurviveRestarts) {
  ASSERT_NO_FATAL_FAILURE(Start());
  ASSERT_NO_FATAL_FAILURE(CreateFashionCollection("dense"));
  ASSERT_NO_FATAL_FAILURE(Upload("dense", "train"));

  // A short job succeeds with a model of the requested code size.
  v1::Job job;
  ASSERT_TRUE(stubs_->training->StartTraining(Context().get(), DenseJob("dense", 3), &job).ok());
  job = WaitForJob(
      *stubs_, job.id(), [](const v1::Job& j) { return j.state() > v1::JOB_STATE_RUNNING; }, 240);
  ASSERT_EQ(job.state(), v1::JOB_STATE_SUCCEEDED) << job.error();
  // The job keeps one history entry per fine-tuning epoch, in order, with a measured loss.
  std::vector<uint32_t> epochs;
  for (const v1::EpochSummary& h : job.history()) {
    EXPECT_GT(h.loss(), 0.0) << h.ShortDebugString();
    if (h.phase() == job.history(job.history_size() - 1).phase()) epochs.push_back(h.epoch());
  }
  EXPECT_EQ(epochs, (std::vector<uint32_t>{1, 2, 3})) << job.ShortDebugString();
  EXPECT_EQ(job.progress().phase(), "evaluate");
  EXPECT_EQ(job.progress().phase_index(), job.progress().phase_count());
  v1::GetModelRequest get_model;
  get_model.set_collection("dense");
  get_model.set_version(job.model_version());
  v1::Model model;
  ASSERT_TRUE(stubs_->models->GetModel(Context().get(), get_model, &model).ok());
  EXPECT_EQ(model.code_size(), 16u);
  EXPECT_GT(model.parameter_count(), 784u * 128u);
  EXPECT_GT(model.report().pca_reconstruction_error(), 0.0);

  // A long job is cancelled within a few seconds.
  ASSERT_TRUE(stubs_->training->StartTraining(Context().get(), DenseJob("dense", 5000), &job).ok());
  WaitForJob(
      *stubs_, job.id(), [](const v1::Job& j) { return j.progress().epoch() >= 1; }, 120);
  v1::CancelJobRequest cancel;
  cancel.set_job_id(job.id());
  ASSERT_TRUE(stubs_->training->CancelJob(Context().get(), cancel, &job).ok());
  const auto cancelled_at = std::chrono::steady_clock::now();
  job = WaitForJob(
      *stubs_, job.id(), [](const v1::Job& j) { return j.state() == v1::JOB_STATE_CANCELLED; }, 10);
  EXPECT_EQ(job.state(), v1::JOB_STATE_CANCELLED);
  EXPECT_LT(std::chrono::steady_clock::now() - cancelled_at, std::chrono::seconds(5));

  // A job running when the server is killed comes back INTERRUPTED and can be resumed.
  ASSERT_TRUE(stubs_->training->StartTraining(Context().get(), DenseJob("dense", 5000), &job).ok());
  WaitForJob(
      *stubs_, job.id(), [](const v1::Job& j) { return j.progress().epoch() >= 2; }, 120);
  ASSERT_NE(server_->SignalAndWait(SIGKILL, 30), -1);
  ASSERT_NO_FATAL_FAILURE(Start());
  v1::GetJobRequest get;
  get.set_job_id(job.id());
  ASSERT_TRUE(stubs_->training->GetJob(Context().get(), get, &job).ok());
  EXPECT_EQ(job.state(), v1::JOB_STATE_INTERRUPTED);
  v1::ResumeJobRequest resume;
  resume.set_job_id(job.id());
  ASSERT_TRUE(stubs_->training->ResumeJob(Context().get(), resume, &job).ok());
  job = WaitForJob(
      *stubs_, job.id(), [](const v1::Job& j) { return j.state() == v1::JOB_STATE_RUNNING; }, 60);
  EXPECT_EQ(job.state(), v1::JOB_STATE_RUNNING);
  cancel.set_job_id(job.id());
  ASSERT_TRUE(stubs_->training->CancelJob(Context().get(), cancel, &job).ok());
  // Resuming a job that is not interrupted is refused.
  EXPECT_EQ(stubs_->training->ResumeJob(Context().get(), resume, &job).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
}

TEST_F(ServiceFlowTest, ConvolutionalAutoencoderTrainsAndServes) {
  ASSERT_NO_FATAL_FAILURE(Start());
  ASSERT_NO_FATAL_FAILURE(CreateFashionCollection("conv"));
  ASSERT_NO_FATAL_FAILURE(Upload("conv", "train"));
  v1::StartTrainingRequest start;
  start.set_collection("conv");
  start.set_dataset("train");
  v1::ConvAutoencoderSpec* conv = start.mutable_spec()->mutable_conv();
  for (uint32_t filters : {8u, 16u}) {
    v1::ConvLayerSpec* layer = conv->add_encoder();
    layer->set_filters(filters);
    layer->set_pool_size(2);
  }
  conv->add_dense_sizes(32);
  conv->set_code_size(16);
  start.mutable_spec()->mutable_training()->set_epochs(2);
  start.set_promote_when_done(true);
  v1::Job job;
  ASSERT_TRUE(stubs_->training->StartTraining(Context().get(), start, &job).ok());
  job = WaitForJob(
      *stubs_, job.id(), [](const v1::Job& j) { return j.state() > v1::JOB_STATE_RUNNING; }, 240);
  ASSERT_EQ(job.state(), v1::JOB_STATE_SUCCEEDED) << job.error();
  ASSERT_NO_FATAL_FAILURE(WaitServing("conv", job.model_version()));
  v1::GetModelRequest get_model;
  get_model.set_collection("conv");
  get_model.set_version(job.model_version());
  v1::Model model;
  ASSERT_TRUE(stubs_->models->GetModel(Context().get(), get_model, &model).ok());
  EXPECT_EQ(model.spec().conv().unpooling(), v1::UNPOOLING_REPEAT);  // The default.
  ASSERT_EQ(model.spec().conv().dense_sizes_size(), 1);
  // conv 8 + conv 16 (3x3) to a 7x7x16 map, dense 784 -> 32 -> 16 and back: the dense layer counts.
  EXPECT_GT(model.parameter_count(), 2u * (784u * 32u));
  EXPECT_GT(model.report().reconstruction_error(), 0.0);
  // Ingest, search by image with a reconstruction, decode a code to an image.
  v1::UpsertRequest upsert;
  upsert.set_collection("conv");
  for (int i = 0; i < 50; ++i) {
    v1::Item* item = upsert.add_items();
    item->set_id("c" + std::to_string(i));
    *item->mutable_input() = RawImage(*test_, i);
  }
  v1::UpsertResponse upserted;
  ASSERT_TRUE(stubs_->items->Upsert(Context().get(), upsert, &upserted).ok());
  v1::SearchRequest search;
  search.set_collection("conv");
  *search.mutable_input() = RawImage(*test_, 3);
  search.set_include_reconstruction(true);
  v1::SearchResponse response;
  ASSERT_TRUE(stubs_->query->Search(Context().get(), search, &response).ok());
  EXPECT_EQ(response.neighbors(0).id(), "c3");
  EXPECT_EQ(response.reconstruction().image().encoded().substr(1, 3), "PNG");
  EXPECT_EQ(response.query_code().float_code().values_size(), 16);
}

TEST_F(ServiceFlowTest, ErrorsArePreciseAndChangeNothing) {
  ASSERT_NO_FATAL_FAILURE(Start());
  ASSERT_NO_FATAL_FAILURE(CreateFashionCollection("c1"));
  v1::Collection collection;
  v1::CreateCollectionRequest create;
  create.set_name("c1");
  create.mutable_spec()->mutable_image()->set_height(28);
  create.mutable_spec()->mutable_image()->set_width(28);
  create.mutable_spec()->mutable_image()->set_channels(1);
  EXPECT_EQ(
      stubs_->collections->CreateCollection(Context().get(), create, &collection).error_code(),
      grpc::StatusCode::ALREADY_EXISTS);
  create.set_name("../x");
  EXPECT_EQ(
      stubs_->collections->CreateCollection(Context().get(), create, &collection).error_code(),
      grpc::StatusCode::INVALID_ARGUMENT);
  create.set_name("c2");
  create.mutable_spec()->set_distance(static_cast<v1::Distance>(42));
  EXPECT_EQ(
      stubs_->collections->CreateCollection(Context().get(), create, &collection).error_code(),
      grpc::StatusCode::INVALID_ARGUMENT);

  v1::SearchRequest search;
  search.set_collection("c1");
  search.set_item_id("x");
  v1::SearchResponse response;
  EXPECT_EQ(stubs_->query->Search(Context().get(), search, &response).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  search.set_collection("nope");
  EXPECT_EQ(stubs_->query->Search(Context().get(), search, &response).error_code(),
            grpc::StatusCode::NOT_FOUND);
  search.set_collection("c1");
  search.set_k(5000);
  EXPECT_EQ(stubs_->query->Search(Context().get(), search, &response).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);

  // A batch with one bad item writes nothing.
  v1::UpsertRequest upsert;
  upsert.set_collection("c1");
  *upsert.add_items()->mutable_input() = RawImage(*test_, 0);
  upsert.mutable_items(0)->set_id("good");
  upsert.add_items()->set_id("bad");
  upsert.mutable_items(1)->mutable_input()->mutable_image()->set_encoded("not an image");
  v1::UpsertResponse upserted;
  grpc::Status s = stubs_->items->Upsert(Context().get(), upsert, &upserted);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("items[1]"), std::string::npos) << s.error_message();
  v1::GetItemRequest get;
  get.set_collection("c1");
  get.set_id("good");
  v1::GetItemResponse item;
  EXPECT_EQ(stubs_->items->GetItem(Context().get(), get, &item).error_code(),
            grpc::StatusCode::NOT_FOUND);
  // Documents in an image collection, and a bad id.
  upsert.clear_items();
  upsert.add_items()->set_id("doc");
  upsert.mutable_items(0)->mutable_input()->mutable_document()->set_text("hello");
  EXPECT_EQ(stubs_->items->Upsert(Context().get(), upsert, &upserted).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  upsert.mutable_items(0)->set_id(std::string("tab\tid"));
  EXPECT_EQ(stubs_->items->Upsert(Context().get(), upsert, &upserted).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);

  v1::StartTrainingRequest start;
  start.set_collection("c1");
  start.set_dataset("missing");
  start.mutable_spec()->mutable_pca()->set_code_size(10);
  v1::Job job;
  EXPECT_EQ(stubs_->training->StartTraining(Context().get(), start, &job).error_code(),
            grpc::StatusCode::NOT_FOUND);
  v1::GetJobRequest get_job;
  get_job.set_job_id("c1.999");
  EXPECT_EQ(stubs_->training->GetJob(Context().get(), get_job, &job).error_code(),
            grpc::StatusCode::NOT_FOUND);
  v1::PromoteModelRequest promote;
  promote.set_collection("c1");
  promote.set_version(3);
  v1::Promotion promotion;
  EXPECT_EQ(stubs_->models->PromoteModel(Context().get(), promote, &promotion).error_code(),
            grpc::StatusCode::NOT_FOUND);

  v1::DeleteCollectionRequest del;
  del.set_name("c1");
  v1::DeleteCollectionResponse deleted;
  ASSERT_TRUE(stubs_->collections->DeleteCollection(Context().get(), del, &deleted).ok());
  EXPECT_EQ(stubs_->collections->DeleteCollection(Context().get(), del, &deleted).error_code(),
            grpc::StatusCode::NOT_FOUND);
  v1::ListCollectionsResponse list;
  ASSERT_TRUE(stubs_->collections->ListCollections(Context().get(), {}, &list).ok());
  EXPECT_EQ(list.collections_size(), 0);
}

}  // namespace
}  // namespace bn::testing
