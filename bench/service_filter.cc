// Filtered search and SearchBatch through the API (issue 24), on the 70,000 Fashion-MNIST
// images (train + test) indexed with a PCA-30 model trained on 10,000 training images.
//
// Every item gets label = its class and metadata "rank" = a random permutation rank 0..N-1
// (declared numeric), so `rank < s*N` matches a random fraction s of the items. For s in
// 50/10/1/0.1 % (and label = class, 10 %): recall@10 of the default filtered search against the
// exact filtered search (the same request with exact = true: a scan of the matching items), and
// single-client QPS of both, next to unfiltered search (HNSW and exact). Queries are codes of
// test images (Encode first), so the timings are the index's and the filter's, not the encoder's.
// Then SearchBatch of 64 image queries vs 64 single Search calls on the same channel.
//
//   bench_service_filter --server ADDRESS [--queries 200] [--ef 64]
//   bench_service_filter --server ADDRESS --synthetic N [--dim 32] [--queries 200] [--ef 64]
// --synthetic N replaces Fashion-MNIST by N synthetic items (so filtered search can be measured
// at 1M items): 1 x D grey "images" drawn from a mixture of 100 Gaussian clusters (centres
// uniform in [0.2, 0.8], sd 0.08 per pixel, quantised to uint8 as every image input is), indexed
// with a PCA-D model (a rotation: the index holds D-dimensional codes) trained on the first
// 10,000; label = cluster mod 10 (so label = 7 is a 10 % filter correlated with the vectors);
// the same random "rank" metadata; queries are fresh points of the mixture (not in the index).
// Every item also gets "p1" = rank % 100 and "p01" = rank % 1000 (random 1 % and 0.1 % classes
// for equality filters); --indexed KEYS (e.g. p1,p01) declares metadata keys indexed when the
// collection is created (CollectionSpec.indexed_metadata_keys; the label always is; "rank", being
// numeric, then gets a range index: `rank < x` and `a <= rank < b` read it). A server
// started with BN_FILTER_INDEX=0 ignores the index (the same data without it: run with --reuse 1).
// CountItems of each filter is timed too. --batch 0 skips the SearchBatch part; --only TEXT runs
// only the filters whose name contains TEXT.
// Start the server with BN_FILTER_EXACT_BELOW=0 to time the filtered graph walk at every
// selectivity (the default switches to the exact scan below 2000 estimated matches);
// bench/run_service_filter.sh runs both.
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <memory>
#include <numeric>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "bench/service_load_util.h"
#include "bench/service_util.h"
#include "bottleneck/v1/collection.grpc.pb.h"
#include "bottleneck/v1/item.grpc.pb.h"
#include "bottleneck/v1/query.grpc.pb.h"
#include "bottleneck/v1/training.grpc.pb.h"
#include "client/lib/raw_input.h"
#include "engine/data/idx.h"

namespace v1 = ::bottleneck::v1;
using bn::bench::Clock;
using bn::bench::SecondsSince;

namespace {

using ::bn::bench::Check;
using ::bn::bench::Ctx;

struct Run {
  double qps = 0;
  std::vector<std::vector<std::string>> ids;  // Per query.
};

Run Searches(v1::QueryService::Stub* query, const std::vector<v1::Code>& codes,
             const v1::Filter* filter, bool exact, uint32_t ef) {
  Run run;
  const auto start = Clock::now();
  for (const v1::Code& code : codes) {
    v1::SearchRequest request;
    request.set_collection("fashion");
    *request.mutable_code() = code;
    request.set_k(10);
    request.set_ef(ef);
    request.set_exact(exact);
    if (filter != nullptr) *request.mutable_filter() = *filter;
    v1::SearchResponse response;
    Check(query->Search(Ctx().get(), request, &response), "search");
    run.ids.emplace_back();
    for (const auto& n : response.neighbors()) run.ids.back().push_back(n.id());
  }
  run.qps = codes.size() / SecondsSince(start);
  return run;
}

// Where the items, the training examples and the queries come from.
struct Source {
  int height = 0, width = 0;
  int64_t n = 0;                                  // Items.
  std::function<void(int64_t, v1::Item*)> item;   // Item i: id, input, label (not rank).
  std::function<v1::Input(int64_t)> train_input;  // Training example i of 10,000.
  std::function<v1::Input(int)> query_input;      // Query q.
};

// N points of a mixture of 100 Gaussian clusters in [0, 1]^dim; point i is a function of i alone
// (no table of 1M rows), items are 0..n-1 and queries n, n+1, ... (not indexed).
class Mixture {
 public:
  Mixture(int dim, uint64_t seed) : dim_(dim), centres_(kClusters, dim) {
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<float> u(0.2f, 0.8f);
    for (float& v : centres_.data) v = u(rng);
  }
  int Cluster(int64_t i) const { return static_cast<int>(Mix(i) % kClusters); }
  v1::Input Point(int64_t i) const {
    std::mt19937_64 rng(Mix(i) ^ 0x9e3779b97f4a7c15ull);
    std::normal_distribution<float> noise(0.0f, 0.08f);
    bn::FloatMatrix row(1, dim_);
    const float* centre = centres_.row(Cluster(i));
    for (int j = 0; j < dim_; ++j) {
      row.data[j] = std::min(1.0f, std::max(0.0f, centre[j] + noise(rng)));
    }
    return bn::GreyRowToInput(row, 0, 1, dim_);
  }

 private:
  static constexpr int kClusters = 100;
  static uint64_t Mix(int64_t i) {  // splitmix64
    uint64_t z = static_cast<uint64_t>(i) + 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  int dim_;
  bn::FloatMatrix centres_;
};

double Recall(const Run& got, const Run& truth, size_t* short_answers) {
  double hits = 0, total = 0;
  for (size_t q = 0; q < truth.ids.size(); ++q) {
    std::set<std::string> want(truth.ids[q].begin(), truth.ids[q].end());
    for (const auto& id : got.ids[q]) hits += want.count(id);
    total += want.size();
    if (got.ids[q].size() < truth.ids[q].size()) ++*short_answers;
  }
  return total == 0 ? 1 : hits / total;
}

}  // namespace

int main(int argc, char** argv) {
  bn::bench::Flags flags(argc, argv, 1);
  const std::string server = flags.Str("server", "127.0.0.1:50051");
  const int queries = static_cast<int>(flags.Int("queries", 200));
  const uint32_t ef = static_cast<uint32_t>(flags.Int("ef", 64));
  const int64_t synthetic = flags.Int("synthetic", 0);
  const int dim = static_cast<int>(flags.Int("dim", 32));
  // --reuse 1: the server's data directory already holds the collection this bench loads (the
  // same flags, from an earlier run): skip the load, so two server builds can be compared on
  // one index.
  const bool reuse = flags.Int("reuse", 0) != 0;
  const std::string indexed = flags.Str("indexed", "");
  const bool batch_part = flags.Int("batch", 1) != 0;
  // --only TEXT: only the filters whose name contains TEXT (and no unfiltered rows), e.g. to
  // profile one case.
  const std::string only = flags.Str("only", "");
  Source source;
  absl::StatusOr<bn::LabeledImages> train = absl::NotFoundError("unused");
  absl::StatusOr<bn::LabeledImages> test = absl::NotFoundError("unused");
  std::unique_ptr<Mixture> mixture;
  if (synthetic > 0) {
    if (dim < 1 || dim > 1024) {
      std::fprintf(stderr, "--dim must be 1..1024\n");
      return 2;
    }
    mixture = std::make_unique<Mixture>(dim, 24);
    source.height = 1;
    source.width = dim;
    source.n = synthetic;
    source.item = [&](int64_t i, v1::Item* item) {
      item->set_id("s" + std::to_string(i));
      *item->mutable_input() = mixture->Point(i);
      item->set_label(std::to_string(mixture->Cluster(i) % 10));
    };
    source.train_input = [&](int64_t i) { return mixture->Point(i); };
    source.query_input = [&](int q) { return mixture->Point(synthetic + q); };
  } else {
    train = bn::LoadFashionMnist(BN_FASHION_MNIST_DIR, bn::DatasetSplit::kTrain);
    test = bn::LoadFashionMnist(BN_FASHION_MNIST_DIR, bn::DatasetSplit::kTest);
    if (!train.ok() || !test.ok()) {
      std::fprintf(stderr, "cannot load Fashion-MNIST\n");
      return 1;
    }
    source.height = train->height;
    source.width = train->width;
    const int64_t n_train = train->images.rows;
    source.n = n_train + test->images.rows;
    source.item = [&, n_train](int64_t i, v1::Item* item) {
      const bool from_train = i < n_train;
      const auto& d = from_train ? *train : *test;
      const int64_t row = from_train ? i : i - n_train;
      item->set_id((from_train ? "train" : "test") + std::to_string(row));
      *item->mutable_input() = bn::GreyRowToInput(d.images, row, d.height, d.width);
      item->set_label(std::to_string(d.labels[row]));
    };
    source.train_input = [&](int64_t i) {
      return bn::GreyRowToInput(train->images, i, train->height, train->width);
    };
    source.query_input = [&](int q) {
      return bn::GreyRowToInput(test->images, (q * 50) % test->images.rows, test->height,
                                test->width);
    };
  }
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(64 << 20);
  auto channel = grpc::CreateCustomChannel(server, grpc::InsecureChannelCredentials(), args);
  auto collections = v1::CollectionService::NewStub(channel);
  auto training = v1::TrainingService::NewStub(channel);
  auto items = v1::ItemService::NewStub(channel);
  auto query = v1::QueryService::NewStub(channel);

  const int64_t n = source.n;
  auto t0 = Clock::now();
  if (!reuse) {
    v1::CreateCollectionRequest create;
    create.set_name("fashion");
    create.mutable_spec()->mutable_image()->set_height(source.height);
    create.mutable_spec()->mutable_image()->set_width(source.width);
    create.mutable_spec()->mutable_image()->set_channels(1);
    create.mutable_spec()->add_numeric_metadata_keys("rank");
    for (size_t from = 0; from < indexed.size();) {
      size_t to = indexed.find(',', from);
      if (to == std::string::npos) to = indexed.size();
      create.mutable_spec()->add_indexed_metadata_keys(indexed.substr(from, to - from));
      from = to + 1;
    }
    v1::Collection collection;
    Check(collections->CreateCollection(Ctx().get(), create, &collection), "create");
    {
      auto ctx = Ctx();
      v1::Dataset dataset;
      auto writer = training->UploadDataset(ctx.get(), &dataset);
      v1::UploadDatasetRequest m;
      m.set_collection("fashion");
      m.set_dataset("train");
      for (int64_t i = 0; i < 10000; ++i)
        *m.add_examples()->mutable_input() = source.train_input(i);
      writer->Write(m);
      writer->WritesDone();
      Check(writer->Finish(), "upload");
    }
    v1::StartTrainingRequest start;
    start.set_collection("fashion");
    start.set_dataset("train");
    start.mutable_spec()->mutable_pca()->set_code_size(synthetic > 0 ? dim : 30);
    start.set_promote_when_done(true);
    v1::Job job;
    Check(training->StartTraining(Ctx().get(), start, &job), "train");
    for (;;) {
      v1::GetCollectionRequest get;
      get.set_name("fashion");
      Check(collections->GetCollection(Ctx().get(), get, &collection), "get");
      if (collection.stats().serving_model_version() != 0) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }

    // Index every item with its label and a random rank.
    std::vector<int64_t> rank(n);
    std::iota(rank.begin(), rank.end(), 0);
    std::shuffle(rank.begin(), rank.end(), std::mt19937_64(24));
    t0 = Clock::now();
    {
      v1::UpsertResponse r;
      auto ctx = Ctx(7200);
      auto stream = items->StreamUpsert(ctx.get(), &r);
      for (int64_t s = 0; s < n; s += 500) {
        v1::UpsertRequest upsert;
        upsert.set_collection("fashion");
        for (int64_t i = s; i < std::min(n, s + 500); ++i) {
          v1::Item* item = upsert.add_items();
          source.item(i, item);
          (*item->mutable_metadata())["rank"] = std::to_string(rank[i]);
          (*item->mutable_metadata())["p1"] = std::to_string(rank[i] % 100);
          (*item->mutable_metadata())["p01"] = std::to_string(rank[i] % 1000);
        }
        if (!stream->Write(upsert)) break;
      }
      stream->WritesDone();
      Check(stream->Finish(), "upsert");
    }
    std::printf("indexed %lld items in %.1f s (%.0f items/s)\n", static_cast<long long>(n),
                SecondsSince(t0), n / SecondsSince(t0));
  }

  // Query codes: test images 0, 50, 100, ...
  std::vector<v1::Code> codes;
  std::vector<v1::Input> inputs;
  for (int q = 0; q < queries; ++q) {
    v1::EncodeRequest encode;
    encode.set_collection("fashion");
    *encode.add_inputs() = source.query_input(q);
    inputs.push_back(encode.inputs(0));
    v1::EncodeResponse codes_out;
    Check(query->Encode(Ctx().get(), encode, &codes_out), "encode");
    codes.push_back(codes_out.codes(0));
  }
  // Warm-up: the first filtered search loads the attribute table.
  {
    v1::Filter warm;
    warm.mutable_range()->set_metadata_key("rank");
    warm.mutable_range()->set_lt(1);
    t0 = Clock::now();
    Searches(query.get(), {codes[0]}, &warm, false, ef);
    std::printf("first filtered search (loads the attribute table of %lld items): %.0f ms\n",
                static_cast<long long>(n), 1000 * SecondsSince(t0));
    Searches(query.get(), codes, nullptr, false, ef);
  }

  std::printf("\n%d queries, k = 10, ef = %u, one client thread\n", queries, ef);
  std::printf(
      "| filter | matching | recall@10 vs exact filtered | QPS default | QPS exact "
      "filtered | short answers | CountItems ms |\n|---|---|---|---|---|---|---|\n");
  size_t short_answers = 0;
  if (only.empty()) {
    Run plain = Searches(query.get(), codes, nullptr, false, ef);
    Run plain_exact = Searches(query.get(), codes, nullptr, true, ef);
    std::printf("| none (HNSW) | 100 %% | %.4f | %.0f | %.0f | %zu | |\n",
                Recall(plain, plain_exact, &short_answers), plain.qps, plain_exact.qps,
                short_answers);
  }
  struct Case {
    std::string name;
    v1::Filter filter;
  };
  std::vector<Case> cases;
  for (double s : {0.5, 0.1, 0.01, 0.001}) {
    v1::Filter f;
    f.mutable_range()->set_metadata_key("rank");
    f.mutable_range()->set_lt(s * n);
    char name[64];
    std::snprintf(name, sizeof(name), "rank < %.0f (%g %%)", s * n, 100 * s);
    cases.push_back({name, f});
  }
  // Two-sided selective ranges away from the ends (a range index counts and lists them).
  for (double s : {0.01, 0.001}) {
    v1::Filter f;
    f.mutable_range()->set_metadata_key("rank");
    const double from = static_cast<double>(n / 3);
    f.mutable_range()->set_gte(from);
    f.mutable_range()->set_lt(from + s * n);
    char name[80];
    std::snprintf(name, sizeof(name), "%.0f <= rank < %.0f (%g %%)", from, from + s * n, 100 * s);
    cases.push_back({name, f});
  }
  {
    v1::Filter f;
    f.mutable_match()->set_label(true);
    f.mutable_match()->add_values("7");
    cases.push_back({"label = 7 (10 %)", f});
  }
  auto equal = [](const std::string& key, std::vector<std::string> values) {
    v1::Filter f;
    f.mutable_match()->set_metadata_key(key);
    for (auto& v : values) f.mutable_match()->add_values(v);
    return f;
  };
  cases.push_back({"p1 in 0..4 (5 %)", equal("p1", {"0", "1", "2", "3", "4"})});
  cases.push_back({"p1 = 7 (1 %)", equal("p1", {"7"})});
  cases.push_back({"p01 = 7 (0.1 %)", equal("p01", {"7"})});
  {
    v1::Filter f;
    *f.mutable_all_of()->add_filters() = equal("p1", {"7"});
    v1::NumericRange* r = f.mutable_all_of()->add_filters()->mutable_range();
    r->set_metadata_key("rank");
    r->set_lt(0.5 * n);
    cases.push_back({"p1 = 7 & rank < N/2 (0.5 %)", f});
  }
  for (const Case& c : cases) {
    if (c.name.find(only) == std::string::npos) continue;
    v1::CountItemsRequest count;
    count.set_collection("fashion");
    *count.mutable_filter() = c.filter;
    v1::CountItemsResponse matching;
    t0 = Clock::now();
    for (int r = 0; r < 5; ++r) Check(items->CountItems(Ctx().get(), count, &matching), "count");
    const double count_ms = 1000 * SecondsSince(t0) / 5;
    Run got = Searches(query.get(), codes, &c.filter, false, ef);
    Run truth = Searches(query.get(), codes, &c.filter, true, ef);
    short_answers = 0;
    const double recall = Recall(got, truth, &short_answers);
    std::printf("| %s | %llu | %.4f | %.0f | %.0f | %zu | %.1f |\n", c.name.c_str(),
                static_cast<unsigned long long>(matching.count()), recall, got.qps, truth.qps,
                short_answers, count_ms);
    std::fflush(stdout);
  }

  if (!batch_part) return 0;
  // SearchBatch of 64 image queries vs 64 single searches, same channel.
  const int batch = 64, rounds = std::max(1, queries / batch) * 3;
  double single_s = 0, batch_s = 0;
  for (int r = 0; r < rounds; ++r) {
    v1::SearchBatchRequest request;
    request.set_collection("fashion");
    for (int i = 0; i < batch; ++i) {
      v1::SearchRequest* s = request.add_searches();
      *s->mutable_input() = inputs[(r * batch + i) % inputs.size()];
      s->set_k(10);
    }
    t0 = Clock::now();
    for (const auto& s : request.searches()) {
      v1::SearchRequest single = s;
      single.set_collection("fashion");
      v1::SearchResponse response;
      Check(query->Search(Ctx().get(), single, &response), "search");
    }
    single_s += SecondsSince(t0);
    t0 = Clock::now();
    v1::SearchBatchResponse response;
    Check(query->SearchBatch(Ctx().get(), request, &response), "search batch");
    batch_s += SecondsSince(t0);
  }
  std::printf("\nimage queries (encoded by the server), %d rounds of %d:\n", rounds, batch);
  std::printf("| call | queries/s | ms per 64 |\n|---|---|---|\n");
  std::printf("| 64 x Search | %.0f | %.1f |\n", rounds * batch / single_s,
              1000 * single_s / rounds);
  std::printf("| SearchBatch(64) | %.0f | %.1f |\n", rounds * batch / batch_s,
              1000 * batch_s / rounds);
  return 0;
}
