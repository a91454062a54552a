// Overload and admission control against the real server: limits refuse extra work at once with
// RESOURCE_EXHAUSTED (and change nothing), and searches at full rate while a training job and a
// bulk ingest run fail only by design. Latency under load is measured by bench_service_overload,
// not asserted here.
#include <atomic>
#include <chrono>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "bottleneck/v1/collection.grpc.pb.h"
#include "bottleneck/v1/item.grpc.pb.h"
#include "bottleneck/v1/query.grpc.pb.h"
#include "bottleneck/v1/training.grpc.pb.h"
#include "gtest/gtest.h"
#include "tests/integration/client_util.h"
#include "tests/integration/server_process.h"
#include "tests/util/temp_dir.h"

namespace bn::testing {
namespace {

namespace v1 = ::bottleneck::v1;
using Code = grpc::StatusCode;

constexpr int kSide = 16;  // 16x16 grey collections: cheap to encode, real work nonetheless.

// A deterministic, varied image: item i of a family of gradients.
v1::Input Image(int i) {
  std::string data(kSide * kSide, '\0');
  for (int p = 0; p < kSide * kSide; ++p) {
    data[p] = static_cast<char>((p * (i % 7 + 1) + i * 13) % 256);
  }
  return RawGrey(kSide, kSide, std::move(data));
}

// Peak resident memory of a process in KiB (VmHWM), or -1.
long PeakRssKib(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

class OverloadTest : public ::testing::Test {
 protected:
  // Ingest and index maintenance at their default priority, SCHED_IDLE (ServerProcess lowers
  // none by default): this suite is about behaviour under load. Training at nice 10 rather than
  // its SCHED_IDLE default, because one test waits for a job to finish under a search load and
  // the other tests ctest runs beside it (-j2) could stall a SCHED_IDLE job for minutes.
  void StartServer(std::vector<std::string> args) {
    args.insert(args.end(), {"--ingest-nice", "20", "--background-nice", "20"});
    args.insert(args.end(), {"--training-nice", "10"});
    std::string error;
    server_ = ServerProcess::Start(dir_.Sub("data"), args, &error);
    ASSERT_NE(server_, nullptr) << error;
    auto channel = server_->Channel();
    collections_ = v1::CollectionService::NewStub(channel);
    training_ = v1::TrainingService::NewStub(channel);
    items_ = v1::ItemService::NewStub(channel);
    query_ = v1::QueryService::NewStub(channel);
  }

  void CreateCollection(const std::string& name) {
    v1::CreateCollectionRequest create;
    create.set_name(name);
    create.mutable_spec()->mutable_image()->set_height(kSide);
    create.mutable_spec()->mutable_image()->set_width(kSide);
    create.mutable_spec()->mutable_image()->set_channels(1);
    v1::Collection c;
    ASSERT_TRUE(collections_->CreateCollection(Ctx(60).get(), create, &c).ok());
  }

  grpc::Status Upload(const std::string& collection, const std::string& dataset, int examples) {
    std::vector<v1::Input> inputs;
    for (int i = 0; i < examples; ++i) inputs.push_back(Image(i));
    return UploadExamples(training_.get(), collection, dataset, inputs, 60);
  }

  // Trains and promotes a model; returns the job id.
  std::string Train(const std::string& collection, const std::string& dataset, bool dense,
                    int epochs, bool wait) {
    v1::StartTrainingRequest start;
    start.set_collection(collection);
    start.set_dataset(dataset);
    if (dense) {
      v1::DenseAutoencoderSpec* spec = start.mutable_spec()->mutable_dense();
      spec->add_encoder_sizes(128);
      spec->set_code_size(8);
      start.mutable_spec()->mutable_training()->set_epochs(epochs);
    } else {
      start.mutable_spec()->mutable_pca()->set_code_size(8);
    }
    start.set_promote_when_done(true);
    v1::Job job;
    grpc::Status s = training_->StartTraining(Ctx(60).get(), start, &job);
    EXPECT_TRUE(s.ok()) << s.error_message();
    if (!wait) return job.id();
    for (int i = 0; i < 1200; ++i) {
      v1::GetJobRequest get;
      get.set_job_id(job.id());
      EXPECT_TRUE(training_->GetJob(Ctx(60).get(), get, &job).ok());
      if (job.state() == v1::JOB_STATE_SUCCEEDED || job.state() == v1::JOB_STATE_FAILED) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    EXPECT_EQ(job.state(), v1::JOB_STATE_SUCCEEDED) << job.error();
    // Promotion (re-encoding, then the swap) follows the job's success.
    for (int i = 0; i < 1200 && ServingVersion(collection) == 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    EXPECT_NE(ServingVersion(collection), 0u);
    return job.id();
  }

  grpc::Status UpsertRange(const std::string& collection, int from, int to) {
    v1::UpsertRequest upsert;
    upsert.set_collection(collection);
    for (int i = from; i < to; ++i) {
      v1::Item* item = upsert.add_items();
      item->set_id("i" + std::to_string(i));
      *item->mutable_input() = Image(i);
    }
    v1::UpsertResponse r;
    return items_->Upsert(Ctx(60).get(), upsert, &r);
  }

  uint64_t ServingVersion(const std::string& collection) {
    v1::GetCollectionRequest get;
    get.set_name(collection);
    v1::Collection c;
    EXPECT_TRUE(collections_->GetCollection(Ctx(60).get(), get, &c).ok());
    return c.stats().serving_model_version();
  }

  uint64_t ItemCount(const std::string& collection) {
    v1::GetCollectionRequest get;
    get.set_name(collection);
    v1::Collection c;
    EXPECT_TRUE(collections_->GetCollection(Ctx(60).get(), get, &c).ok());
    return c.stats().item_count();
  }

  TempDir dir_;
  std::unique_ptr<ServerProcess> server_;
  std::unique_ptr<v1::CollectionService::Stub> collections_;
  std::unique_ptr<v1::TrainingService::Stub> training_;
  std::unique_ptr<v1::ItemService::Stub> items_;
  std::unique_ptr<v1::QueryService::Stub> query_;
};

TEST_F(OverloadTest, LimitsRefuseExtraWorkAtOnceAndChangeNothing) {
  StartServer({"--max-write-streams", "1", "--max-dataset-uploads", "1", "--max-dataset-mib", "1",
               "--inference-threads", "1"});
  CreateCollection("img");
  ASSERT_TRUE(Upload("img", "train", 100).ok());
  Train("img", "train", /*dense=*/false, 0, /*wait=*/true);
  ASSERT_TRUE(UpsertRange("img", 0, 10).ok());

  // An open upsert stream holds the only write slot: other writes are refused, not queued.
  {
    auto ctx = Ctx(60);
    v1::UpsertResponse streamed;
    auto stream = items_->StreamUpsert(ctx.get(), &streamed);
    v1::UpsertRequest first;
    first.set_collection("img");
    v1::Item* item = first.add_items();
    item->set_id("s0");
    *item->mutable_input() = Image(1000);
    ASSERT_TRUE(stream->Write(first));
    // The stream holds the slot from its handler's start; once its first item is stored it
    // certainly does.
    for (int attempt = 0; attempt < 500 && ItemCount("img") < 11; ++attempt) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ASSERT_EQ(ItemCount("img"), 11u);
    grpc::Status refused = UpsertRange("img", 10, 20);
    EXPECT_EQ(refused.error_code(), Code::RESOURCE_EXHAUSTED);
    EXPECT_NE(refused.error_message().find("--max-write-streams"), std::string::npos)
        << refused.error_message();
    const uint64_t before = ItemCount("img");
    v1::DeleteItemsRequest del;
    del.set_collection("img");
    del.add_ids("i0");
    v1::DeleteItemsResponse deleted;
    EXPECT_EQ(items_->DeleteItems(Ctx(60).get(), del, &deleted).error_code(),
              Code::RESOURCE_EXHAUSTED);
    EXPECT_EQ(ItemCount("img"), before);  // The refused calls changed nothing.
    // Searches are a different kind of work and still pass.
    v1::SearchRequest search;
    search.set_collection("img");
    *search.mutable_input() = Image(3);
    v1::SearchResponse found;
    grpc::Status searched = query_->Search(Ctx(60).get(), search, &found);
    EXPECT_TRUE(searched.ok()) << searched.error_message();
    stream->WritesDone();
    grpc::Status finished = stream->Finish();
    ASSERT_TRUE(finished.ok()) << finished.error_message();
  }
  // The slot is free again once the stream ended.
  EXPECT_TRUE(UpsertRange("img", 10, 20).ok());

  // 1 MiB of 16x16 floats is 1024 examples: a larger dataset is refused and leaves nothing.
  grpc::Status big = Upload("img", "big", 1100);
  EXPECT_EQ(big.error_code(), Code::RESOURCE_EXHAUSTED) << big.error_message();
  EXPECT_NE(big.error_message().find("--max-dataset-mib"), std::string::npos);
  v1::GetDatasetRequest get;
  get.set_collection("img");
  get.set_dataset("big");
  v1::Dataset dataset;
  EXPECT_EQ(training_->GetDataset(Ctx(60).get(), get, &dataset).error_code(), Code::NOT_FOUND);
  EXPECT_TRUE(Upload("img", "fits", 1000).ok());
}

TEST_F(OverloadTest, QueryLimitRefusesOnlyWithResourceExhausted) {
  StartServer({"--max-inflight-queries", "2", "--inference-threads", "1"});
  CreateCollection("img");
  ASSERT_TRUE(Upload("img", "train", 200).ok());
  Train("img", "train", /*dense=*/true, 2, /*wait=*/true);
  ASSERT_TRUE(UpsertRange("img", 0, 500).ok());

  // 16 clients searching by image (decode + encode + search) against 2 query slots.
  std::map<int, int> codes;
  std::mutex mutex;
  std::vector<std::thread> clients;
  for (int t = 0; t < 16; ++t) {
    clients.emplace_back([&, t] {
      auto channel = server_->Channel();
      auto query = v1::QueryService::NewStub(channel);
      std::map<int, int> mine;
      for (int i = 0; i < 60; ++i) {
        v1::SearchRequest search;
        search.set_collection("img");
        *search.mutable_input() = Image(t * 100 + i);
        search.set_k(10);
        v1::SearchResponse found;
        grpc::Status s = query->Search(Ctx(60).get(), search, &found);
        ++mine[s.error_code()];
        if (s.ok()) {
          EXPECT_EQ(found.neighbors_size(), 10);
        } else {
          EXPECT_NE(s.error_message().find("--max-inflight-queries"), std::string::npos)
              << s.error_message();
        }
      }
      std::lock_guard<std::mutex> lock(mutex);
      for (auto [code, n] : mine) codes[code] += n;
    });
  }
  for (auto& c : clients) c.join();
  int total = 0;
  for (auto [code, n] : codes) {
    total += n;
    EXPECT_TRUE(code == Code::OK || code == Code::RESOURCE_EXHAUSTED)
        << n << " searches ended with code " << code;
  }
  EXPECT_EQ(total, 16 * 60);
  EXPECT_GT(codes[Code::OK], 0);
  std::printf("16 clients x 60 searches, 2 slots: %d OK, %d RESOURCE_EXHAUSTED\n", codes[Code::OK],
              codes[Code::RESOURCE_EXHAUSTED]);
}

TEST_F(OverloadTest, SearchesDuringTrainingAndBulkIngestFailOnlyByDesign) {
  StartServer({"--max-dataset-mib", "64", "--inference-threads", "1"});
  CreateCollection("img");
  ASSERT_TRUE(Upload("img", "train", 2000).ok());
  Train("img", "train", /*dense=*/false, 0, /*wait=*/true);
  ASSERT_TRUE(UpsertRange("img", 0, 1000).ok());

  // Load: a dense training job on the 2000 examples and a bulk ingest of 8000 items in 8 streams.
  const std::string job = Train("img", "train", /*dense=*/true, 3, /*wait=*/false);
  std::atomic<bool> loading{true};
  std::atomic<int> ingest_failures{0};
  std::thread ingest([&] {
    for (int batch = 0; batch < 8; ++batch) {
      auto ctx = Ctx(120);
      v1::UpsertResponse r;
      auto stream = items_->StreamUpsert(ctx.get(), &r);
      for (int m = 0; m < 10; ++m) {
        v1::UpsertRequest msg;
        msg.set_collection("img");
        for (int i = 0; i < 100; ++i) {
          const int id = 1000 + batch * 1000 + m * 100 + i;
          v1::Item* item = msg.add_items();
          item->set_id("i" + std::to_string(id));
          *item->mutable_input() = Image(id);
        }
        if (!stream->Write(msg)) break;
      }
      stream->WritesDone();
      grpc::Status s = stream->Finish();
      if (!s.ok()) {
        ++ingest_failures;
        ADD_FAILURE() << "ingest stream " << batch << ": " << s.error_message();
      }
    }
    loading = false;
  });

  std::map<int, int> codes;
  std::mutex mutex;
  std::vector<std::thread> clients;
  for (int t = 0; t < 4; ++t) {
    clients.emplace_back([&, t] {
      auto query = v1::QueryService::NewStub(server_->Channel());
      std::map<int, int> mine;
      for (int i = 0; loading.load() || i < 50; ++i) {
        v1::SearchRequest search;
        search.set_collection("img");
        search.set_item_id("i" + std::to_string((t * 131 + i) % 1000));
        v1::SearchResponse found;
        grpc::Status s = query->Search(Ctx(60).get(), search, &found);
        ++mine[s.error_code()];
      }
      std::lock_guard<std::mutex> lock(mutex);
      for (auto [code, n] : mine) codes[code] += n;
    });
  }
  ingest.join();
  for (auto& c : clients) c.join();
  EXPECT_EQ(ingest_failures.load(), 0);
  for (auto [code, n] : codes) {
    EXPECT_TRUE(code == Code::OK || code == Code::RESOURCE_EXHAUSTED || code == Code::UNAVAILABLE)
        << n << " searches ended with code " << code;
  }
  EXPECT_GT(codes[Code::OK], 0);
  EXPECT_EQ(ItemCount("img"), 9000u);

  // The job ends well and the server's peak memory stays bounded (limits on dataset size,
  // batch size and concurrent streams).
  for (int i = 0; i < 2400; ++i) {
    v1::GetJobRequest get;
    get.set_job_id(job);
    v1::Job j;
    ASSERT_TRUE(training_->GetJob(Ctx(60).get(), get, &j).ok());
    if (j.state() == v1::JOB_STATE_SUCCEEDED) break;
    ASSERT_NE(j.state(), v1::JOB_STATE_FAILED) << j.error();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  const long peak_kib = PeakRssKib(server_->pid());
  ASSERT_GT(peak_kib, 0);
  EXPECT_LT(peak_kib, 1024 * 1024) << "peak RSS " << peak_kib << " KiB";
  std::printf("searches under load: %d OK; server peak RSS %ld MiB\n", codes[Code::OK],
              peak_kib / 1024);
}

}  // namespace
}  // namespace bn::testing
