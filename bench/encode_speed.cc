// Inference speed of the dense auto-encoder's encoder (784-1000-500-250-30, ReLU hidden units,
// linear code) through Model::Encode, the call the service makes: latency of one image (batch 1,
// p50/p99 over --calls calls) and throughput at batch 256. bench/encode_speed_torch.py is the
// same encoder in PyTorch; bench/run_all.sh runs both alternately.
//
//   bench_encode_speed [--threads 2] [--calls 2000] [--batches 40] [--precision f32|bf16]
//       [--train-rows 1280] [--epochs 1]
//
// The weights come from one short training epoch on 1,280 Fashion-MNIST images (speed does not
// depend on their values). Inputs are the Fashion-MNIST test images.
// --precision bf16 times the bf16 encoder (WithBf16Encode) and reports what it does to quality,
// against the same model in f32 on the 10k test images: the mean relative difference of the
// codes, label precision@10 (leave-one-out, L2) and the reconstruction error of both (decoding
// is f32 in both). Quality needs a trained model: e.g. --train-rows 60000 --epochs 5.
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "engine/data/idx.h"
#include "engine/eval/metrics.h"
#include "engine/model/autoencoder.h"
#include "engine/model/model_file.h"
#include "engine/train/autoencoder_trainer.h"

namespace {

using Clock = std::chrono::steady_clock;

int Fail(const absl::Status& s) {
  std::fprintf(stderr, "error: %s\n", std::string(s.message()).c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  int threads = 2, calls = 2000, batches = 40, train_rows = 1280, epochs = 1;
  std::string precision = "f32";
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--threads") threads = std::atoi(argv[i + 1]);
    if (a == "--calls") calls = std::atoi(argv[i + 1]);
    if (a == "--batches") batches = std::atoi(argv[i + 1]);
    if (a == "--precision") precision = argv[i + 1];
    if (a == "--train-rows") train_rows = std::atoi(argv[i + 1]);
    if (a == "--epochs") epochs = std::atoi(argv[i + 1]);
  }
  if (precision != "f32" && precision != "bf16") {
    std::fprintf(stderr, "--precision must be f32 or bf16\n");
    return 2;
  }
  omp_set_num_threads(threads);
  auto train = bn::LoadFashionMnist(BN_FASHION_MNIST_DIR, bn::DatasetSplit::kTrain, train_rows);
  auto test = bn::LoadFashionMnist(BN_FASHION_MNIST_DIR, bn::DatasetSplit::kTest);
  if (!train.ok()) return Fail(train.status());
  if (!test.ok()) return Fail(test.status());
  bn::DenseAutoencoderSpec spec;
  spec.hidden_activation = bn::Activation::kRelu;
  bn::TrainOptions o;
  o.epochs = epochs;
  o.threads = threads;
  auto trained = bn::TrainDenseAutoencoder(train->images, nullptr, spec, o, {}, nullptr);
  if (!trained.ok()) return Fail(trained.status());
  const bn::FloatMatrix& x = test->images;
  std::unique_ptr<bn::Model> timed = std::move(trained->model);
  if (precision == "bf16") {
    // The f32 model stays as the reference: a copy through the model file format.
    auto bytes = bn::SerializeModel(*timed);
    if (!bytes.ok()) return Fail(bytes.status());
    auto f32 = bn::DeserializeModel(*bytes);
    if (!f32.ok()) return Fail(f32.status());
    auto bf16 = bn::WithBf16Encode(std::move(timed));
    if (!bf16.ok()) return Fail(bf16.status());
    timed = std::move(*bf16);
    auto a = bn::EncodeAll(**f32, x);
    auto b = bn::EncodeAll(*timed, x);
    if (!a.ok()) return Fail(a.status());
    if (!b.ok()) return Fail(b.status());
    double diff = 0, norm = 0;
    for (size_t i = 0; i < a->data.size(); ++i) {
      diff += std::abs(double{a->data[i]} - b->data[i]);
      norm += std::abs(double{a->data[i]});
    }
    auto p_f32 = bn::PrecisionAtKLeaveOneOut(*a, test->labels, {10}, bn::CodeDistance::kL2);
    auto p_bf16 = bn::PrecisionAtKLeaveOneOut(*b, test->labels, {10}, bn::CodeDistance::kL2);
    auto e_f32 = bn::ReconstructionError(**f32, x);
    auto e_bf16 = bn::ReconstructionError(*timed, x);
    if (!p_f32.ok() || !p_bf16.ok() || !e_f32.ok() || !e_bf16.ok()) {
      return Fail(absl::InternalError("quality measurement failed"));
    }
    std::printf(
        "RESULT what=encode-quality precision=bf16 train_rows=%d epochs=%d "
        "code_mean_rel_diff=%.5f p10_f32=%.4f p10_bf16=%.4f recon_f32=%.3f recon_bf16=%.3f\n",
        train_rows, epochs, diff / std::max(norm, 1e-30), (*p_f32)[0], (*p_bf16)[0], *e_f32,
        *e_bf16);
  }
  const bn::Model& model = *timed;
  std::vector<float> code(256 * 30);

  // Batch 1: warm-up, then each call timed.
  for (int i = 0; i < 200; ++i) {
    if (auto s = model.Encode(x.row(i % x.rows), 1, code.data()); !s.ok()) return Fail(s);
  }
  std::vector<double> us;
  const auto t0 = Clock::now();
  for (int i = 0; i < calls; ++i) {
    const auto t = Clock::now();
    if (auto s = model.Encode(x.row(i % x.rows), 1, code.data()); !s.ok()) return Fail(s);
    us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t).count());
  }
  const double b1_rate = calls / std::chrono::duration<double>(Clock::now() - t0).count();
  std::sort(us.begin(), us.end());
  const double p50 = us[us.size() / 2] / 1000, p99 = us[us.size() * 99 / 100] / 1000;

  // Batch 256: warm-up, then throughput.
  const int64_t per_batch = 256, windows = x.rows / per_batch;
  for (int i = 0; i < 5; ++i) {
    if (auto s = model.Encode(x.row((i % windows) * per_batch), per_batch, code.data()); !s.ok())
      return Fail(s);
  }
  const auto t1 = Clock::now();
  for (int i = 0; i < batches; ++i) {
    if (auto s = model.Encode(x.row((i % windows) * per_batch), per_batch, code.data()); !s.ok())
      return Fail(s);
  }
  const double b256_rate =
      batches * per_batch / std::chrono::duration<double>(Clock::now() - t1).count();
  std::printf(
      "RESULT what=encode impl=%s model=dense precision=%s threads=%d b1_p50_ms=%.4f "
      "b1_p99_ms=%.4f b1_items_per_s=%.1f b256_items_per_s=%.1f\n",
      precision == "bf16" ? "ours-bf16" : "ours", precision.c_str(), threads, p50, p99, b1_rate,
      b256_rate);
  return 0;
}
