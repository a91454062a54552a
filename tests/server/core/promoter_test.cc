#include "server/core/promoter.h"

#include "tests/server/core/core_fixture.h"

namespace bn::testing {
namespace {

namespace v1 = ::bottleneck::v1;
using absl::StatusCode;

class PromoterTest : public CoreFixture {
 protected:
  // Every item's stored code has the serving model's size.
  void ExpectEveryItemEncodedWith(int items, uint64_t version, int code_size) {
    for (int i = 0; i < items; ++i) {
      v1::GetItemRequest get;
      get.set_collection("imgs");
      get.set_id("item-" + std::to_string(i));
      get.set_include_code(true);
      auto item = core().queries().GetItem(get);
      ASSERT_TRUE(item.ok()) << item.status();
      ASSERT_EQ(item->model_version(), version) << i;
      ASSERT_EQ(item->code().float_code().values_size(), code_size) << i;
    }
  }
};

TEST_F(PromoterTest, ANewVersionReencodesEveryItemThenServes) {
  CreateImages("imgs");
  Upload("imgs", "train", 80);
  UpsertItems("imgs", "item-", 600);
  ASSERT_EQ(Train("imgs", "train", PcaSpec(4), /*promote=*/true).model_version(), 1u);
  WaitServing("imgs", 1);
  ExpectEveryItemEncodedWith(600, 1, 4);
  ASSERT_EQ(Train("imgs", "train", PcaSpec(7)).model_version(), 2u);
  auto started = core().promoter().Promote("imgs", 2);
  ASSERT_TRUE(started.ok()) << started.status();
  EXPECT_EQ(started->target_model_version(), 2u);
  EXPECT_EQ(started->items_total(), 600u);
  UpsertItems("imgs", "late-", 50);  // During the promotion: encoded with both versions.
  WaitServing("imgs", 2);
  ExpectEveryItemEncodedWith(600, 2, 7);
  v1::SearchRequest search;
  search.set_collection("imgs");
  *search.mutable_input() = ImageInput(0, 1000 + 20);  // item-20 and late-20 hold this input.
  search.set_k(1);
  search.set_exact(true);
  auto found = core().queries().Search(search);
  ASSERT_TRUE(found.ok()) << found.status();
  EXPECT_EQ(found->model_version(), 2u);
  EXPECT_TRUE(found->neighbors(0).id() == "item-20" || found->neighbors(0).id() == "late-20")
      << found->neighbors(0).id();  // Both hold the same input.
  EXPECT_EQ(core().collections().Describe("imgs")->stats().pending_item_count(), 0u);
}

TEST_F(PromoterTest, Errors) {
  CreateImages("imgs");
  Upload("imgs", "train", 80);
  ASSERT_EQ(Train("imgs", "train", PcaSpec(4), /*promote=*/true).model_version(), 1u);
  WaitServing("imgs", 1);
  Promoter& promoter = core().promoter();
  EXPECT_EQ(promoter.Promote("imgs", 0).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(promoter.Promote("imgs", 9).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(promoter.Promote("nope", 1).status().code(), StatusCode::kNotFound);
  auto again = promoter.Promote("imgs", 1);  // Already serving: nothing to do.
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->items_done(), again->items_total());
}

TEST_F(PromoterTest, AnInterruptedPromotionResumesAtTheNextStart) {
  CreateImages("imgs");
  Upload("imgs", "train", 80);
  UpsertItems("imgs", "item-", 3000);
  ASSERT_EQ(Train("imgs", "train", PcaSpec(4), /*promote=*/true).model_version(), 1u);
  WaitServing("imgs", 1);
  ASSERT_EQ(Train("imgs", "train", PcaSpec(5)).model_version(), 2u);
  ASSERT_TRUE(core().promoter().Promote("imgs", 2).ok());
  Reopen();  // Shutdown stops the re-encoding; the target is recorded.
  WaitServing("imgs", 2);
  ExpectEveryItemEncodedWith(3000, 2, 5);
}

}  // namespace
}  // namespace bn::testing
