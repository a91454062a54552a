// Crash test with an oracle (in the spirit of RocksDB's db_crashtest): a workload of upserts,
// deletes and searches runs against the real server, which is SIGKILLed at random moments and
// restarted. After every restart: every acknowledged item is present with its input and the
// serving model's code for it, no acknowledged delete comes back, the index agrees with the store,
// the serving version is unchanged, and a job that was running is INTERRUPTED.
//
// CI runs 20 cycles; BN_CRASH_CYCLES=N runs longer.
#include <signal.h>

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>
#include <vector>

#include "bottleneck/v1/collection.grpc.pb.h"
#include "bottleneck/v1/item.grpc.pb.h"
#include "bottleneck/v1/model.grpc.pb.h"
#include "bottleneck/v1/query.grpc.pb.h"
#include "bottleneck/v1/training.grpc.pb.h"
#include "gtest/gtest.h"
#include "tests/integration/client_util.h"
#include "tests/integration/server_process.h"
#include "tests/util/temp_dir.h"

namespace bn::testing {
namespace {

namespace v1 = ::bottleneck::v1;

// 8x8 grey image whose pixels depend on `seed` (so items differ).
v1::Input Image(int seed) {
  std::string data(64, '\0');
  for (int i = 0; i < 64; ++i) data[i] = static_cast<char>((seed * 37 + i * (seed % 7 + 1)) % 256);
  return RawGrey(8, 8, std::move(data));
}

using Stubs = Api;  // tests/integration/client_util.h

// What the clients were told.
struct Oracle {
  std::mutex mutex;
  std::map<std::string, int> acked;        // id -> image seed
  std::set<std::string> deleted;           // acknowledged deletes
  std::map<std::string, int> in_flight;    // sent, not acknowledged when the server died
  std::set<std::string> delete_in_flight;  // delete sent, not acknowledged
};

TEST(CrashTest, AcknowledgedWritesSurviveSigkill) {
  const char* env = std::getenv("BN_CRASH_CYCLES");
  const int cycles = env != nullptr ? std::atoi(env) : 20;
  TempDir dir;
  const std::string data = dir.Sub("data");
  std::string error;
  auto server = ServerProcess::Start(data, {"--snapshot-interval-seconds", "1"}, &error);
  ASSERT_NE(server, nullptr) << error;
  auto stubs = std::make_unique<Stubs>(server->Channel());

  // Setup: a served collection (PCA-4 on 8x8 images).
  v1::CreateCollectionRequest create;
  create.set_name("c");
  create.mutable_spec()->mutable_image()->set_height(8);
  create.mutable_spec()->mutable_image()->set_width(8);
  create.mutable_spec()->mutable_image()->set_channels(1);
  v1::Collection collection;
  ASSERT_TRUE(stubs->collections->CreateCollection(Ctx(10).get(), create, &collection).ok());
  std::vector<v1::Input> examples;
  for (int i = 0; i < 200; ++i) examples.push_back(Image(100000 + i));
  ASSERT_TRUE(UploadExamples(stubs->training.get(), "c", "train", examples, 10).ok());
  v1::StartTrainingRequest start;
  start.set_collection("c");
  start.set_dataset("train");
  start.mutable_spec()->mutable_pca()->set_code_size(4);
  start.set_promote_when_done(true);
  v1::Job job;
  ASSERT_TRUE(stubs->training->StartTraining(Ctx(10).get(), start, &job).ok());
  for (int i = 0; i < 400 && collection.stats().serving_model_version() != 1; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
    v1::GetCollectionRequest get;
    get.set_name("c");
    ASSERT_TRUE(stubs->collections->GetCollection(Ctx(10).get(), get, &collection).ok());
  }
  ASSERT_EQ(collection.stats().serving_model_version(), 1u);

  Oracle oracle;
  std::mt19937 rng(12345);
  int next_seed = 0;
  std::string running_job;
  int checked_items = 0;
  for (int cycle = 0; cycle < cycles; ++cycle) {
    // Workload until the kill.
    std::atomic<bool> stop{false};
    std::thread worker([&, cycle] {
      std::mt19937 local(cycle);
      int n = 0;
      while (!stop) {
        v1::UpsertRequest upsert;
        upsert.set_collection("c");
        std::map<std::string, int> batch;
        for (int i = 0; i < 5; ++i) {
          const std::string id = "k" + std::to_string(cycle) + "-" + std::to_string(n++);
          int seed;
          {
            std::lock_guard<std::mutex> lock(oracle.mutex);
            seed = next_seed++;
            oracle.in_flight[id] = seed;
          }
          v1::Item* item = upsert.add_items();
          item->set_id(id);
          *item->mutable_input() = Image(seed);
          batch[id] = seed;
        }
        v1::UpsertResponse response;
        if (!stubs->items->Upsert(Ctx(2).get(), upsert, &response).ok()) break;
        {
          std::lock_guard<std::mutex> lock(oracle.mutex);
          for (auto& [id, seed] : batch) {
            oracle.in_flight.erase(id);
            oracle.acked[id] = seed;
            oracle.deleted.erase(id);
          }
        }
        if (n % 15 == 0) {  // Delete two acknowledged items.
          v1::DeleteItemsRequest del;
          del.set_collection("c");
          {
            std::lock_guard<std::mutex> lock(oracle.mutex);
            for (int j = 0; j < 2 && !oracle.acked.empty(); ++j) {
              auto it = oracle.acked.begin();
              std::advance(it, local() % oracle.acked.size());
              del.add_ids(it->first);
            }
          }
          {
            std::lock_guard<std::mutex> lock(oracle.mutex);
            for (const auto& id : del.ids()) oracle.delete_in_flight.insert(id);
          }
          v1::DeleteItemsResponse deleted;
          if (del.ids_size() > 0 && stubs->items->DeleteItems(Ctx(2).get(), del, &deleted).ok()) {
            std::lock_guard<std::mutex> lock(oracle.mutex);
            for (const auto& id : del.ids()) {
              oracle.delete_in_flight.erase(id);
              oracle.acked.erase(id);
              oracle.deleted.insert(id);
            }
          } else {
            break;
          }
        }
        v1::SearchRequest search;
        search.set_collection("c");
        *search.mutable_input() = Image(local() % 1000);
        v1::SearchResponse found;
        (void)stubs->query->Search(Ctx(2).get(), search, &found);
      }
    });
    if (cycle % 5 == 2) {  // A training job that the kill interrupts.
      v1::StartTrainingRequest long_job;
      long_job.set_collection("c");
      long_job.set_dataset("train");
      long_job.mutable_spec()->mutable_dense()->add_encoder_sizes(16);
      long_job.mutable_spec()->mutable_dense()->set_code_size(4);
      long_job.mutable_spec()->mutable_training()->set_epochs(5000);
      // Every epoch runs (early stopping would end it before the kill).
      long_job.mutable_spec()->mutable_training()->set_early_stopping_patience(5000);
      ASSERT_TRUE(stubs->training->StartTraining(Ctx(10).get(), long_job, &job).ok());
      running_job = job.id();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(150 + rng() % 450));
    ASSERT_NE(server->SignalAndWait(SIGKILL, 30), -1);
    stop = true;
    worker.join();

    server = ServerProcess::Start(data, {"--snapshot-interval-seconds", "1"}, &error);
    ASSERT_NE(server, nullptr) << "cycle " << cycle << ": " << error;
    stubs = std::make_unique<Stubs>(server->Channel());

    // Check the oracle.
    std::lock_guard<std::mutex> lock(oracle.mutex);
    v1::GetCollectionRequest get;
    get.set_name("c");
    ASSERT_TRUE(stubs->collections->GetCollection(Ctx(10).get(), get, &collection).ok());
    EXPECT_EQ(collection.stats().serving_model_version(), 1u) << "cycle " << cycle;
    EXPECT_EQ(collection.stats().pending_item_count(), 0u)
        << "cycle " << cycle << ": the index disagrees with the store";
    uint64_t present_in_flight = 0;
    for (auto it = oracle.in_flight.begin(); it != oracle.in_flight.end();) {
      v1::GetItemRequest r;
      r.set_collection("c");
      r.set_id(it->first);
      v1::GetItemResponse item;
      if (stubs->items->GetItem(Ctx(10).get(), r, &item).ok()) {
        // Written before the kill though never acknowledged: it must be whole.
        EXPECT_EQ(item.item().input().image().raw().data(), Image(it->second).image().raw().data());
        oracle.acked[it->first] = it->second;
        ++present_in_flight;
      }
      it = oracle.in_flight.erase(it);
    }
    // A delete that was sent but not acknowledged may or may not have happened.
    for (const std::string& id : oracle.delete_in_flight) {
      v1::GetItemRequest r;
      r.set_collection("c");
      r.set_id(id);
      v1::GetItemResponse item;
      if (stubs->items->GetItem(Ctx(10).get(), r, &item).error_code() ==
          grpc::StatusCode::NOT_FOUND) {
        oracle.acked.erase(id);
        oracle.deleted.insert(id);
      }
    }
    oracle.delete_in_flight.clear();
    EXPECT_EQ(collection.stats().item_count(), oracle.acked.size()) << "cycle " << cycle;
    for (const auto& [id, seed] : oracle.acked) {
      v1::GetItemRequest r;
      r.set_collection("c");
      r.set_id(id);
      r.set_include_code(true);
      v1::GetItemResponse item;
      grpc::Status s = stubs->items->GetItem(Ctx(10).get(), r, &item);
      ASSERT_TRUE(s.ok()) << "cycle " << cycle << ": acknowledged item " << id << " lost";
      EXPECT_EQ(item.item().input().image().raw().data(), Image(seed).image().raw().data());
      ASSERT_EQ(item.code().float_code().values_size(), 4) << id;
      ++checked_items;
    }
    for (const std::string& id : oracle.deleted) {
      v1::GetItemRequest r;
      r.set_collection("c");
      r.set_id(id);
      v1::GetItemResponse item;
      EXPECT_EQ(stubs->items->GetItem(Ctx(10).get(), r, &item).error_code(),
                grpc::StatusCode::NOT_FOUND)
          << "cycle " << cycle << ": deleted item " << id << " came back";
    }
    // Codes match the serving model, and each item is found at distance 0 by its own code.
    int probes = 0;
    for (const auto& [id, seed] : oracle.acked) {
      if (probes++ >= 5) break;
      v1::EncodeRequest encode;
      encode.set_collection("c");
      *encode.add_inputs() = Image(seed);
      v1::EncodeResponse encoded;
      ASSERT_TRUE(stubs->query->Encode(Ctx(10).get(), encode, &encoded).ok());
      v1::GetItemRequest r;
      r.set_collection("c");
      r.set_id(id);
      r.set_include_code(true);
      v1::GetItemResponse item;
      ASSERT_TRUE(stubs->items->GetItem(Ctx(10).get(), r, &item).ok());
      for (int j = 0; j < 4; ++j) {
        EXPECT_NEAR(item.code().float_code().values(j), encoded.codes(0).float_code().values(j),
                    1e-3);
      }
      v1::SearchRequest search;
      search.set_collection("c");
      *search.mutable_code() = item.code();
      search.set_k(1);
      search.set_exact(true);
      v1::SearchResponse found;
      ASSERT_TRUE(stubs->query->Search(Ctx(10).get(), search, &found).ok());
      ASSERT_EQ(found.neighbors_size(), 1);
      EXPECT_NEAR(found.neighbors(0).distance(), 0.0, 1e-4);
    }
    if (!running_job.empty()) {
      v1::GetJobRequest r;
      r.set_job_id(running_job);
      ASSERT_TRUE(stubs->training->GetJob(Ctx(10).get(), r, &job).ok());
      EXPECT_EQ(job.state(), v1::JOB_STATE_INTERRUPTED) << "cycle " << cycle;
      v1::CancelJobRequest cancel;
      cancel.set_job_id(running_job);
      ASSERT_TRUE(stubs->training->CancelJob(Ctx(10).get(), cancel, &job).ok());
      running_job.clear();
    }
    (void)present_in_flight;
  }
  std::printf(
      "%d kill/restart cycles; %zu acknowledged items and %zu deletes all intact; %d item "
      "checks\n",
      cycles, oracle.acked.size(), oracle.deleted.size(), checked_items);
}

}  // namespace
}  // namespace bn::testing
