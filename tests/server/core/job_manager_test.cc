#include "server/core/job_manager.h"

#include <chrono>
#include <thread>

#include "tests/server/core/core_fixture.h"

namespace bn::testing {
namespace {

namespace v1 = ::bottleneck::v1;
using absl::StatusCode;

class JobManagerTest : public CoreFixture {
 protected:
  void SetUp() override {
    CoreFixture::SetUp();
    CreateImages("imgs");
    Upload("imgs", "train", 400);
  }
  // A small dense auto-encoder that trains for a few seconds.
  static v1::ModelSpec SlowDense(uint32_t epochs) {
    v1::ModelSpec spec;
    spec.mutable_dense()->add_encoder_sizes(32);
    spec.mutable_dense()->set_code_size(4);
    spec.mutable_training()->set_epochs(epochs);
    spec.mutable_training()->set_early_stopping_patience(epochs);  // Every epoch runs.
    spec.mutable_training()->set_batch_size(8);
    return spec;
  }
  v1::StartTrainingRequest Request(const v1::ModelSpec& spec) {
    v1::StartTrainingRequest request;
    request.set_collection("imgs");
    request.set_dataset("train");
    *request.mutable_spec() = spec;
    return request;
  }
  void WaitRunning(const std::string& job_id) {
    for (int i = 0; i < 6000; ++i) {
      auto job = core().jobs().Get(job_id);
      ASSERT_TRUE(job.ok());
      if (job->state() == v1::JOB_STATE_RUNNING && job->progress().epoch() >= 1) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    FAIL() << "job never ran";
  }
};

TEST_F(JobManagerTest, AJobTrainsStoresAModelAndRecordsItsProgress) {
  const v1::Job job = Train("imgs", "train", SlowDense(3));
  ASSERT_EQ(job.state(), v1::JOB_STATE_SUCCEEDED) << job.error();
  EXPECT_EQ(job.model_version(), 1u);
  EXPECT_EQ(job.id(), "imgs.1");
  EXPECT_TRUE(job.has_start_time());
  EXPECT_TRUE(job.has_end_time());
  int finetune_epochs = 0;
  for (const auto& h : job.history()) finetune_epochs += h.phase() == "fine-tune";
  EXPECT_EQ(finetune_epochs, 3);
  auto model = core().collections().GetModel("imgs", 1);
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_EQ(model->job_id(), "imgs.1");
  EXPECT_EQ(model->report().validation_items(), 40u);  // The default 10 % split.
  EXPECT_GT(model->report().reconstruction_error(), 0);
  EXPECT_GT(model->report().precision_at_10(), 0);  // Every example is labelled.
  auto list = core().jobs().List("imgs");
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(list->jobs_size(), 1);
}

TEST_F(JobManagerTest, BadStartsAreRefusedAndQueueNothing) {
  JobManager& jobs = core().jobs();
  v1::StartTrainingRequest request = Request(PcaSpec(0));
  EXPECT_EQ(jobs.Start(request).status().code(), StatusCode::kInvalidArgument);
  request = Request(PcaSpec(4));
  request.set_dataset("missing");
  EXPECT_EQ(jobs.Start(request).status().code(), StatusCode::kNotFound);
  request = Request(PcaSpec(4));
  request.set_description(std::string(1025, 'x'));
  EXPECT_EQ(jobs.Start(request).status().code(), StatusCode::kInvalidArgument);
  request = Request(PcaSpec(4));
  request.set_collection("missing");
  EXPECT_EQ(jobs.Start(request).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(jobs.List("")->jobs_size(), 0);
  EXPECT_EQ(jobs.Get("imgs.1").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(jobs.Resume("imgs.1").status().code(), StatusCode::kNotFound);

  options().training_enabled = false;
  Reopen();
  EXPECT_EQ(core().jobs().Start(Request(PcaSpec(4))).status().code(),
            StatusCode::kFailedPrecondition);
}

TEST_F(JobManagerTest, CancelStopsARunningJob) {
  auto started = core().jobs().Start(Request(SlowDense(10000)));
  ASSERT_TRUE(started.ok()) << started.status();
  WaitRunning(started->id());
  ASSERT_TRUE(core().jobs().Cancel(started->id()).ok());
  const v1::Job job = WaitJob(started->id());
  EXPECT_EQ(job.state(), v1::JOB_STATE_CANCELLED);
  EXPECT_EQ(job.model_version(), 0u);
  EXPECT_EQ(core().jobs().Resume(started->id()).status().code(), StatusCode::kFailedPrecondition);
}

TEST_F(JobManagerTest, ARestartInterruptsAJobThatThenResumes) {
  auto started = core().jobs().Start(Request(SlowDense(60)));
  ASSERT_TRUE(started.ok()) << started.status();
  WaitRunning(started->id());
  Reopen();
  auto interrupted = core().jobs().Get(started->id());
  ASSERT_TRUE(interrupted.ok()) << interrupted.status();
  EXPECT_EQ(interrupted->state(), v1::JOB_STATE_INTERRUPTED);
  ASSERT_TRUE(core().jobs().Resume(started->id()).ok());
  const v1::Job job = WaitJob(started->id());
  EXPECT_EQ(job.state(), v1::JOB_STATE_SUCCEEDED) << job.error();
  EXPECT_EQ(job.model_version(), 1u);
  // A new job after the restart gets a fresh number.
  auto next = core().jobs().Start(Request(PcaSpec(2)));
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(next->id(), "imgs.2");
}

TEST_F(JobManagerTest, WatchStreamsUntilTheJobEnds) {
  auto started = core().jobs().Start(Request(SlowDense(5)));
  ASSERT_TRUE(started.ok());
  std::vector<v1::JobProgress> seen;
  absl::Status s = core().jobs().Watch(started->id(), [&](const v1::JobProgress& p) {
    seen.push_back(p);
    return true;
  });
  ASSERT_TRUE(s.ok()) << s;
  ASSERT_GE(seen.size(), 2u);
  EXPECT_EQ(seen.back().state(), v1::JOB_STATE_SUCCEEDED);
  EXPECT_EQ(core().jobs().Watch(started->id(), [](const v1::JobProgress&) { return false; }).code(),
            StatusCode::kCancelled);
}

TEST_F(JobManagerTest, DeletingTheCollectionForgetsItsJobs) {
  auto started = core().jobs().Start(Request(SlowDense(10000)));
  ASSERT_TRUE(started.ok());
  WaitRunning(started->id());
  ASSERT_TRUE(core().DeleteCollection("imgs").ok());
  EXPECT_EQ(core().jobs().Get(started->id()).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(core().jobs().List("")->jobs_size(), 0);
}

TEST_F(JobManagerTest, ByLabelValidationReportsTheErrorOnLabelsNeverTrainedOn) {
  v1::ModelSpec spec = SlowDense(4);
  spec.mutable_training()->set_validation(v1::VALIDATION_SPLIT_BY_LABEL);
  spec.mutable_training()->set_validation_fraction(0.25f);  // 1 of the 4 labels.
  const v1::Job job = Train("imgs", "train", spec);
  ASSERT_EQ(job.state(), v1::JOB_STATE_SUCCEEDED) << job.error();
  auto model = core().collections().GetModel("imgs", job.model_version());
  ASSERT_TRUE(model.ok()) << model.status();
  const v1::EvaluationReport& r = model->report();
  EXPECT_EQ(r.validation(), v1::VALIDATION_SPLIT_BY_LABEL);
  ASSERT_EQ(r.heldout_labels_size(), 1);
  EXPECT_EQ(r.heldout_items(), 100u);    // Every example of that label.
  EXPECT_EQ(r.validation_items(), 75u);  // 25 % of the 300 others, in distribution.
  EXPECT_GT(r.heldout_reconstruction_error(), 0);
  EXPECT_GT(r.heldout_pca_reconstruction_error(), 0);
  EXPECT_EQ(r.epochs_run(), 4u);
  EXPECT_GE(r.best_epoch(), 1u);
  EXPECT_LE(r.best_epoch(), 4u);
}

TEST_F(JobManagerTest, ByLabelNeedsALabelledDataset) {
  auto upload = core().datasets().BeginUpload();
  v1::UploadDatasetRequest message;
  message.set_collection("imgs");
  message.set_dataset("partly");
  for (int i = 0; i < 10; ++i) {
    v1::Example* example = message.add_examples();
    *example->mutable_input() = ImageInput(i % 4, i);
    if (i < 5) example->set_label("x");
  }
  ASSERT_TRUE(upload->Append(message).ok());
  ASSERT_TRUE(upload->Commit().ok());
  v1::StartTrainingRequest request = Request(PcaSpec(4));
  request.set_dataset("partly");
  request.mutable_spec()->mutable_training()->set_validation(v1::VALIDATION_SPLIT_BY_LABEL);
  auto started = core().jobs().Start(request);
  EXPECT_EQ(started.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(started.status().message().find("5 of the 10"), absl::string_view::npos)
      << started.status();
  EXPECT_EQ(core().jobs().List("")->jobs_size(), 0);
}

TEST_F(JobManagerTest, ASpecWithoutArchitectureGetsTheDefaultRecipe) {
  v1::ModelSpec spec;
  spec.mutable_training()->set_epochs(2);
  const v1::Job job = Train("imgs", "train", spec);
  ASSERT_EQ(job.state(), v1::JOB_STATE_SUCCEEDED) << job.error();
  ASSERT_TRUE(job.spec().has_dense());  // The job records the recipe it used.
  EXPECT_EQ(job.spec().dense().encoder_sizes(0), 4u * kSide * kSide);
  EXPECT_EQ(job.spec().dense().hidden_activation(), v1::ACTIVATION_RELU);
  EXPECT_EQ(job.spec().training().epochs(), 2u);
}

}  // namespace
}  // namespace bn::testing
