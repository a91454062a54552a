#include "server/core/query_engine.h"

#include "tests/server/core/core_fixture.h"

namespace bn::testing {
namespace {

namespace v1 = ::bottleneck::v1;
using absl::StatusCode;

class QueryEngineTest : public CoreFixture {
 protected:
  void SetUp() override {
    CoreFixture::SetUp();
    CreateImages("imgs");
    Upload("imgs", "train", 120);
    ASSERT_EQ(Train("imgs", "train", PcaSpec(6), /*promote=*/true).model_version(), 1u);
    WaitServing("imgs", 1);
    UpsertItems("imgs", "item-", 40);
  }
  v1::SearchRequest Request() {
    v1::SearchRequest request;
    request.set_collection("imgs");
    request.set_k(5);
    return request;
  }
};

TEST_F(QueryEngineTest, SearchByInputCodeAndItemAgree) {
  const QueryEngine& queries = core().queries();
  v1::SearchRequest by_input = Request();
  *by_input.mutable_input() = ImageInput(1, 1005);  // item-5's input
  by_input.set_include_reconstruction(true);
  auto a = queries.Search(by_input);
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_EQ(a->neighbors_size(), 5);
  EXPECT_EQ(a->neighbors(0).id(), "item-5");
  EXPECT_NEAR(a->neighbors(0).distance(), 0, 1e-4);
  EXPECT_EQ(a->model_version(), 1u);
  EXPECT_EQ(a->query_code().float_code().values_size(), 6);
  EXPECT_FALSE(a->reconstruction().image().encoded().empty());
  for (const auto& n : a->neighbors()) EXPECT_EQ(n.label(), "c1");  // Bars of one direction.

  v1::SearchRequest by_code = Request();
  *by_code.mutable_code() = a->query_code();
  auto b = queries.Search(by_code);
  ASSERT_TRUE(b.ok()) << b.status();
  v1::SearchRequest by_item = Request();
  by_item.set_item_id("item-5");
  auto c = queries.Search(by_item);
  ASSERT_TRUE(c.ok()) << c.status();
  for (int i = 0; i < 5; ++i) EXPECT_EQ(b->neighbors(i).id(), a->neighbors(i).id());
  // By item: the item itself is left out, the rest follows in order.
  for (int i = 0; i < 4; ++i) EXPECT_EQ(c->neighbors(i).id(), a->neighbors(i + 1).id());
}

TEST_F(QueryEngineTest, ARelabelShowsInTheNextSearch) {
  v1::SearchRequest request = Request();
  request.set_item_id("item-6");
  auto before = core().queries().Search(request);
  ASSERT_TRUE(before.ok());
  const std::string neighbour = before->neighbors(0).id();
  v1::GetItemRequest get;
  get.set_collection("imgs");
  get.set_id(neighbour);
  auto stored = core().queries().GetItem(get);
  ASSERT_TRUE(stored.ok());
  v1::UpsertRequest relabel;
  relabel.set_collection("imgs");
  *relabel.add_items() = stored->item();
  relabel.mutable_items(0)->set_label("renamed");
  (*relabel.mutable_items(0)->mutable_metadata())["price"] = "42";
  ASSERT_TRUE(core().ingest().Upsert(relabel).ok());
  auto after = core().queries().Search(request);
  ASSERT_TRUE(after.ok());
  ASSERT_EQ(after->neighbors(0).id(), neighbour);
  EXPECT_EQ(after->neighbors(0).label(), "renamed");  // Not the cached head.
  EXPECT_EQ(after->neighbors(0).metadata().at("price"), "42");
}

TEST_F(QueryEngineTest, BadSearchesAreRefused) {
  const QueryEngine& queries = core().queries();
  v1::SearchRequest request = Request();
  EXPECT_EQ(queries.Search(request).status().code(), StatusCode::kInvalidArgument);  // No query.
  request.set_item_id("item-1");
  request.set_k(1001);
  EXPECT_EQ(queries.Search(request).status().code(), StatusCode::kInvalidArgument);
  request.set_k(5);
  request.set_ef(5000);
  EXPECT_EQ(queries.Search(request).status().code(), StatusCode::kInvalidArgument);
  request.set_ef(0);
  request.set_item_id("missing");
  EXPECT_EQ(queries.Search(request).status().code(), StatusCode::kNotFound);
  request.mutable_code()->mutable_float_code()->add_values(1);  // 1 value, model has 6.
  EXPECT_EQ(queries.Search(request).status().code(), StatusCode::kInvalidArgument);
  request.set_collection("missing");
  EXPECT_EQ(queries.Search(request).status().code(), StatusCode::kNotFound);
  CreateImages("untrained");
  request.set_collection("untrained");
  EXPECT_EQ(queries.Search(request).status().code(), StatusCode::kFailedPrecondition);
}

TEST_F(QueryEngineTest, EncodeDecodeAndGetItem) {
  const QueryEngine& queries = core().queries();
  v1::EncodeRequest encode;
  encode.set_collection("imgs");
  for (int i = 0; i < 3; ++i) *encode.add_inputs() = ImageInput(i, 5000 + i);
  auto codes = queries.Encode(encode);
  ASSERT_TRUE(codes.ok()) << codes.status();
  ASSERT_EQ(codes->codes_size(), 3);
  EXPECT_EQ(codes->codes(0).float_code().values_size(), 6);
  v1::DecodeRequest decode;
  decode.set_collection("imgs");
  *decode.mutable_codes() = codes->codes();
  auto images = queries.Decode(decode);
  ASSERT_TRUE(images.ok()) << images.status();
  ASSERT_EQ(images->outputs_size(), 3);
  EXPECT_FALSE(images->outputs(2).image().encoded().empty());
  decode.set_model_version(7);
  EXPECT_EQ(queries.Decode(decode).status().code(), StatusCode::kNotFound);
  encode.clear_inputs();
  EXPECT_EQ(queries.Encode(encode).status().code(), StatusCode::kInvalidArgument);

  v1::GetItemRequest get;
  get.set_collection("imgs");
  get.set_id("item-2");
  get.set_include_code(true);
  auto item = queries.GetItem(get);
  ASSERT_TRUE(item.ok()) << item.status();
  EXPECT_EQ(item->item().label(), "c2");
  EXPECT_EQ(item->model_version(), 1u);
  EXPECT_EQ(item->code().float_code().values_size(), 6);
}

}  // namespace
}  // namespace bn::testing
