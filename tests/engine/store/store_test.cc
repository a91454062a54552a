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
                    ->Put(rocksdb::WriteOptions(), (*store)->handle(ColumnFamily::kItems), "k",
                          "v")
                    .ok());
  }
  auto reopened = Store::Open(dir.Sub("data"), StoreOptions());
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  std::string value;
  ASSERT_TRUE((*reopened)
                  ->db()
                  ->Get(rocksdb::ReadOptions(), (*reopened)->handle(ColumnFamily::kItems), "k",
                        &value)
                  .ok());
  EXPECT_EQ(value, "v");
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
