#include "server/core/dataset_catalog.h"

#include "engine/train/progress.h"
#include "server/core/text_pipeline.h"
#include "server/core/trainer.h"
#include "tests/server/core/core_fixture.h"

namespace bn::testing {
namespace {

namespace v1 = ::bottleneck::v1;
using absl::StatusCode;

class DatasetCatalogTest : public CoreFixture {
 protected:
  v1::UploadDatasetRequest Message(const std::string& dataset, int n, int first = 0) {
    v1::UploadDatasetRequest message;
    message.set_collection("imgs");
    message.set_dataset(dataset);
    for (int i = first; i < first + n; ++i) {
      v1::Example* example = message.add_examples();
      *example->mutable_input() = ImageInput(i % 4, i);
      if (i % 2 == 0) example->set_label("even");
    }
    return message;
  }
};

TEST_F(DatasetCatalogTest, UploadIsVisibleOnlyOnceCommitted) {
  CreateImages("imgs");
  DatasetCatalog& datasets = core().datasets();
  auto upload = datasets.BeginUpload();
  ASSERT_TRUE(upload->Append(Message("d", 10)).ok());
  EXPECT_EQ(datasets.Get("imgs", "d").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(datasets.List("imgs")->datasets_size(), 0);
  v1::UploadDatasetRequest more = Message("", 5, 10);
  more.clear_collection();  // Later messages may omit the names.
  ASSERT_TRUE(upload->Append(more).ok());
  auto committed = upload->Commit();
  ASSERT_TRUE(committed.ok()) << committed.status();
  EXPECT_EQ(committed->example_count(), 15u);
  EXPECT_EQ(committed->labelled_count(), 8u);
  auto got = datasets.Get("imgs", "d");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->example_count(), 15u);
  ASSERT_EQ(datasets.List("imgs")->datasets_size(), 1);
  ASSERT_TRUE(datasets.Delete("imgs", "d").ok());
  EXPECT_EQ(datasets.Get("imgs", "d").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(datasets.Delete("imgs", "d").code(), StatusCode::kNotFound);
}

TEST_F(DatasetCatalogTest, AFailedOrAbandonedUploadLeavesNothing) {
  CreateImages("imgs");
  DatasetCatalog& datasets = core().datasets();
  {
    auto upload = datasets.BeginUpload();
    ASSERT_TRUE(upload->Append(Message("d", 10)).ok());
    // A second upload of the same name is refused while the first runs.
    auto rival = datasets.BeginUpload();
    EXPECT_EQ(rival->Append(Message("d", 1)).code(), StatusCode::kAlreadyExists);
    v1::UploadDatasetRequest bad = Message("d", 3, 10);
    bad.mutable_examples(2)->mutable_input()->mutable_document()->set_text("words");
    absl::Status s = upload->Append(bad);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
    EXPECT_NE(s.message().find("examples[12]"), absl::string_view::npos) << s;
  }  // Destroyed uncommitted.
  EXPECT_EQ(datasets.List("imgs")->datasets_size(), 0);
  auto upload = datasets.BeginUpload();  // The name is free again.
  ASSERT_TRUE(upload->Append(Message("d", 2)).ok());
  ASSERT_TRUE(upload->Commit().ok());
  auto duplicate = datasets.BeginUpload();
  EXPECT_EQ(duplicate->Append(Message("d", 2)).code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(datasets.Get("imgs", "d")->example_count(), 2u);  // The existing one is untouched.
  auto nameless = datasets.BeginUpload();
  EXPECT_EQ(nameless->Commit().status().code(), StatusCode::kInvalidArgument);
  auto unknown = datasets.BeginUpload();
  v1::UploadDatasetRequest elsewhere = Message("d", 1);
  elsewhere.set_collection("missing");
  EXPECT_EQ(unknown->Append(elsewhere).code(), StatusCode::kNotFound);
}

TEST_F(DatasetCatalogTest, SizeLimitsAreResourceExhausted) {
  options().max_dataset_examples = 12;
  Reopen();
  CreateImages("imgs");
  auto upload = core().datasets().BeginUpload();
  ASSERT_TRUE(upload->Append(Message("d", 10)).ok());
  EXPECT_EQ(upload->Append(Message("d", 3, 10)).code(), StatusCode::kResourceExhausted);
}

TEST_F(DatasetCatalogTest, LoadReadsTheExamplesBackAsAMatrix) {
  CreateImages("imgs");
  Upload("imgs", "train", 20);
  v1::Job job;
  job.set_collection("imgs");
  job.set_dataset("train");
  LabelledMatrix all;
  std::unique_ptr<TextPipeline> text;
  CancellationFlag cancel;
  auto runtime = core().collections().Describe("imgs");
  ASSERT_TRUE(core().datasets().Load(job, runtime->spec(), cancel, &all, &text).ok());
  EXPECT_EQ(all.x.rows, 20);
  EXPECT_EQ(all.x.cols, kSide * kSide);
  ASSERT_EQ(all.labels.size(), 20u);
  for (int i = 0; i < 20; ++i) EXPECT_EQ(all.labels[i], i % 4);  // First seen, first number.
  for (float v : all.x.data) ASSERT_TRUE(v >= 0 && v <= 1);
  EXPECT_EQ(text, nullptr);
}

}  // namespace
}  // namespace bn::testing
