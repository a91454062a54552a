// Fashion-MNIST through the v1 API, for the cluster tests: the same calls against a single node
// or any node of a cluster.
#ifndef BOTTLENECK_TESTS_CLUSTER_FASHION_UTIL_H_
#define BOTTLENECK_TESTS_CLUSTER_FASHION_UTIL_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <vector>

#include "bottleneck/v1/collection.grpc.pb.h"
#include "bottleneck/v1/item.grpc.pb.h"
#include "bottleneck/v1/model.grpc.pb.h"
#include "bottleneck/v1/query.grpc.pb.h"
#include "bottleneck/v1/training.grpc.pb.h"
#include "engine/data/idx.h"
#include "tests/integration/client_util.h"  // Api.

namespace bn::testing {

// The first `n` images of a split (loaded once per process).
const LabeledImages& Fashion(DatasetSplit split, int n);
bottleneck::v1::Input FashionInput(const LabeledImages& images, int i);

// A 28x28x1 collection (shards/replicas 0: the server's defaults).
grpc::Status CreateFashionCollection(Api& api, const std::string& name, uint32_t shards = 0,
                                     uint32_t replicas = 0);
// Uploads the first `n` training images as dataset `dataset`.
grpc::Status UploadFashion(Api& api, const std::string& collection, const std::string& dataset,
                           int n);
// Starts a job with `spec`, waits (up to `seconds`) until it has ended and, if it succeeded, names
// its model version, and returns the job; expects it to succeed.
bottleneck::v1::Job Train(Api& api, const std::string& collection, const std::string& dataset,
                          const bottleneck::v1::ModelSpec& spec, bool promote, int seconds = 120);
// Train with a PCA spec of code size `code`.
bottleneck::v1::Job TrainPca(Api& api, const std::string& collection, const std::string& dataset,
                             uint32_t code, bool promote, int seconds = 120);
// Upserts test images [begin, end) as items "<prefix><i>" in batches of `batch`; returns the
// largest write sequence (0 from a single node).
uint64_t UpsertFashion(Api& api, const std::string& collection, const LabeledImages& images,
                       int begin, int end, const std::string& prefix, int batch = 250);
// Waits until the collection serves `version` (GetCollection), up to `seconds`.
bool WaitForServing(Api& api, const std::string& collection, uint64_t version, int seconds = 60);

// Squared L2 distance of two float codes.
double L2(const bottleneck::v1::Code& a, const bottleneck::v1::Code& b);

}  // namespace bn::testing

#endif  // BOTTLENECK_TESTS_CLUSTER_FASHION_UTIL_H_
