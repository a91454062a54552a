// Store::CreateCheckpoint (the copy under backups), the read-only open that reads it back, and
// AliasStore (issue 24).
#include <filesystem>

#include "engine/store/alias_store.h"
#include "engine/store/store.h"
#include "gtest/gtest.h"
#include "rocksdb/db.h"
#include "tests/util/temp_dir.h"

namespace bn {
namespace {

std::string Get(Store* store, const std::string& key) {
  std::string value;
  rocksdb::Status s =
      store->db()->Get(rocksdb::ReadOptions(), store->handle(ColumnFamily::kItems), key, &value);
  return s.ok() ? value : "<" + s.ToString() + ">";
}

TEST(StoreCheckpointTest, CopyHoldsEveryWriteBeforeItAndNoneAfter) {
  testing::TempDir dir;
  auto store = Store::Open(dir.Sub("data"), StoreOptions());
  ASSERT_TRUE(store.ok()) << store.status();
  rocksdb::WriteOptions wo;
  wo.sync = true;
  ASSERT_TRUE((*store)->db()->Put(wo, (*store)->handle(ColumnFamily::kItems), "a", "1").ok());
  ASSERT_TRUE(AliasStore(store->get()).Put("live", "blue").ok());
  std::filesystem::create_directories(dir.Sub("copy"));
  auto sequence = (*store)->CreateCheckpoint(dir.Sub("copy"));
  ASSERT_TRUE(sequence.ok()) << sequence.status();
  EXPECT_GE(*sequence, 2u);
  ASSERT_TRUE((*store)->db()->Put(wo, (*store)->handle(ColumnFamily::kItems), "b", "2").ok());
  // A second checkpoint into the same place is refused.
  EXPECT_TRUE(absl::IsAlreadyExists((*store)->CreateCheckpoint(dir.Sub("copy")).status()));

  StoreOptions read_only;
  read_only.read_only = true;
  auto copy = Store::Open(dir.Sub("copy"), read_only);
  ASSERT_TRUE(copy.ok()) << copy.status();
  EXPECT_TRUE((*copy)->read_only());
  EXPECT_EQ(Get(copy->get(), "a"), "1");
  EXPECT_EQ(Get(copy->get(), "b").rfind("<NotFound", 0), 0u);
  auto aliases = AliasStore(copy->get()).List();
  ASSERT_TRUE(aliases.ok());
  EXPECT_EQ(*aliases, (std::map<std::string, std::string>{{"live", "blue"}}));
  // Read-only: no writes, no checkpoints.
  EXPECT_TRUE(absl::IsFailedPrecondition(AliasStore(copy->get()).Put("x", "y")));
  EXPECT_TRUE(absl::IsFailedPrecondition((*copy)->CreateCheckpoint(dir.Sub("copy2")).status()));
  // A read-only open of a directory without a database: NotFound, nothing created.
  auto none = Store::Open(dir.Sub("none"), read_only);
  EXPECT_TRUE(absl::IsNotFound(none.status())) << none.status();
  EXPECT_FALSE(std::filesystem::exists(dir.Sub("none")));
}

TEST(AliasStoreTest, PutReplacesDeleteRemovesListIsInNameOrder) {
  testing::TempDir dir;
  auto store = Store::Open(dir.Sub("data"), StoreOptions());
  ASSERT_TRUE(store.ok()) << store.status();
  AliasStore aliases(store->get());
  ASSERT_TRUE(aliases.Put("zeta", "c1").ok());
  ASSERT_TRUE(aliases.Put("alpha", "c2").ok());
  ASSERT_TRUE(aliases.Put("alpha", "c3").ok());  // Switched.
  auto listed = aliases.List();
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(*listed, (std::map<std::string, std::string>{{"alpha", "c3"}, {"zeta", "c1"}}));
  ASSERT_TRUE(aliases.Delete("zeta").ok());
  ASSERT_TRUE(aliases.Delete("absent").ok());
  listed = aliases.List();
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(*listed, (std::map<std::string, std::string>{{"alpha", "c3"}}));
  // The schema record next to the aliases in the meta column family is not listed.
  std::string schema;
  EXPECT_TRUE((*store)
                  ->db()
                  ->Get(rocksdb::ReadOptions(), (*store)->handle(ColumnFamily::kMeta),
                        "schema_version", &schema)
                  .ok());
}

}  // namespace
}  // namespace bn
