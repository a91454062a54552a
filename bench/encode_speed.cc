// Inference speed of the dense auto-encoder's encoder (784-1000-500-250-30, ReLU hidden units,
// linear code) through Model::Encode, the call the service makes: latency of one image (batch 1,
// p50/p99 over --calls calls) and throughput at batch 256. bench/encode_speed_torch.py is the
// same encoder in PyTorch; bench/run_all.sh runs both alternately.
//
//   bench_encode_speed [--threads 2] [--calls 2000] [--batches 40]
//
// The weights come from one short training epoch on 1,280 Fashion-MNIST images (speed does not
// depend on their values). Inputs are the Fashion-MNIST test images.
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "engine/data/idx.h"
#include "engine/model/autoencoder.h"

namespace {

using Clock = std::chrono::steady_clock;

int Fail(const absl::Status& s) {
  std::fprintf(stderr, "error: %s\n", std::string(s.message()).c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  int threads = 2, calls = 2000, batches = 40;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--threads") threads = std::atoi(argv[i + 1]);
    if (a == "--calls") calls = std::atoi(argv[i + 1]);
    if (a == "--batches") batches = std::atoi(argv[i + 1]);
  }
  omp_set_num_threads(threads);
  auto train = bn::LoadFashionMnist(BN_FASHION_MNIST_DIR, bn::DatasetSplit::kTrain, 1280);
  auto test = bn::LoadFashionMnist(BN_FASHION_MNIST_DIR, bn::DatasetSplit::kTest);
  if (!train.ok()) return Fail(train.status());
  if (!test.ok()) return Fail(test.status());
  bn::DenseAutoencoderSpec spec;
  spec.hidden_activation = bn::Activation::kRelu;
  bn::TrainOptions o;
  o.epochs = 1;
  o.threads = threads;
  auto trained = bn::TrainDenseAutoencoder(train->images, nullptr, spec, o, {}, nullptr);
  if (!trained.ok()) return Fail(trained.status());
  const bn::Model& model = *trained->model;
  const bn::FloatMatrix& x = test->images;
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
      "RESULT what=encode impl=ours model=dense threads=%d b1_p50_ms=%.4f b1_p99_ms=%.4f "
      "b1_items_per_s=%.1f b256_items_per_s=%.1f\n",
      threads, p50, p99, b1_rate, b256_rate);
  return 0;
}
