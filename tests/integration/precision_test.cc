// `--inference-precision bf16`: a primary encodes with bf16 weights and activations; a follower
// of its data directory (default f32) serves the same promoted model in f32, so the two servers'
// codes for the same images can be compared end to end.
#include <grpcpp/grpcpp.h>

#include <cmath>
#include <memory>
#include <string>
#include <vector>

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

v1::Input Image(int i) {
  std::string data(64, '\0');
  for (int p = 0; p < 64; ++p) data[p] = static_cast<char>((p * (i % 7 + 1) + i * 37) % 256);
  return RawGrey(8, 8, std::move(data));
}

v1::EncodeResponse Encode(v1::QueryService::Stub* query, int from, int to) {
  v1::EncodeRequest request;
  request.set_collection("img");
  for (int i = from; i < to; ++i) *request.add_inputs() = Image(i);
  v1::EncodeResponse response;
  grpc::Status s = query->Encode(Ctx().get(), request, &response);
  EXPECT_TRUE(s.ok()) << s.error_message();
  return response;
}

TEST(PrecisionTest, Bf16EncodingServesCodesCloseToF32AndFindsItems) {
  TempDir dir;
  std::string error;
  auto primary =
      ServerProcess::Start(dir.Sub("primary"), {"--inference-precision", "bf16"}, &error);
  ASSERT_NE(primary, nullptr) << error;
  auto channel = primary->Channel();
  auto collections = v1::CollectionService::NewStub(channel);
  auto training = v1::TrainingService::NewStub(channel);
  auto items = v1::ItemService::NewStub(channel);
  auto query = v1::QueryService::NewStub(channel);

  v1::CreateCollectionRequest create;
  create.set_name("img");
  create.mutable_spec()->mutable_image()->set_height(8);
  create.mutable_spec()->mutable_image()->set_width(8);
  create.mutable_spec()->mutable_image()->set_channels(1);
  v1::Collection collection;
  ASSERT_TRUE(collections->CreateCollection(Ctx().get(), create, &collection).ok());
  std::vector<v1::Input> examples;
  for (int i = 0; i < 300; ++i) examples.push_back(Image(1000 + i));
  ASSERT_TRUE(UploadExamples(training.get(), "img", "train", examples).ok());
  v1::StartTrainingRequest start;
  start.set_collection("img");
  start.set_dataset("train");
  v1::DenseAutoencoderSpec* dense = start.mutable_spec()->mutable_dense();
  dense->add_encoder_sizes(48);
  dense->set_code_size(6);
  dense->set_hidden_activation(v1::ACTIVATION_RELU);
  start.mutable_spec()->mutable_training()->set_epochs(5);
  start.set_promote_when_done(true);
  v1::Job job;
  ASSERT_TRUE(training->StartTraining(Ctx().get(), start, &job).ok());
  ASSERT_TRUE(Eventually([&] {
    v1::GetCollectionRequest get;
    get.set_name("img");
    v1::Collection c;
    return collections->GetCollection(Ctx().get(), get, &c).ok() &&
           c.stats().serving_model_version() == 1;
  }));
  v1::UpsertRequest upsert;
  upsert.set_collection("img");
  for (int i = 0; i < 40; ++i) {
    v1::Item* item = upsert.add_items();
    item->set_id("i" + std::to_string(i));
    *item->mutable_input() = Image(i);
  }
  v1::UpsertResponse upserted;
  ASSERT_TRUE(items->Upsert(Ctx().get(), upsert, &upserted).ok());

  // Searching by an item's own image finds that item (its stored code came from the same path).
  for (int i : {0, 17, 39}) {
    v1::SearchRequest search;
    search.set_collection("img");
    *search.mutable_input() = Image(i);
    search.set_k(1);
    v1::SearchResponse found;
    ASSERT_TRUE(query->Search(Ctx().get(), search, &found).ok());
    ASSERT_EQ(found.neighbors_size(), 1);
    EXPECT_EQ(found.neighbors(0).id(), "i" + std::to_string(i));
  }

  // The same model in f32 (a follower with the default precision): codes close, not identical.
  auto follower =
      ServerProcess::Start(dir.Sub("follower"), {"--follow", dir.Sub("primary")}, &error);
  ASSERT_NE(follower, nullptr) << error;
  auto f32_query = v1::QueryService::NewStub(follower->Channel());
  const v1::EncodeResponse bf16 = Encode(query.get(), 0, 40);
  const v1::EncodeResponse f32 = Encode(f32_query.get(), 0, 40);
  ASSERT_EQ(bf16.codes_size(), 40);
  ASSERT_EQ(f32.codes_size(), 40);
  EXPECT_EQ(bf16.model_version(), f32.model_version());
  double diff = 0, norm = 0;
  for (int i = 0; i < 40; ++i) {
    const auto& a = f32.codes(i).float_code().values();
    const auto& b = bf16.codes(i).float_code().values();
    ASSERT_EQ(a.size(), 6);
    ASSERT_EQ(b.size(), 6);
    for (int j = 0; j < 6; ++j) {
      diff += std::abs(a[j] - b[j]);
      norm += std::abs(a[j]);
    }
  }
  if (primary->Stderr().find("no AVX-512 BF16") != std::string::npos) {
    EXPECT_EQ(diff, 0.0);  // This CPU fell back to f32, as the warning says.
  } else {
    EXPECT_GT(diff, 0.0);  // The primary really encodes in bf16...
  }
  EXPECT_LT(diff, 2e-2 * norm);  // ...within bf16's precision.
}

}  // namespace
}  // namespace bn::testing
