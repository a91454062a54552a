#include "engine/store/store.h"

#include <sys/stat.h>
#include <unistd.h>

#include "gtest/gtest.h"
#include "rocksdb/db.h"
#include "tests/util/temp_dir.h"

namespace bn {
namespace {

TEST(StoreTest, CreatesDatabaseWithSchemaVersionAndReopens) {
  testing::TempDir dir;
  {
    auto store = Store::Open(dir.Sub("data"), StoreOptions());
    ASSERT_TRUE(store.ok()) << store.status();
    std::string value;
    ASSERT_TRUE((*store)
                    ->db()
                    ->Get(rocksdb::ReadOptions(), (*store)->handle(ColumnFamily::kMeta),
                          "schema_version", &value)
                    .ok());
    EXPECT_EQ(value, std::to_string(kSchemaVersion));
    ASSERT_TRUE((*store)
                    ->db()
                    ->Put(rocksdb::WriteOptions(), (*store)->handle(ColumnFamily::kItems), "k", "v")
                    .ok());
  }
  auto reopened = Store::Open(dir.Sub("data"), StoreOptions());
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  std::string value;
  ASSERT_TRUE(
      (*reopened)
          ->db()
          ->Get(rocksdb::ReadOptions(), (*reopened)->handle(ColumnFamily::kItems), "k", &value)
          .ok());
  EXPECT_EQ(value, "v");
}

TEST(StoreTest, AFollowerSeesThePrimarysWritesAfterCatchingUpAndCannotWrite) {
  testing::TempDir dir;
  auto primary = Store::Open(dir.Sub("primary"), StoreOptions());
  ASSERT_TRUE(primary.ok()) << primary.status();
  rocksdb::DB* db = (*primary)->db();
  auto* items = (*primary)->handle(ColumnFamily::kItems);
  ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), items, "a", "1").ok());
  StoreOptions follow;
  follow.follow_primary = dir.Sub("primary");
  auto follower = Store::Open(dir.Sub("follower"), follow);
  ASSERT_TRUE(follower.ok()) << follower.status();
  EXPECT_TRUE((*follower)->read_only());
  EXPECT_FALSE((*primary)->read_only());
  auto* f_items = (*follower)->handle(ColumnFamily::kItems);
  std::string value;
  ASSERT_TRUE((*follower)->db()->Get(rocksdb::ReadOptions(), f_items, "a", &value).ok());
  EXPECT_EQ(value, "1");
  // A write after the follower opened is invisible until it catches up (WAL tailing).
  ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), items, "b", "2").ok());
  EXPECT_TRUE((*follower)->db()->Get(rocksdb::ReadOptions(), f_items, "b", &value).IsNotFound());
  ASSERT_TRUE((*follower)->CatchUpWithPrimary().ok());
  ASSERT_TRUE((*follower)->db()->Get(rocksdb::ReadOptions(), f_items, "b", &value).ok());
  EXPECT_EQ(value, "2");
  EXPECT_FALSE((*follower)->db()->Put(rocksdb::WriteOptions(), f_items, "c", "3").ok());
  EXPECT_EQ((*primary)->CatchUpWithPrimary().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(StoreTest, FollowingADirectoryWithoutADatabaseFails) {
  testing::TempDir dir;
  StoreOptions follow;
  follow.follow_primary = dir.Sub("missing");
  auto follower = Store::Open(dir.Sub("follower"), follow);
  EXPECT_FALSE(follower.ok());
}

TEST(StoreTest, RefusesANewerSchema) {
  testing::TempDir dir;
  {
    auto store = Store::Open(dir.path(), StoreOptions());
    ASSERT_TRUE(store.ok());
    ASSERT_TRUE((*store)
                    ->db()
                    ->Put(rocksdb::WriteOptions(), (*store)->handle(ColumnFamily::kMeta),
                          "schema_version", std::to_string(kSchemaVersion + 1))
                    .ok());
  }
  auto store = Store::Open(dir.path(), StoreOptions());
  EXPECT_EQ(store.status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(StoreTest, SecondOpenOfTheSameDirectoryIsUnavailable) {
  testing::TempDir dir;
  auto first = Store::Open(dir.path(), StoreOptions());
  ASSERT_TRUE(first.ok());
  auto second = Store::Open(dir.path(), StoreOptions());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable) << second.status();
}

TEST(StoreTest, UnwritableDirectoryIsAClearError) {
  if (geteuid() == 0) {
    // root bypasses permission bits; use a path under a regular file instead.
    testing::TempDir dir;
    FILE* f = std::fopen(dir.Sub("file").c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::fclose(f);
    auto store = Store::Open(dir.Sub("file/data"), StoreOptions());
    EXPECT_EQ(store.status().code(), absl::StatusCode::kPermissionDenied) << store.status();
    return;
  }
  testing::TempDir dir;
  ASSERT_EQ(chmod(dir.path().c_str(), 0500), 0);
  auto store = Store::Open(dir.Sub("data"), StoreOptions());
  EXPECT_EQ(store.status().code(), absl::StatusCode::kPermissionDenied) << store.status();
}

TEST(StoreTest, EmptyPathIsInvalid) {
  EXPECT_EQ(Store::Open("", StoreOptions()).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace bn
