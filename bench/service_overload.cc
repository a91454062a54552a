// Search latency idle vs under load (the reliability issue's overload figure): closed-loop
// searches by item id against a served collection, first alone, then while a training job and a
// bulk ingest run on the same server. Reports QPS, p50/p99 and every non-OK status by code.
//
//   bench_service_overload --server HOST:PORT [--collection fashion] [--clients 2]
//       [--seconds 10] [--items 60000] [--item-prefix f] [--epochs 200] [--ingest-client-nice 19]
//       [--training 1] [--ingest 1] [--write-server HOST:PORT]
//
// The collection must serve a model over items <item-prefix>0 .. <item-prefix>(items-1) of 28x28
// grey images, e.g. as made by `bench_service_load setup-fashion` (bench/run_all.sh does it).
// The load: a dense auto-encoder job on 10,000 Fashion-MNIST training images (uploaded as
// dataset "overload" when missing; cancelled at the end) and stream upserts of Fashion-MNIST test
// images as items o<i>, 100 per message, back to back. --training 0 or --ingest 0 leaves that
// part of the load out (to see which one moves the latency).
#include <grpcpp/grpcpp.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "bench/service_load_util.h"
#include "bottleneck/v1/item.grpc.pb.h"
#include "bottleneck/v1/query.grpc.pb.h"
#include "bottleneck/v1/training.grpc.pb.h"
#include "client/lib/raw_input.h"
#include "engine/data/idx.h"

namespace bn {
namespace {

namespace v1 = ::bottleneck::v1;

std::unique_ptr<grpc::ClientContext> Ctx(int seconds) {
  auto c = std::make_unique<grpc::ClientContext>();
  c->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(seconds));
  return c;
}

struct Phase {
  bench::LoadResult result;
  std::map<int, int64_t> codes;  // Non-OK statuses by code.
};

Phase SearchLoad(const std::string& server, const std::string& collection,
                 const std::string& prefix, int64_t items, int clients, double seconds) {
  Phase phase;
  std::mutex mutex;
  phase.result = bench::RunClosedLoop(clients, 1.0, seconds, [&](int) -> bench::Worker {
    auto stub = std::shared_ptr<v1::QueryService::Stub>(
        v1::QueryService::NewStub(grpc::CreateChannel(server, grpc::InsecureChannelCredentials())));
    return [&, stub](int64_t seq, bool record, bench::ThreadStats*) {
      v1::SearchRequest request;
      request.set_collection(collection);
      request.set_item_id(prefix + std::to_string((seq * 7919) % items));
      request.set_k(10);
      v1::SearchResponse response;
      grpc::Status s = stub->Search(Ctx(30).get(), request, &response);
      if (!s.ok() && record) {
        std::lock_guard<std::mutex> lock(mutex);
        ++phase.codes[s.error_code()];
      }
      return s.ok();
    };
  });
  return phase;
}

void Print(const char* name, const Phase& p) {
  std::string codes;
  for (auto [code, n] : p.codes) codes += " code" + std::to_string(code) + "=" + std::to_string(n);
  std::printf(
      "RESULT overload phase=%s qps=%.0f p50_ms=%.3f p99_ms=%.3f p999_ms=%.3f "
      "requests=%lld errors=%lld%s\n",
      name, p.result.qps, p.result.p50_ms, p.result.p99_ms, p.result.p999_ms,
      static_cast<long long>(p.result.requests), static_cast<long long>(p.result.errors),
      codes.c_str());
  std::fflush(stdout);
}

int Main(int argc, char** argv) {
  bench::Flags flags(argc, argv, 1);
  const std::string server = flags.Str("server", "");
  if (server.empty()) {
    std::fprintf(stderr, "usage: bench_service_overload --server HOST:PORT [flags]\n");
    return 2;
  }
  const std::string collection = flags.Str("collection", "fashion");
  const std::string prefix = flags.Str("item-prefix", "f");
  const int64_t items = flags.Int("items", 60000);
  const int clients = static_cast<int>(flags.Int("clients", 2));
  const double seconds = flags.Double("seconds", 10);
  // Training and upserts go to --write-server when the server has a separate training endpoint
  // (bottleneckd --training-listen); searches always go to --server.
  const std::string write_server = flags.Str("write-server", server);
  auto channel = grpc::CreateChannel(write_server, grpc::InsecureChannelCredentials());
  auto training = v1::TrainingService::NewStub(channel);
  auto item_service = v1::ItemService::NewStub(channel);

  auto train = LoadFashionMnist(BN_FASHION_MNIST_DIR, DatasetSplit::kTrain, 10000);
  auto test = LoadFashionMnist(BN_FASHION_MNIST_DIR, DatasetSplit::kTest);
  if (!train.ok() || !test.ok()) {
    std::fprintf(stderr, "cannot read Fashion-MNIST from %s\n", BN_FASHION_MNIST_DIR);
    return 1;
  }

  const Phase idle = SearchLoad(server, collection, prefix, items, clients, seconds);
  Print("idle", idle);

  // The training job's dataset.
  v1::GetDatasetRequest get;
  get.set_collection(collection);
  get.set_dataset("overload");
  v1::Dataset dataset;
  if (!training->GetDataset(Ctx(30).get(), get, &dataset).ok()) {
    auto ctx = Ctx(300);
    auto writer = training->UploadDataset(ctx.get(), &dataset);
    for (int64_t from = 0; from < train->images.rows; from += 1000) {
      v1::UploadDatasetRequest m;
      m.set_collection(collection);
      m.set_dataset("overload");
      for (int64_t i = from; i < std::min<int64_t>(from + 1000, train->images.rows); ++i) {
        *m.add_examples()->mutable_input() = GreyRowToInput(train->images, i, 28, 28);
      }
      writer->Write(m);
    }
    writer->WritesDone();
    if (grpc::Status s = writer->Finish(); !s.ok()) {
      std::fprintf(stderr, "upload failed: %s\n", s.error_message().c_str());
      return 1;
    }
  }
  v1::StartTrainingRequest start;
  start.set_collection(collection);
  start.set_dataset("overload");
  v1::DenseAutoencoderSpec* spec = start.mutable_spec()->mutable_dense();
  for (int size : {1000, 500, 250}) spec->add_encoder_sizes(size);
  spec->set_code_size(30);
  start.mutable_spec()->mutable_training()->set_epochs(
      static_cast<uint32_t>(flags.Int("epochs", 200)));
  const bool with_training = flags.Int("training", 1) != 0;
  const bool with_ingest = flags.Int("ingest", 1) != 0;
  v1::Job job;
  if (!with_training) {
    // No job.
  } else if (grpc::Status s = training->StartTraining(Ctx(30).get(), start, &job); !s.ok()) {
    std::fprintf(stderr, "cannot start training: %s\n", s.error_message().c_str());
    return 1;
  }

  std::atomic<bool> stop{false};
  std::atomic<int64_t> ingested{0};
  std::string ingest_error;
  std::thread ingest([&] {
    // The ingest client shares the machine with the search clients (2 cores here): it runs at
    // the lowest priority so that the figure measures the server, not this process's own threads
    // (--ingest-client-nice 0 to keep it at normal priority).
    const int client_nice = static_cast<int>(flags.Int("ingest-client-nice", 19));
    if (client_nice > 0)
      setpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)), client_nice);
    int64_t next = 0;
    while (with_ingest && !stop.load()) {
      auto ctx = Ctx(600);
      v1::UpsertResponse response;
      auto stream = item_service->StreamUpsert(ctx.get(), &response);
      for (int m = 0; m < 20 && !stop.load(); ++m) {
        v1::UpsertRequest message;
        message.set_collection(collection);
        for (int i = 0; i < 100; ++i, ++next) {
          v1::Item* item = message.add_items();
          item->set_id("o" + std::to_string(next));
          *item->mutable_input() = GreyRowToInput(test->images, next % test->images.rows, 28, 28);
        }
        if (!stream->Write(message)) break;
      }
      stream->WritesDone();
      grpc::Status s = stream->Finish();
      if (!s.ok()) {
        ingest_error = s.error_message();
        return;
      }
      ingested += static_cast<int64_t>(response.upserted());
    }
  });
  std::this_thread::sleep_for(std::chrono::seconds(3));  // Let the job reach its epochs.
  const auto t0 = bench::Clock::now();
  const int64_t ingested_before = ingested.load();
  const Phase loaded = SearchLoad(server, collection, prefix, items, clients, seconds);
  const double ingest_rate =
      static_cast<double>(ingested.load() - ingested_before) / bench::SecondsSince(t0);
  stop = true;
  ingest.join();
  if (with_training) {
    v1::CancelJobRequest cancel;
    cancel.set_job_id(job.id());
    training->CancelJob(Ctx(30).get(), cancel, &job);
  }
  Print(with_training && with_ingest ? "training+ingest"
        : with_training              ? "training"
        : with_ingest                ? "ingest"
                                     : "idle-again",
        loaded);
  std::printf("RESULT overload ingest_items_per_s=%.0f (during the loaded phase) job=%s%s\n",
              ingest_rate, job.id().c_str(),
              ingest_error.empty() ? "" : (" ingest_error=" + ingest_error).c_str());
  std::printf("RESULT overload p99_ratio=%.2f (target <= 3)\n",
              loaded.result.p99_ms / std::max(idle.result.p99_ms, 1e-9));
  return ingest_error.empty() ? 0 : 1;
}

}  // namespace
}  // namespace bn

int main(int argc, char** argv) { return bn::Main(argc, argv); }
