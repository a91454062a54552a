#include "engine/store/collection_store.h"

#include <map>
#include <memory>
#include <set>

#include "engine/store/blob_store.h"
#include "gtest/gtest.h"
#include "rocksdb/db.h"
#include "tests/util/temp_dir.h"

namespace bn {
namespace {

class CollectionStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    StoreOptions options;
    options.sync_writes = false;  // Speed; durability is covered by the recovery test.
    auto s = Store::Open(dir_.Sub("data"), options);
    ASSERT_TRUE(s.ok()) << s.status();
    store_ = std::move(*s);
    cs_ = std::make_unique<CollectionStore>(store_.get());
  }
  testing::TempDir dir_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<CollectionStore> cs_;
};

TEST_F(CollectionStoreTest, CollectionsPutGetListDelete) {
  EXPECT_TRUE(absl::IsInvalidArgument(cs_->PutCollection("", "spec")));
  EXPECT_TRUE(absl::IsNotFound(cs_->GetCollectionSpec("a").status()));
  ASSERT_TRUE(cs_->PutCollection("b", "spec-b").ok());
  ASSERT_TRUE(cs_->PutCollection("a", "spec-a").ok());
  auto state_a = cs_->GetCollectionState("a");
  ASSERT_TRUE(state_a.ok());
  ASSERT_TRUE(cs_->PutCollection("a", "spec-a2").ok());  // Update keeps the incarnation.
  EXPECT_EQ(cs_->GetCollectionState("a")->incarnation, state_a->incarnation);
  EXPECT_NE(cs_->GetCollectionState("b")->incarnation, state_a->incarnation);
  EXPECT_EQ(*cs_->GetCollectionSpec("a"), "spec-a2");
  auto names = cs_->ListCollections();
  ASSERT_TRUE(names.ok());
  EXPECT_EQ(*names, (std::vector<std::string>{"a", "b"}));
  ASSERT_TRUE(cs_->DeleteCollection("a").ok());
  EXPECT_TRUE(absl::IsNotFound(cs_->DeleteCollection("a")));
  EXPECT_EQ(*cs_->ListCollections(), (std::vector<std::string>{"b"}));
  ASSERT_TRUE(cs_->PutCollection("a", "again").ok());
  EXPECT_GT(cs_->GetCollectionState("a")->incarnation, state_a->incarnation);
}

TEST_F(CollectionStoreTest, UpsertKeepsLabelDeleteNeverReusesIt) {
  ASSERT_TRUE(cs_->PutCollection("c", "").ok());
  ItemBatch b1;
  b1.Upsert("x", "rec-x", {{1, "code-x1"}, {2, "code-x2"}});
  b1.Upsert("y", "rec-y", {{1, "code-y1"}});
  auto r1 = cs_->Write("c", b1);
  ASSERT_TRUE(r1.ok()) << r1.status();
  EXPECT_EQ(r1->change_counter, 1u);
  ASSERT_EQ(r1->item_nos.size(), 2u);
  const uint64_t lx = r1->item_nos[0], ly = r1->item_nos[1];
  EXPECT_NE(lx, ly);

  ItemBatch b2;
  b2.Upsert("x", "rec-x2", {{1, "new-x1"}});  // Version 2 code becomes stale and is removed.
  b2.Delete("y");
  b2.Delete("never-existed");
  b2.Upsert("z", "rec-z", {{1, "code-z1"}});
  auto r2 = cs_->Write("c", b2);
  ASSERT_TRUE(r2.ok()) << r2.status();
  EXPECT_EQ(r2->change_counter, 2u);
  EXPECT_EQ(r2->item_nos[0], lx);
  EXPECT_EQ(r2->item_nos[2], 0u);
  const uint64_t lz = r2->item_nos[3];
  EXPECT_NE(lz, lx);
  EXPECT_NE(lz, ly);

  auto x = cs_->GetItem("c", "x");
  ASSERT_TRUE(x.ok());
  EXPECT_EQ(x->record, "rec-x2");
  EXPECT_EQ(x->item_no, lx);
  EXPECT_EQ(*cs_->GetCode("c", 1, lx), "new-x1");
  EXPECT_TRUE(absl::IsNotFound(cs_->GetCode("c", 2, lx).status()));
  EXPECT_TRUE(absl::IsNotFound(cs_->GetItem("c", "y").status()));
  // Several at once, in the order asked, with absent ones as nullopt.
  auto several = cs_->GetItems("c", {"z", "y", "x"});
  ASSERT_TRUE(several.ok()) << several.status();
  ASSERT_EQ(several->size(), 3u);
  ASSERT_TRUE((*several)[0].has_value());
  EXPECT_EQ((*several)[0]->record, "rec-z");
  EXPECT_EQ((*several)[0]->item_no, lz);
  EXPECT_FALSE((*several)[1].has_value());
  ASSERT_TRUE((*several)[2].has_value());
  EXPECT_EQ((*several)[2]->id, "x");
  EXPECT_EQ((*several)[2]->record, x->record);
  EXPECT_TRUE(absl::IsNotFound(cs_->GetCode("c", 1, ly).status()));
  EXPECT_EQ(*cs_->CountItems("c"), 2u);

  auto ids = cs_->LookupIds("c", {lx, ly, lz});
  ASSERT_TRUE(ids.ok());
  EXPECT_EQ((*ids)[0], std::optional<std::string>("x"));
  EXPECT_FALSE((*ids)[1].has_value());
  EXPECT_EQ((*ids)[2], std::optional<std::string>("z"));

  // Re-adding a deleted id gets a fresh item number.
  ItemBatch b3;
  b3.Upsert("y", "rec-y2");
  auto r3 = cs_->Write("c", b3);
  ASSERT_TRUE(r3.ok());
  EXPECT_GT(r3->item_nos[0], lz);
}

// Cluster mode's replicas store the log position they applied in the same write batch; it
// survives reopening, other batches leave it alone, and a store that never set one keeps the
// original state format.
TEST_F(CollectionStoreTest, LogPositionIsStoredWithTheBatchThatCarriesIt) {
  ASSERT_TRUE(cs_->PutCollection("c", "spec").ok());
  EXPECT_EQ(cs_->GetCollectionState("c")->log_position, 0u);
  ItemBatch first;
  first.Upsert("a", "ra", {{1, "code"}});
  first.SetLogPosition(17);
  ASSERT_TRUE(cs_->Write("c", first).ok());
  EXPECT_EQ(cs_->GetCollectionState("c")->log_position, 17u);
  ItemBatch plain;  // No position: the stored one stays.
  plain.Upsert("b", "rb");
  ASSERT_TRUE(cs_->Write("c", plain).ok());
  EXPECT_EQ(cs_->GetCollectionState("c")->log_position, 17u);
  ItemBatch later;
  later.Delete("a");
  later.SetLogPosition(40);
  ASSERT_TRUE(cs_->Write("c", later).ok());
  ASSERT_TRUE(cs_->PutCollection("c", "spec2").ok());  // Replacing the spec keeps the state.
  auto state = cs_->GetCollectionState("c");
  ASSERT_TRUE(state.ok());
  EXPECT_EQ(state->log_position, 40u);
  EXPECT_EQ(state->item_count, 1u);
  EXPECT_EQ(state->code_versions, std::vector<uint64_t>{1});
  ItemBatch failing;  // A batch that fails writes no position either.
  failing.PutCode("missing", 1, "x");
  failing.SetLogPosition(99);
  EXPECT_FALSE(cs_->Write("c", failing).ok());
  cs_.reset();
  store_.reset();
  auto reopened = Store::Open(dir_.Sub("data"), StoreOptions());
  ASSERT_TRUE(reopened.ok());
  EXPECT_EQ(CollectionStore(reopened->get()).GetCollectionState("c")->log_position, 40u);
}

TEST_F(CollectionStoreTest, InvalidBatchesWriteNothing) {
  ASSERT_TRUE(cs_->PutCollection("c", "").ok());
  ItemBatch empty;
  EXPECT_TRUE(absl::IsInvalidArgument(cs_->Write("c", empty).status()));
  ItemBatch long_id;
  long_id.Upsert(std::string(kMaxItemIdBytes + 1, 'a'), "r");
  EXPECT_TRUE(absl::IsInvalidArgument(cs_->Write("c", long_id).status()));
  ItemBatch missing;
  missing.Upsert("a", "r");
  missing.PutCode("nope", 1, "code");
  EXPECT_TRUE(absl::IsNotFound(cs_->Write("c", missing).status()));
  EXPECT_TRUE(absl::IsNotFound(cs_->GetItem("c", "a").status()));
  EXPECT_EQ(cs_->GetCollectionState("c")->change_counter, 0u);
  ItemBatch no_collection;
  no_collection.Upsert("a", "r");
  EXPECT_TRUE(absl::IsNotFound(cs_->Write("nope", no_collection).status()));
}

TEST_F(CollectionStoreTest, ScansAndChangeLog) {
  ASSERT_TRUE(cs_->PutCollection("c", "").ok());
  std::map<std::string, uint64_t> item_nos;
  for (int batch = 0; batch < 5; ++batch) {
    ItemBatch b;
    for (int i = 0; i < 10; ++i) {
      std::string id = "id" + std::to_string(batch * 10 + i);
      b.Upsert(id, "r" + id, {{7, "c" + id}});
    }
    auto r = cs_->Write("c", b);
    ASSERT_TRUE(r.ok());
    for (int i = 0; i < 10; ++i) item_nos["id" + std::to_string(batch * 10 + i)] = r->item_nos[i];
  }
  ItemBatch del;
  del.Delete("id3");
  ItemBatch recode;
  recode.PutCode("id4", 7, "recoded");
  ASSERT_TRUE(cs_->Write("c", del).ok());
  ASSERT_TRUE(cs_->Write("c", recode).ok());

  std::vector<std::string> scanned;
  ASSERT_TRUE(cs_->ScanItems("c",
                             [&](const Item& it) {
                               EXPECT_EQ(it.item_no, item_nos[it.id]);
                               EXPECT_EQ(it.record, "r" + it.id);
                               scanned.push_back(it.id);
                               return true;
                             })
                  .ok());
  EXPECT_EQ(scanned.size(), 49u);
  EXPECT_TRUE(std::is_sorted(scanned.begin(), scanned.end()));

  std::map<uint64_t, std::string> codes;
  CollectionState st;
  ASSERT_TRUE(cs_->ScanCodes(
                     "c", 7,
                     [&](uint64_t l, absl::string_view code) {
                       codes[l] = std::string(code);
                       return true;
                     },
                     &st)
                  .ok());
  EXPECT_EQ(codes.size(), 49u);
  EXPECT_EQ(codes[item_nos["id4"]], "recoded");
  EXPECT_EQ(st.change_counter, 7u);
  EXPECT_EQ(st.item_count, 49u);

  auto changes = cs_->ReadChangesForVersion("c", 7, 5);
  ASSERT_TRUE(changes.ok());
  EXPECT_TRUE(changes->complete);
  ASSERT_EQ(changes->entries.size(), 2u);
  EXPECT_EQ(changes->entries[0].item_no, item_nos["id3"]);
  EXPECT_FALSE(changes->entries[0].code.has_value());
  EXPECT_EQ(changes->entries[1].item_no, item_nos["id4"]);
  EXPECT_EQ(changes->entries[1].code, std::optional<std::string>("recoded"));

  ASSERT_TRUE(cs_->TrimChangeLog("c", 5).ok());
  EXPECT_TRUE(cs_->ReadChangesForVersion("c", 7, 5)->complete);
  EXPECT_FALSE(cs_->ReadChangesForVersion("c", 7, 4)->complete);
  EXPECT_TRUE(cs_->ReadChangesForVersion("c", 7, 7)->entries.empty());
}

// A cluster backup's cut: items, their codes of one version and the state come from the
// snapshot taken before `taken` runs; writes made from `taken` on are not seen.
TEST_F(CollectionStoreTest, ScanItemsWithCodesReadsOneSnapshot) {
  ASSERT_TRUE(cs_->PutCollection("c", "").ok());
  ItemBatch first;
  first.Upsert("a", "rec-a", {{1, "code-a1"}, {2, "code-a2"}});
  first.Upsert("b", "rec-b", {{2, "code-b2"}});
  first.SetLogPosition(7);
  ASSERT_TRUE(cs_->Write("c", first).ok());
  std::vector<std::string> seen;
  CollectionState state;
  absl::Status s = cs_->ScanItemsWithCodes(
      "c", 1,
      [&](const Item& item, absl::string_view code) {
        seen.push_back(item.id + "=" + item.record + "/" + std::string(code));
        return true;
      },
      &state,
      [&] {
        ItemBatch later;
        later.Upsert("a", "rec-a-new", {{1, "code-a1-new"}});
        later.Upsert("c", "rec-c", {{1, "code-c1"}});
        later.Delete("b");
        later.SetLogPosition(9);
        ASSERT_TRUE(cs_->Write("c", later).ok());
      });
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_EQ(seen, (std::vector<std::string>{"a=rec-a/code-a1", "b=rec-b/"}));
  EXPECT_EQ(state.log_position, 7u);
  EXPECT_EQ(state.item_count, 2u);
  seen.clear();
  ASSERT_TRUE(cs_->ScanItemsWithCodes(
                     "c", 0,
                     [&](const Item& item, absl::string_view code) {
                       seen.push_back(item.id + "=" + item.record + "/" + std::string(code));
                       return true;
                     },
                     nullptr, nullptr)
                  .ok());
  EXPECT_EQ(seen, (std::vector<std::string>{"a=rec-a-new/", "c=rec-c/"}));
}

TEST_F(CollectionStoreTest, DeleteCollectionRemovesEverythingInEveryColumnFamily) {
  BlobStore blobs(store_.get());
  for (const char* c : {"keep", "gone"}) {
    ASSERT_TRUE(cs_->PutCollection(c, "spec").ok());
    ItemBatch b;
    b.Upsert("a", "r", {{1, "code"}});
    ASSERT_TRUE(cs_->Write(c, b).ok());
    ASSERT_TRUE(blobs.PutModel(c, 1, "model").ok());
    ASSERT_TRUE(blobs.PutDatasetBatch(c, "train", 0, "ex").ok());
    ASSERT_TRUE(blobs.PutJob(c, "job1", "job").ok());
    ASSERT_TRUE(blobs.PutJobCheckpoint(c, "job1", "ckpt").ok());
  }
  ASSERT_TRUE(cs_->DeleteCollection("gone").ok());
  // Count every key under each collection's prefix range directly in RocksDB.
  for (int cf = 1; cf < kNumColumnFamilies; ++cf) {
    std::map<std::string, int> counts;
    std::unique_ptr<rocksdb::Iterator> it(store_->db()->NewIterator(
        rocksdb::ReadOptions(), store_->handle(static_cast<ColumnFamily>(cf))));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      std::string key = it->key().ToString();
      counts[key.substr(0, 4)]++;
    }
    EXPECT_EQ(counts.count(std::string("gone", 4)), 0u) << "column family " << cf;
    EXPECT_GT(counts[std::string("keep", 4)], 0) << "column family " << cf;
  }
  EXPECT_TRUE(absl::IsNotFound(blobs.GetModel("gone", 1).status()));
  EXPECT_EQ(*blobs.GetModel("keep", 1), "model");
}

TEST_F(CollectionStoreTest, BlobStoreModelsDatasetsJobs) {
  BlobStore blobs(store_.get());
  ASSERT_TRUE(blobs.PutModel("c", 3, "m3").ok());
  ASSERT_TRUE(blobs.PutModel("c", 1, "m1").ok());
  ASSERT_TRUE(blobs.PutModel("cc", 2, "other").ok());
  EXPECT_EQ(*blobs.ListModelVersions("c"), (std::vector<uint64_t>{1, 3}));
  EXPECT_EQ(*blobs.GetModel("c", 3), "m3");
  ASSERT_TRUE(blobs.DeleteModel("c", 3).ok());
  EXPECT_EQ(*blobs.ListModelVersions("c"), (std::vector<uint64_t>{1}));

  for (uint64_t i : {2, 0, 300, 1}) {
    ASSERT_TRUE(blobs.PutDatasetBatch("c", "d1", i, "b" + std::to_string(i)).ok());
  }
  ASSERT_TRUE(blobs.PutDatasetBatch("c", "d0", 0, "x").ok());
  std::vector<uint64_t> order;
  ASSERT_TRUE(blobs
                  .ScanDataset("c", "d1",
                               [&](uint64_t i, absl::string_view blob) {
                                 EXPECT_EQ(blob, "b" + std::to_string(i));
                                 order.push_back(i);
                                 return true;
                               })
                  .ok());
  EXPECT_EQ(order, (std::vector<uint64_t>{0, 1, 2, 300}));
  EXPECT_EQ(*blobs.ListDatasets("c"), (std::vector<std::string>{"d0", "d1"}));
  ASSERT_TRUE(blobs.DeleteDataset("c", "d1").ok());
  EXPECT_EQ(*blobs.ListDatasets("c"), (std::vector<std::string>{"d0"}));

  ASSERT_TRUE(blobs.PutJob("c", "j2", "two").ok());
  ASSERT_TRUE(blobs.PutJob("c", "j1", "one").ok());
  ASSERT_TRUE(blobs.PutJobCheckpoint("c", "j1", "ck").ok());
  auto jobs = blobs.ListJobs("c");
  ASSERT_TRUE(jobs.ok());
  ASSERT_EQ(jobs->size(), 2u);
  EXPECT_EQ((*jobs)[0], std::make_pair(std::string("j1"), std::string("one")));
  EXPECT_EQ(*blobs.GetJobCheckpoint("c", "j1"), "ck");
  EXPECT_TRUE(absl::IsNotFound(blobs.GetJobCheckpoint("c", "j2").status()));
  ASSERT_TRUE(blobs.DeleteJob("c", "j1").ok());
  EXPECT_TRUE(absl::IsNotFound(blobs.GetJob("c", "j1").status()));
  EXPECT_TRUE(absl::IsNotFound(blobs.GetJobCheckpoint("c", "j1").status()));
}

TEST_F(CollectionStoreTest, ApproximateSizeGrowsWithData) {
  ASSERT_TRUE(cs_->PutCollection("c", "").ok());
  auto before = cs_->ApproximateSize("c");
  ASSERT_TRUE(before.ok());
  ItemBatch b;
  for (int i = 0; i < 2000; ++i) {
    b.Upsert("item" + std::to_string(i), std::string(100, 'r'), {{1, std::string(128, 'c')}});
  }
  ASSERT_TRUE(cs_->Write("c", b).ok());
  auto after = cs_->ApproximateSize("c");
  ASSERT_TRUE(after.ok());
  EXPECT_GT(after->items_bytes, before->items_bytes);
  EXPECT_GT(after->codes_bytes, before->codes_bytes);
}

}  // namespace
}  // namespace bn
