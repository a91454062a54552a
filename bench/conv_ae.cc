// Quality and cost of the convolutional auto-encoder on Fashion-MNIST (issue 4's protocol):
// train on the first --train-rows training images, score the 10k test images: summed squared
// error per image (Model::Decode from the code; for switch unpooling also the one-pass
// reconstruction with the input's own switches), label precision@10 of test codes queried
// against the training codes (exact kNN, L2), parameter count and training time; next to PCA
// of the same code size.
//
//   bench_conv_ae [--unpool switches|repeat] [--filters 16,32] [--code 30] [--epochs 10]
//                 [--max-seconds 0] [--train-rows 60000] [--threads 1] [--batch 128]
//                 [--lr 0.001] [--pca 1] [--dense 256] [--act relu|tanh|logistic]
//                 [--lr2 0.0003 --lr2-from 14]
// --lr2/--lr2-from: a step schedule through the checkpoint mechanism: train --lr2-from epochs at
// --lr with a checkpoint, then resume from it at --lr2 up to --epochs (Adam moments kept).
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

#include "engine/data/idx.h"
#include "engine/eval/metrics.h"
#include "engine/model/conv_autoencoder.h"
#include "engine/model/pca.h"
#include "engine/nn/loss.h"
#include "engine/train/autoencoder_trainer.h"

namespace {

double Seconds(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

int Fail(const absl::Status& s) {
  std::fprintf(stderr, "error: %s\n", std::string(s.message()).c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::string unpool = "switches", filters = "16,32", dense, act = "relu";
  int code = 30, epochs = 10, threads = 1, batch = 128, pca = 1;
  double max_seconds = 0, lr = 1e-3, lr2 = 0;
  int lr2_from = 0;
  int64_t train_rows = 60000;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i], v = argv[i + 1];
    if (a == "--unpool")
      unpool = v;
    else if (a == "--filters")
      filters = v;
    else if (a == "--code")
      code = std::atoi(v.c_str());
    else if (a == "--epochs")
      epochs = std::atoi(v.c_str());
    else if (a == "--max-seconds")
      max_seconds = std::atof(v.c_str());
    else if (a == "--train-rows")
      train_rows = std::atoll(v.c_str());
    else if (a == "--threads")
      threads = std::atoi(v.c_str());
    else if (a == "--batch")
      batch = std::atoi(v.c_str());
    else if (a == "--lr2")
      lr2 = std::atof(v.c_str());
    else if (a == "--lr2-from")
      lr2_from = std::atoi(v.c_str());
    else if (a == "--lr")
      lr = std::atof(v.c_str());
    else if (a == "--pca")
      pca = std::atoi(v.c_str());
    else if (a == "--dense")
      dense = v;
    else if (a == "--act")
      act = v;
    else {
      std::fprintf(stderr, "unknown flag %s\n", a.c_str());
      return 2;
    }
  }
  bn::SetNnThreads(threads);
  auto train = bn::LoadFashionMnist(BN_FASHION_MNIST_DIR, bn::DatasetSplit::kTrain, train_rows);
  auto test = bn::LoadFashionMnist(BN_FASHION_MNIST_DIR, bn::DatasetSplit::kTest);
  if (!train.ok()) return Fail(train.status());
  if (!test.ok()) return Fail(test.status());

  bn::ConvAutoencoderSpec spec;
  spec.code_size = code;
  spec.unpool = unpool == "repeat" ? bn::UnpoolMode::kRepeat : bn::UnpoolMode::kSwitches;
  spec.layers.clear();
  std::stringstream fs(filters);
  for (std::string f; std::getline(fs, f, ',');)
    spec.layers.push_back({std::atoi(f.c_str()), 3, 1, 2});
  std::stringstream ds(dense);
  for (std::string f; std::getline(ds, f, ',');) spec.dense_sizes.push_back(std::atoi(f.c_str()));
  spec.hidden_activation = act == "tanh"       ? bn::Activation::kTanh
                           : act == "logistic" ? bn::Activation::kLogistic
                                               : bn::Activation::kRelu;
  bn::TrainOptions o;
  o.threads = threads;
  o.epochs = epochs;
  o.batch_size = batch;
  o.learning_rate = static_cast<float>(lr);
  o.max_seconds = max_seconds;
  auto progress = [](const bn::TrainingProgress& p) {
    if (p.step == p.steps_per_epoch) {
      std::printf("epoch %d: loss %.4f, %.0f samples/s, %.0f s\n", p.epoch, p.loss,
                  p.samples_per_second, p.elapsed_seconds);
      std::fflush(stdout);
    }
  };
  const auto t0 = std::chrono::steady_clock::now();
  std::string checkpoint;
  if (lr2 > 0 && lr2_from > 0 && lr2_from < epochs) {
    bn::TrainOptions first = o;
    first.epochs = lr2_from;
    first.on_checkpoint = [&](const std::string& c) { checkpoint = c; };
    auto part = bn::TrainConvAutoencoder(train->images, nullptr, spec, first, progress, nullptr);
    if (!part.ok()) return Fail(part.status());
    o.resume_from = &checkpoint;
    o.learning_rate = static_cast<float>(lr2);
    std::printf("learning rate %g from epoch %d\n", lr2, lr2_from + 1);
  }
  auto trained = bn::TrainConvAutoencoder(train->images, nullptr, spec, o, progress, nullptr);
  if (!trained.ok()) return Fail(trained.status());
  const double train_secs = Seconds(t0);
  const bn::Model& model = *trained->model;
  auto err = bn::ReconstructionError(model, test->images);
  if (!err.ok()) return Fail(err.status());
  const bn::FloatMatrix& x = test->images;
  bn::FloatMatrix onepass(x.rows, x.cols);
  if (absl::Status s =
          bn::ReconstructWithSwitches(model, x.data.data(), x.rows, onepass.data.data());
      !s.ok()) {
    return Fail(s);
  }
  const double onepass_err =
      bn::SumSquaredError(onepass.data.data(), x.data.data(), x.rows * x.cols) / x.rows;
  auto train_codes = bn::EncodeAll(model, train->images);
  auto test_codes = bn::EncodeAll(model, test->images);
  if (!train_codes.ok() || !test_codes.ok()) return Fail(absl::InternalError("encode failed"));
  auto prec = bn::PrecisionAtK(*test_codes, test->labels, *train_codes, train->labels, {10},
                               bn::CodeDistance::kL2);
  if (!prec.ok()) return Fail(prec.status());
  std::printf(
      "conv AE (%s unpooling, filters %s, dense %s, %s, code %d, lr %g (then %g from epoch %d), "
      "batch %d): test SSE/image "
      "%.2f (Decode from code), "
      "%.2f (one pass, own switches); precision@10 %.3f; %lld parameters; %d epochs, "
      "training %.0f s\n",
      unpool.c_str(), filters.c_str(), dense.empty() ? "-" : dense.c_str(), act.c_str(), code, lr,
      lr2, lr2_from + 1, batch, *err, onepass_err, (*prec)[0],
      static_cast<long long>(model.parameter_count()), trained->epochs_run, train_secs);
  if (pca != 0) {
    const auto p0 = std::chrono::steady_clock::now();
    auto p = bn::FitPca(train->images, code);
    if (!p.ok()) return Fail(p.status());
    const double pca_secs = Seconds(p0);
    auto perr = bn::ReconstructionError(**p, test->images);
    auto ptr = bn::EncodeAll(**p, train->images);
    auto pte = bn::EncodeAll(**p, test->images);
    if (!perr.ok() || !ptr.ok() || !pte.ok()) return Fail(absl::InternalError("PCA failed"));
    auto pp =
        bn::PrecisionAtK(*pte, test->labels, *ptr, train->labels, {10}, bn::CodeDistance::kL2);
    if (!pp.ok()) return Fail(pp.status());
    std::printf("PCA-%d: test SSE/image %.2f; precision@10 %.3f; %lld parameters; fit %.1f s\n",
                code, *perr, (*pp)[0], static_cast<long long>((*p)->parameter_count()), pca_secs);
  }
  return 0;
}
