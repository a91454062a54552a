// Cluster mode, backups (cluster_backups.h, cluster_restore.h): a backup taken through one node
// while a writer goes on through two, restored into a second, fresh 1-server NATS: every write
// acknowledged before CreateBackup is in it, the writes in it are a prefix of the writer's order
// (a consistent cut), deletes before the call are honoured, exact top-10 searches equal the
// source's once the source is brought back to the cut, models, aliases and records come back.
// Refusals (non-empty target, another protocol version, a damaged file) exit 1 and create
// nothing.
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include "bottleneck/cluster/internal.grpc.pb.h"
#include "server/cluster/cluster_backups.h"
#include "server/cluster/names.h"
#include "server/cluster/nats_client.h"
#include "tests/cluster/cluster_harness.h"
#include "tests/cluster/fashion_util.h"
#include "tests/integration/client_util.h"

namespace bn::testing {
namespace {

namespace v1 = ::bottleneck::v1;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using cluster::kClusterBackupManifest;

// Items "f-<i>" (training images) written before the writer starts: 600, or
// BN_CLUSTER_BACKUP_ITEMS for a measurement at a larger size.
int BaseItems() {
  const char* value = std::getenv("BN_CLUSTER_BACKUP_ITEMS");
  return value != nullptr && std::atoi(value) > 0 ? std::min(std::atoi(value), 60000) : 600;
}
constexpr int kBatch = 10;   // Items per write of the writer ("w-<i>").
constexpr int kDeleted = 5;  // f-0 .. f-4 are deleted before the backup.

std::set<std::string> AllIds(Api& api, const std::string& collection) {
  std::set<std::string> ids;
  v1::ListItemsRequest request;
  request.set_collection(collection);
  request.set_page_size(500);
  while (true) {
    v1::ListItemsResponse response;
    grpc::Status status = api.items->ListItems(Ctx(60).get(), request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    if (!status.ok()) break;
    for (const auto& item : response.items()) ids.insert(item.item().id());
    if (response.next_page_token().empty()) break;
    request.set_page_token(response.next_page_token());
  }
  return ids;
}

v1::SearchResponse ExactTopTen(Api& api, const std::string& collection, const v1::Input& input,
                               uint64_t min_sequence) {
  v1::SearchRequest request;
  request.set_collection(collection);
  *request.mutable_input() = input;
  request.set_k(10);
  request.set_exact(true);
  request.set_min_sequence(min_sequence);
  v1::SearchResponse response;
  grpc::Status status = api.query->Search(Ctx(60).get(), request, &response);
  EXPECT_TRUE(status.ok()) << status.error_message();
  return response;
}

// Same distances; ids equal except those tying with the 10th.
void ExpectSameTopTen(const v1::SearchResponse& want, const v1::SearchResponse& got, int query) {
  ASSERT_EQ(want.neighbors_size(), got.neighbors_size()) << "query " << query;
  const int n = want.neighbors_size();
  if (n == 0) return;
  auto close = [](double a, double b) {
    return std::fabs(a - b) <= 1e-4 * std::max(1.0, std::fabs(a));
  };
  const double last = want.neighbors(n - 1).distance();
  std::set<std::string> a, b;
  for (int i = 0; i < n; ++i) {
    EXPECT_TRUE(close(want.neighbors(i).distance(), got.neighbors(i).distance()))
        << "query " << query << " rank " << i;
    if (!close(want.neighbors(i).distance(), last)) a.insert(want.neighbors(i).id());
    if (!close(got.neighbors(i).distance(), last)) b.insert(got.neighbors(i).id());
  }
  EXPECT_EQ(a, b) << "query " << query;
}

// bottleneckd --cluster ... --restore BACKUP (one-shot) against `target`'s NATS.
int RunRestore(ClusterHarness& target, const std::string& backup, std::string* output,
               const std::string& cluster_name = "bottleneck") {
  return RunProgram(
      {BN_BOTTLENECKD, "--cluster", target.nats().urls_joined(), "--cluster-name", cluster_name,
       "--stream-replicas", std::to_string(std::min(3, target.nats().size())), "--restore", backup,
       "--data-dir", target.dir() + "/restore-" + cluster_name},
      output);
}

// True when NATS holds no bucket of cluster `name` (a refused restore created nothing).
bool NothingCreated(ClusterHarness& target, const std::string& name) {
  auto connection = target.nats().Connect();
  if (!connection.ok()) return false;
  for (const char* bucket : {"_collections", "_meta", "_aliases"}) {
    auto stream = (*connection)->GetStream("KV_" + name + bucket);
    if (stream.status().code() != absl::StatusCode::kNotFound) return false;
  }
  return true;
}

TEST(ClusterBackupTest, CutUnderWritesRestoresIntoAFreshClusterWithEveryAcknowledgedWrite) {
  const auto test_start = Clock::now();
  std::string error;
  ClusterHarness source;
  ASSERT_TRUE(source.StartNats(&error)) << error;
  for (const char* id : {"a", "b", "c"}) ASSERT_TRUE(source.StartNode(id, {}, &error)) << error;
  Api a(source.Channel("a")), b(source.Channel("b"));
  const int kBase = BaseItems();
  const LabeledImages& images = Fashion(DatasetSplit::kTest, 4000);  // Writer items and queries.
  const LabeledImages& base = Fashion(DatasetSplit::kTrain, kBase);
  ASSERT_TRUE(CreateFashionCollection(a, "fashion", 3, 2).ok());
  ASSERT_TRUE(CreateFashionCollection(a, "empty", 1, 1).ok());
  ASSERT_TRUE(UploadFashion(a, "fashion", "train", 300).ok());
  const v1::Job trained = TrainPca(b, "fashion", "train", 8, /*promote=*/true);
  ASSERT_EQ(trained.model_version(), 1u);
  ASSERT_TRUE(source.WaitForReady("a", "fashion", 2, 1)) << source.last_seen();
  // The coordinator: a node without a replica of shard 0, so that at least one shard is cut on
  // another node (through ShardService.BackupShard) and moved to it over JetStream.
  std::string coordinator;
  {
    v1::GetCollectionRequest request;
    request.set_name("fashion");
    v1::Collection collection;
    ASSERT_TRUE(a.collections->GetCollection(Ctx().get(), request, &collection).ok());
    const auto& placement = collection.cluster().shard_status(0).placement();
    for (const char* id : {"a", "b", "c"}) {
      if (std::find(placement.begin(), placement.end(), id) == placement.end()) coordinator = id;
    }
    ASSERT_FALSE(coordinator.empty()) << collection.cluster().DebugString();
  }
  Api via(source.Channel(coordinator));
  const std::string other = coordinator == "a" ? "b" : "a";
  Api elsewhere(source.Channel(other));
  UpsertFashion(a, "fashion", base, 0, kBase, "f-", 500);
  {
    v1::DeleteItemsRequest request;
    request.set_collection("fashion");
    for (int i = 0; i < kDeleted; ++i) request.add_ids("f-" + std::to_string(i));
    v1::DeleteItemsResponse response;
    ASSERT_TRUE(b.items->DeleteItems(Ctx().get(), request, &response).ok());
  }
  {
    v1::CreateAliasRequest request;
    request.set_name("live");
    request.set_collection("fashion");
    v1::Alias alias;
    ASSERT_TRUE(a.collections->CreateAlias(Ctx().get(), request, &alias).ok());
  }

  // The writer: batches of new items through a and b in turn, one after the other; the oracle
  // keeps the acknowledged batches in order.
  std::mutex mutex;
  std::vector<int> acked;  // Batch numbers, in acknowledgement (= write) order.
  std::atomic<bool> stop{false};
  std::atomic<int> failed{0};
  std::thread writer([&] {
    for (int batch = 0; !stop && (batch + 1) * kBatch <= 3800; ++batch) {
      Api& via = batch % 2 == 0 ? a : b;
      v1::UpsertRequest request;
      request.set_collection("live");
      for (int i = 0; i < kBatch; ++i) {
        const int n = batch * kBatch + i;
        v1::Item* item = request.add_items();
        item->set_id("w-" + std::to_string(n));
        *item->mutable_input() = FashionInput(images, n);
        item->set_label("writer");
      }
      v1::UpsertResponse response;
      if (via.items->Upsert(Ctx().get(), request, &response).ok()) {
        std::lock_guard<std::mutex> lock(mutex);
        acked.push_back(batch);
      } else {
        ++failed;
        break;  // The prefix check needs a gap-free order.
      }
    }
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  size_t acked_before = 0;
  {
    std::lock_guard<std::mutex> lock(mutex);
    acked_before = acked.size();
  }
  v1::CreateBackupRequest create;
  create.set_name("mid");
  v1::Backup backup;
  const auto backup_start = Clock::now();
  grpc::Status created = via.collections->CreateBackup(Ctx(120).get(), create, &backup);
  const double backup_seconds = std::chrono::duration<double>(Clock::now() - backup_start).count();
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  stop = true;
  writer.join();
  ASSERT_TRUE(created.ok()) << created.error_message();
  ASSERT_EQ(failed.load(), 0);
  ASSERT_GT(acked_before, 0u);
  EXPECT_EQ(backup.name(), "mid");
  EXPECT_TRUE(fs::exists(fs::path(backup.path()) / kClusterBackupManifest)) << backup.path();
  EXPECT_GT(backup.size_bytes(), 0u);
  ASSERT_EQ(backup.collections_size(), 2);
  EXPECT_EQ(backup.collections(0).name(), "empty");
  EXPECT_EQ(backup.collections(0).item_count(), 0u);
  EXPECT_EQ(backup.collections(1).name(), "fashion");
  EXPECT_EQ(backup.collections(1).serving_model_version(), 1u);
  ASSERT_EQ(backup.aliases_size(), 1);
  EXPECT_EQ(backup.aliases(0).name(), "live");
  std::cout << "backup of " << backup.collections(1).item_count() << " items: " << backup_seconds
            << " s, " << backup.size_bytes() << " bytes; writes acknowledged "
            << "before it " << acked_before << " batches, in all " << acked.size()
            << "; coordinator " << coordinator << "\n";
  // The coordinator's and the replicas' own account of the cut (hold times).
  for (const char* id : {"a", "b", "c"}) {
    std::istringstream log(source.NodeStderr(id));
    for (std::string line; std::getline(log, line);) {
      if (line.find("cut at log") != std::string::npos) std::cout << id << ": " << line << "\n";
    }
  }
  {
    v1::ListBackupsResponse listed;
    ASSERT_TRUE(via.collections->ListBackups(Ctx().get(), {}, &listed).ok());
    ASSERT_EQ(listed.backups_size(), 1);
    EXPECT_EQ(listed.backups(0).name(), "mid");
    EXPECT_EQ(listed.backups(0).path(), backup.path());
    EXPECT_EQ(listed.backups(0).node(), coordinator);
    // Any node lists it (from the backups bucket).
    v1::ListBackupsResponse on_other;
    ASSERT_TRUE(elsewhere.collections->ListBackups(Ctx().get(), {}, &on_other).ok());
    ASSERT_EQ(on_other.backups_size(), 1);
    EXPECT_EQ(on_other.backups(0).node(), coordinator);
    EXPECT_EQ(on_other.backups(0).path(), backup.path());
    EXPECT_EQ(on_other.backups(0).collections(1).item_count(), backup.collections(1).item_count());
    v1::Backup again;
    EXPECT_EQ(via.collections->CreateBackup(Ctx().get(), create, &again).error_code(),
              grpc::StatusCode::ALREADY_EXISTS);
  }

  // Restore into a fresh 1-server NATS (the backup came from R=3).
  ClusterHarness target;
  ASSERT_TRUE(target.StartNats(&error, 1)) << error;
  // Refusals first, each under a fresh cluster name: nothing may be created.
  {
    const fs::path copy = fs::path(target.dir()) / "damaged";
    fs::copy(backup.path(), copy);
    std::string damaged;
    for (const auto& entry : fs::directory_iterator(copy)) {
      if (entry.path().extension() == ".snap" && fs::file_size(entry.path()) > 100) {
        damaged = entry.path().string();
      }
    }
    ASSERT_FALSE(damaged.empty());
    {
      std::fstream file(damaged, std::ios::in | std::ios::out | std::ios::binary);
      file.seekp(60);
      file.put('\x7f');
    }
    std::string output;
    int status = RunRestore(target, copy.string(), &output, "crc");
    ASSERT_TRUE(WIFEXITED(status)) << output;
    EXPECT_EQ(WEXITSTATUS(status), 1) << output;
    EXPECT_NE(output.find("damaged"), std::string::npos) << output;
    EXPECT_TRUE(NothingCreated(target, "crc"));

    const fs::path other = fs::path(target.dir()) / "other-version";
    fs::copy(backup.path(), other);
    std::ifstream in(other / kClusterBackupManifest);
    std::stringstream text;
    text << in.rdbuf();
    std::string manifest = text.str();
    const std::string field = "\"protocol_version\": 1";
    const size_t at = manifest.find(field);
    ASSERT_NE(at, std::string::npos);
    manifest.replace(at, field.size(), "\"protocol_version\": 99");
    std::ofstream(other / kClusterBackupManifest, std::ios::trunc) << manifest;
    status = RunRestore(target, other.string(), &output, "version");
    ASSERT_TRUE(WIFEXITED(status)) << output;
    EXPECT_EQ(WEXITSTATUS(status), 1) << output;
    EXPECT_NE(output.find("protocol version 99"), std::string::npos) << output;
    EXPECT_TRUE(NothingCreated(target, "version"));
  }
  const auto restore_start = Clock::now();
  std::string output;
  int status = RunRestore(target, backup.path(), &output);
  const double restore_seconds =
      std::chrono::duration<double>(Clock::now() - restore_start).count();
  ASSERT_TRUE(WIFEXITED(status)) << output;
  ASSERT_EQ(WEXITSTATUS(status), 0) << output;
  EXPECT_NE(output.find("restored backup mid"), std::string::npos) << output;
  // Into a cluster that now has collections: refused, nothing changed.
  status = RunRestore(target, backup.path(), &output);
  ASSERT_TRUE(WIFEXITED(status)) << output;
  EXPECT_EQ(WEXITSTATUS(status), 1) << output;
  EXPECT_NE(output.find("is not empty"), std::string::npos) << output;

  for (const char* id : {"x", "y"}) ASSERT_TRUE(target.StartNode(id, {}, &error)) << error;
  Api x(target.Channel("x")), y(target.Channel("y"));
  ASSERT_TRUE(target.WaitForReady("x", "fashion", 2, 1)) << target.last_seen();
  // The replicas restored the cut snapshots (they did not replay the republished log).
  EXPECT_NE((target.NodeStderr("x") + target.NodeStderr("y")).find("restoring the snapshot at"),
            std::string::npos);
  const std::set<std::string> restored = AllIds(y, "fashion");
  EXPECT_EQ(restored.size(), backup.collections(1).item_count());
  // Every write acknowledged before the call is there; the deleted ones are not.
  for (int i = 0; i < kBase; ++i) {
    EXPECT_EQ(restored.count("f-" + std::to_string(i)), i < kDeleted ? 0u : 1u) << i;
  }
  std::vector<int> order;
  {
    std::lock_guard<std::mutex> lock(mutex);
    order = acked;
  }
  auto in_backup = [&](int batch) {
    int n = 0;
    for (int i = 0; i < kBatch; ++i) {
      n += static_cast<int>(restored.count("w-" + std::to_string(batch * kBatch + i)));
    }
    return n;
  };
  for (size_t k = 0; k < acked_before; ++k) {
    EXPECT_EQ(in_backup(order[k]), kBatch) << "batch " << order[k] << " acknowledged before";
  }
  // A prefix of the write order: whole batches, then at most one partial batch, then nothing.
  size_t whole = 0;
  while (whole < order.size() && in_backup(order[whole]) == kBatch) ++whole;
  for (size_t k = whole + 1; k < order.size(); ++k) {
    EXPECT_EQ(in_backup(order[k]), 0) << "batch " << order[k] << " after the cut";
  }
  std::cout << "restore: " << restore_seconds << " s; " << restored.size() << " items: " << whole
            << " whole writer batches of " << order.size() << " (" << acked_before
            << " acknowledged before the call)\n";

  // The source brought back to the cut (the writer's later items deleted): the same exact top-10.
  v1::DeleteItemsRequest later;
  later.set_collection("fashion");
  for (int batch : order) {
    for (int i = 0; i < kBatch; ++i) {
      const std::string id = "w-" + std::to_string(batch * kBatch + i);
      if (restored.count(id) == 0) later.add_ids(id);
    }
  }
  uint64_t sequence = 0;
  if (later.ids_size() > 0) {
    v1::DeleteItemsResponse response;
    ASSERT_TRUE(a.items->DeleteItems(Ctx().get(), later, &response).ok());
    sequence = response.sequence();
  }
  // ListItems has no min_sequence: its replicas may still be applying the deletes.
  std::set<std::string> source_ids;
  EXPECT_TRUE(WaitFor(
      [&] {
        source_ids = AllIds(a, "fashion");
        return source_ids == restored;
      },
      30))
      << source_ids.size() << " items in the source, " << restored.size() << " restored";
  for (int q = 0; q < 20; ++q) {
    const v1::Input input = FashionInput(images, 3900 + q);
    ExpectSameTopTen(ExactTopTen(a, "fashion", input, sequence),
                     ExactTopTen(q % 2 == 0 ? x : y, "live", input, 0), q);
  }
  // Records, models, aliases, items.
  v1::GetCollectionRequest get;
  get.set_name("empty");
  v1::Collection empty;
  ASSERT_TRUE(x.collections->GetCollection(Ctx().get(), get, &empty).ok());
  EXPECT_EQ(empty.cluster().shards(), 1u);
  v1::ListModelsRequest models_request;
  models_request.set_collection("fashion");
  v1::ListModelsResponse models;
  ASSERT_TRUE(y.models->ListModels(Ctx().get(), models_request, &models).ok());
  ASSERT_EQ(models.models_size(), 1);
  EXPECT_TRUE(models.models(0).serving());
  v1::ListAliasesResponse aliases;
  ASSERT_TRUE(x.collections->ListAliases(Ctx().get(), {}, &aliases).ok());
  ASSERT_EQ(aliases.aliases_size(), 1);
  EXPECT_EQ(aliases.aliases(0).collection(), "fashion");
  v1::GetItemRequest item_request;
  item_request.set_collection("fashion");
  item_request.set_id("w-0");
  v1::GetItemResponse from_source, from_restored;
  ASSERT_TRUE(a.items->GetItem(Ctx().get(), item_request, &from_source).ok());
  ASSERT_TRUE(x.items->GetItem(Ctx().get(), item_request, &from_restored).ok());
  EXPECT_EQ(from_source.item().SerializeAsString(), from_restored.item().SerializeAsString());
  // Datasets and finished jobs: listed as in the source, and the dataset trains.
  {
    v1::ListDatasetsRequest request;
    request.set_collection("fashion");
    v1::ListDatasetsResponse datasets;
    ASSERT_TRUE(x.training->ListDatasets(Ctx().get(), request, &datasets).ok());
    ASSERT_EQ(datasets.datasets_size(), 1);
    EXPECT_EQ(datasets.datasets(0).name(), "train");
    EXPECT_EQ(datasets.datasets(0).example_count(), 300u);
    v1::ListJobsRequest jobs_request;
    jobs_request.set_collection("fashion");
    v1::ListJobsResponse jobs;
    ASSERT_TRUE(y.training->ListJobs(Ctx().get(), jobs_request, &jobs).ok());
    ASSERT_EQ(jobs.jobs_size(), 1);
    EXPECT_EQ(jobs.jobs(0).id(), trained.id());
    EXPECT_EQ(jobs.jobs(0).state(), v1::JOB_STATE_SUCCEEDED);
    EXPECT_EQ(jobs.jobs(0).model_version(), 1u);
    EXPECT_EQ(jobs.jobs(0).history_size(), trained.history_size());
    EXPECT_EQ(jobs.jobs(0).end_time().seconds(), trained.end_time().seconds());
    v1::ResumeJobRequest resume;
    resume.set_job_id(trained.id());
    v1::Job resumed;
    grpc::Status refused = x.training->ResumeJob(Ctx().get(), resume, &resumed);
    EXPECT_EQ(refused.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
    EXPECT_NE(refused.error_message().find("only INTERRUPTED jobs"), std::string::npos)
        << refused.error_message();
    EXPECT_EQ(TrainPca(x, "fashion", "train", 8, /*promote=*/false).model_version(), 2u);
  }
  // The restored cluster takes writes.
  v1::UpsertRequest upsert;
  upsert.set_collection("live");
  v1::Item* item = upsert.add_items();
  item->set_id("after-restore");
  *item->mutable_input() = FashionInput(images, 3999);
  v1::UpsertResponse upserted;
  ASSERT_TRUE(x.items->Upsert(Ctx().get(), upsert, &upserted).ok());
  item_request.set_id("after-restore");
  item_request.set_min_sequence(upserted.sequence());
  EXPECT_TRUE(y.items->GetItem(Ctx().get(), item_request, &from_restored).ok());

  // DeleteBackup through a node that does not hold it: forwarded to the coordinator; gone from
  // every list and from the disk.
  v1::DeleteBackupRequest remove;
  remove.set_name("mid");
  v1::DeleteBackupResponse removed;
  grpc::Status deleted = elsewhere.collections->DeleteBackup(Ctx().get(), remove, &removed);
  ASSERT_TRUE(deleted.ok()) << deleted.error_message();
  EXPECT_EQ(removed.backup().name(), "mid");
  EXPECT_EQ(removed.backup().node(), coordinator);
  EXPECT_EQ(elsewhere.collections->DeleteBackup(Ctx().get(), remove, &removed).error_code(),
            grpc::StatusCode::NOT_FOUND);
  EXPECT_FALSE(fs::exists(backup.path()));
  v1::ListBackupsResponse listed;
  ASSERT_TRUE(via.collections->ListBackups(Ctx().get(), {}, &listed).ok());
  EXPECT_EQ(listed.backups_size(), 0);
  ASSERT_TRUE(elsewhere.collections->ListBackups(Ctx().get(), {}, &listed).ok());
  EXPECT_EQ(listed.backups_size(), 0);
  // The CLI drives them in cluster mode too (the same RPCs).
  auto cli = [&](std::vector<std::string> args, std::string* out) {
    args.insert(args.begin(), {BN_CLI, "--server", source.address(coordinator)});
    const int status = RunProgram(args, out);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  };
  std::string out;
  EXPECT_EQ(cli({"backups", "create", "by-cli"}, &out), 0) << out;
  EXPECT_NE(out.find("fashion="), std::string::npos) << out;
  EXPECT_EQ(cli({"backups", "list"}, &out), 0) << out;
  EXPECT_NE(out.find("by-cli"), std::string::npos) << out;
  EXPECT_EQ(cli({"backups", "restore", "by-cli"}, &out), 0) << out;
  EXPECT_NE(out.find("bottleneckd --cluster NATS_URLS --cluster-name NAME --restore "),
            std::string::npos)
      << out;
  EXPECT_EQ(cli({"backups", "delete", "by-cli"}, &out), 0) << out;
  EXPECT_EQ(cli({"backups", "delete", "by-cli"}, &out), 1) << out;
  EXPECT_NE(out.find("NOT_FOUND"), std::string::npos) << out;
  std::cout << "test took " << std::chrono::duration<double>(Clock::now() - test_start).count()
            << " s\n";
}

// A coordinator that dies after holding a replica (it never sends the cut): the replica resumes
// applying by itself within ClusterBackups::kHoldTimeout, and the late cut is refused. A second
// backup cannot hold a held replica; a release resumes it at once.
TEST(ClusterBackupTest, AHeldReplicaResumesByItselfAndALateCutIsRefused) {
  std::string error;
  ClusterHarness cluster;
  ASSERT_TRUE(cluster.StartNats(&error, 1)) << error;
  ASSERT_TRUE(cluster.StartNode("a", {}, &error)) << error;
  Api a(cluster.Channel("a"));
  ASSERT_TRUE(CreateFashionCollection(a, "held", 1, 1).ok());
  ASSERT_TRUE(cluster.WaitForReady("a", "held", 1)) << cluster.last_seen();
  auto connection = cluster.nats().Connect();
  ASSERT_TRUE(connection.ok()) << connection.status();
  nats::KvConfig config;
  config.bucket = "bottleneck_collections";
  auto bucket = (*connection)->EnsureKeyValue(config);
  ASSERT_TRUE(bucket.ok()) << bucket.status();
  auto record = (*bucket)->Get("held");
  ASSERT_TRUE(record.ok() && record->has_value());
  bottleneck::cluster::CollectionEntry entry;
  ASSERT_TRUE(entry.ParseFromString((*record)->value));

  auto shards = bottleneck::cluster::ShardService::NewStub(cluster.Channel("a"));
  auto call = [&](bottleneck::cluster::BackupShardRequest::Phase phase, uint64_t id,
                  uint64_t cut = 0) {
    bottleneck::cluster::BackupShardRequest request;
    request.set_protocol_version(cluster::kProtocolVersion);
    request.set_collection("held");
    request.set_incarnation(entry.incarnation());
    request.set_shard(0);
    request.set_backup_id(id);
    request.set_phase(phase);
    request.set_cut(cut);
    bottleneck::cluster::BackupShardResponse response;
    return shards->BackupShard(Ctx(10).get(), request, &response);
  };
  const LabeledImages& images = Fashion(DatasetSplit::kTest, 10);
  int written = 0;
  auto write = [&]() {
    v1::UpsertRequest request;
    request.set_collection("held");
    v1::Item* item = request.add_items();
    item->set_id("i-" + std::to_string(written));
    *item->mutable_input() = FashionInput(images, written % 10);
    ++written;
    v1::UpsertResponse response;
    EXPECT_TRUE(a.items->Upsert(Ctx().get(), request, &response).ok());
    return response.sequence();
  };
  auto applied = [&](uint64_t sequence, int seconds) {
    v1::GetItemRequest request;
    request.set_collection("held");
    request.set_id("i-" + std::to_string(written - 1));
    request.set_min_sequence(sequence);
    v1::GetItemResponse response;
    return a.items->GetItem(Ctx(seconds).get(), request, &response).ok();
  };

  using Phase = bottleneck::cluster::BackupShardRequest;
  ASSERT_TRUE(call(Phase::HOLD, 42).ok());
  const auto held = Clock::now();
  EXPECT_EQ(call(Phase::HOLD, 43).error_code(), grpc::StatusCode::UNAVAILABLE);
  uint64_t sequence = write();
  EXPECT_FALSE(applied(sequence, 1)) << "the held replica applied a write";
  EXPECT_TRUE(WaitFor([&] { return applied(sequence, 2); }, 15));
  const double resumed = std::chrono::duration<double>(Clock::now() - held).count();
  EXPECT_LT(resumed, 7.0);
  grpc::Status late = call(Phase::CUT, 42, sequence);
  EXPECT_EQ(late.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << late.error_message();
  std::cout << "held replica resumed by itself after " << resumed << " s\n";

  ASSERT_TRUE(call(Phase::HOLD, 44).ok());
  sequence = write();
  EXPECT_FALSE(applied(sequence, 1));
  const auto released = Clock::now();
  ASSERT_TRUE(call(Phase::RELEASE, 44).ok());
  EXPECT_TRUE(applied(sequence, 10));
  const double after_release = std::chrono::duration<double>(Clock::now() - released).count();
  EXPECT_LT(after_release, 3.0);
  std::cout << "released replica applied within " << after_release << " s\n";
}

// The coordinator SIGKILLed during a backup, while it waits for the hold of a shard whose node
// is stopped (SIGSTOP): no backup becomes visible on any node; the replicas it already held
// resume by themselves within the hold timeout; after the coordinator's restart a backup of the
// same name succeeds (its hidden .tmp- directory is no obstacle).
TEST(ClusterBackupTest, CoordinatorKilledMidBackupLeavesNoBackupAndHeldReplicasResume) {
  std::string error;
  ClusterHarness cluster;
  ASSERT_TRUE(cluster.StartNats(&error, 1)) << error;
  const std::vector<std::string> nodes = {"a", "b", "c"};
  for (const auto& id : nodes) ASSERT_TRUE(cluster.StartNode(id, {}, &error)) << error;
  Api a(cluster.Channel("a"));
  ASSERT_TRUE(CreateFashionCollection(a, "k", 6, 1).ok());
  ASSERT_TRUE(cluster.WaitForReady("a", "k", 1)) << cluster.last_seen();
  v1::GetCollectionRequest get;
  get.set_name("k");
  v1::Collection collection;
  ASSERT_TRUE(a.collections->GetCollection(Ctx().get(), get, &collection).ok());
  std::vector<std::string> owner;
  for (const auto& shard : collection.cluster().shard_status()) {
    ASSERT_EQ(shard.placement_size(), 1);
    owner.push_back(shard.placement(0));
  }
  // Shards are held in order, and the hold of the first shard on the stopped node blocks: pick
  // roles so that the third node ("writer_node") owns a shard before that one (it is then held).
  std::string stopped, coordinator, writer_node;
  std::vector<std::string> roles = nodes;
  std::sort(roles.begin(), roles.end());
  do {
    const auto first_stopped = std::find(owner.begin(), owner.end(), roles[0]);
    if (first_stopped != owner.end() &&
        std::find(owner.begin(), first_stopped, roles[2]) != first_stopped) {
      stopped = roles[0];
      coordinator = roles[1];
      writer_node = roles[2];
      break;
    }
  } while (std::next_permutation(roles.begin(), roles.end()));
  ASSERT_FALSE(stopped.empty()) << "no such placement: " << collection.cluster().DebugString();
  Api via(cluster.Channel(coordinator)), other(cluster.Channel(writer_node));
  const LabeledImages& images = Fashion(DatasetSplit::kTest, 400);
  UpsertFashion(other, "k", images, 0, 400, "k-", 100);

  ASSERT_EQ(kill(cluster.Pid(stopped), SIGSTOP), 0);
  grpc::Status created;
  std::thread backup([&] {
    v1::CreateBackupRequest request;
    request.set_name("doomed");
    v1::Backup response;
    created = via.collections->CreateBackup(Ctx(120).get(), request, &response);
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  cluster.KillNode(coordinator);
  const auto killed = Clock::now();
  backup.join();
  EXPECT_FALSE(created.ok());
  // Shards on the node that is neither stopped nor the coordinator: held, then free again.
  std::vector<uint32_t> free_shards;
  for (uint32_t s = 0; s < owner.size(); ++s) {
    if (owner[s] == writer_node) free_shards.push_back(s);
  }
  double resumed = 0;
  for (uint32_t shard : free_shards) {
    std::string item_id;
    for (int n = 0; item_id.empty(); ++n) {
      const std::string candidate = "after-" + std::to_string(n);
      if (cluster::ShardOf(candidate, 6) == shard) item_id = candidate;
    }
    v1::UpsertRequest upsert;
    upsert.set_collection("k");
    v1::Item* item = upsert.add_items();
    item->set_id(item_id);
    *item->mutable_input() = FashionInput(images, 0);
    v1::UpsertResponse upserted;
    ASSERT_TRUE(other.items->Upsert(Ctx().get(), upsert, &upserted).ok());
    v1::GetItemRequest read;
    read.set_collection("k");
    read.set_id(item_id);
    read.set_min_sequence(upserted.sequence());
    v1::GetItemResponse response;
    grpc::Status got = other.items->GetItem(Ctx(15).get(), read, &response);
    EXPECT_TRUE(got.ok()) << got.error_message();
    resumed = std::chrono::duration<double>(Clock::now() - killed).count();
  }
  ASSERT_EQ(kill(cluster.Pid(stopped), SIGCONT), 0);
  const std::string log = cluster.NodeStderr(writer_node);
  const bool expired = log.find("expired before its cut") != std::string::npos;
  std::cout << "coordinator " << coordinator << " killed while waiting for " << stopped << " ("
            << created.error_message() << "); " << writer_node << "'s " << free_shards.size()
            << " shards (at least one held) apply new writes " << resumed << " s after the kill\n";
  EXPECT_TRUE(expired) << "a shard of " << writer_node << " was held: its hold expires";
  EXPECT_LT(resumed, 5.5);
  v1::ListBackupsResponse listed;
  ASSERT_TRUE(other.collections->ListBackups(Ctx().get(), {}, &listed).ok());
  EXPECT_EQ(listed.backups_size(), 0);

  ASSERT_TRUE(cluster.StartNode(coordinator, {}, &error)) << error;
  Api restarted(cluster.Channel(coordinator));
  ASSERT_TRUE(restarted.collections->ListBackups(Ctx().get(), {}, &listed).ok());
  EXPECT_EQ(listed.backups_size(), 0);
  ASSERT_TRUE(cluster.WaitForReady(coordinator, "k", 1)) << cluster.last_seen();
  v1::CreateBackupRequest request;
  request.set_name("doomed");
  v1::Backup again;
  grpc::Status retried = restarted.collections->CreateBackup(Ctx(120).get(), request, &again);
  ASSERT_TRUE(retried.ok()) << retried.error_message();
  ASSERT_EQ(again.collections_size(), 1);
  EXPECT_EQ(again.collections(0).item_count(), 400u + free_shards.size());
}

// A restore that fails midway (the target's JetStream runs out of file storage after the first
// collection) removes what it wrote: no key in any bucket, no log stream, no blob or snapshot
// message left, so the target is fresh again. Then, with the storage there: a live restore's
// journal refuses another; a restore killed midway is cleaned up by the next, which restores
// (a copy whose first collection was mid-promotion at the cut: it then serves the model).
TEST(ClusterBackupTest, ARestoreThatFailsMidwayRemovesWhatItWroteAndThenRunsAgain) {
  std::string error;
  ClusterHarness source;
  ASSERT_TRUE(source.StartNats(&error, 1)) << error;
  ASSERT_TRUE(source.StartNode("a", {}, &error)) << error;
  Api a(source.Channel("a"));
  const LabeledImages& images = Fashion(DatasetSplit::kTrain, 3000);
  for (const char* name : {"a-small", "b-large"}) {
    ASSERT_TRUE(CreateFashionCollection(a, name, 1, 1).ok());
    ASSERT_TRUE(UploadFashion(a, name, "train", 200).ok());
    ASSERT_EQ(TrainPca(a, name, "train", 8, /*promote=*/true).model_version(), 1u);
    ASSERT_TRUE(WaitForServing(a, name, 1));
  }
  UpsertFashion(a, "a-small", images, 0, 100, "s-");
  UpsertFashion(a, "b-large", images, 0, 3000, "l-");
  {
    v1::CreateAliasRequest request;
    request.set_name("live");
    request.set_collection("b-large");
    v1::Alias alias;
    ASSERT_TRUE(a.collections->CreateAlias(Ctx().get(), request, &alias).ok());
  }
  v1::CreateBackupRequest create;
  create.set_name("full");
  v1::Backup backup;
  grpc::Status created = a.collections->CreateBackup(Ctx(120).get(), create, &backup);
  ASSERT_TRUE(created.ok()) << created.error_message();
  ASSERT_EQ(backup.collections_size(), 2);
  EXPECT_EQ(backup.collections(1).item_count(), 3000u);
  EXPECT_EQ(backup.collections(0).serving_model_version(), 1u);
  EXPECT_EQ(backup.collections(1).serving_model_version(), 1u);

  // The target's JetStream may store about the backup's size: the small collection fits, the
  // large one's log and snapshot (each about its share of the backup) do not.
  ClusterHarness target;
  target.nats().set_jetstream_options("max_file_store: " + std::to_string(backup.size_bytes()));
  ASSERT_TRUE(target.StartNats(&error, 1)) << error;
  std::string output;
  int status = RunRestore(target, backup.path(), &output);
  ASSERT_TRUE(WIFEXITED(status)) << output;
  ASSERT_EQ(WEXITSTATUS(status), 1) << output;
  EXPECT_NE(output.find("the restore failed at collection 'b-large'"), std::string::npos) << output;
  EXPECT_NE(output.find("everything it had written was removed"), std::string::npos) << output;
  // "a-small" was restored whole before the failure (its record, then b-large's data).
  EXPECT_NE(output.find("restore: collection a-small"), std::string::npos) << output;
  {
    auto connection = target.nats().Connect();
    ASSERT_TRUE(connection.ok()) << connection.status();
    for (const char* bucket :
         {"collections", "aliases", "models", "snapshots", "datasets", "jobs"}) {
      nats::KvConfig config;
      config.bucket = std::string("bottleneck_") + bucket;
      auto kv = (*connection)->EnsureKeyValue(config);
      ASSERT_TRUE(kv.ok()) << kv.status();
      auto keys = (*kv)->Keys();
      ASSERT_TRUE(keys.ok()) << keys.status();
      EXPECT_TRUE(keys->empty()) << bucket << ": " << keys->front();
    }
    for (const char* stream : {"bottleneck_BLOBS", "bottleneck_SNAPSHOTS"}) {
      auto state = (*connection)->GetStream(stream);
      ASSERT_TRUE(state.ok()) << state.status();
      EXPECT_EQ(state->messages, 0u) << stream;
    }
    EXPECT_EQ(target.nats().StreamNames("bottleneck_").size(), 2u);  // BLOBS and SNAPSHOTS.
    EXPECT_TRUE(target.nats().StreamNames("bottleneck_LOG_").empty()) << "a log stream is left";
  }
  // With the storage there (the same server restarted without the limit), it runs. The copy
  // restored has a-small's record as a backup taken mid-promotion has it (serving nothing yet,
  // model v1 the target): the promotion goes on in the restored cluster.
  const fs::path copy = fs::path(target.dir()) / "mid-promotion";
  fs::copy(backup.path(), copy);
  {
    auto manifest = cluster::ReadClusterBackup(copy.string());
    ASSERT_TRUE(manifest.ok()) << manifest.status();
    auto* entry = manifest->mutable_collections(0)->mutable_entry();
    ASSERT_EQ(entry->collection().name(), "a-small");
    entry->set_serving_version(0);
    entry->set_promotion_target(1);
    entry->set_promotion_start_unix(std::time(nullptr));
    std::string json;
    ASSERT_TRUE(google::protobuf::util::MessageToJsonString(*manifest, &json).ok());
    std::ofstream(copy / kClusterBackupManifest, std::ios::trunc) << json;
  }
  target.nats().set_jetstream_options("");
  ASSERT_TRUE(target.nats().Restart(0, &error)) << error;
  // A journal of a restore on another host that is alive: refused, nothing changed. Once it is
  // 20 s old (its restore gone), the next restore removes it and goes on.
  {
    auto connection = target.nats().Connect();
    ASSERT_TRUE(connection.ok()) << connection.status();
    nats::KvConfig config;
    config.bucket = "bottleneck_meta";
    auto meta = (*connection)->EnsureKeyValue(config);
    ASSERT_TRUE(meta.ok()) << meta.status();
    bottleneck::cluster::RestoreJournal other;
    other.set_backup("elsewhere");
    other.set_host("another-host");
    other.set_pid(1);
    other.set_alive_unix_ms(std::chrono::duration_cast<std::chrono::milliseconds>(
                                std::chrono::system_clock::now().time_since_epoch())
                                .count());
    ASSERT_TRUE((*meta)->Put("restore", other.SerializeAsString()).ok());
    status = RunRestore(target, copy.string(), &output);
    ASSERT_TRUE(WIFEXITED(status)) << output;
    EXPECT_EQ(WEXITSTATUS(status), 1) << output;
    EXPECT_NE(output.find("another restore (of backup elsewhere, process 1 on another-host)"),
              std::string::npos)
        << output;
    EXPECT_TRUE(target.nats().StreamNames("bottleneck_LOG_").empty());
    other.set_alive_unix_ms(other.alive_unix_ms() - 20000);
    ASSERT_TRUE((*meta)->Put("restore", other.SerializeAsString()).ok());
  }
  // A restore killed midway (test hook: SIGKILL right after a-small's record) leaves a partial
  // target and its journal; the next restore on this host sees that process gone, removes what
  // it wrote, and restores.
  setenv("BN_TEST_RESTORE_KILL_AFTER", "a-small", 1);
  status = RunRestore(target, copy.string(), &output);
  unsetenv("BN_TEST_RESTORE_KILL_AFTER");
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << output;
  EXPECT_EQ(target.nats().StreamNames("bottleneck_LOG_a-small_").size(), 1u);
  EXPECT_TRUE(target.nats().StreamNames("bottleneck_LOG_b-large_").empty());
  status = RunRestore(target, copy.string(), &output);
  ASSERT_TRUE(WIFEXITED(status)) << output;
  ASSERT_EQ(WEXITSTATUS(status), 0) << output;
  EXPECT_NE(output.find("did not finish: removing what it began (1 collections, 0 aliases)"),
            std::string::npos)
      << output;
  // Only the second restore's logs remain.
  EXPECT_EQ(target.nats().StreamNames("bottleneck_LOG_a-small_").size(), 1u);
  EXPECT_EQ(target.nats().StreamNames("bottleneck_LOG_b-large_").size(), 1u);
  ASSERT_TRUE(target.StartNode("x", {}, &error)) << error;
  Api x(target.Channel("x"));
  ASSERT_TRUE(target.WaitForReady("x", "b-large", 1, 1))
      << target.last_seen() << output << target.NodeStderr("x");
  EXPECT_EQ(AllIds(x, "live").size(), 3000u);
  EXPECT_TRUE(WaitForServing(x, "a-small", 1));
  EXPECT_EQ(AllIds(x, "a-small").size(), 100u);
}

}  // namespace
}  // namespace bn::testing
