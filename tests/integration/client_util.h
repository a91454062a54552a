// Small helpers shared by the integration tests' gRPC clients.
#ifndef BOTTLENECK_TESTS_INTEGRATION_CLIENT_UTIL_H_
#define BOTTLENECK_TESTS_INTEGRATION_CLIENT_UTIL_H_

#include <grpcpp/grpcpp.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "bottleneck/v1/collection.grpc.pb.h"
#include "bottleneck/v1/common.pb.h"
#include "bottleneck/v1/item.grpc.pb.h"
#include "bottleneck/v1/model.grpc.pb.h"
#include "bottleneck/v1/query.grpc.pb.h"
#include "bottleneck/v1/training.grpc.pb.h"

namespace bn::testing {

// Stubs of every v1 service over one channel.
struct Api {
  explicit Api(const std::shared_ptr<grpc::Channel>& channel);
  std::unique_ptr<bottleneck::v1::CollectionService::Stub> collections;
  std::unique_ptr<bottleneck::v1::TrainingService::Stub> training;
  std::unique_ptr<bottleneck::v1::ModelService::Stub> models;
  std::unique_ptr<bottleneck::v1::ItemService::Stub> items;
  std::unique_ptr<bottleneck::v1::QueryService::Stub> query;
};

// A client context whose deadline is `seconds` from now.
std::unique_ptr<grpc::ClientContext> Ctx(int seconds = 30);

// A raw grey uint8 image of height x width with the given pixels (height * width bytes).
bottleneck::v1::Input RawGrey(int height, int width, std::string pixels);

// Polls `done` every 50 ms for up to 30 s; true once it holds.
bool Eventually(const std::function<bool()>& done);

// Uploads `examples` as dataset `dataset` of `collection` in one streamed message, within
// `seconds`; the stream's final status.
grpc::Status UploadExamples(bottleneck::v1::TrainingService::Stub* training,
                            const std::string& collection, const std::string& dataset,
                            const std::vector<bottleneck::v1::Input>& examples, int seconds = 30);

// Trains PCA with `code_size` on `dataset` with promote_when_done and waits (up to 30 s) until
// the collection serves a model version (for a collection that served none before); that
// version, or 0 when the job did not start or no model came to serve in time.
uint64_t TrainPcaAndServe(bottleneck::v1::TrainingService::Stub* training,
                          bottleneck::v1::CollectionService::Stub* collections,
                          const std::string& collection, const std::string& dataset, int code_size);

}  // namespace bn::testing

#endif  // BOTTLENECK_TESTS_INTEGRATION_CLIENT_UTIL_H_
