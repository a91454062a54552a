// Full Fashion-MNIST through the API (issue "The service", figures): upload the 60k training
// images, train a model, promote it, index the 10k test images, then report precision@10 of
// search (each test item against the other test items) and the latency of Search by image and
// by code, with the server's training pool idle and busy.
//
//   bench_service_e2e --server 127.0.0.1:50051 [--pretrain] [--epochs 20] [--pretrain-epochs 10]
//                     [--activation logistic|relu] [--train-limit N] [--queries N]
// (bench/run_service_e2e.sh starts a server with a fresh data directory and runs this.)
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "bench/service_util.h"
#include "bottleneck/v1/collection.grpc.pb.h"
#include "bottleneck/v1/item.grpc.pb.h"
#include "bottleneck/v1/model.grpc.pb.h"
#include "bottleneck/v1/query.grpc.pb.h"
#include "bottleneck/v1/training.grpc.pb.h"
#include "client/lib/raw_input.h"
#include "engine/data/idx.h"

namespace v1 = ::bottleneck::v1;
using Clock = std::chrono::steady_clock;

namespace {

using ::bn::bench::Check;
using ::bn::bench::Ctx;
using ::bn::bench::Flag;
using ::bn::bench::Has;

v1::Input Raw(const bn::LabeledImages& d, int64_t row) {
  return bn::GreyRowToInput(d.images, row, d.height, d.width);
}

double Seconds(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

struct Latency {
  double p50_ms, p99_ms, qps;
};

template <typename Fn>
Latency Measure(int n, Fn fn) {
  std::vector<double> ms;
  const auto start = Clock::now();
  for (int i = 0; i < n; ++i) {
    const auto t = Clock::now();
    fn(i);
    ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t).count());
  }
  const double total = Seconds(start);
  std::sort(ms.begin(), ms.end());
  return {ms[ms.size() / 2], ms[std::min(ms.size() - 1, ms.size() * 99 / 100)], n / total};
}

}  // namespace

int main(int argc, char** argv) {
  const std::string server = Flag(argc, argv, "server", "127.0.0.1:50051");
  const int64_t train_limit = std::stoll(Flag(argc, argv, "train-limit", "-1"));
  const int queries = std::stoi(Flag(argc, argv, "queries", "2000"));
  auto train = bn::LoadFashionMnist(BN_FASHION_MNIST_DIR, bn::DatasetSplit::kTrain, train_limit);
  auto test = bn::LoadFashionMnist(BN_FASHION_MNIST_DIR, bn::DatasetSplit::kTest);
  if (!train.ok() || !test.ok()) {
    std::fprintf(stderr, "cannot load Fashion-MNIST\n");
    return 1;
  }
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(64 << 20);
  auto channel = grpc::CreateCustomChannel(server, grpc::InsecureChannelCredentials(), args);
  auto collections = v1::CollectionService::NewStub(channel);
  auto training = v1::TrainingService::NewStub(channel);
  auto models = v1::ModelService::NewStub(channel);
  auto items = v1::ItemService::NewStub(channel);
  auto query = v1::QueryService::NewStub(channel);

  v1::CreateCollectionRequest create;
  create.set_name("fashion");
  create.mutable_spec()->mutable_image()->set_height(28);
  create.mutable_spec()->mutable_image()->set_width(28);
  create.mutable_spec()->mutable_image()->set_channels(1);
  v1::Collection collection;
  Check(collections->CreateCollection(Ctx().get(), create, &collection), "create");

  auto t0 = Clock::now();
  {
    auto ctx = Ctx();
    v1::Dataset dataset;
    auto writer = training->UploadDataset(ctx.get(), &dataset);
    for (int64_t s = 0; s < train->images.rows; s += 1000) {
      v1::UploadDatasetRequest m;
      m.set_collection("fashion");
      m.set_dataset("train");
      for (int64_t i = s; i < std::min(train->images.rows, s + 1000); ++i) {
        auto* e = m.add_examples();
        *e->mutable_input() = Raw(*train, i);
        e->set_label(std::to_string(train->labels[i]));
      }
      writer->Write(m);
    }
    writer->WritesDone();
    Check(writer->Finish(), "upload");
  }
  const double upload_s = Seconds(t0);
  std::printf("uploaded %lld training images in %.1f s\n",
              static_cast<long long>(train->images.rows), upload_s);

  v1::StartTrainingRequest start;
  start.set_collection("fashion");
  start.set_dataset("train");
  auto* dense = start.mutable_spec()->mutable_dense();
  for (uint32_t s : {1000u, 500u, 250u}) dense->add_encoder_sizes(s);
  dense->set_code_size(30);
  if (Flag(argc, argv, "activation", "logistic") == "relu") {
    dense->set_hidden_activation(v1::ACTIVATION_RELU);
  }
  if (Has(argc, argv, "pretrain")) {
    dense->mutable_pretraining()->set_enabled(true);
    dense->mutable_pretraining()->set_epochs_per_layer(
        std::stoi(Flag(argc, argv, "pretrain-epochs", "10")));
  }
  const int epochs = std::stoi(Flag(argc, argv, "epochs", "20"));
  start.mutable_spec()->mutable_training()->set_epochs(epochs);
  start.mutable_spec()->mutable_training()->set_validation_fraction(1.0f / 12);
  v1::Job job;
  t0 = Clock::now();
  Check(training->StartTraining(Ctx().get(), start, &job), "train");
  {
    v1::WatchJobRequest w;
    w.set_job_id(job.id());
    auto ctx = Ctx(36000);
    auto reader = training->WatchJob(ctx.get(), w);
    v1::JobProgress p;
    std::string last_phase;
    uint32_t last_epoch = 0;
    while (reader->Read(&p)) {
      if (p.phase() != last_phase || p.epoch() != last_epoch) {
        std::printf("  [%7.1f s] %s epoch %u/%u loss %.4f val %.2f %.0f samples/s\n", Seconds(t0),
                    p.phase().c_str(), p.epoch(), p.epochs(), p.loss(), p.validation_error(),
                    p.samples_per_second());
        std::fflush(stdout);
        last_phase = p.phase();
        last_epoch = p.epoch();
      }
    }
    Check(reader->Finish(), "watch");
  }
  v1::GetJobRequest gj;
  gj.set_job_id(job.id());
  Check(training->GetJob(Ctx().get(), gj, &job), "get job");
  if (job.state() != v1::JOB_STATE_SUCCEEDED) {
    std::fprintf(stderr, "job ended %s: %s\n", v1::JobState_Name(job.state()).c_str(),
                 job.error().c_str());
    return 1;
  }
  const double train_s = Seconds(t0);
  v1::GetModelRequest gm;
  gm.set_collection("fashion");
  gm.set_version(job.model_version());
  v1::Model model;
  Check(models->GetModel(Ctx().get(), gm, &model), "get model");

  v1::PromoteModelRequest promote;
  promote.set_collection("fashion");
  promote.set_version(job.model_version());
  v1::Promotion promotion;
  Check(models->PromoteModel(Ctx().get(), promote, &promotion), "promote");
  while (true) {
    v1::GetCollectionRequest g;
    g.set_name("fashion");
    Check(collections->GetCollection(Ctx().get(), g, &collection), "get collection");
    if (collection.stats().serving_model_version() == job.model_version()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }

  t0 = Clock::now();
  {
    auto ctx = Ctx();
    v1::UpsertResponse summary;
    auto writer = items->StreamUpsert(ctx.get(), &summary);
    for (int64_t s = 0; s < test->images.rows; s += 500) {
      v1::UpsertRequest m;
      m.set_collection("fashion");
      for (int64_t i = s; i < std::min(test->images.rows, s + 500); ++i) {
        auto* item = m.add_items();
        item->set_id("t" + std::to_string(i));
        *item->mutable_input() = Raw(*test, i);
        item->set_label(std::to_string(test->labels[i]));
      }
      writer->Write(m);
    }
    writer->WritesDone();
    Check(writer->Finish(), "upsert");
  }
  const double ingest_s = Seconds(t0);

  // Precision@10 over every test item (its neighbours among the other test items).
  int64_t same = 0, total = 0;
  for (int64_t i = 0; i < test->images.rows; ++i) {
    v1::SearchRequest r;
    r.set_collection("fashion");
    r.set_item_id("t" + std::to_string(i));
    r.set_k(10);
    v1::SearchResponse response;
    Check(query->Search(Ctx().get(), r, &response), "search");
    for (const auto& n : response.neighbors()) {
      same += n.label() == std::to_string(test->labels[i]);
      ++total;
    }
  }
  const double precision = static_cast<double>(same) / total;

  auto by_image = [&](int i) {
    v1::SearchRequest r;
    r.set_collection("fashion");
    *r.mutable_input() = Raw(*test, i % test->images.rows);
    r.set_k(10);
    v1::SearchResponse response;
    Check(query->Search(Ctx().get(), r, &response), "search by image");
  };
  v1::SearchResponse code_source;
  {
    v1::SearchRequest r;
    r.set_collection("fashion");
    r.set_item_id("t0");
    Check(query->Search(Ctx().get(), r, &code_source), "search");
  }
  auto by_code = [&](int) {
    v1::SearchRequest r;
    r.set_collection("fashion");
    *r.mutable_code() = code_source.query_code();
    r.set_k(10);
    v1::SearchResponse response;
    Check(query->Search(Ctx().get(), r, &response), "search by code");
  };
  const Latency image_idle = Measure(queries, by_image);
  const Latency code_idle = Measure(queries, by_code);
  // Busy: a training job runs on the server's training pool meanwhile.
  start.mutable_spec()->mutable_training()->set_epochs(1000);
  start.mutable_spec()->mutable_dense()->mutable_pretraining()->set_enabled(false);
  Check(training->StartTraining(Ctx().get(), start, &job), "busy train");
  v1::GetJobRequest busy_get;
  busy_get.set_job_id(job.id());
  while (true) {
    Check(training->GetJob(Ctx().get(), busy_get, &job), "get job");
    if (job.state() == v1::JOB_STATE_RUNNING && job.progress().step() > 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  const Latency image_busy = Measure(queries, by_image);
  const Latency code_busy = Measure(queries, by_code);
  v1::CancelJobRequest cancel;
  cancel.set_job_id(job.id());
  Check(training->CancelJob(Ctx().get(), cancel, &job), "cancel");

  const auto& report = model.report();
  std::printf("\n| measure | value |\n|---|---|\n");
  std::printf("| training images uploaded | %lld (%.1f s) |\n",
              static_cast<long long>(train->images.rows), upload_s);
  std::printf("| model | 784-1000-500-250-30, %s, %s, %u epochs |\n",
              Has(argc, argv, "pretrain") ? "RBM pre-trained" : "no pre-training",
              Flag(argc, argv, "activation", "logistic").c_str(), epochs);
  std::printf("| training job wall time | %.0f s |\n", train_s);
  std::printf("| validation error per image (model / PCA-30) | %.2f / %.2f |\n",
              report.reconstruction_error(), report.pca_reconstruction_error());
  std::printf("| validation precision@10 vs training codes (model / PCA-30) | %.3f / %.3f |\n",
              report.precision_at_10(), report.pca_precision_at_10());
  std::printf("| ingest of the 10k test images (streaming upsert) | %.1f s (%.0f items/s) |\n",
              ingest_s, test->images.rows / ingest_s);
  std::printf("| precision@10 of Search over the 10k indexed test images | %.3f |\n", precision);
  std::printf("| Search by image, idle: p50 / p99 / QPS (1 client) | %.2f ms / %.2f ms / %.0f |\n",
              image_idle.p50_ms, image_idle.p99_ms, image_idle.qps);
  std::printf("| Search by code, idle: p50 / p99 / QPS (1 client) | %.2f ms / %.2f ms / %.0f |\n",
              code_idle.p50_ms, code_idle.p99_ms, code_idle.qps);
  std::printf("| Search by image, training busy: p50 / p99 / QPS | %.2f ms / %.2f ms / %.0f |\n",
              image_busy.p50_ms, image_busy.p99_ms, image_busy.qps);
  std::printf("| Search by code, training busy: p50 / p99 / QPS | %.2f ms / %.2f ms / %.0f |\n",
              code_busy.p50_ms, code_busy.p99_ms, code_busy.qps);
  return 0;
}
