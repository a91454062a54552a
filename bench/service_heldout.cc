// Generalisation to classes the model never saw, through the API (issue 21). Trains a model on
// the training images of all classes but the held-out ones, then measures, with Encode + Decode
// on the server, the summed squared error per test image of the held-out (unseen) classes and of
// the seen classes, next to PCA fitted here on the same training images. Also prints the
// server's own report (its validation error is what the service tells a user to expect).
//
//   bench_service_heldout --server 127.0.0.1:50051 [--dataset fashion|mnist] [--holdout 0,1]
//       [--spec 'dense { encoder_sizes: 1000 ... }' (a ModelSpec in protobuf text format;
//        empty: the service's default recipe)] [--pca 30] [--train-limit N]
//       [--collection NAME] [--keep]
// Prints a line `RESULT heldout ...` with every figure (bench/run_heldout.sh runs the splits).
#include <google/protobuf/text_format.h>
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "bench/service_util.h"
#include "bottleneck/v1/collection.grpc.pb.h"
#include "bottleneck/v1/model.grpc.pb.h"
#include "bottleneck/v1/query.grpc.pb.h"
#include "bottleneck/v1/training.grpc.pb.h"
#include "client/lib/raw_input.h"
#include "engine/data/idx.h"
#include "engine/input/image.h"
#include "engine/model/pca.h"

namespace v1 = ::bottleneck::v1;
using Clock = std::chrono::steady_clock;

namespace {

using ::bn::bench::Check;
using ::bn::bench::Ctx;
using ::bn::bench::Flag;
using ::bn::bench::Has;

// Rows of `d` whose label is (or is not) in `classes`.
bn::LabeledImages Select(const bn::LabeledImages& d, const std::set<int>& classes, bool in) {
  bn::LabeledImages out;
  out.height = d.height;
  out.width = d.width;
  std::vector<int64_t> rows;
  for (int64_t r = 0; r < d.images.rows; ++r) {
    if ((classes.count(d.labels[r]) > 0) == in) rows.push_back(r);
  }
  out.images = bn::FloatMatrix(static_cast<int64_t>(rows.size()), d.images.cols);
  for (size_t i = 0; i < rows.size(); ++i) {
    std::copy_n(d.images.row(rows[i]), d.images.cols, out.images.row(static_cast<int64_t>(i)));
    out.labels.push_back(d.labels[rows[i]]);
  }
  return out;
}

// Summed squared error per image of `model` (here) on `x`.
double LocalError(const bn::Model& model, const bn::FloatMatrix& x) {
  bn::FloatMatrix codes(x.rows, model.code_size()), recon(x.rows, x.cols);
  if (!model.Encode(x.data.data(), x.rows, codes.data.data()).ok() ||
      !model.Decode(codes.data.data(), x.rows, recon.data.data()).ok()) {
    std::fprintf(stderr, "local PCA failed\n");
    std::exit(1);
  }
  double sum = 0;
  for (size_t i = 0; i < x.data.size(); ++i) {
    const double d = double(recon.data[i]) - double(x.data[i]);
    sum += d * d;
  }
  return sum / static_cast<double>(x.rows);
}

// The same through the server: Encode, then Decode the codes (PNG images back), per image.
double ServedError(v1::QueryService::Stub* query, const std::string& collection,
                   const bn::LabeledImages& d, uint64_t version) {
  double sum = 0;
  constexpr int64_t kBatch = 500;
  for (int64_t s = 0; s < d.images.rows; s += kBatch) {
    const int64_t n = std::min(kBatch, d.images.rows - s);
    v1::EncodeRequest encode;
    encode.set_collection(collection);
    encode.set_model_version(version);
    for (int64_t i = s; i < s + n; ++i) {
      *encode.add_inputs() = bn::GreyRowToInput(d.images, i, d.height, d.width);
    }
    v1::EncodeResponse codes;
    Check(query->Encode(Ctx().get(), encode, &codes), "encode");
    v1::DecodeRequest decode;
    decode.set_collection(collection);
    decode.set_model_version(version);
    *decode.mutable_codes() = codes.codes();
    v1::DecodeResponse images;
    Check(query->Decode(Ctx().get(), decode, &images), "decode");
    for (int64_t i = 0; i < n; ++i) {
      // The PNG rounds each pixel to 8 bits: at most 0.0003 per 784-pixel image of added error.
      const std::string& png = images.outputs(static_cast<int>(i)).image().encoded();
      auto pixels = bn::EncodedImageToInput(png, bn::ImageGeometry{d.height, d.width, 1});
      if (!pixels.ok()) {
        std::fprintf(stderr, "cannot decode a reconstruction: %s\n",
                     pixels.status().ToString().c_str());
        std::exit(1);
      }
      const float* x = d.images.row(s + i);
      for (int64_t j = 0; j < d.images.cols; ++j) {
        const double e = double((*pixels)[j]) - double(x[j]);
        sum += e * e;
      }
    }
  }
  return sum / static_cast<double>(d.images.rows);
}

}  // namespace

int main(int argc, char** argv) {
  const std::string server = Flag(argc, argv, "server", "127.0.0.1:50051");
  const std::string dataset = Flag(argc, argv, "dataset", "fashion");
  const std::string holdout_flag = Flag(argc, argv, "holdout", "0,1");
  const int pca_k = std::stoi(Flag(argc, argv, "pca", "30"));
  const int64_t limit = std::stoll(Flag(argc, argv, "train-limit", "-1"));
  std::set<int> holdout;
  {
    std::stringstream ss(holdout_flag);
    for (std::string c; std::getline(ss, c, ',');) holdout.insert(std::stoi(c));
  }
  v1::ModelSpec spec;
  if (!google::protobuf::TextFormat::ParseFromString(Flag(argc, argv, "spec", ""), &spec)) {
    std::fprintf(stderr, "--spec is not a ModelSpec in text format\n");
    return 2;
  }
  const std::string name = dataset == "fashion" ? "fashion-mnist" : "mnist";
  auto train_all =
      bn::LoadImageDataset(name, BN_FASHION_MNIST_DIR, BN_DATASETS_DIR, bn::DatasetSplit::kTrain);
  auto test_all =
      bn::LoadImageDataset(name, BN_FASHION_MNIST_DIR, BN_DATASETS_DIR, bn::DatasetSplit::kTest);
  if (!train_all.ok() || !test_all.ok()) {
    std::fprintf(stderr, "cannot load %s\n", name.c_str());
    return 1;
  }
  bn::LabeledImages train = Select(*train_all, holdout, false);
  if (limit > 0 && limit < train.images.rows) {
    train.images.rows = limit;
    train.images.data.resize(static_cast<size_t>(limit * train.images.cols));
    train.labels.resize(static_cast<size_t>(limit));
  }
  const bn::LabeledImages unseen = Select(*test_all, holdout, true);
  const bn::LabeledImages seen = Select(*test_all, holdout, false);

  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(64 << 20);
  auto channel = grpc::CreateCustomChannel(server, grpc::InsecureChannelCredentials(), args);
  auto collections = v1::CollectionService::NewStub(channel);
  auto training = v1::TrainingService::NewStub(channel);
  auto query = v1::QueryService::NewStub(channel);
  auto models = v1::ModelService::NewStub(channel);
  std::string collection = Flag(argc, argv, "collection", "");
  if (collection.empty()) {
    collection = dataset + "-without";
    for (int c : holdout) collection += "-" + std::to_string(c);
  }
  v1::CreateCollectionRequest create;
  create.set_name(collection);
  create.mutable_spec()->mutable_image()->set_height(train.height);
  create.mutable_spec()->mutable_image()->set_width(train.width);
  create.mutable_spec()->mutable_image()->set_channels(1);
  v1::Collection created;
  grpc::Status s = collections->CreateCollection(Ctx().get(), create, &created);
  if (!s.ok() && s.error_code() != grpc::StatusCode::ALREADY_EXISTS) Check(s, "create");

  {
    auto ctx = Ctx(1800);
    v1::Dataset uploaded;
    auto writer = training->UploadDataset(ctx.get(), &uploaded);
    for (int64_t b = 0; b < train.images.rows; b += 1000) {
      v1::UploadDatasetRequest m;
      m.set_collection(collection);
      m.set_dataset("train");
      for (int64_t i = b; i < std::min(train.images.rows, b + 1000); ++i) {
        v1::Example* e = m.add_examples();
        *e->mutable_input() = bn::GreyRowToInput(train.images, i, train.height, train.width);
        e->set_label(std::to_string(train.labels[i]));
      }
      writer->Write(m);
    }
    writer->WritesDone();
    grpc::Status done = writer->Finish();
    if (!done.ok() && done.error_code() != grpc::StatusCode::ALREADY_EXISTS) {
      Check(done, "upload");
    }
  }

  const auto t0 = Clock::now();
  v1::StartTrainingRequest start;
  start.set_collection(collection);
  start.set_dataset("train");
  *start.mutable_spec() = spec;
  v1::Job job;
  Check(training->StartTraining(Ctx().get(), start, &job), "train");
  std::fprintf(stderr, "job %s: %s\n", job.id().c_str(), job.spec().ShortDebugString().c_str());
  {
    auto ctx = Ctx(24 * 3600);
    v1::WatchJobRequest w;
    w.set_job_id(job.id());
    auto reader = training->WatchJob(ctx.get(), w);
    v1::JobProgress p;
    int last_epoch = -1;
    while (reader->Read(&p)) {
      if (static_cast<int>(p.epoch()) != last_epoch && p.step() == p.steps_per_epoch()) {
        last_epoch = static_cast<int>(p.epoch());
        std::fprintf(stderr, "  %s epoch %u/%u loss %.4f val %.3f %.0f/s\n", p.phase().c_str(),
                     p.epoch(), p.epochs(), p.loss(), p.validation_error(), p.samples_per_second());
      }
    }
    reader->Finish();
  }
  v1::GetJobRequest get;
  get.set_job_id(job.id());
  Check(training->GetJob(Ctx().get(), get, &job), "get job");
  if (job.state() != v1::JOB_STATE_SUCCEEDED) {
    std::fprintf(stderr, "job ended %s: %s\n", v1::JobState_Name(job.state()).c_str(),
                 job.error().c_str());
    return 1;
  }
  const double train_seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  v1::GetModelRequest get_model;
  get_model.set_collection(collection);
  get_model.set_version(job.model_version());
  v1::Model model;
  Check(models->GetModel(Ctx().get(), get_model, &model), "get model");

  auto pca = bn::FitPca(train.images, pca_k);
  if (!pca.ok()) return 1;
  const double pca_unseen = LocalError(**pca, unseen.images);
  const double pca_seen = LocalError(**pca, seen.images);
  const double ae_unseen = ServedError(query.get(), collection, unseen, job.model_version());
  const double ae_seen = ServedError(query.get(), collection, seen, job.model_version());
  const v1::EvaluationReport& r = model.report();
  // With a BY_LABEL split the report also gives the error on the labels it held out.
  std::string heldout_labels;
  for (const std::string& label : r.heldout_labels()) {
    heldout_labels += (heldout_labels.empty() ? "" : ",") + label;
  }
  std::printf(
      "RESULT heldout dataset=%s holdout=%s train=%lld ae_unseen=%.3f pca_unseen=%.3f "
      "ratio_unseen=%.3f ae_seen=%.3f pca_seen=%.3f ratio_seen=%.3f report_error=%.3f "
      "report_pca=%.3f report_p10=%.3f report_heldout=%.3f report_heldout_pca=%.3f "
      "report_heldout_labels=%s best_epoch=%u/%u train_s=%.0f spec=\"%s\"\n",
      dataset.c_str(), holdout_flag.c_str(), static_cast<long long>(train.images.rows), ae_unseen,
      pca_unseen, ae_unseen / pca_unseen, ae_seen, pca_seen, ae_seen / pca_seen,
      r.reconstruction_error(), r.pca_reconstruction_error(), r.precision_at_10(),
      r.heldout_reconstruction_error(), r.heldout_pca_reconstruction_error(),
      heldout_labels.empty() ? "-" : heldout_labels.c_str(), r.best_epoch(), r.epochs_run(),
      train_seconds, model.spec().ShortDebugString().c_str());
  if (!Has(argc, argv, "keep")) {
    v1::DeleteCollectionRequest del;
    del.set_name(collection);
    v1::DeleteCollectionResponse deleted;
    (void)collections->DeleteCollection(Ctx().get(), del, &deleted);
  }
  return 0;
}
