// Backups (issue 24) against the real server over gRPC: a backup taken while an upsert stream
// runs, restored into a fresh data directory by a second server (`bottleneckd --restore`), holds
// every item acknowledged before CreateBackup was called and answers searches identically; bad
// names, an existing backup, a non-empty restore target and a directory that is not a backup get
// precise errors and change nothing. DeleteBackup removes one backup and nothing else.
#include <sys/wait.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

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
namespace fs = std::filesystem;
using Code = grpc::StatusCode;

constexpr int kSide = 8;
constexpr int kBaseItems = 200;

v1::Input RandomImage(std::mt19937* rng) {
  std::string pixels(kSide * kSide, '\0');
  for (char& p : pixels) p = static_cast<char>((*rng)() & 0xff);
  return RawGrey(kSide, kSide, pixels);
}

void AddItem(v1::UpsertRequest* upsert, const std::string& id, const v1::Input& input,
             const std::string& phase) {
  v1::Item* item = upsert->add_items();
  item->set_id(id);
  *item->mutable_input() = input;
  item->set_label(id.substr(0, 1));
  (*item->mutable_metadata())["phase"] = phase;
}

// Ids and distances of a search, in order.
std::vector<std::pair<std::string, float>> Hits(const v1::SearchResponse& r) {
  std::vector<std::pair<std::string, float>> hits;
  for (const auto& n : r.neighbors()) hits.emplace_back(n.id(), n.distance());
  return hits;
}

std::vector<std::string> Entries(const std::string& dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) names.push_back(e.path().filename());
  std::sort(names.begin(), names.end());
  return names;
}

int ExitCode(int status) { return WIFEXITED(status) ? WEXITSTATUS(status) : -1; }

class BackupTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string error;
    // Snapshots every second, so that backups carry index snapshots too.
    server_ = ServerProcess::Start(dir_.Sub("data"), {"--snapshot-interval-seconds", "1"}, &error);
    ASSERT_NE(server_, nullptr) << error;
    Connect(server_->Channel(), &collections_, &items_, &query_);
    v1::CreateCollectionRequest create;
    create.set_name("img");
    create.mutable_spec()->mutable_image()->set_height(kSide);
    create.mutable_spec()->mutable_image()->set_width(kSide);
    create.mutable_spec()->mutable_image()->set_channels(1);
    v1::Collection c;
    ASSERT_TRUE(collections_->CreateCollection(Ctx().get(), create, &c).ok());
    auto training = v1::TrainingService::NewStub(server_->Channel());
    std::vector<v1::Input> examples;
    for (int i = 0; i < 60; ++i) examples.push_back(RandomImage(&rng_));
    ASSERT_TRUE(UploadExamples(training.get(), "img", "train", examples).ok());
    ASSERT_EQ(TrainPcaAndServe(training.get(), collections_.get(), "img", "train", 6), 1u);
    v1::UpsertRequest upsert;
    upsert.set_collection("img");
    for (int i = 0; i < kBaseItems; ++i) {
      AddItem(&upsert, "b" + std::to_string(i), RandomImage(&rng_), "base");
    }
    v1::UpsertResponse r;
    ASSERT_TRUE(items_->Upsert(Ctx().get(), upsert, &r).ok());
  }

  static void Connect(const std::shared_ptr<grpc::Channel>& channel,
                      std::unique_ptr<v1::CollectionService::Stub>* collections,
                      std::unique_ptr<v1::ItemService::Stub>* items,
                      std::unique_ptr<v1::QueryService::Stub>* query) {
    *collections = v1::CollectionService::NewStub(channel);
    *items = v1::ItemService::NewStub(channel);
    *query = v1::QueryService::NewStub(channel);
  }

  // Every item id of the collection, through ListItems.
  static std::set<std::string> AllIds(v1::ItemService::Stub* items) {
    std::set<std::string> ids;
    v1::ListItemsRequest list;
    list.set_collection("img");
    list.set_page_size(1000);
    for (;;) {
      v1::ListItemsResponse page;
      grpc::Status s = items->ListItems(Ctx().get(), list, &page);
      EXPECT_TRUE(s.ok()) << s.error_message();
      if (!s.ok()) break;
      for (const auto& item : page.items()) ids.insert(item.item().id());
      if (page.next_page_token().empty()) break;
      list.set_page_token(page.next_page_token());
    }
    return ids;
  }

  // Searches by the stored items q0..: k=10, optionally only among the base items, optionally
  // exact.
  static std::vector<std::vector<std::pair<std::string, float>>> Searches(
      v1::QueryService::Stub* query, bool base_only, bool exact) {
    std::vector<std::vector<std::pair<std::string, float>>> all;
    for (int q = 0; q < kBaseItems; q += 20) {
      v1::SearchRequest search;
      search.set_collection("img");
      search.set_item_id("b" + std::to_string(q));
      search.set_k(10);
      search.set_exact(exact);
      if (base_only) {
        search.mutable_filter()->mutable_match()->set_metadata_key("phase");
        search.mutable_filter()->mutable_match()->add_values("base");
      }
      v1::SearchResponse r;
      grpc::Status s = query->Search(Ctx().get(), search, &r);
      EXPECT_TRUE(s.ok()) << s.error_message();
      EXPECT_EQ(r.neighbors_size(), 10);
      all.push_back(Hits(r));
    }
    return all;
  }

  grpc::Status Backup(const std::string& name, v1::Backup* backup) {
    v1::CreateBackupRequest request;
    request.set_name(name);
    return collections_->CreateBackup(Ctx(120).get(), request, backup);
  }

  std::mt19937 rng_{7};
  TempDir dir_;
  std::unique_ptr<ServerProcess> server_;
  std::unique_ptr<v1::CollectionService::Stub> collections_;
  std::unique_ptr<v1::ItemService::Stub> items_;
  std::unique_ptr<v1::QueryService::Stub> query_;
};

TEST_F(BackupTest, BackupUnderWritesRestoresEveryAcknowledgedItemWithIdenticalSearches) {
  const auto base_hits = Searches(query_.get(), /*base_only=*/true, /*exact=*/false);
  // An upsert stream in another thread: one item per call, each id recorded once acknowledged.
  std::mutex mutex;
  std::vector<std::string> acked;
  std::atomic<bool> stop{false};
  std::atomic<int> failures{0};
  std::thread writer([&] {
    auto items = v1::ItemService::NewStub(server_->Channel());
    std::mt19937 rng(11);
    for (int i = 0; !stop; ++i) {
      v1::UpsertRequest upsert;
      upsert.set_collection("img");
      const std::string id = "w" + std::to_string(i);
      AddItem(&upsert, id, RandomImage(&rng), "live");
      v1::UpsertResponse r;
      if (!items->Upsert(Ctx().get(), upsert, &r).ok()) {
        ++failures;
        continue;
      }
      std::lock_guard<std::mutex> lock(mutex);
      acked.push_back(id);
    }
  });
  auto acked_count = [&] {
    std::lock_guard<std::mutex> lock(mutex);
    return acked.size();
  };
  ASSERT_TRUE(Eventually([&] { return acked_count() >= 30; }));
  std::vector<std::string> before;
  {
    std::lock_guard<std::mutex> lock(mutex);
    before = acked;
  }
  v1::Backup backup;
  grpc::Status s = Backup("under-writes", &backup);
  const size_t at_return = acked_count();
  // Writes went on during the backup and after it.
  ASSERT_TRUE(Eventually([&] { return acked_count() >= at_return + 10; }));
  stop = true;
  writer.join();
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(failures.load(), 0);

  // The manifest.
  EXPECT_EQ(backup.name(), "under-writes");
  EXPECT_EQ(backup.path(), fs::absolute(dir_.Sub("data/backups/under-writes")).string());
  ASSERT_EQ(backup.collections_size(), 1);
  EXPECT_EQ(backup.collections(0).name(), "img");
  EXPECT_EQ(backup.collections(0).serving_model_version(), 1u);
  EXPECT_GE(backup.collections(0).item_count(), kBaseItems + before.size());
  EXPECT_GT(backup.store_sequence(), 0u);
  EXPECT_GT(backup.size_bytes(), 0u);
  EXPECT_EQ(Entries(dir_.Sub("data/backups")), std::vector<std::string>{"under-writes"});
  v1::ListBackupsResponse listed;
  ASSERT_TRUE(collections_->ListBackups(Ctx().get(), {}, &listed).ok());
  ASSERT_EQ(listed.backups_size(), 1);
  EXPECT_EQ(listed.backups(0).name(), "under-writes");
  EXPECT_EQ(listed.backups(0).store_sequence(), backup.store_sequence());

  // Restore into a fresh data directory with a second server.
  std::string error;
  auto restored = ServerProcess::Start(dir_.Sub("restored"), {"--restore", backup.path()}, &error);
  ASSERT_NE(restored, nullptr) << error;
  std::unique_ptr<v1::CollectionService::Stub> r_collections;
  std::unique_ptr<v1::ItemService::Stub> r_items;
  std::unique_ptr<v1::QueryService::Stub> r_query;
  Connect(restored->Channel(), &r_collections, &r_items, &r_query);
  const std::set<std::string> ids = AllIds(r_items.get());
  EXPECT_EQ(ids.size(), backup.collections(0).item_count());
  for (int i = 0; i < kBaseItems; ++i) EXPECT_EQ(ids.count("b" + std::to_string(i)), 1u) << i;
  for (const std::string& id : before) EXPECT_EQ(ids.count(id), 1u) << id;
  // Nothing after the cut that was not written: every restored live item was acknowledged.
  {
    std::lock_guard<std::mutex> lock(mutex);
    const std::set<std::string> all_acked(acked.begin(), acked.end());
    for (const std::string& id : ids) {
      if (id[0] == 'w') {
        EXPECT_EQ(all_acked.count(id), 1u) << id;
      }
    }
  }
  v1::GetCollectionRequest get;
  get.set_name("img");
  v1::Collection c;
  ASSERT_TRUE(r_collections->GetCollection(Ctx().get(), get, &c).ok());
  EXPECT_EQ(c.stats().serving_model_version(), 1u);
  EXPECT_EQ(c.stats().item_count(), backup.collections(0).item_count());
  EXPECT_EQ(c.stats().pending_item_count(), 0u);  // Every restored item is indexed.
  // Searches among the items both servers hold answer identically.
  EXPECT_EQ(Searches(r_query.get(), true, false), base_hits);
  EXPECT_EQ(Searches(r_query.get(), true, false), Searches(query_.get(), true, false));

  // With the writes stopped, a second backup restores to a server that answers every search,
  // exact or through the index, exactly as the original does.
  v1::Backup quiet;
  ASSERT_TRUE(Backup("quiet", &quiet).ok());
  auto second = ServerProcess::Start(dir_.Sub("restored2"), {"--restore", quiet.path()}, &error);
  ASSERT_NE(second, nullptr) << error;
  std::unique_ptr<v1::CollectionService::Stub> s_collections;
  std::unique_ptr<v1::ItemService::Stub> s_items;
  std::unique_ptr<v1::QueryService::Stub> s_query;
  Connect(second->Channel(), &s_collections, &s_items, &s_query);
  EXPECT_EQ(AllIds(s_items.get()), AllIds(items_.get()));
  EXPECT_EQ(Searches(s_query.get(), false, true), Searches(query_.get(), false, true));
  EXPECT_EQ(Searches(s_query.get(), false, false), Searches(query_.get(), false, false));
  ASSERT_TRUE(collections_->ListBackups(Ctx().get(), {}, &listed).ok());
  ASSERT_EQ(listed.backups_size(), 2);
  EXPECT_EQ(listed.backups(0).name(), "under-writes")  // Oldest first.
      << listed.DebugString();
  EXPECT_EQ(listed.backups(1).name(), "quiet");
}

TEST_F(BackupTest, BadInputGetsPreciseErrorsAndChangesNothing) {
  v1::Backup backup;
  for (const std::string& bad :
       std::vector<std::string>{"../up", "a/b", ".hidden", "x.y", std::string(65, 'n')}) {
    grpc::Status s = Backup(bad, &backup);
    EXPECT_EQ(s.error_code(), Code::INVALID_ARGUMENT) << bad << ": " << s.error_message();
  }
  EXPECT_FALSE(fs::exists(dir_.Sub("data/backups")));
  EXPECT_FALSE(fs::exists(dir_.Sub("data/up")));
  ASSERT_TRUE(Backup("first", &backup).ok());
  grpc::Status again = Backup("first", &backup);
  EXPECT_EQ(again.error_code(), Code::ALREADY_EXISTS) << again.error_message();
  EXPECT_NE(again.error_message().find("'first' already exists"), std::string::npos);
  EXPECT_EQ(Entries(dir_.Sub("data/backups")), std::vector<std::string>{"first"});
  // An empty name gets a time-stamped one.
  v1::Backup named;
  ASSERT_TRUE(Backup("", &named).ok());
  EXPECT_EQ(named.name().rfind("backup-", 0), 0u) << named.name();

  const std::string path = dir_.Sub("data/backups/first");
  std::string out;
  // A non-empty target: refused, exit 1, the directory unchanged.
  fs::create_directories(dir_.Sub("busy"));
  std::ofstream(dir_.Sub("busy/keep.txt")) << "mine";
  int status = RunProgram({BN_BOTTLENECKD, "--listen", "127.0.0.1:0", "--restore", path,
                           "--data-dir", dir_.Sub("busy")},
                          &out);
  EXPECT_EQ(ExitCode(status), 1) << out;
  EXPECT_NE(out.find("is not empty (it holds 'keep.txt')"), std::string::npos) << out;
  EXPECT_EQ(Entries(dir_.Sub("busy")), std::vector<std::string>{"keep.txt"});
  // A directory that is not a backup: refused before the target is touched.
  status = RunProgram({BN_BOTTLENECKD, "--listen", "127.0.0.1:0", "--restore", dir_.Sub("data"),
                       "--data-dir", dir_.Sub("fresh")},
                      &out);
  EXPECT_EQ(ExitCode(status), 1) << out;
  EXPECT_NE(out.find("is not a backup"), std::string::npos) << out;
  EXPECT_FALSE(fs::exists(dir_.Sub("fresh")));
  // --restore with --follow is a usage error.
  status = RunProgram({BN_BOTTLENECKD, "--restore", path, "--data-dir", dir_.Sub("fresh"),
                       "--follow", dir_.Sub("data")},
                      &out);
  EXPECT_EQ(ExitCode(status), 2) << out;
  EXPECT_FALSE(fs::exists(dir_.Sub("fresh")));
  // The CLI: restore of an unknown backup is NOT_FOUND; of a known one, the server-side command.
  status = RunProgram({BN_CLI, "--server", server_->address(), "backups", "restore", "nope",
                       "--data-dir", dir_.Sub("fresh")},
                      &out);
  EXPECT_EQ(ExitCode(status), 1) << out;
  EXPECT_NE(out.find("NOT_FOUND"), std::string::npos) << out;
  status = RunProgram({BN_CLI, "--server", server_->address(), "backups", "restore", "first",
                       "--data-dir", dir_.Sub("fresh")},
                      &out);
  EXPECT_EQ(ExitCode(status), 0) << out;
  EXPECT_NE(out.find("bottleneckd --restore " + fs::absolute(path).string() + " --data-dir " +
                     dir_.Sub("fresh")),
            std::string::npos)
      << out;
  status = RunProgram({BN_CLI, "--server", server_->address(), "backups", "list"}, &out);
  EXPECT_EQ(ExitCode(status), 0) << out;
  EXPECT_NE(out.find("first"), std::string::npos) << out;
  EXPECT_FALSE(fs::exists(dir_.Sub("fresh")));
  // The original still serves every item.
  EXPECT_EQ(AllIds(items_.get()).size(), static_cast<size_t>(kBaseItems));
}

// DeleteBackup: the backup disappears from the listing and the directory; the store, whose files
// it shared by hard links, and the other backups are untouched (the other one still restores);
// bad names, missing backups and a directory that is not a backup get precise errors and change
// nothing; a left-over of a deletion interrupted by a crash is never listed and is removed by the
// next deletion; the CLI deletes too.
TEST_F(BackupTest, DeleteBackupRemovesItAndNothingElse) {
  v1::Backup keep, gone;
  ASSERT_TRUE(Backup("keep", &keep).ok());
  ASSERT_TRUE(Backup("gone", &gone).ok());
  const std::string backups = dir_.Sub("data/backups");
  fs::create_directories(backups + "/stray/db");          // Not a backup: no manifest.
  fs::create_directories(backups + "/.deleting-old/db");  // A crash mid-deletion left this.
  std::ofstream(backups + "/.deleting-old/db/CURRENT") << "MANIFEST-000001\n";
  const std::vector<std::string> all = {".deleting-old", "gone", "keep", "stray"};
  ASSERT_EQ(Entries(backups), all);
  v1::ListBackupsResponse listed;
  ASSERT_TRUE(collections_->ListBackups(Ctx().get(), {}, &listed).ok());
  ASSERT_EQ(listed.backups_size(), 2);

  auto remove = [&](const std::string& name, v1::DeleteBackupResponse* response) {
    v1::DeleteBackupRequest request;
    request.set_name(name);
    return collections_->DeleteBackup(Ctx().get(), request, response);
  };
  v1::DeleteBackupResponse response;
  for (const std::string& bad : std::vector<std::string>{"", "../keep", "keep/db", ".deleting-old",
                                                         "x.y", std::string(65, 'n')}) {
    grpc::Status s = remove(bad, &response);
    EXPECT_EQ(s.error_code(), Code::INVALID_ARGUMENT) << bad << ": " << s.error_message();
  }
  for (const std::string missing : {"nope", "stray"}) {
    grpc::Status s = remove(missing, &response);
    EXPECT_EQ(s.error_code(), Code::NOT_FOUND) << missing << ": " << s.error_message();
    EXPECT_NE(s.error_message().find("backup '" + missing + "' not found"), std::string::npos)
        << s.error_message();
  }
  EXPECT_EQ(Entries(backups), all);

  grpc::Status s = remove("gone", &response);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(response.backup().name(), "gone");
  EXPECT_EQ(response.backup().path(), gone.path());
  EXPECT_EQ(response.backup().store_sequence(), gone.store_sequence());
  EXPECT_EQ(Entries(backups), (std::vector<std::string>{"keep", "stray"}));
  ASSERT_TRUE(collections_->ListBackups(Ctx().get(), {}, &listed).ok());
  ASSERT_EQ(listed.backups_size(), 1);
  EXPECT_EQ(listed.backups(0).name(), "keep");
  s = remove("gone", &response);
  EXPECT_EQ(s.error_code(), Code::NOT_FOUND) << s.error_message();

  // The store still serves everything, takes writes, and the other backup restores.
  const auto hits = Searches(query_.get(), false, true);
  EXPECT_EQ(AllIds(items_.get()).size(), static_cast<size_t>(kBaseItems));
  v1::UpsertRequest upsert;
  upsert.set_collection("img");
  AddItem(&upsert, "after", RandomImage(&rng_), "live");
  v1::UpsertResponse upserted;
  ASSERT_TRUE(items_->Upsert(Ctx().get(), upsert, &upserted).ok());
  std::string error;
  auto restored = ServerProcess::Start(dir_.Sub("restored"), {"--restore", keep.path()}, &error);
  ASSERT_NE(restored, nullptr) << error;
  std::unique_ptr<v1::CollectionService::Stub> r_collections;
  std::unique_ptr<v1::ItemService::Stub> r_items;
  std::unique_ptr<v1::QueryService::Stub> r_query;
  Connect(restored->Channel(), &r_collections, &r_items, &r_query);
  EXPECT_EQ(AllIds(r_items.get()).size(), static_cast<size_t>(kBaseItems));
  EXPECT_EQ(Searches(r_query.get(), false, true), hits);

  // The CLI.
  std::string out;
  int status =
      RunProgram({BN_CLI, "--server", server_->address(), "backups", "delete", "keep"}, &out);
  EXPECT_EQ(ExitCode(status), 0) << out;
  EXPECT_NE(out.find("deleted backup keep (" + keep.path() + ")"), std::string::npos) << out;
  status = RunProgram({BN_CLI, "--server", server_->address(), "backups", "delete", "keep"}, &out);
  EXPECT_EQ(ExitCode(status), 1) << out;
  EXPECT_NE(out.find("NOT_FOUND"), std::string::npos) << out;
  EXPECT_EQ(Entries(backups), std::vector<std::string>{"stray"});
}

}  // namespace
}  // namespace bn::testing
