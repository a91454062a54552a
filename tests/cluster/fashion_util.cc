#include "tests/cluster/fashion_util.h"

#include <gtest/gtest.h>

#include <map>
#include <mutex>

#include "tests/cluster/cluster_harness.h"
#include "tests/integration/client_util.h"

namespace bn::testing {

namespace v1 = ::bottleneck::v1;

const LabeledImages& Fashion(DatasetSplit split, int n) {
  static std::mutex mutex;
  static auto* cache = new std::map<std::pair<int, int>, LabeledImages>();
  std::lock_guard<std::mutex> lock(mutex);
  auto key = std::make_pair(static_cast<int>(split), n);
  auto it = cache->find(key);
  if (it == cache->end()) {
    auto loaded = LoadFashionMnist(BN_FASHION_MNIST_DIR, split, n);
    EXPECT_TRUE(loaded.ok()) << loaded.status();
    it = cache->emplace(key, loaded.ok() ? std::move(*loaded) : LabeledImages()).first;
  }
  return it->second;
}

v1::Input FashionInput(const LabeledImages& images, int i) {
  std::string pixels(784, '\0');
  for (int p = 0; p < 784; ++p) {
    pixels[p] = static_cast<char>(static_cast<int>(images.images.at(i, p) * 255.0f + 0.5f));
  }
  return RawGrey(28, 28, pixels);
}

grpc::Status CreateFashionCollection(Api& api, const std::string& name, uint32_t shards,
                                     uint32_t replicas) {
  v1::CreateCollectionRequest request;
  request.set_name(name);
  auto* image = request.mutable_spec()->mutable_image();
  image->set_height(28);
  image->set_width(28);
  image->set_channels(1);
  request.set_shards(shards);
  request.set_replicas(replicas);
  v1::Collection created;
  return api.collections->CreateCollection(Ctx().get(), request, &created);
}

grpc::Status UploadFashion(Api& api, const std::string& collection, const std::string& dataset,
                           int n) {
  const LabeledImages& train = Fashion(DatasetSplit::kTrain, n);
  auto context = Ctx(120);
  v1::Dataset result;
  auto writer = api.training->UploadDataset(context.get(), &result);
  for (int start = 0; start < n; start += 500) {
    v1::UploadDatasetRequest message;
    message.set_collection(collection);
    message.set_dataset(dataset);
    for (int i = start; i < std::min(n, start + 500); ++i) {
      v1::Example* example = message.add_examples();
      *example->mutable_input() = FashionInput(train, i);
      example->set_label(std::to_string(train.labels[i]));
    }
    if (!writer->Write(message)) break;
  }
  writer->WritesDone();
  return writer->Finish();
}

v1::Job Train(Api& api, const std::string& collection, const std::string& dataset,
              const v1::ModelSpec& spec, bool promote, int seconds) {
  v1::StartTrainingRequest start;
  start.set_collection(collection);
  start.set_dataset(dataset);
  *start.mutable_spec() = spec;
  start.set_promote_when_done(promote);
  v1::Job job;
  grpc::Status status = api.training->StartTraining(Ctx().get(), start, &job);
  EXPECT_TRUE(status.ok()) << status.error_message();
  if (!status.ok()) return job;
  WaitFor(
      [&] {
        v1::GetJobRequest get;
        get.set_job_id(job.id());
        return api.training->GetJob(Ctx().get(), get, &job).ok() &&
               (job.state() == v1::JOB_STATE_SUCCEEDED || job.state() == v1::JOB_STATE_FAILED ||
                job.state() == v1::JOB_STATE_CANCELLED) &&
               (job.state() != v1::JOB_STATE_SUCCEEDED || job.model_version() != 0);
      },
      seconds);
  EXPECT_EQ(job.state(), v1::JOB_STATE_SUCCEEDED) << job.DebugString();
  return job;
}

v1::Job TrainPca(Api& api, const std::string& collection, const std::string& dataset, uint32_t code,
                 bool promote, int seconds) {
  v1::ModelSpec spec;
  spec.mutable_pca()->set_code_size(code);
  return Train(api, collection, dataset, spec, promote, seconds);
}

uint64_t UpsertFashion(Api& api, const std::string& collection, const LabeledImages& images,
                       int begin, int end, const std::string& prefix, int batch) {
  uint64_t sequence = 0;
  for (int start = begin; start < end; start += batch) {
    v1::UpsertRequest request;
    request.set_collection(collection);
    for (int i = start; i < std::min(end, start + batch); ++i) {
      v1::Item* item = request.add_items();
      item->set_id(prefix + std::to_string(i));
      *item->mutable_input() = FashionInput(images, i);
      item->set_label(std::to_string(images.labels[i]));
    }
    v1::UpsertResponse response;
    grpc::Status status = api.items->Upsert(Ctx(60).get(), request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    sequence = std::max(sequence, response.sequence());
  }
  return sequence;
}

bool WaitForServing(Api& api, const std::string& collection, uint64_t version, int seconds) {
  return WaitFor(
      [&] {
        v1::GetCollectionRequest get;
        get.set_name(collection);
        v1::Collection described;
        return api.collections->GetCollection(Ctx().get(), get, &described).ok() &&
               described.stats().serving_model_version() == version;
      },
      seconds);
}

double L2(const v1::Code& a, const v1::Code& b) {
  double sum = 0;
  const int n = std::min(a.float_code().values_size(), b.float_code().values_size());
  for (int i = 0; i < n; ++i) {
    const double d = a.float_code().values(i) - b.float_code().values(i);
    sum += d * d;
  }
  return sum;
}

}  // namespace bn::testing
