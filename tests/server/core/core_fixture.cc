#include "tests/server/core/core_fixture.h"

#include <chrono>
#include <random>
#include <thread>

namespace bn::testing {

namespace v1 = ::bottleneck::v1;

void CoreFixture::SetUp() {
  options_.data_dir = dir_.path();
  options_.snapshot_interval = std::chrono::seconds(3600);
  options_.checkpoint_interval = std::chrono::seconds(0);
  options_.training_threads = 1;
  options_.training_nice = 0;
  options_.background_nice = 0;
  Reopen();
}

void CoreFixture::TearDown() {
  core_.reset();
  store_.reset();
}

void CoreFixture::Reopen() {
  core_.reset();
  store_.reset();
  auto store = Store::Open(dir_.Sub("db"), StoreOptions());
  ASSERT_TRUE(store.ok()) << store.status();
  store_ = std::move(*store);
  auto core = Core::Open(store_.get(), options_);
  ASSERT_TRUE(core.ok()) << core.status();
  core_ = std::move(*core);
}

void CoreFixture::CreateImages(const std::string& name) {
  v1::CreateCollectionRequest request;
  request.set_name(name);
  v1::ImageGeometry* image = request.mutable_spec()->mutable_image();
  image->set_height(kSide);
  image->set_width(kSide);
  image->set_channels(1);
  auto created = core().collections().Create(request);
  ASSERT_TRUE(created.ok()) << created.status();
}

v1::Input CoreFixture::ImageInput(int cls, int variant) {
  std::mt19937 rng(static_cast<unsigned>(cls * 7919 + variant));
  std::uniform_int_distribution<int> noise(0, 40);
  std::string pixels(kSide * kSide, '\0');
  for (int y = 0; y < kSide; ++y) {
    for (int x = 0; x < kSide; ++x) {
      const bool on = cls == 0   ? y % 2 == 0
                      : cls == 1 ? x % 2 == 0
                      : cls == 2 ? (x + y) % 3 == 0
                                 : x < kSide / 2;
      pixels[y * kSide + x] = static_cast<char>((on ? 200 : 20) + noise(rng));
    }
  }
  v1::Input input;
  v1::RawImage* raw = input.mutable_image()->mutable_raw();
  raw->set_height(kSide);
  raw->set_width(kSide);
  raw->set_channels(1);
  raw->set_pixel_type(v1::PIXEL_TYPE_UINT8);
  raw->set_data(pixels);
  return input;
}

void CoreFixture::Upload(const std::string& collection, const std::string& dataset, int n) {
  auto upload = core().datasets().BeginUpload();
  v1::UploadDatasetRequest message;
  message.set_collection(collection);
  message.set_dataset(dataset);
  for (int i = 0; i < n; ++i) {
    v1::Example* example = message.add_examples();
    *example->mutable_input() = ImageInput(i % 4, i);
    example->set_label("c" + std::to_string(i % 4));
  }
  ASSERT_TRUE(upload->Append(message).ok());
  auto committed = upload->Commit();
  ASSERT_TRUE(committed.ok()) << committed.status();
}

void CoreFixture::UpsertItems(const std::string& collection, const std::string& prefix, int n) {
  v1::UpsertRequest request;
  request.set_collection(collection);
  for (int i = 0; i < n; ++i) {
    v1::Item* item = request.add_items();
    item->set_id(prefix + std::to_string(i));
    *item->mutable_input() = ImageInput(i % 4, 1000 + i);
    item->set_label("c" + std::to_string(i % 4));
  }
  auto upserted = core().ingest().Upsert(request);
  ASSERT_TRUE(upserted.ok()) << upserted.status();
}

v1::ModelSpec CoreFixture::PcaSpec(int code_size) {
  v1::ModelSpec spec;
  spec.mutable_pca()->set_code_size(code_size);
  return spec;
}

v1::Job CoreFixture::Train(const std::string& collection, const std::string& dataset,
                           const v1::ModelSpec& spec, bool promote) {
  v1::StartTrainingRequest request;
  request.set_collection(collection);
  request.set_dataset(dataset);
  *request.mutable_spec() = spec;
  request.set_promote_when_done(promote);
  auto job = core().jobs().Start(request);
  EXPECT_TRUE(job.ok()) << job.status();
  if (!job.ok()) return v1::Job();
  return WaitJob(job->id());
}

v1::Job CoreFixture::WaitJob(const std::string& job_id) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (std::chrono::steady_clock::now() < deadline) {
    auto job = core().jobs().Get(job_id);
    EXPECT_TRUE(job.ok()) << job.status();
    if (!job.ok()) return v1::Job();
    const v1::JobState s = job->state();
    if (s == v1::JOB_STATE_SUCCEEDED || s == v1::JOB_STATE_FAILED || s == v1::JOB_STATE_CANCELLED ||
        s == v1::JOB_STATE_INTERRUPTED) {
      return *job;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ADD_FAILURE() << "job " << job_id << " did not finish";
  return v1::Job();
}

void CoreFixture::WaitServing(const std::string& collection, uint64_t version) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    auto described = core().collections().Describe(collection);
    ASSERT_TRUE(described.ok()) << described.status();
    if (described->stats().serving_model_version() == version &&
        !described->stats().has_promotion()) {
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  FAIL() << "model v" << version << " never served " << collection;
}

}  // namespace bn::testing
