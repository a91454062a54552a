// A backup taken while an upsert stream runs (issue 24), through the API.
//
//   bench_service_backup --server ADDRESS --state FILE [--items 100000]       (load + backup)
//   bench_service_backup --server ADDRESS --restored ADDRESS --state FILE     (verify a restore)
//
// Load: a collection "bk" of 28x28 Fashion-MNIST images (item i is image i mod 70,000, metadata
// phase=base) with a PCA-30 model, loaded by StreamUpsert. Then a writer thread upserts batches
// of 50 new items (phase=live) and records each acknowledged id; after 2 s of writes
// CreateBackup is called (timed), the writes go on 2 s more and stop. Prints the backup's time,
// manifest size and counts, and the upsert rate and latency before and during the backup; writes
// the backup's path and the ids acknowledged before the call to FILE.
// Verify (after `bottleneckd --restore PATH` started a second server, bench/run_service_backup.sh):
// every acknowledged id in FILE and every base item is present, the item count equals the
// manifest's, and 100 searches among the base items (by codes of test images) return the same ids
// and distances on both servers, exact and through the index.
#include <grpcpp/grpcpp.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "bench/service_load_util.h"
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

constexpr int kImages = 70000;

std::unique_ptr<grpc::ClientContext> Ctx(int seconds = 1200) {
  auto c = std::make_unique<grpc::ClientContext>();
  c->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(seconds));
  return c;
}

void Check(const grpc::Status& s, const char* what) {
  if (!s.ok()) {
    std::fprintf(stderr, "%s failed: %s: %s\n", what, std::to_string(s.error_code()).c_str(),
                 s.error_message().c_str());
    std::exit(1);
  }
}

std::string Flag(int argc, char** argv, const std::string& name, const std::string& fallback) {
  for (int i = 1; i + 1 < argc; ++i) {
    if (argv[i] == "--" + name) return argv[i + 1];
  }
  return fallback;
}

struct Images {
  bn::FloatMatrix all;  // 70,000 rows: training then test images.
};

Images LoadImages() {
  const std::string dir = BN_FASHION_MNIST_DIR;
  auto train = bn::ReadIdxImages(dir + "/train-images-idx3-ubyte.gz");
  auto test = bn::ReadIdxImages(dir + "/t10k-images-idx3-ubyte.gz");
  if (!train.ok() || !test.ok()) {
    std::fprintf(stderr, "cannot read Fashion-MNIST from %s\n", dir.c_str());
    std::exit(1);
  }
  Images images;
  images.all = bn::FloatMatrix(kImages, 784);
  std::copy(train->images.data.begin(), train->images.data.begin() + 60000 * 784,
            images.all.data.begin());
  std::copy(test->images.data.begin(), test->images.data.begin() + 10000 * 784,
            images.all.data.begin() + int64_t{60000} * 784);
  return images;
}

void AddItem(v1::UpsertRequest* request, const Images& images, const std::string& id, int64_t row,
             const char* phase) {
  v1::Item* item = request->add_items();
  item->set_id(id);
  *item->mutable_input() = bn::GreyRowToInput(images.all, row % kImages, 28, 28);
  (*item->mutable_metadata())["phase"] = phase;
}

// Bytes of the files under `dir` that have no other link (not shared with the store), and of
// all of them. Right after the backup (the bench runs on the server's machine).
std::pair<uint64_t, uint64_t> OwnAndTotalBytes(const std::string& dir) {
  uint64_t own = 0, total = 0;
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(dir, ec);
       !ec && it != std::filesystem::end(it); it.increment(ec)) {
    struct stat st;
    if (!it->is_regular_file(ec) || ::stat(it->path().c_str(), &st) != 0) continue;
    total += st.st_size;
    if (st.st_nlink == 1) own += st.st_size;
  }
  return {own, total};
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * v.size()))];
}

int LoadAndBackup(const std::shared_ptr<grpc::Channel>& channel, int64_t n,
                  const std::string& state) {
  auto collections = v1::CollectionService::NewStub(channel);
  auto training = v1::TrainingService::NewStub(channel);
  auto items = v1::ItemService::NewStub(channel);
  const Images images = LoadImages();
  v1::CreateCollectionRequest create;
  create.set_name("bk");
  create.mutable_spec()->mutable_image()->set_height(28);
  create.mutable_spec()->mutable_image()->set_width(28);
  create.mutable_spec()->mutable_image()->set_channels(1);
  v1::Collection collection;
  Check(collections->CreateCollection(Ctx().get(), create, &collection), "create collection");
  {
    v1::Dataset dataset;
    auto context = Ctx();
    auto writer = training->UploadDataset(context.get(), &dataset);
    v1::UploadDatasetRequest message;
    message.set_collection("bk");
    message.set_dataset("train");
    for (int i = 0; i < 5000; ++i) {
      *message.add_examples()->mutable_input() = bn::GreyRowToInput(images.all, i, 28, 28);
    }
    writer->Write(message);
    writer->WritesDone();
    Check(writer->Finish(), "upload dataset");
  }
  v1::StartTrainingRequest start;
  start.set_collection("bk");
  start.set_dataset("train");
  start.mutable_spec()->mutable_pca()->set_code_size(30);
  start.set_promote_when_done(true);
  v1::Job job;
  Check(training->StartTraining(Ctx().get(), start, &job), "start training");
  for (;;) {
    v1::GetCollectionRequest get;
    get.set_name("bk");
    Check(collections->GetCollection(Ctx().get(), get, &collection), "get collection");
    if (collection.stats().serving_model_version() != 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  const auto load_start = Clock::now();
  {
    v1::UpsertResponse response;
    auto context = Ctx(3600);
    auto stream = items->StreamUpsert(context.get(), &response);
    for (int64_t i = 0; i < n;) {
      v1::UpsertRequest request;
      request.set_collection("bk");
      for (int b = 0; b < 500 && i < n; ++b, ++i) {
        AddItem(&request, images, "b" + std::to_string(i), i, "base");
      }
      if (!stream->Write(request)) break;
    }
    stream->WritesDone();
    Check(stream->Finish(), "load");
  }
  const double load_seconds = SecondsSince(load_start);
  std::printf("loaded %lld items in %.1f s (%.0f items/s)\n", static_cast<long long>(n),
              load_seconds, n / load_seconds);

  std::mutex mutex;
  std::vector<std::string> acked;
  std::vector<std::pair<double, double>> calls;  // (start time since t0, latency)
  std::atomic<bool> stop{false};
  const auto t0 = Clock::now();
  std::thread writer([&] {
    auto stub = v1::ItemService::NewStub(channel);
    for (int64_t i = 0; !stop; ++i) {
      v1::UpsertRequest request;
      request.set_collection("bk");
      std::vector<std::string> ids;
      for (int b = 0; b < 50; ++b) {
        ids.push_back("w" + std::to_string(i * 50 + b));
        AddItem(&request, images, ids.back(), i * 50 + b + 12345, "live");
      }
      v1::UpsertResponse response;
      const double begin = SecondsSince(t0);
      Check(stub->Upsert(Ctx().get(), request, &response), "upsert during the backup");
      const double latency = SecondsSince(t0) - begin;
      std::lock_guard<std::mutex> lock(mutex);
      acked.insert(acked.end(), ids.begin(), ids.end());
      calls.emplace_back(begin, latency);
    }
  });
  std::this_thread::sleep_for(std::chrono::seconds(2));
  std::vector<std::string> before;
  {
    std::lock_guard<std::mutex> lock(mutex);
    before = acked;
  }
  const double backup_begin = SecondsSince(t0);
  v1::CreateBackupRequest request;
  request.set_name("bench");
  v1::Backup backup;
  Check(collections->CreateBackup(Ctx().get(), request, &backup), "create backup");
  const double backup_end = SecondsSince(t0);
  const auto [own_bytes, total_bytes] = OwnAndTotalBytes(backup.path());
  std::this_thread::sleep_for(std::chrono::seconds(2));
  stop = true;
  writer.join();

  std::vector<double> idle, during;
  size_t acked_during = 0;
  for (const auto& [begin, latency] : calls) {
    if (begin + latency < backup_begin) {
      idle.push_back(latency);
    } else if (begin < backup_end) {
      during.push_back(latency);
      acked_during += 50;
    }
  }
  std::printf(
      "backup %s: %.2f s, manifest size %.1f MB (%llu bytes, hard-linked SSTs counted in full), "
      "%d index snapshots, sequence %llu, %llu items in the backup (%zu acknowledged before the "
      "call, %zu written in all)\n",
      backup.path().c_str(), backup_end - backup_begin, backup.size_bytes() / 1e6,
      static_cast<unsigned long long>(backup.size_bytes()), backup.index_snapshots(),
      static_cast<unsigned long long>(backup.store_sequence()),
      static_cast<unsigned long long>(backup.collections(0).item_count()), n + before.size(),
      n + acked.size());
  std::printf(
      "backup files right after it: %.1f MB in all, %.1f MB of them not shared with the store "
      "(the rest are hard links of its SST files)\n",
      total_bytes / 1e6, own_bytes / 1e6);
  std::printf(
      "upserts of 50 items: before the backup %zu calls, p50 %.1f ms, p99 %.1f ms, max %.1f ms; "
      "overlapping it %zu calls (%zu items acknowledged), p50 %.1f ms, p99 %.1f ms, max %.1f ms\n",
      idle.size(), 1e3 * Percentile(idle, 0.5), 1e3 * Percentile(idle, 0.99),
      1e3 * Percentile(idle, 1.0), during.size(), acked_during, 1e3 * Percentile(during, 0.5),
      1e3 * Percentile(during, 0.99), 1e3 * Percentile(during, 1.0));
  std::ofstream out(state);
  out << backup.path() << "\n" << backup.collections(0).item_count() << "\n" << n << "\n";
  for (const std::string& id : before) out << id << "\n";
  return 0;
}

std::vector<std::pair<std::string, float>> Hits(v1::QueryService::Stub* query, const v1::Code& code,
                                                bool exact) {
  v1::SearchRequest request;
  request.set_collection("bk");
  *request.mutable_code() = code;
  request.set_k(10);
  request.set_exact(exact);
  request.mutable_filter()->mutable_match()->set_metadata_key("phase");
  request.mutable_filter()->mutable_match()->add_values("base");
  v1::SearchResponse response;
  Check(query->Search(Ctx().get(), request, &response), "search");
  std::vector<std::pair<std::string, float>> hits;
  for (const auto& nb : response.neighbors()) hits.emplace_back(nb.id(), nb.distance());
  return hits;
}

int Verify(const std::shared_ptr<grpc::Channel>& original,
           const std::shared_ptr<grpc::Channel>& restored, const std::string& state) {
  std::ifstream in(state);
  std::string path;
  uint64_t manifest_items = 0;
  int64_t n = 0;
  in >> path >> manifest_items >> n;
  std::vector<std::string> before;
  for (std::string id; in >> id;) before.push_back(id);
  auto items = v1::ItemService::NewStub(restored);
  std::set<std::string> ids;
  v1::ListItemsRequest list;
  list.set_collection("bk");
  list.set_page_size(1000);
  const auto list_start = Clock::now();
  for (;;) {
    v1::ListItemsResponse page;
    Check(items->ListItems(Ctx().get(), list, &page), "list items");
    for (const auto& item : page.items()) ids.insert(item.item().id());
    if (page.next_page_token().empty()) break;
    list.set_page_token(page.next_page_token());
  }
  size_t missing = 0;
  for (int64_t i = 0; i < n; ++i) missing += ids.count("b" + std::to_string(i)) == 0;
  for (const std::string& id : before) missing += ids.count(id) == 0;
  std::printf(
      "restored: %zu items listed in %.1f s (manifest %llu); of the %lld base items and "
      "%zu acknowledged before the backup, %zu missing\n",
      ids.size(), SecondsSince(list_start), static_cast<unsigned long long>(manifest_items),
      static_cast<long long>(n), before.size(), missing);
  // Queries: codes of 100 test images from the original server.
  auto encode = v1::QueryService::NewStub(original);
  const Images images = LoadImages();
  v1::EncodeRequest request;
  request.set_collection("bk");
  for (int q = 0; q < 100; ++q) {
    *request.add_inputs() = bn::GreyRowToInput(images.all, 60000 + q * 97, 28, 28);
  }
  v1::EncodeResponse codes;
  Check(encode->Encode(Ctx().get(), request, &codes), "encode");
  auto a = v1::QueryService::NewStub(original);
  auto b = v1::QueryService::NewStub(restored);
  int exact_same = 0, index_same = 0;
  for (const auto& code : codes.codes()) {
    exact_same += Hits(a.get(), code, true) == Hits(b.get(), code, true);
    index_same += Hits(a.get(), code, false) == Hits(b.get(), code, false);
  }
  std::printf(
      "searches among the base items, original vs restored, identical ids and distances: "
      "exact %d/100, through the index %d/100\n",
      exact_same, index_same);
  return missing == 0 && ids.size() == manifest_items && exact_same == 100 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string server = Flag(argc, argv, "server", "");
  const std::string state = Flag(argc, argv, "state", "");
  if (server.empty() || state.empty()) {
    std::fprintf(stderr,
                 "usage: bench_service_backup --server ADDRESS --state FILE [--items N] "
                 "[--restored ADDRESS]\n");
    return 2;
  }
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(64 << 20);
  auto channel = grpc::CreateCustomChannel(server, grpc::InsecureChannelCredentials(), args);
  const std::string restored = Flag(argc, argv, "restored", "");
  if (!restored.empty()) {
    return Verify(channel,
                  grpc::CreateCustomChannel(restored, grpc::InsecureChannelCredentials(), args),
                  state);
  }
  return LoadAndBackup(channel, std::stoll(Flag(argc, argv, "items", "100000")), state);
}
