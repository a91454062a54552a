// The attribute table behind filters stays in step with writes: a count by filter that starts
// after an upsert was acknowledged sees it, while other readers refresh concurrently.
#include "server/core/attribute_table.h"

#include <atomic>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "server/core/core.h"
#include "tests/server/core/core_fixture.h"

namespace bn::testing {
namespace {

namespace v1 = ::bottleneck::v1;

class AttributeTableTest : public CoreFixture {};

TEST_F(AttributeTableTest, FilteredReadsSeeEveryAcknowledgedWrite) {
  CreateImages("c");
  UpsertItems("c", "i", 20);
  constexpr int kVersions = 150;
  auto upsert = [&](int version) {
    v1::UpsertRequest request;
    request.set_collection("c");
    v1::Item* item = request.add_items();
    item->set_id("x");
    *item->mutable_input() = ImageInput(0, version);
    item->set_label("v" + std::to_string(version));
    return core().ingest().Upsert(request).status();
  };
  ASSERT_TRUE(upsert(0).ok());
  std::atomic<int> acked{0};
  std::atomic<bool> done{false};
  std::atomic<int> stale_reads{0}, reads{0};
  std::vector<std::thread> readers;
  for (int r = 0; r < 3; ++r) {
    readers.emplace_back([&] {
      while (!done.load()) {
        const int from = acked.load();
        // x's label is v<from> or a later version: exactly one item matches.
        v1::CountItemsRequest count;
        count.set_collection("c");
        v1::FieldMatch* match = count.mutable_filter()->mutable_match();
        match->set_label(true);
        for (int v = from; v <= kVersions; ++v) match->add_values("v" + std::to_string(v));
        auto n = core().queries().CountItems(count);
        ASSERT_TRUE(n.ok()) << n.status();
        if (n->count() != 1) stale_reads.fetch_add(1);
        reads.fetch_add(1);
      }
    });
  }
  for (int v = 1; v <= kVersions; ++v) {
    ASSERT_TRUE(upsert(v).ok());
    acked.store(v);
  }
  done.store(true);
  for (auto& t : readers) t.join();
  EXPECT_EQ(stale_reads.load(), 0) << "of " << reads.load() << " reads";
  EXPECT_GT(reads.load(), 0);
  // Deleting x: gone from the next count.
  v1::DeleteItemsRequest del;
  del.set_collection("c");
  del.add_ids("x");
  ASSERT_TRUE(core().ingest().Delete(del).ok());
  v1::CountItemsRequest count;
  count.set_collection("c");
  count.mutable_filter()->mutable_match()->set_label(true);
  count.mutable_filter()->mutable_match()->add_values("v" + std::to_string(kVersions));
  auto n = core().queries().CountItems(count);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(n->count(), 0u);
}

}  // namespace
}  // namespace bn::testing
