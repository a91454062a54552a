#include "tests/integration/client_util.h"

#include <chrono>
#include <thread>

namespace bn::testing {

namespace v1 = ::bottleneck::v1;

Api::Api(const std::shared_ptr<grpc::Channel>& channel)
    : collections(v1::CollectionService::NewStub(channel)),
      training(v1::TrainingService::NewStub(channel)),
      models(v1::ModelService::NewStub(channel)),
      items(v1::ItemService::NewStub(channel)),
      query(v1::QueryService::NewStub(channel)) {}

std::unique_ptr<grpc::ClientContext> Ctx(int seconds) {
  auto c = std::make_unique<grpc::ClientContext>();
  c->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(seconds));
  return c;
}

bottleneck::v1::Input RawGrey(int height, int width, std::string pixels) {
  bottleneck::v1::Input input;
  bottleneck::v1::RawImage* raw = input.mutable_image()->mutable_raw();
  raw->set_height(height);
  raw->set_width(width);
  raw->set_channels(1);
  raw->set_pixel_type(bottleneck::v1::PIXEL_TYPE_UINT8);
  raw->set_data(std::move(pixels));
  return input;
}

grpc::Status UploadExamples(bottleneck::v1::TrainingService::Stub* training,
                            const std::string& collection, const std::string& dataset,
                            const std::vector<bottleneck::v1::Input>& examples, int seconds) {
  auto ctx = Ctx(seconds);
  bottleneck::v1::Dataset summary;
  auto writer = training->UploadDataset(ctx.get(), &summary);
  bottleneck::v1::UploadDatasetRequest message;
  message.set_collection(collection);
  message.set_dataset(dataset);
  for (const auto& input : examples) *message.add_examples()->mutable_input() = input;
  writer->Write(message);  // A refused write shows in Finish's status.
  writer->WritesDone();
  return writer->Finish();
}

bool Eventually(const std::function<bool()>& done) {
  for (int i = 0; i < 600; ++i) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

uint64_t TrainPcaAndServe(bottleneck::v1::TrainingService::Stub* training,
                          bottleneck::v1::CollectionService::Stub* collections,
                          const std::string& collection, const std::string& dataset,
                          int code_size) {
  bottleneck::v1::StartTrainingRequest start;
  start.set_collection(collection);
  start.set_dataset(dataset);
  start.mutable_spec()->mutable_pca()->set_code_size(code_size);
  start.set_promote_when_done(true);
  bottleneck::v1::Job job;
  if (!training->StartTraining(Ctx().get(), start, &job).ok()) return 0;
  uint64_t version = 0;
  Eventually([&] {
    bottleneck::v1::GetCollectionRequest get;
    get.set_name(collection);
    bottleneck::v1::Collection c;
    if (collections->GetCollection(Ctx().get(), get, &c).ok()) {
      version = c.stats().serving_model_version();
    }
    return version != 0;
  });
  return version;
}

}  // namespace bn::testing
