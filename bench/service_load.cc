// Closed-loop load generator and set-up tool for the query service (bench/run_all.sh drives it).
//
//   bench_service_load setup-fashion --server A [--train-limit 10000] [--epochs 1] [--items 60000]
//       Creates collection "fashion" (28x28x1), uploads the training images, trains the
//       784-1000-500-250-30 ReLU AE as a job (promoted when done) and stream-upserts the first
//       --items training images as items f<i>.
//   bench_service_load setup-synth --server A --collection C --items N [--dim 32] [--seed 7]
//       [--binary-bits 0] [--batch 1000]
//       Collection of N synthetic vectors (the Gaussian mixture of index_bench, as 1 x dim float
//       "images"), items s<i>. Float: a PCA-dim model (an orthonormal rotation, so the codes are
//       the synthetic vectors rotated and distances are kept). --binary-bits B: a dense AE
//       dim-256-B with binary codes (Hamming), trained --epochs 20 on 20k rows.
//   bench_service_load ingest-synth --server A [--collection synth] --first F --items N [--dim 32]
//       [--seed 7] [--batch 1000]   Stream-upserts rows F.. of setup-synth's mixture as new
//       items (ids s<F>-<i>): items/s.
//   bench_service_load ingest --server A [--collection fashion] [--items 10000] [--prefix i]
//       [--batch 100]   Stream-upserts Fashion-MNIST test images under new ids: items/s.
//   bench_service_load load --server A --data fashion|synth [--collection C] [--what
//   echo,code,inproc]
//       [--clients 1,4,16] [--channels per-thread,shared] [--seconds 5] [--warmup 1] [--trials 1]
//       [--ef 100 | --ef auto [--min-recall 0.98]] [--k 10] [--queries 1000] [--items N --dim 32
//       --seed 7 for synth] [--tag T]
//       [--first-trial 1]  (recall@10 is measured when k is 10)
//       what: echo = grpc.health.v1.Health/Check on the same endpoint (the protocol's ceiling);
//       code = Search by code k=10 with recall@10 against exact brute force computed here;
//       inproc = hnswlib in this process on the same codes (M 16, ef_construction 200, same ef);
//       image = Search by image (raw uint8 pixels of Fashion-MNIST test images).
//   bench_service_load serve-time --server-bin B --data-dir D [--log F] [-- server flags]
//       Starts bottleneckd, reports seconds from exec to health SERVING and VmRSS, stops it.
//
// Every figure is printed as one "RESULT key=value ..." line (parsed by bench/run_all.sh).
#include <fcntl.h>
#include <grpcpp/grpcpp.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "bench/service_load_util.h"
#include "bench/service_util.h"
#include "bottleneck/v1/collection.grpc.pb.h"
#include "bottleneck/v1/item.grpc.pb.h"
#include "bottleneck/v1/query.grpc.pb.h"
#include "bottleneck/v1/training.grpc.pb.h"
#include "client/lib/raw_input.h"
#include "engine/data/idx.h"
#include "grpc/health/v1/health.grpc.pb.h"

// Raw hnswlib for the in-process reference, in its own unnamed namespace (see index_bench.cc:
// its headers define non-inline globals that clash with engine/index/hnsw_index.cc).
#include <assert.h>
#include <cpuid.h>
#include <immintrin.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <x86intrin.h>

#include <atomic>
#include <cassert>
#include <deque>
#include <iostream>
#include <list>
#include <mutex>
#include <queue>
#include <stdexcept>
#include <unordered_map>
#include <unordered_set>
namespace {

using ::bn::bench::Check;
using ::bn::bench::Ctx;
#include "hnswlib/hnswlib.h"
}  // namespace

extern char** environ;

namespace bn {
namespace bench {
namespace {

namespace v1 = ::bottleneck::v1;
using HealthStub = ::grpc::health::v1::Health;

std::shared_ptr<grpc::Channel> MakeChannel(const std::string& server, int id) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(64 << 20);
  args.SetMaxSendMessageSize(64 << 20);
  // A local subchannel pool and a distinct argument: this channel gets its own connection.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args.SetInt("bn.bench.channel_id", id);
  return grpc::CreateCustomChannel(server, grpc::InsecureChannelCredentials(), args);
}

v1::Input FloatRowInput(const float* row, int dim) {
  v1::Input in;
  auto* raw = in.mutable_image()->mutable_raw();
  raw->set_height(1);
  raw->set_width(dim);
  raw->set_channels(1);
  raw->set_pixel_type(v1::PIXEL_TYPE_FLOAT32);
  raw->set_data(std::string(reinterpret_cast<const char*>(row), dim * sizeof(float)));
  return in;
}

LabeledImages LoadFashion(DatasetSplit split, int64_t limit = -1) {
  auto d = LoadFashionMnist(BN_FASHION_MNIST_DIR, split, limit);
  if (!d.ok()) {
    std::fprintf(stderr, "cannot load Fashion-MNIST from %s\n", BN_FASHION_MNIST_DIR);
    std::exit(1);
  }
  return std::move(*d);
}

// Trains `spec` on `dataset` as a job promoted when done; returns once the model serves.
void TrainAndServe(const std::shared_ptr<grpc::Channel>& channel, const std::string& collection,
                   const std::string& dataset, const v1::ModelSpec& spec) {
  auto training = v1::TrainingService::NewStub(channel);
  auto collections = v1::CollectionService::NewStub(channel);
  v1::StartTrainingRequest start;
  start.set_collection(collection);
  start.set_dataset(dataset);
  *start.mutable_spec() = spec;
  start.set_promote_when_done(true);
  v1::Job job;
  const auto t0 = Clock::now();
  Check(training->StartTraining(Ctx().get(), start, &job), "StartTraining");
  while (true) {
    v1::GetJobRequest g;
    g.set_job_id(job.id());
    Check(training->GetJob(Ctx().get(), g, &job), "GetJob");
    if (job.state() == v1::JOB_STATE_FAILED || job.state() == v1::JOB_STATE_CANCELLED) {
      std::fprintf(stderr, "training job ended %s: %s\n", v1::JobState_Name(job.state()).c_str(),
                   job.error().c_str());
      std::exit(1);
    }
    if (job.state() == v1::JOB_STATE_SUCCEEDED) {
      v1::GetCollectionRequest gc;
      gc.set_name(collection);
      v1::Collection c;
      Check(collections->GetCollection(Ctx().get(), gc, &c), "GetCollection");
      if (c.stats().serving_model_version() == job.model_version()) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  std::printf("trained and promoted model v%llu in %.1f s\n",
              static_cast<unsigned long long>(job.model_version()), SecondsSince(t0));
}

void CreateCollection(const std::shared_ptr<grpc::Channel>& channel, const std::string& name,
                      int height, int width, bool binary) {
  auto collections = v1::CollectionService::NewStub(channel);
  v1::CreateCollectionRequest create;
  create.set_name(name);
  create.mutable_spec()->mutable_image()->set_height(height);
  create.mutable_spec()->mutable_image()->set_width(width);
  create.mutable_spec()->mutable_image()->set_channels(1);
  if (binary) create.mutable_spec()->set_code_kind(v1::CODE_KIND_BINARY);
  v1::Collection c;
  Check(collections->CreateCollection(Ctx().get(), create, &c), "CreateCollection");
}

void Upload(const std::shared_ptr<grpc::Channel>& channel, const std::string& collection,
            const std::string& dataset, int64_t n, const std::function<v1::Input(int64_t)>& input) {
  auto training = v1::TrainingService::NewStub(channel);
  auto ctx = Ctx();
  v1::Dataset result;
  auto writer = training->UploadDataset(ctx.get(), &result);
  for (int64_t s = 0; s < n; s += 1000) {
    v1::UploadDatasetRequest m;
    m.set_collection(collection);
    m.set_dataset(dataset);
    for (int64_t i = s; i < std::min(n, s + 1000); ++i)
      *m.add_examples()->mutable_input() = input(i);
    if (!writer->Write(m)) break;
  }
  writer->WritesDone();
  Check(writer->Finish(), "UploadDataset");
}

// Stream-upserts n items (id = prefix + i) in messages of `batch`; prints and returns items/s.
double StreamUpsert(const std::shared_ptr<grpc::Channel>& channel, const std::string& collection,
                    int64_t n, int64_t batch, const std::string& prefix,
                    const std::function<v1::Input(int64_t)>& input, const std::string& tag,
                    int trial = 1) {
  auto items = v1::ItemService::NewStub(channel);
  // Messages are built before the clock starts: the figure is the server's ingest rate.
  std::vector<v1::UpsertRequest> messages;
  for (int64_t s = 0; s < n; s += batch) {
    v1::UpsertRequest m;
    m.set_collection(collection);
    for (int64_t i = s; i < std::min(n, s + batch); ++i) {
      auto* item = m.add_items();
      item->set_id(prefix + std::to_string(i));
      *item->mutable_input() = input(i);
    }
    messages.push_back(std::move(m));
  }
  const auto t0 = Clock::now();
  auto ctx = Ctx(3600);
  v1::UpsertResponse summary;
  auto writer = items->StreamUpsert(ctx.get(), &summary);
  for (const auto& m : messages) {
    if (!writer->Write(m)) break;
  }
  writer->WritesDone();
  Check(writer->Finish(), "StreamUpsert");
  const double secs = SecondsSince(t0);
  std::printf(
      "RESULT what=ingest tag=%s trial=%d collection=%s items=%lld batch=%lld "
      "seconds=%.3f items_per_s=%.1f\n",
      tag.c_str(), trial, collection.c_str(), static_cast<long long>(n),
      static_cast<long long>(batch), secs, n / secs);
  std::fflush(stdout);
  return n / secs;
}

int SetupFashion(const Flags& f) {
  auto channel = MakeChannel(f.Str("server", "127.0.0.1:50051"), 0);
  const int64_t train_limit = f.Int("train-limit", 10000);
  const int64_t n_items = f.Int("items", 60000);
  const LabeledImages train = LoadFashion(DatasetSplit::kTrain);
  CreateCollection(channel, "fashion", 28, 28, false);
  auto image = [&](int64_t i) { return GreyRowToInput(train.images, i, 28, 28); };
  Upload(channel, "fashion", "train", std::min<int64_t>(train_limit, train.images.rows), image);
  v1::ModelSpec spec;
  auto* dense = spec.mutable_dense();
  for (uint32_t s : {1000u, 500u, 250u}) dense->add_encoder_sizes(s);
  dense->set_code_size(30);
  dense->set_hidden_activation(v1::ACTIVATION_RELU);
  spec.mutable_training()->set_epochs(static_cast<uint32_t>(f.Int("epochs", 1)));
  TrainAndServe(channel, "fashion", "train", spec);
  StreamUpsert(channel, "fashion", std::min<int64_t>(n_items, train.images.rows),
               f.Int("batch", 500), "f", image, f.Str("tag", "setup-fashion"));
  return 0;
}

int SetupSynth(const Flags& f) {
  auto channel = MakeChannel(f.Str("server", "127.0.0.1:50051"), 0);
  const std::string collection = f.Str("collection", "synth");
  const int64_t n = f.Int("items", 100000);
  const int dim = static_cast<int>(f.Int("dim", 32));
  const int bits = static_cast<int>(f.Int("binary-bits", 0));
  const SyntheticData data = MakeSynthetic(n, 0, dim, static_cast<uint32_t>(f.Int("seed", 7)));
  auto input = [&](int64_t i) { return FloatRowInput(&data.base[i * dim], dim); };
  CreateCollection(channel, collection, 1, dim, bits > 0);
  Upload(channel, collection, "train", std::min<int64_t>(n, 20000), input);
  v1::ModelSpec spec;
  if (bits > 0) {
    auto* dense = spec.mutable_dense();
    dense->add_encoder_sizes(256);
    dense->set_code_size(bits);
    dense->set_hidden_activation(v1::ACTIVATION_RELU);
    // Fewer epochs leave most codes identical (measured: 2 epochs on 20k rows gave Hamming
    // distance 0 to all 10 neighbours; 20 epochs give distinct codes).
    spec.mutable_training()->set_epochs(static_cast<uint32_t>(f.Int("epochs", 20)));
  } else {
    spec.mutable_pca()->set_code_size(dim);
  }
  TrainAndServe(channel, collection, "train", spec);
  StreamUpsert(channel, collection, n, f.Int("batch", 1000), "s", input,
               f.Str("tag", "setup-" + collection));
  return 0;
}

// More synthetic rows into an existing setup-synth collection: rows --first .. --first+--items
// of the same mixture (ids s<i>, so rows past the setup's --items are new items).
int IngestSynth(const Flags& f) {
  auto channel = MakeChannel(f.Str("server", "127.0.0.1:50051"), 0);
  const int64_t first = f.Int("first", 0), n = f.Int("items", 10000);
  const int dim = static_cast<int>(f.Int("dim", 32));
  const SyntheticData data =
      MakeSynthetic(first + n, 0, dim, static_cast<uint32_t>(f.Int("seed", 7)));
  auto input = [&](int64_t i) { return FloatRowInput(&data.base[(first + i) * dim], dim); };
  StreamUpsert(channel, f.Str("collection", "synth"), n, f.Int("batch", 1000),
               "s" + std::to_string(first) + "-", input, f.Str("tag", "ingest-synth"));
  return 0;
}

int Ingest(const Flags& f) {
  auto channel = MakeChannel(f.Str("server", "127.0.0.1:50051"), 0);
  const LabeledImages test = LoadFashion(DatasetSplit::kTest);
  auto image = [&](int64_t i) { return GreyRowToInput(test.images, i % test.images.rows, 28, 28); };
  StreamUpsert(channel, f.Str("collection", "fashion"), f.Int("items", 10000), f.Int("batch", 100),
               f.Str("prefix", "i"), image, f.Str("tag", "ingest"),
               static_cast<int>(f.Int("trial", 1)));
  return 0;
}

// Codes of n inputs through the Encode RPC, 1024 per call (float codes only).
std::vector<float> EncodeAll(const std::shared_ptr<grpc::Channel>& channel,
                             const std::string& collection, int64_t n,
                             const std::function<v1::Input(int64_t)>& input, int* dim) {
  auto query = v1::QueryService::NewStub(channel);
  std::vector<float> out;
  for (int64_t s = 0; s < n; s += 1024) {
    v1::EncodeRequest r;
    r.set_collection(collection);
    for (int64_t i = s; i < std::min(n, s + 1024); ++i) *r.add_inputs() = input(i);
    v1::EncodeResponse resp;
    Check(query->Encode(Ctx().get(), r, &resp), "Encode");
    for (const auto& c : resp.codes()) {
      *dim = c.float_code().values_size();
      out.insert(out.end(), c.float_code().values().begin(), c.float_code().values().end());
    }
  }
  return out;
}

// Hits of `resp` (ids prefix + row) against the exact 10 nearest neighbours of query `q`.
int64_t ResponseHits(const ExactNeighbors& exact, size_t q, const v1::SearchResponse& resp,
                     const std::string& prefix) {
  std::vector<uint32_t> ids;
  std::vector<float> dist;
  for (const auto& nb : resp.neighbors()) {
    ids.push_back(static_cast<uint32_t>(std::stoul(nb.id().substr(prefix.size()))));
    dist.push_back(nb.distance());
  }
  return RecallHits(exact, q, ids, dist);
}

// The smallest ef of the ladder whose recall@10 over `requests` (one per query, k 10), sent one at
// a time, reaches `min_recall`, printing each step; -1 if none does.
int ChooseEf(const std::shared_ptr<grpc::Channel>& channel, std::vector<v1::SearchRequest> requests,
             const ExactNeighbors& exact, const std::string& prefix, double min_recall,
             const std::string& tag) {
  auto stub = v1::QueryService::NewStub(channel);
  for (int ef : {10, 12, 16, 20, 24, 32, 40, 48, 64, 80, 100, 128, 160, 200, 256, 400}) {
    int64_t hits = 0;
    for (size_t q = 0; q < requests.size(); ++q) {
      requests[q].set_ef(ef);
      v1::SearchResponse resp;
      Check(stub->Search(Ctx().get(), requests[q], &resp), "Search");
      hits += ResponseHits(exact, q, resp, prefix);
    }
    const double recall = static_cast<double>(hits) / (10.0 * requests.size());
    const bool enough = recall >= min_recall;
    std::printf("RESULT what=ef-auto tag=%s ef=%d recall=%.4f min_recall=%.4f chosen=%d\n",
                tag.c_str(), ef, recall, min_recall, enough ? 1 : 0);
    std::fflush(stdout);
    if (enough) return ef;
  }
  std::fprintf(stderr, "no ef up to 400 reaches recall@10 %.4f\n", min_recall);
  return -1;
}

// `ef` is the searches' ef (0 for the echo).
void PrintLoad(const std::string& tag, const std::string& what, const std::string& channels,
               int clients, int trial, int ef, const LoadResult& r) {
  std::printf(
      "RESULT what=%s tag=%s clients=%d channels=%s trial=%d ef=%d qps=%.1f p50_ms=%.3f "
      "p99_ms=%.3f p999_ms=%.3f requests=%lld errors=%lld recall=%.4f\n",
      what.c_str(), tag.c_str(), clients, channels.c_str(), trial, ef, r.qps, r.p50_ms, r.p99_ms,
      r.p999_ms, static_cast<long long>(r.requests), static_cast<long long>(r.errors), r.recall);
  std::fflush(stdout);
}

int Load(const Flags& f) {
  const std::string server = f.Str("server", "127.0.0.1:50051");
  const std::string data = f.Str("data", "fashion");
  const std::string collection = f.Str("collection", data == "fashion" ? "fashion" : "synth");
  const std::string tag = f.Str("tag", collection);
  const auto whats = SplitList(f.Str("what", "echo,code,inproc"));
  const auto channel_modes = SplitList(f.Str("channels", "per-thread"));
  const double seconds = f.Double("seconds", 5), warmup = f.Double("warmup", 1);
  const int trials = static_cast<int>(f.Int("trials", 1));
  const int first_trial = static_cast<int>(f.Int("first-trial", 1));
  // --ef auto: the smallest ef of a fixed ladder whose recall@10 over the query set, through
  // the server, reaches --min-recall (the operating point the recall target allows).
  const bool ef_auto = f.Str("ef", "100") == "auto";
  int ef = ef_auto ? 0 : static_cast<int>(f.Int("ef", 100));
  const double min_recall = f.Double("min-recall", 0.98);
  const int k = static_cast<int>(f.Int("k", 10));
  const int64_t nq = f.Int("queries", 1000);
  std::vector<int> clients;
  for (const auto& c : SplitList(f.Str("clients", "1,4,16"))) clients.push_back(std::stoi(c));
  auto admin = MakeChannel(server, 0);

  bool need_codes = false, need_images = false;
  for (const auto& w : whats) {
    need_codes |= w == "code" || w == "inproc";
    need_images |= w == "image";
  }
  if (ef_auto && !need_codes) {
    std::fprintf(stderr, "--ef auto needs --what code or inproc (it measures recall by code)\n");
    return 2;
  }
  // Base and query inputs; ids are prefix + row.
  std::function<v1::Input(int64_t)> base_input, query_input;
  int64_t n_base = 0;
  std::string prefix;
  LabeledImages train, test;
  SyntheticData synth;
  if (data == "fashion") {
    if (need_codes) train = LoadFashion(DatasetSplit::kTrain, f.Int("items", 60000));
    test = LoadFashion(DatasetSplit::kTest);
    n_base = train.images.rows;
    prefix = "f";
    base_input = [&](int64_t i) { return GreyRowToInput(train.images, i, 28, 28); };
    query_input = [&](int64_t i) { return GreyRowToInput(test.images, i % 10000, 28, 28); };
  } else {
    const int dim = static_cast<int>(f.Int("dim", 32));
    n_base = f.Int("items", 100000);
    synth = MakeSynthetic(n_base, nq, dim, static_cast<uint32_t>(f.Int("seed", 7)));
    prefix = "s";
    base_input = [&, dim](int64_t i) { return FloatRowInput(&synth.base[i * dim], dim); };
    query_input = [&, dim](int64_t i) { return FloatRowInput(&synth.queries[i * dim], dim); };
  }

  std::vector<float> base_codes, query_codes;
  int dim = 0;
  ExactNeighbors exact;
  std::unique_ptr<hnswlib::L2Space> space;
  std::unique_ptr<hnswlib::HierarchicalNSW<float>> inproc;
  std::vector<v1::SearchRequest> code_requests, image_requests;
  if (need_codes) {
    auto t0 = Clock::now();
    base_codes = EncodeAll(admin, collection, n_base, base_input, &dim);
    query_codes = EncodeAll(admin, collection, nq, query_input, &dim);
    std::printf("encoded %lld base and %lld query inputs through the API in %.1f s (dim %d)\n",
                static_cast<long long>(n_base), static_cast<long long>(nq), SecondsSince(t0), dim);
    t0 = Clock::now();
    exact = ComputeExact(base_codes, query_codes, dim, 10);
    std::printf("exact 10-NN of %lld queries in %.1f s\n", static_cast<long long>(nq),
                SecondsSince(t0));
    for (int64_t q = 0; q < nq; ++q) {
      v1::SearchRequest r;
      r.set_collection(collection);
      auto* values = r.mutable_code()->mutable_float_code()->mutable_values();
      values->Add(&query_codes[q * dim], &query_codes[q * dim] + dim);
      r.set_k(k);
      r.set_ef(ef);
      code_requests.push_back(std::move(r));
    }
    if (ef_auto) {
      if (k != 10) {
        std::fprintf(stderr, "--ef auto needs --k 10 (recall@10)\n");
        return 2;
      }
      ef = ChooseEf(admin, code_requests, exact, prefix, min_recall, tag);
      if (ef <= 0) return 2;
      for (auto& r : code_requests) r.set_ef(ef);
    }
    if (std::find(whats.begin(), whats.end(), "inproc") != whats.end()) {
      t0 = Clock::now();
      space = std::make_unique<hnswlib::L2Space>(dim);
      inproc = std::make_unique<hnswlib::HierarchicalNSW<float>>(space.get(), n_base, 16, 200, 100);
      std::thread other([&] {
        for (int64_t i = 1; i < n_base; i += 2) inproc->addPoint(&base_codes[i * dim], i);
      });
      for (int64_t i = 0; i < n_base; i += 2) inproc->addPoint(&base_codes[i * dim], i);
      other.join();
      inproc->setEf(ef);
      std::printf("in-process hnswlib built over %lld codes in %.1f s (2 threads)\n",
                  static_cast<long long>(n_base), SecondsSince(t0));
    }
  }
  if (need_images) {
    for (int64_t q = 0; q < std::min<int64_t>(nq, 10000); ++q) {
      v1::SearchRequest r;
      r.set_collection(collection);
      *r.mutable_input() = query_input(q);
      r.set_k(k);
      r.set_ef(ef);
      image_requests.push_back(std::move(r));
    }
  }
  std::fflush(stdout);

  auto search_worker = [&](const std::vector<v1::SearchRequest>* requests, bool recall,
                           std::shared_ptr<grpc::Channel> ch) -> Worker {
    std::shared_ptr<v1::QueryService::Stub> stub = v1::QueryService::NewStub(ch);
    return [stub, requests, recall, &exact, &prefix](int64_t seq, bool record, ThreadStats* st) {
      const size_t q = static_cast<size_t>(seq) % requests->size();
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
      v1::SearchResponse resp;
      if (!stub->Search(&ctx, (*requests)[q], &resp).ok()) return false;
      if (record && recall) {
        st->hits += ResponseHits(exact, q, resp, prefix);
        st->total += 10;
      }
      return true;
    };
  };
  auto echo_worker = [](std::shared_ptr<grpc::Channel> ch) -> Worker {
    std::shared_ptr<HealthStub::Stub> stub = HealthStub::NewStub(ch);
    return [stub](int64_t, bool, ThreadStats*) {
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
      ::grpc::health::v1::HealthCheckRequest req;
      ::grpc::health::v1::HealthCheckResponse resp;
      return stub->Check(&ctx, req, &resp).ok() &&
             resp.status() == ::grpc::health::v1::HealthCheckResponse::SERVING;
    };
  };
  auto inproc_worker = [&]() -> Worker {
    return [&](int64_t seq, bool record, ThreadStats* st) {
      const size_t q = static_cast<size_t>(seq) % static_cast<size_t>(nq);
      auto top = inproc->searchKnn(&query_codes[q * dim], 10);
      if (record) {
        std::vector<uint32_t> ids;
        std::vector<float> dist;
        for (; !top.empty(); top.pop()) {
          ids.push_back(static_cast<uint32_t>(top.top().second));
          dist.push_back(top.top().first);
        }
        st->hits += RecallHits(exact, q, ids, dist);
        st->total += 10;
      }
      return true;
    };
  };

  for (int trial = first_trial; trial < first_trial + trials; ++trial) {
    for (int c : clients) {
      for (const auto& what : whats) {
        if (what == "inproc") {
          auto r = RunClosedLoop(c, warmup, seconds, [&](int) { return inproc_worker(); });
          PrintLoad(tag, what, "none", c, trial, ef, r);
          continue;
        }
        for (const auto& mode : channel_modes) {
          if (mode == "shared" && c == 1 && channel_modes.size() > 1) continue;
          auto shared = MakeChannel(server, 1000 + trial);
          auto channel_for = [&](int t) {
            return mode == "shared" ? shared : MakeChannel(server, 2000 + 100 * trial + t);
          };
          LoadResult r;
          if (what == "echo") {
            r = RunClosedLoop(c, warmup, seconds,
                              [&](int t) { return echo_worker(channel_for(t)); });
          } else if (what == "code") {
            r = RunClosedLoop(c, warmup, seconds, [&](int t) {
              return search_worker(&code_requests, k == 10, channel_for(t));
            });
          } else if (what == "image") {
            r = RunClosedLoop(c, warmup, seconds, [&](int t) {
              return search_worker(&image_requests, false, channel_for(t));
            });
          } else {
            std::fprintf(stderr, "unknown --what %s\n", what.c_str());
            return 2;
          }
          PrintLoad(tag, what, mode, c, trial, what == "echo" ? 0 : ef, r);
        }
      }
    }
  }
  return 0;
}

double ReadStatusKb(pid_t pid, const char* key) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key, 0) == 0) return std::atof(line.c_str() + std::strlen(key) + 1);
  }
  return -1;
}

int ServeTime(const Flags& f) {
  const std::string bin = f.Str("server-bin", "bottleneckd");
  const std::string data = f.Str("data-dir", "");
  const std::string log = f.Str("log", data + ".serve-time.log");
  const double timeout = f.Double("timeout", 900);
  std::vector<std::string> args = {bin, "--listen", "127.0.0.1:0", "--data-dir", data};
  for (const auto& a : f.rest()) args.push_back(a);
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  int fds[2];
  if (pipe(fds) != 0) return 1;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
  posix_spawn_file_actions_addclose(&actions, fds[0]);
  posix_spawn_file_actions_addclose(&actions, fds[1]);
  posix_spawn_file_actions_addopen(&actions, 2, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  pid_t pid = 0;
  const auto t0 = Clock::now();
  if (posix_spawn(&pid, bin.c_str(), &actions, nullptr, argv.data(), environ) != 0) {
    std::fprintf(stderr, "cannot start %s\n", bin.c_str());
    return 1;
  }
  posix_spawn_file_actions_destroy(&actions);
  close(fds[1]);
  std::string out, address;
  while (address.empty() && SecondsSince(t0) < timeout) {
    pollfd p{fds[0], POLLIN, 0};
    if (poll(&p, 1, 100) <= 0) continue;
    char buf[512];
    const ssize_t got = read(fds[0], buf, sizeof(buf));
    if (got <= 0) break;
    out.append(buf, static_cast<size_t>(got));
    const auto at = out.find("listening on ");
    if (at != std::string::npos && out.find(' ', at + 13) != std::string::npos) {
      address = out.substr(at + 13, out.find_first_of(" ,", at + 13) - at - 13);
    }
  }
  const double listen_s = SecondsSince(t0);
  if (address.empty()) {
    std::fprintf(stderr, "server did not start (see %s)\n", log.c_str());
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    return 1;
  }
  auto channel = MakeChannel(address, 0);
  auto health = HealthStub::NewStub(channel);
  while (SecondsSince(t0) < timeout) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(500));
    ::grpc::health::v1::HealthCheckRequest req;
    ::grpc::health::v1::HealthCheckResponse resp;
    if (health->Check(&ctx, req, &resp).ok() &&
        resp.status() == ::grpc::health::v1::HealthCheckResponse::SERVING) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  const double serve_s = SecondsSince(t0);
  const double rss_kb = ReadStatusKb(pid, "VmRSS:"), hwm_kb = ReadStatusKb(pid, "VmHWM:");
  auto collections = v1::CollectionService::NewStub(channel);
  v1::ListCollectionsResponse list;
  uint64_t items = 0, index_bytes = 0;
  if (collections->ListCollections(Ctx(60).get(), v1::ListCollectionsRequest(), &list).ok()) {
    for (const auto& c : list.collections()) {
      items += c.stats().item_count();
      index_bytes += c.stats().index_bytes();
    }
  }
  // Our idle connection would hold the server's graceful shutdown until its grace period ends.
  collections.reset();
  health.reset();
  channel.reset();
  const auto t1 = Clock::now();
  kill(pid, SIGTERM);
  int status = 0;
  waitpid(pid, &status, 0);
  close(fds[0]);
  std::printf(
      "RESULT what=serve-time tag=%s seconds_to_listen=%.3f seconds_to_serving=%.3f "
      "rss_mb=%.1f hwm_mb=%.1f items=%llu index_mb=%.1f shutdown_s=%.2f exit=%d\n",
      f.Str("tag", "serve").c_str(), listen_s, serve_s, rss_kb / 1024, hwm_kb / 1024,
      static_cast<unsigned long long>(items), index_bytes / 1e6, SecondsSince(t1),
      WIFEXITED(status) ? WEXITSTATUS(status) : -1);
  return 0;
}

}  // namespace
}  // namespace bench
}  // namespace bn

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr,
                 "usage: bench_service_load setup-fashion|setup-synth|ingest|load|serve-time "
                 "[flags] (see bench/service_load.cc)\n");
    return 2;
  }
  const std::string mode = argv[1];
  const bn::bench::Flags flags(argc, argv, 2);
  if (mode == "setup-fashion") return bn::bench::SetupFashion(flags);
  if (mode == "setup-synth") return bn::bench::SetupSynth(flags);
  if (mode == "ingest") return bn::bench::Ingest(flags);
  if (mode == "ingest-synth") return bn::bench::IngestSynth(flags);
  if (mode == "load") return bn::bench::Load(flags);
  if (mode == "serve-time") return bn::bench::ServeTime(flags);
  std::fprintf(stderr, "unknown mode %s\n", mode.c_str());
  return 2;
}
