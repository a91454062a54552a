#include "server/core/item_ingest.h"

#include "tests/server/core/core_fixture.h"

namespace bn::testing {
namespace {

namespace v1 = ::bottleneck::v1;
using absl::StatusCode;

class ItemIngestTest : public CoreFixture {
 protected:
  uint64_t ItemCount() { return core().collections().Describe("imgs")->stats().item_count(); }
  // The ids of the k nearest items to stored item `id`'s own input.
  std::vector<std::string> NearestTo(const v1::Input& input, int k) {
    v1::SearchRequest request;
    request.set_collection("imgs");
    *request.mutable_input() = input;
    request.set_k(k);
    request.set_exact(true);
    auto found = core().queries().Search(request);
    EXPECT_TRUE(found.ok()) << found.status();
    std::vector<std::string> ids;
    if (found.ok()) {
      for (const auto& n : found->neighbors()) ids.push_back(n.id());
    }
    return ids;
  }
};

TEST_F(ItemIngestTest, ItemsWaitForAModelThenServe) {
  CreateImages("imgs");
  v1::UpsertRequest request;
  request.set_collection("imgs");
  v1::Item* item = request.add_items();
  item->set_id("first");
  *item->mutable_input() = ImageInput(2, 7);
  auto upserted = core().ingest().Upsert(request);
  ASSERT_TRUE(upserted.ok()) << upserted.status();
  EXPECT_EQ(upserted->upserted(), 1u);
  EXPECT_EQ(upserted->pending(), 1u);  // No model yet: stored, not indexed.
  EXPECT_EQ(upserted->serving_model_version(), 0u);

  Upload("imgs", "train", 80);
  ASSERT_EQ(Train("imgs", "train", PcaSpec(4), /*promote=*/true).model_version(), 1u);
  WaitServing("imgs", 1);  // The promotion encoded the pending item.
  EXPECT_EQ(NearestTo(ImageInput(2, 7), 1), std::vector<std::string>{"first"});

  item->set_id("second");
  *item->mutable_input() = ImageInput(1, 9);
  upserted = core().ingest().Upsert(request);
  ASSERT_TRUE(upserted.ok()) << upserted.status();
  EXPECT_EQ(upserted->pending(), 0u);  // Encoded and indexed before the call returned.
  EXPECT_EQ(upserted->serving_model_version(), 1u);
  EXPECT_EQ(NearestTo(ImageInput(1, 9), 1), std::vector<std::string>{"second"});
}

TEST_F(ItemIngestTest, BadRequestsChangeNothing) {
  CreateImages("imgs");
  UpsertItems("imgs", "ok-", 3);
  auto good_item = [] {
    v1::Item item;
    item.set_id("new");
    *item.mutable_input() = ImageInput(0, 0);
    return item;
  };
  std::vector<std::pair<std::string, v1::UpsertRequest>> bad;
  auto add = [&](const std::string& what, const std::function<void(v1::Item*)>& spoil) {
    v1::UpsertRequest request;
    request.set_collection("imgs");
    *request.add_items() = good_item();
    v1::Item* second = request.add_items();
    *second = good_item();
    second->set_id("new2");
    spoil(second);
    bad.emplace_back(what, request);
  };
  add("empty id", [](v1::Item* item) { item->clear_id(); });
  add("control character in id", [](v1::Item* item) { item->set_id("a\nb"); });
  add("long label", [](v1::Item* item) { item->set_label(std::string(257, 'x')); });
  add("too many metadata", [](v1::Item* item) {
    for (int i = 0; i < 65; ++i) (*item->mutable_metadata())["k" + std::to_string(i)] = "v";
  });
  add("short raw image", [](v1::Item* item) {
    item->mutable_input()->mutable_image()->mutable_raw()->set_data("abc");
  });
  add("document in an image collection",
      [](v1::Item* item) { item->mutable_input()->mutable_document()->set_text("hello"); });
  for (const auto& [what, request] : bad) {
    auto result = core().ingest().Upsert(request);
    EXPECT_EQ(result.status().code(), StatusCode::kInvalidArgument) << what;
    EXPECT_NE(result.status().message().find("items[1]"), absl::string_view::npos)
        << what << ": " << result.status();
  }
  v1::UpsertRequest empty;
  empty.set_collection("imgs");
  EXPECT_EQ(core().ingest().Upsert(empty).status().code(), StatusCode::kInvalidArgument);
  empty.set_collection("missing");
  *empty.add_items() = good_item();
  EXPECT_EQ(core().ingest().Upsert(empty).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(ItemCount(), 3u);
}

TEST_F(ItemIngestTest, DeleteRemovesItemsFromStoreAndIndex) {
  CreateImages("imgs");
  Upload("imgs", "train", 80);
  ASSERT_EQ(Train("imgs", "train", PcaSpec(4), /*promote=*/true).model_version(), 1u);
  WaitServing("imgs", 1);
  UpsertItems("imgs", "item-", 8);
  ASSERT_EQ(NearestTo(ImageInput(3, 1003), 1), std::vector<std::string>{"item-3"});
  v1::DeleteItemsRequest request;
  request.set_collection("imgs");
  request.add_ids("item-3");
  request.add_ids("never-stored");
  auto deleted = core().ingest().Delete(request);
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  EXPECT_EQ(deleted->deleted(), 1u);
  EXPECT_EQ(ItemCount(), 7u);
  for (const std::string& id : NearestTo(ImageInput(3, 1003), 7)) EXPECT_NE(id, "item-3");
  v1::GetItemRequest get;
  get.set_collection("imgs");
  get.set_id("item-3");
  EXPECT_EQ(core().queries().GetItem(get).status().code(), StatusCode::kNotFound);
  request.clear_ids();
  EXPECT_EQ(core().ingest().Delete(request).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace bn::testing
