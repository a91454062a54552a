// A Core over a fresh store in a temporary directory, for the core's in-process unit tests (no
// gRPC, no server process), with helpers that make small image collections, datasets and models.
#ifndef BOTTLENECK_TESTS_SERVER_CORE_CORE_FIXTURE_H_
#define BOTTLENECK_TESTS_SERVER_CORE_CORE_FIXTURE_H_

#include <memory>
#include <string>
#include <vector>

#include "bottleneck/v1/collection.pb.h"
#include "bottleneck/v1/common.pb.h"
#include "bottleneck/v1/training.pb.h"
#include "engine/store/store.h"
#include "gtest/gtest.h"
#include "server/core/core.h"
#include "tests/util/temp_dir.h"

namespace bn::testing {

class CoreFixture : public ::testing::Test {
 protected:
  static constexpr int kSide = 8;  // Images are kSide x kSide grey.

  void SetUp() override;
  void TearDown() override;
  // Shuts the core down and opens store and core again (a restart).
  void Reopen();

  Core& core() { return *core_; }
  CoreOptions& options() { return options_; }  // Applies from the next Reopen().

  // Creates an image collection of kSide x kSide grey images.
  void CreateImages(const std::string& name);
  // A deterministic image of class `cls` (0..3: bars in four directions) and `variant` (noise).
  static bottleneck::v1::Input ImageInput(int cls, int variant);
  // Uploads `n` examples (classes round-robin, labelled "c<cls>") as `dataset`.
  void Upload(const std::string& collection, const std::string& dataset, int n);
  // Upserts items "<prefix><i>", i in [0, n), of class i % 4.
  void UpsertItems(const std::string& collection, const std::string& prefix, int n);
  // Trains `spec` on `dataset` and waits for the job to end; returns the job.
  bottleneck::v1::Job Train(const std::string& collection, const std::string& dataset,
                            const bottleneck::v1::ModelSpec& spec, bool promote = false);
  static bottleneck::v1::ModelSpec PcaSpec(int code_size);
  // Waits (up to 60 s) until `version` serves the collection.
  void WaitServing(const std::string& collection, uint64_t version);
  // Waits (up to 120 s) until the job is finished.
  bottleneck::v1::Job WaitJob(const std::string& job_id);

  TempDir dir_;
  CoreOptions options_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<Core> core_;
};

}  // namespace bn::testing

#endif  // BOTTLENECK_TESTS_SERVER_CORE_CORE_FIXTURE_H_
