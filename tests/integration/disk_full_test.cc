// The disk-full sequence of issue 23 against the real server on a real small filesystem (a tmpfs
// mounted in a private mount namespace of this test process, which the server inherits): park a
// ballast file, upsert until the disk reaches the flood stage, then check that
//   - writes are refused with RESOURCE_EXHAUSTED naming the free space and the flag,
//   - searches answer throughout, gRPC health says NOT_SERVING for the write services and
//     SERVING for queries, the metrics say the disk is full,
//   - a restart (kill -9) on the nearly full disk comes up and serves searches,
//   - once the ballast is deleted, writes are accepted again within seconds, without a restart,
//   - no acknowledged item is lost and no refused one is stored (oracle, checked after restarts).
//
// CI runs 2 cycles; BN_DISK_FULL_CYCLES=N runs the long campaign (bench/disk_full_campaign.sh),
// which prints one "disk-full cycle" line per cycle. Needs to mount a tmpfs: root or an
// unprivileged user namespace; skipped otherwise (the engine's StoreFaultsTest simulates ENOSPC
// with a fault-injecting filesystem instead).
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <thread>

#include "bottleneck/v1/collection.grpc.pb.h"
#include "bottleneck/v1/item.grpc.pb.h"
#include "bottleneck/v1/query.grpc.pb.h"
#include "bottleneck/v1/training.grpc.pb.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "tests/integration/client_util.h"
#include "tests/integration/server_process.h"
#include "tests/util/temp_dir.h"

namespace bn::testing {
namespace {

namespace v1 = ::bottleneck::v1;
using grpc::health::v1::HealthCheckResponse;

constexpr uint64_t kMiB = uint64_t{1} << 20;

bool WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
  return static_cast<bool>(out);
}

// A private mount namespace for this process (and the servers it starts) with a tmpfs of
// `bytes` at `dir`. Empty on success, else why not.
std::string MountSmallFilesystem(const std::string& dir, uint64_t bytes) {
  if (::unshare(CLONE_NEWNS) != 0) {
    // Not root: an unprivileged user namespace (the process is still single-threaded here).
    const uid_t uid = ::getuid();
    const gid_t gid = ::getgid();
    if (::unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0) {
      return std::string("unshare: ") + std::strerror(errno);
    }
    WriteFile("/proc/self/setgroups", "deny");
    if (!WriteFile("/proc/self/uid_map", "0 " + std::to_string(uid) + " 1") ||
        !WriteFile("/proc/self/gid_map", "0 " + std::to_string(gid) + " 1")) {
      return "cannot write the user namespace's id maps";
    }
  }
  if (::mount("none", "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
    return std::string("making / private: ") + std::strerror(errno);
  }
  const std::string options = "size=" + std::to_string(bytes);
  if (::mount("tmpfs", dir.c_str(), "tmpfs", 0, options.c_str()) != 0) {
    return std::string("mount tmpfs: ") + std::strerror(errno);
  }
  return "";
}

uint64_t FreeBytes(const std::string& dir) {
  struct statvfs st;
  if (::statvfs(dir.c_str(), &st) != 0) return 0;
  return static_cast<uint64_t>(st.f_bavail) * st.f_frsize;
}

// A file of `bytes` (written, so that tmpfs really holds the pages).
bool Park(const std::string& path, uint64_t bytes) {
  std::ofstream out(path, std::ios::binary);
  const std::string chunk(1 << 16, 'b');
  for (uint64_t left = bytes; left > 0 && out;) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(left, chunk.size()));
    out.write(chunk.data(), static_cast<std::streamsize>(n));
    left -= n;
  }
  out.close();
  return static_cast<bool>(out);
}

v1::Input Image(int seed) {
  std::string data(64, '\0');
  for (int i = 0; i < 64; ++i) data[i] = static_cast<char>((seed * 37 + i * (seed % 7 + 1)) % 256);
  return RawGrey(8, 8, std::move(data));
}

std::string HttpGet(const std::string& address, const std::string& path) {
  const size_t colon = address.rfind(':');
  httplib::Client client(address.substr(0, colon), std::stoi(address.substr(colon + 1)));
  client.set_connection_timeout(5, 0);
  client.set_read_timeout(5, 0);
  auto response = client.Get(path.c_str());
  return response ? response->body : "";
}

// The value of an unlabelled gauge in a Prometheus text page; -1 when absent.
double Gauge(const std::string& page, const std::string& name) {
  size_t at = 0;
  while ((at = page.find(name + " ", at)) != std::string::npos) {
    if (at == 0 || page[at - 1] == '\n') return std::atof(page.c_str() + at + name.size() + 1);
    at += name.size();
  }
  return -1;
}

class DiskFullTest : public ::testing::Test {
 protected:
  std::vector<std::string> Flags() const {
    return {"--disk-flood-free-bytes",
            std::to_string(flood_),
            "--disk-flood-free-percent",
            "0",
            "--disk-check-interval-ms",
            "100",
            "--block-cache-mib",
            "8",
            "--snapshot-interval-seconds",
            "1",
            "--metrics-listen",
            "127.0.0.1:0"};
  }

  void StartServer() {
    std::string error;
    server_ = ServerProcess::Start(data_, Flags(), &error);
    ASSERT_NE(server_, nullptr) << error;
    const std::string& banner = server_->banner();
    const size_t http = banner.find("http://") + 7;
    metrics_ = banner.substr(http, banner.find("/metrics", http) - http);
    items_ = v1::ItemService::NewStub(server_->Channel());
    query_ = v1::QueryService::NewStub(server_->Channel());
    health_ = grpc::health::v1::Health::NewStub(server_->Channel());
  }

  HealthCheckResponse::ServingStatus Health(const std::string& service) {
    grpc::health::v1::HealthCheckRequest request;
    request.set_service(service);
    HealthCheckResponse response;
    if (!health_->Check(Ctx(5).get(), request, &response).ok()) return HealthCheckResponse::UNKNOWN;
    return response.status();
  }

  // One search; its status.
  grpc::Status Search(int seed) {
    v1::SearchRequest search;
    search.set_collection("c");
    *search.mutable_input() = Image(seed);
    search.set_k(5);
    v1::SearchResponse found;
    grpc::Status s = query_->Search(Ctx(10).get(), search, &found);
    if (s.ok() && found.neighbors_size() == 0) return grpc::Status(grpc::StatusCode::INTERNAL, "");
    return s;
  }

  // One upsert of 20 items with ~3 KB of metadata each; the oracle learns the outcome.
  grpc::Status UpsertBatch() {
    v1::UpsertRequest upsert;
    upsert.set_collection("c");
    std::vector<std::string> ids;
    for (int i = 0; i < 20; ++i) {
      const int seed = next_seed_++;
      v1::Item* item = upsert.add_items();
      item->set_id("i" + std::to_string(seed));
      *item->mutable_input() = Image(seed);
      for (int m = 0; m < 12; ++m) {
        (*item->mutable_metadata())["m" + std::to_string(m)] =
            std::string(250, static_cast<char>('a' + (seed + m) % 26));
      }
      ids.push_back(item->id());
    }
    v1::UpsertResponse response;
    grpc::Status s = items_->Upsert(Ctx(30).get(), upsert, &response);
    for (const std::string& id : ids) (s.ok() ? acked_ : refused_).insert(id);
    return s;
  }

  // Every acknowledged item is there; no refused one is.
  void CheckOracle(const std::string& when) {
    int present = 0;
    for (const std::set<std::string>* ids : {&acked_, &refused_}) {
      for (const std::string& id : *ids) {
        v1::GetItemRequest get;
        get.set_collection("c");
        get.set_id(id);
        v1::GetItemResponse item;
        grpc::Status s = items_->GetItem(Ctx(10).get(), get, &item);
        if (ids == &acked_) {
          ASSERT_TRUE(s.ok()) << when << ": acknowledged item " << id
                              << " lost: " << s.error_message();
          ++present;
        } else {
          ASSERT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND)
              << when << ": refused item " << id << " is stored";
        }
      }
    }
    EXPECT_EQ(present, static_cast<int>(acked_.size()));
  }

  std::string LogTail() const {
    const std::string log = server_ != nullptr ? server_->Stderr() : "";
    return log.size() > 12000 ? log.substr(log.size() - 12000) : log;
  }

  // The whole sequence with --disk-flood-free-bytes `flood`, and its steps.
  void Run(uint64_t flood);
  void FillUntilRefused(int* batches);
  void CheckRefusingWrites();
  void RestartOnFullDisk(double* seconds);
  void FreeAndResume(double* seconds);
  void TopUp();
  void RemoveBallast() {
    ASSERT_TRUE(std::filesystem::remove(ballast_));
    for (int i = 0; i < top_ups_; ++i) std::filesystem::remove(ballast_ + "." + std::to_string(i));
    top_ups_ = 0;
  }

  uint64_t flood_ = 0;
  TempDir dir_;
  std::string mount_;
  std::string ballast_;  // The parked file; TopUp adds ballast_.0, .1, ...
  int top_ups_ = 0;
  std::string data_;
  std::string metrics_;
  std::unique_ptr<ServerProcess> server_;
  std::unique_ptr<v1::ItemService::Stub> items_;
  std::unique_ptr<v1::QueryService::Stub> query_;
  std::unique_ptr<grpc::health::v1::Health::Stub> health_;
  std::set<std::string> acked_;
  std::set<std::string> refused_;
  int next_seed_ = 0;
};

void DiskFullTest::Run(uint64_t flood) {
  flood_ = flood;
  const char* env = std::getenv("BN_DISK_FULL_CYCLES");
  const int cycles = env != nullptr ? std::max(1, std::atoi(env)) : 2;
  // The data directory is the mount point: the server log (next to it) stays off the small disk.
  mount_ = dir_.Sub("data");
  std::filesystem::create_directories(mount_);
  // Room for the database plus, per cycle, the items that stay (~2 MiB per fill; without a
  // watermark a cycle fills twice).
  const uint64_t size = 40 * kMiB + static_cast<uint64_t>(cycles) * (flood_ > 0 ? 3 : 6) * kMiB;
  if (std::string why = MountSmallFilesystem(mount_, size); !why.empty()) {
    GTEST_SKIP() << "cannot mount a small filesystem here (" << why << ")";
  }
  data_ = mount_;
  ASSERT_NO_FATAL_FAILURE(StartServer());

  // A served collection (PCA-4 on 8x8 images).
  auto collections = v1::CollectionService::NewStub(server_->Channel());
  auto training = v1::TrainingService::NewStub(server_->Channel());
  v1::CreateCollectionRequest create;
  create.set_name("c");
  create.mutable_spec()->mutable_image()->set_height(8);
  create.mutable_spec()->mutable_image()->set_width(8);
  create.mutable_spec()->mutable_image()->set_channels(1);
  v1::Collection collection;
  ASSERT_TRUE(collections->CreateCollection(Ctx(10).get(), create, &collection).ok());
  std::vector<v1::Input> examples;
  for (int i = 0; i < 200; ++i) examples.push_back(Image(100000 + i));
  ASSERT_TRUE(UploadExamples(training.get(), "c", "train", examples, 10).ok());
  v1::StartTrainingRequest start;
  start.set_collection("c");
  start.set_dataset("train");
  start.mutable_spec()->mutable_pca()->set_code_size(4);
  start.set_promote_when_done(true);
  v1::Job job;
  ASSERT_TRUE(training->StartTraining(Ctx(10).get(), start, &job).ok());
  ASSERT_TRUE(Eventually([&] {
    v1::GetCollectionRequest get;
    get.set_name("c");
    return collections->GetCollection(Ctx(10).get(), get, &collection).ok() &&
           collection.stats().serving_model_version() == 1;
  }));
  ASSERT_TRUE(UpsertBatch().ok());

  ballast_ = mount_ + "/ballast";
  for (int cycle = 0; cycle < cycles; ++cycle) {
    SCOPED_TRACE("cycle " + std::to_string(cycle));
    int batches = 0;
    double restart_s = 0, resume_s = 0;
    ASSERT_NO_FATAL_FAILURE(FillUntilRefused(&batches));
    ASSERT_NO_FATAL_FAILURE(CheckRefusingWrites());
    if (flood_ > 0) {
      // The reserve lets a writable restart happen on the full disk; then space returns.
      ASSERT_NO_FATAL_FAILURE(RestartOnFullDisk(&restart_s));
      ASSERT_NO_FATAL_FAILURE(FreeAndResume(&resume_s));
    } else {
      // No reserve: RocksDB recovers from its ENOSPC without a restart once space returns...
      ASSERT_NO_FATAL_FAILURE(FreeAndResume(&resume_s));
      // ...and a restart on a disk with nothing left opens read-only and serves; writes come
      // back with the next restart after space was freed.
      ASSERT_NO_FATAL_FAILURE(FillUntilRefused(&batches));
      ASSERT_NO_FATAL_FAILURE(RestartOnFullDisk(&restart_s));
      RemoveBallast();
      ASSERT_NE(server_->SignalAndWait(SIGTERM, 60), -1);
      ASSERT_NO_FATAL_FAILURE(StartServer());
      const grpc::Status accepted = UpsertBatch();
      ASSERT_TRUE(accepted.ok()) << accepted.error_message();
      ASSERT_NO_FATAL_FAILURE(CheckOracle("after freeing space and restarting"));
    }
    std::cout << "disk-full cycle " << cycle << " (flood stage " << flood_ << " B): " << batches
              << " batches accepted before refusal, restart on the full disk " << restart_s
              << " s, writes resumed " << resume_s << " s after freeing space, " << acked_.size()
              << " acknowledged items all present, " << refused_.size()
              << " refused items all absent\n";
  }
  // A last restart with everything in place.
  ASSERT_NE(server_->SignalAndWait(SIGTERM, 60), -1);
  ASSERT_NO_FATAL_FAILURE(StartServer());
  ASSERT_NO_FATAL_FAILURE(CheckOracle("after the final restart"));
}

// 1. Parks a ballast file that leaves ~2 MiB above the flood stage, then upserts until refused.
void DiskFullTest::FillUntilRefused(int* batches) {
  const uint64_t free_now = FreeBytes(mount_);
  ASSERT_GT(free_now, flood_ + 3 * kMiB) << "the filesystem is too small for this cycle";
  ASSERT_TRUE(Park(ballast_, free_now - flood_ - 2 * kMiB));
  grpc::Status refused;
  for (*batches = 0; *batches < 2000; ++*batches) {
    refused = UpsertBatch();
    if (!refused.ok()) break;
    if (*batches % 10 == 0) {
      ASSERT_TRUE(Search(*batches).ok()) << "search while filling";
    }
  }
  ASSERT_FALSE(refused.ok()) << "the disk never filled";
  ASSERT_EQ(refused.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
      << refused.error_message() << "\nserver log (end):\n"
      << LogTail();
  if (flood_ > 0) {
    EXPECT_NE(refused.error_message().find("--disk-flood-free-bytes"), std::string::npos)
        << refused.error_message();
    EXPECT_NE(refused.error_message().find("free of"), std::string::npos)
        << refused.error_message();
  } else {
    EXPECT_NE(refused.error_message().find("No space left on device"), std::string::npos)
        << refused.error_message();
  }
}

// Keeps the disk full: RocksDB's flushes and compactions give space back (obsolete WAL files,
// compressed SSTs), so more ballast brings free space under the flood stage again.
void DiskFullTest::TopUp() {
  const uint64_t free_now = FreeBytes(mount_);
  const uint64_t target = flood_ > kMiB ? flood_ - kMiB / 2 : 0;
  if (free_now <= target) return;
  // Without a watermark this fills the disk to the last byte: the write may stop short.
  (void)Park(ballast_ + "." + std::to_string(top_ups_++), free_now - target);
}

// 2. Full: refused again, searches answer, health and metrics say so.
void DiskFullTest::CheckRefusingWrites() {
  TopUp();
  const grpc::Status again = UpsertBatch();
  EXPECT_EQ(again.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << again.error_message();
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(Search(i).ok());
  // Compactions keep giving space back (campaign: 2 of 50 cycles were above the flood stage
  // again before the check): top up until health and metrics agree the disk is full.
  std::string page;
  EXPECT_TRUE(Eventually([&] {
    TopUp();
    page = HttpGet(metrics_, "/metrics");
    return Health(v1::ItemService::service_full_name()) == HealthCheckResponse::NOT_SERVING &&
           Health(v1::TrainingService::service_full_name()) == HealthCheckResponse::NOT_SERVING &&
           Gauge(page, "bottleneck_storage_write_blocked") == 1;
  })) << page.substr(0, 200);
  EXPECT_EQ(Health(v1::QueryService::service_full_name()), HealthCheckResponse::SERVING);
  const double free_metric = Gauge(page, "bottleneck_disk_free_bytes");
  EXPECT_GE(free_metric, 0);
  EXPECT_LT(free_metric, static_cast<double>(flood_ + 2 * kMiB));
}

// 3. Restart (kill -9) on the full disk: it comes up, serves searches, loses nothing and still
// refuses writes.
void DiskFullTest::RestartOnFullDisk(double* seconds) {
  ASSERT_NE(server_->SignalAndWait(SIGKILL, 30), -1);
  const auto restart = std::chrono::steady_clock::now();
  ASSERT_NO_FATAL_FAILURE(StartServer());
  *seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - restart).count();
  if (flood_ > 0) {
    // The reserve is there for this: the store opens for writing, not read-only.
    const std::string log = server_->Stderr();
    const size_t at = log.find("opening it read-only");
    EXPECT_EQ(at, std::string::npos)
        << log.substr(log.rfind('\n', at) == std::string::npos ? 0 : log.rfind('\n', at), 600);
  }
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(Search(1000 + i).ok()) << "search after restart";
  ASSERT_NO_FATAL_FAILURE(CheckOracle("after the restart on a full disk"));
  TopUp();
  const grpc::Status still = UpsertBatch();
  EXPECT_EQ(still.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
      << still.error_message() << "\nserver log (end):\n"
      << LogTail();
}

// 4. Deletes the ballast: writes resume by themselves within seconds, health says so.
void DiskFullTest::FreeAndResume(double* seconds) {
  RemoveBallast();
  const auto freed = std::chrono::steady_clock::now();
  grpc::Status resumed;
  while (std::chrono::steady_clock::now() - freed < std::chrono::seconds(10)) {
    resumed = UpsertBatch();
    if (resumed.ok()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  *seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - freed).count();
  ASSERT_TRUE(resumed.ok()) << "writes still refused 10 s after space was freed: "
                            << resumed.error_message() << "\nserver log (end):\n"
                            << LogTail();
  EXPECT_TRUE(Eventually([&] {
    return Health(v1::ItemService::service_full_name()) == HealthCheckResponse::SERVING;
  }));
  ASSERT_NO_FATAL_FAILURE(CheckOracle("after space returned"));
}

// With the flood stage (6 MiB): the server refuses before the filesystem is full.
TEST_F(DiskFullTest, RefusesWritesKeepsSearchingResumesWhenFreedAndRestartsWhenFull) {
  Run(6 * kMiB);
}

// Without a watermark (--disk-flood-free-bytes 0): RocksDB itself runs into ENOSPC, as in the
// issue's report. Still RESOURCE_EXHAUSTED, recovery without a restart, a restart that serves.
TEST_F(DiskFullTest, WithoutAWatermarkRocksDbOutOfSpaceIsRecoveredFrom) { Run(0); }

}  // namespace
}  // namespace bn::testing
