#include "server/core/collection_registry.h"

#include <filesystem>

#include "server/core/runtime.h"
#include "tests/server/core/core_fixture.h"

namespace bn::testing {
namespace {

namespace v1 = ::bottleneck::v1;
using absl::StatusCode;

using CollectionRegistryTest = CoreFixture;

TEST_F(CollectionRegistryTest, CreateDescribeListRemove) {
  CollectionRegistry& registry = core().collections();
  CreateImages("a");
  CreateImages("b");
  auto a = registry.Describe("a");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->spec().distance(), v1::DISTANCE_L2);  // Defaults are filled in.
  EXPECT_EQ(a->stats().item_count(), 0u);
  EXPECT_EQ(a->stats().serving_model_version(), 0u);

  v1::CreateCollectionRequest again;
  again.set_name("a");
  *again.mutable_spec() = a->spec();
  EXPECT_EQ(registry.Create(again).status().code(), StatusCode::kAlreadyExists);
  again.set_name("../etc");
  EXPECT_EQ(registry.Create(again).status().code(), StatusCode::kInvalidArgument);
  again.set_name("c");
  again.mutable_spec()->mutable_image()->set_channels(2);
  EXPECT_EQ(registry.Create(again).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(registry.Find("c").status().code(), StatusCode::kNotFound);

  auto list = registry.List();
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->collections_size(), 2);
  EXPECT_EQ(list->collections(0).name(), "a");
  EXPECT_EQ(list->collections(1).name(), "b");

  UpsertItems("a", "x", 5);
  ASSERT_TRUE(core().DeleteCollection("a").ok());
  EXPECT_EQ(registry.Describe("a").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(core().DeleteCollection("a").code(), StatusCode::kNotFound);
  CreateImages("a");  // A new incarnation starts empty.
  EXPECT_EQ(registry.Describe("a")->stats().item_count(), 0u);
}

TEST_F(CollectionRegistryTest, CollectionsAndServingModelsSurviveARestart) {
  CreateImages("imgs");
  Upload("imgs", "train", 80);
  UpsertItems("imgs", "item-", 20);
  const v1::Job job = Train("imgs", "train", PcaSpec(4), /*promote=*/true);
  ASSERT_EQ(job.state(), v1::JOB_STATE_SUCCEEDED) << job.error();
  WaitServing("imgs", job.model_version());
  Reopen();
  auto described = core().collections().Describe("imgs");
  ASSERT_TRUE(described.ok()) << described.status();
  EXPECT_EQ(described->stats().item_count(), 20u);
  EXPECT_EQ(described->stats().serving_model_version(), job.model_version());
  EXPECT_EQ(described->stats().pending_item_count(), 0u);
  EXPECT_EQ(described->stats().model_count(), 1u);
}

TEST_F(CollectionRegistryTest, ModelVersionsAreNumberedAndListedNewestFirst) {
  CreateImages("imgs");
  Upload("imgs", "train", 80);
  ASSERT_EQ(Train("imgs", "train", PcaSpec(3)).model_version(), 1u);
  ASSERT_EQ(Train("imgs", "train", PcaSpec(5), /*promote=*/true).model_version(), 2u);
  WaitServing("imgs", 2);
  CollectionRegistry& registry = core().collections();
  auto models = registry.ListModels("imgs");
  ASSERT_TRUE(models.ok()) << models.status();
  ASSERT_EQ(models->models_size(), 2);
  EXPECT_EQ(models->models(0).version(), 2u);
  EXPECT_TRUE(models->models(0).serving());
  EXPECT_EQ(models->models(0).code_size(), 5u);
  EXPECT_EQ(models->models(1).version(), 1u);
  EXPECT_FALSE(models->models(1).serving());
  EXPECT_GT(models->models(1).report().pca_reconstruction_error(), 0);
  EXPECT_EQ(registry.GetModel("imgs", 1)->code_size(), 3u);
  EXPECT_EQ(registry.GetModel("imgs", 3).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(registry.ListModels("nope").status().code(), StatusCode::kNotFound);
  auto loaded = registry.LoadModel("imgs", 1);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ((*loaded)->model->code_size(), 3);
}

TEST_F(CollectionRegistryTest, SnapshotsAreSavedForServingIndexes) {
  CreateImages("imgs");
  Upload("imgs", "train", 80);
  ASSERT_EQ(Train("imgs", "train", PcaSpec(4), /*promote=*/true).model_version(), 1u);
  WaitServing("imgs", 1);
  UpsertItems("imgs", "item-", 30);
  core().collections().SaveSnapshots();
  int snapshots = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir_.path() + "/index")) {
    snapshots += entry.path().extension() == ".hnsw";
  }
  EXPECT_EQ(snapshots, 1);
  ASSERT_TRUE(core().DeleteCollection("imgs").ok());  // Snapshots are derived: removed too.
  snapshots = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir_.path() + "/index")) {
    snapshots += entry.path().extension() == ".hnsw";
  }
  EXPECT_EQ(snapshots, 0);
}

}  // namespace
}  // namespace bn::testing
