// The seed's "pre-training a DNN" through the API (issue 21): on MNIST (or Fashion-MNIST), uploads
// the training images with their labels, trains an auto-encoder (the service's default recipe,
// or --ae-spec), then classifiers fine-tuned from its encoder and the same nets from random
// weights, and measures through the API:
//   - the test error of each classifier version on the test images (Classify, top 1);
//   - the kNN-vote error of the auto-encoder's codes: the training images upserted as items,
//     each test image searching them (Search with label_votes, the top vote).
//
//   bench_service_classifier --server 127.0.0.1:50051 [--dataset mnist|fashion]
//       [--ae-spec 'TEXT'] (a ModelSpec in protobuf text format; empty: the default recipe)
//       [--training 'TEXT'] (the classifiers' TrainingOptions, protobuf text format)
//       [--augmentation 'TEXT'] (an ImageAugmentation, for the variants named NAME+aug)
//       [--variants pretrained,random[,code,frozen][,pretrained+aug,...]] [--knn-k 10]
//       [--no-knn] [--train-limit N] [--collection NAME] [--keep] [--reuse]
// --reuse: the collection exists (a run with --keep, or one still running) and its serving
// model is the auto-encoder: no upload, no training of it, never deleted (e.g. --variants ""
// for the kNN figure alone). The kNN figure comes right after the auto-encoder.
// Variants: pretrained = every hidden layer of the encoder (the default), code = every encoder
// layer with the code layer, frozen = the hidden layers kept fixed, random = the default's layer
// sizes from random weights; "+aug" adds --augmentation to --training. Prints
// `RESULT autoencoder ...`, `RESULT classifier ...` and `RESULT knn ...` lines.
#include <google/protobuf/text_format.h>
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <sstream>
#include <string>
#include <vector>

#include "bench/service_util.h"
#include "bottleneck/v1/collection.grpc.pb.h"
#include "bottleneck/v1/item.grpc.pb.h"
#include "bottleneck/v1/model.grpc.pb.h"
#include "bottleneck/v1/query.grpc.pb.h"
#include "bottleneck/v1/training.grpc.pb.h"
#include "client/lib/raw_input.h"
#include "engine/data/idx.h"

namespace v1 = ::bottleneck::v1;
using Clock = std::chrono::steady_clock;

namespace {

using ::bn::bench::Check;
using ::bn::bench::Ctx;
using ::bn::bench::Flag;
using ::bn::bench::Has;

double Since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

struct Stubs {
  std::unique_ptr<v1::CollectionService::Stub> collections;
  std::unique_ptr<v1::TrainingService::Stub> training;
  std::unique_ptr<v1::ModelService::Stub> models;
  std::unique_ptr<v1::ItemService::Stub> items;
  std::unique_ptr<v1::QueryService::Stub> query;
};

// Starts a job, prints each finished epoch, and returns the stored model (exits on failure).
v1::Model TrainAndWait(Stubs& stubs, const std::string& collection, const v1::ModelSpec& spec,
                       bool promote, double* seconds) {
  const auto t0 = Clock::now();
  v1::StartTrainingRequest start;
  start.set_collection(collection);
  start.set_dataset("train");
  *start.mutable_spec() = spec;
  start.set_promote_when_done(promote);
  v1::Job job;
  Check(stubs.training->StartTraining(Ctx().get(), start, &job), "start training");
  std::fprintf(stderr, "job %s: %s\n", job.id().c_str(), job.spec().ShortDebugString().c_str());
  {
    auto ctx = Ctx(24 * 3600);
    v1::WatchJobRequest w;
    w.set_job_id(job.id());
    auto reader = stubs.training->WatchJob(ctx.get(), w);
    v1::JobProgress p;
    int last_epoch = -1;
    while (reader->Read(&p)) {
      if (static_cast<int>(p.epoch()) != last_epoch && p.step() == p.steps_per_epoch()) {
        last_epoch = static_cast<int>(p.epoch());
        std::fprintf(stderr, "  %s epoch %u/%u loss %.4f val %.4f %.0f/s\n", p.phase().c_str(),
                     p.epoch(), p.epochs(), p.loss(), p.validation_error(), p.samples_per_second());
      }
    }
    reader->Finish();
  }
  v1::GetJobRequest get;
  get.set_job_id(job.id());
  Check(stubs.training->GetJob(Ctx().get(), get, &job), "get job");
  if (job.state() != v1::JOB_STATE_SUCCEEDED) {
    std::fprintf(stderr, "job %s ended %s: %s\n", job.id().c_str(),
                 v1::JobState_Name(job.state()).c_str(), job.error().c_str());
    std::exit(1);
  }
  *seconds = Since(t0);
  v1::GetModelRequest get_model;
  get_model.set_collection(collection);
  get_model.set_version(job.model_version());
  v1::Model model;
  Check(stubs.models->GetModel(Ctx().get(), get_model, &model), "get model");
  return model;
}

// The fraction of the test images that classifier `version` labels wrongly (Classify, top 1).
double TestError(Stubs& stubs, const std::string& collection, uint64_t version,
                 const bn::LabeledImages& test, double* seconds) {
  const auto t0 = Clock::now();
  int64_t wrong = 0;
  constexpr int64_t kBatch = 500;
  for (int64_t s = 0; s < test.images.rows; s += kBatch) {
    const int64_t n = std::min(kBatch, test.images.rows - s);
    v1::ClassifyRequest request;
    request.set_collection(collection);
    request.set_model_version(version);
    request.set_k(1);
    for (int64_t i = s; i < s + n; ++i) {
      *request.add_inputs() = bn::GreyRowToInput(test.images, i, test.height, test.width);
    }
    v1::ClassifyResponse response;
    Check(stubs.query->Classify(Ctx().get(), request, &response), "classify");
    for (int64_t i = 0; i < n; ++i) {
      wrong += response.classifications(static_cast<int>(i)).labels(0).label() !=
               std::to_string(test.labels[s + i]);
    }
  }
  *seconds = Since(t0);
  return static_cast<double>(wrong) / static_cast<double>(test.images.rows);
}

// Upserts the training images as items (ids train-<i>, their labels) with the serving model.
void UpsertTraining(Stubs& stubs, const std::string& collection, const bn::LabeledImages& train) {
  auto ctx = Ctx(3600);
  v1::UpsertResponse summary;
  auto writer = stubs.items->StreamUpsert(ctx.get(), &summary);
  for (int64_t s = 0; s < train.images.rows; s += 500) {
    v1::UpsertRequest message;
    message.set_collection(collection);
    for (int64_t i = s; i < std::min(train.images.rows, s + 500); ++i) {
      v1::Item* item = message.add_items();
      item->set_id("train-" + std::to_string(i));
      *item->mutable_input() = bn::GreyRowToInput(train.images, i, train.height, train.width);
      item->set_label(std::to_string(train.labels[i]));
    }
    if (!writer->Write(message)) break;
  }
  writer->WritesDone();
  Check(writer->Finish(), "upsert");
}

// The fraction of the test images whose top label vote among their k nearest items is wrong.
double KnnError(Stubs& stubs, const std::string& collection, const bn::LabeledImages& test,
                uint32_t k, double* seconds) {
  const auto t0 = Clock::now();
  int64_t wrong = 0;
  for (int64_t i = 0; i < test.images.rows; ++i) {
    v1::SearchRequest search;
    search.set_collection(collection);
    *search.mutable_input() = bn::GreyRowToInput(test.images, i, test.height, test.width);
    search.set_k(k);
    search.set_label_votes(true);
    v1::SearchResponse found;
    Check(stubs.query->Search(Ctx().get(), search, &found), "search");
    wrong += found.label_votes().empty() ||
             found.label_votes(0).label() != std::to_string(test.labels[i]);
  }
  *seconds = Since(t0);
  return static_cast<double>(wrong) / static_cast<double>(test.images.rows);
}

}  // namespace

int main(int argc, char** argv) {
  const std::string server = Flag(argc, argv, "server", "127.0.0.1:50051");
  const std::string dataset = Flag(argc, argv, "dataset", "mnist");
  const int64_t limit = std::stoll(Flag(argc, argv, "train-limit", "-1"));
  const uint32_t knn_k = static_cast<uint32_t>(std::stoul(Flag(argc, argv, "knn-k", "10")));
  const std::string collection = Flag(argc, argv, "collection", dataset + "-classifier");
  v1::ModelSpec ae_spec;
  v1::TrainingOptions training;
  v1::ImageAugmentation augmentation;
  if (!google::protobuf::TextFormat::ParseFromString(Flag(argc, argv, "ae-spec", ""), &ae_spec) ||
      !google::protobuf::TextFormat::ParseFromString(Flag(argc, argv, "training", ""), &training) ||
      !google::protobuf::TextFormat::ParseFromString(Flag(argc, argv, "augmentation", ""),
                                                     &augmentation)) {
    std::fprintf(stderr,
                 "--ae-spec is a ModelSpec, --training a TrainingOptions, --augmentation an "
                 "ImageAugmentation (text format)\n");
    return 2;
  }
  std::vector<std::string> variants;
  {
    std::stringstream ss(Flag(argc, argv, "variants", "pretrained,random"));
    for (std::string v; std::getline(ss, v, ',');) variants.push_back(v);
  }
  const std::string name = dataset == "fashion" ? "fashion-mnist" : "mnist";
  auto train = bn::LoadImageDataset(name, BN_FASHION_MNIST_DIR, BN_DATASETS_DIR,
                                    bn::DatasetSplit::kTrain, limit);
  auto test =
      bn::LoadImageDataset(name, BN_FASHION_MNIST_DIR, BN_DATASETS_DIR, bn::DatasetSplit::kTest);
  if (!train.ok() || !test.ok()) {
    std::fprintf(stderr, "cannot load %s\n", name.c_str());
    return 1;
  }

  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(64 << 20);
  auto channel = grpc::CreateCustomChannel(server, grpc::InsecureChannelCredentials(), args);
  Stubs stubs{v1::CollectionService::NewStub(channel), v1::TrainingService::NewStub(channel),
              v1::ModelService::NewStub(channel), v1::ItemService::NewStub(channel),
              v1::QueryService::NewStub(channel)};
  const bool reuse = Has(argc, argv, "reuse");
  v1::Model ae;
  if (reuse) {
    // An existing collection (a kept run): its serving auto-encoder, no upload, no training.
    v1::GetCollectionRequest get;
    get.set_name(collection);
    v1::Collection existing;
    Check(stubs.collections->GetCollection(Ctx().get(), get, &existing), "get collection");
    v1::GetModelRequest get_model;
    get_model.set_collection(collection);
    get_model.set_version(existing.stats().serving_model_version());
    Check(stubs.models->GetModel(Ctx().get(), get_model, &ae), "get serving model");
  } else {
    v1::CreateCollectionRequest create;
    create.set_name(collection);
    create.mutable_spec()->mutable_image()->set_height(train->height);
    create.mutable_spec()->mutable_image()->set_width(train->width);
    create.mutable_spec()->mutable_image()->set_channels(1);
    v1::Collection created;
    Check(stubs.collections->CreateCollection(Ctx().get(), create, &created), "create collection");
    {
      const auto t0 = Clock::now();
      auto ctx = Ctx(3600);
      v1::Dataset uploaded;
      auto writer = stubs.training->UploadDataset(ctx.get(), &uploaded);
      for (int64_t b = 0; b < train->images.rows; b += 1000) {
        v1::UploadDatasetRequest m;
        m.set_collection(collection);
        m.set_dataset("train");
        for (int64_t i = b; i < std::min(train->images.rows, b + 1000); ++i) {
          v1::Example* e = m.add_examples();
          *e->mutable_input() = bn::GreyRowToInput(train->images, i, train->height, train->width);
          e->set_label(std::to_string(train->labels[i]));
        }
        if (!writer->Write(m)) break;
      }
      writer->WritesDone();
      Check(writer->Finish(), "upload");
      std::fprintf(stderr, "uploaded %llu labelled images in %.1f s\n",
                   static_cast<unsigned long long>(uploaded.labelled_count()), Since(t0));
    }

    // The auto-encoder; it serves the collection (promoted while the collection has no items).
    double ae_seconds = 0;
    ae = TrainAndWait(stubs, collection, ae_spec, /*promote=*/true, &ae_seconds);
    std::printf(
        "RESULT autoencoder dataset=%s version=%llu train=%lld validation_error=%.3f "
        "pca_error=%.3f p10=%.4f epochs=%u best_epoch=%u train_s=%.0f spec=\"%s\"\n",
        dataset.c_str(), static_cast<unsigned long long>(ae.version()),
        static_cast<long long>(train->images.rows), ae.report().reconstruction_error(),
        ae.report().pca_reconstruction_error(), ae.report().precision_at_10(),
        ae.report().epochs_run(), ae.report().best_epoch(), ae_seconds,
        ae.spec().ShortDebugString().c_str());
    std::fflush(stdout);
  }

  // kNN label votes with the auto-encoder's codes, before the classifiers (which do not
  // depend on the items).
  if (!Has(argc, argv, "no-knn")) {
    const auto t0 = Clock::now();
    UpsertTraining(stubs, collection, *train);
    const double upsert_seconds = Since(t0);
    double search_seconds = 0;
    const double error = KnnError(stubs, collection, *test, knn_k, &search_seconds);
    std::printf(
        "RESULT knn dataset=%s version=%llu k=%u items=%lld test_error=%.4f upsert_s=%.0f "
        "searches_per_s=%.0f\n",
        dataset.c_str(), static_cast<unsigned long long>(ae.version()), knn_k,
        static_cast<long long>(train->images.rows), error, upsert_seconds,
        static_cast<double>(test->images.rows) / search_seconds);
    std::fflush(stdout);
  }
  for (const std::string& name_and_options : variants) {
    v1::ModelSpec spec;
    *spec.mutable_training() = training;
    std::string variant = name_and_options;
    if (const size_t plus = variant.find("+aug"); plus != std::string::npos) {
      variant.erase(plus);
      *spec.mutable_training()->mutable_augmentation() = augmentation;
    }
    v1::ClassifierSpec* c = spec.mutable_classifier();
    if (variant == "pretrained" || variant == "code" || variant == "frozen") {
      c->set_encoder_model_version(ae.version());
      if (variant == "code") {
        c->set_encoder_layers(static_cast<uint32_t>(ae.spec().dense().encoder_sizes_size()) + 1);
      }
      c->set_freeze_encoder(variant == "frozen");
    } else if (variant != "random") {
      std::fprintf(stderr, "unknown variant %s\n", variant.c_str());
      return 2;
    }
    double train_seconds = 0, test_seconds = 0;
    const v1::Model model = TrainAndWait(stubs, collection, spec, false, &train_seconds);
    const double error = TestError(stubs, collection, model.version(), *test, &test_seconds);
    std::printf(
        "RESULT classifier dataset=%s variant=%s version=%llu test_error=%.4f "
        "validation_error=%.4f epochs=%u best_epoch=%u params=%llu train_s=%.0f "
        "classify_per_s=%.0f spec=\"%s\"\n",
        dataset.c_str(), name_and_options.c_str(), static_cast<unsigned long long>(model.version()),
        error, model.report().classification_error(), model.report().epochs_run(),
        model.report().best_epoch(), static_cast<unsigned long long>(model.parameter_count()),
        train_seconds, static_cast<double>(test->images.rows) / test_seconds,
        model.spec().ShortDebugString().c_str());
    std::fflush(stdout);
  }

  if (!reuse && !Has(argc, argv, "keep")) {
    v1::DeleteCollectionRequest del;
    del.set_name(collection);
    v1::DeleteCollectionResponse deleted;
    (void)stubs.collections->DeleteCollection(Ctx().get(), del, &deleted);
  }
  return 0;
}
