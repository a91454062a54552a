// Training speed of the dense auto-encoder 784-1000-500-250-30 (mirrored decoder, logistic
// output with cross-entropy, Adam) at batch 128, against oneDNN's own matmul on the same
// shapes (the GEMMs one training step needs).
//
//   bench_ae_speed [--threads 2] [--rows 12800] [--epochs 3] [--hidden logistic|relu]
//
// Data: the first `rows` Fashion-MNIST training images. FLOPs per trained sample count the three
// GEMMs of every layer (forward, backward-data except the first layer, backward-weights).
#include <omp.h>
#include <zlib.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "engine/model/autoencoder.h"
#include "engine/train/autoencoder_trainer.h"
#include "oneapi/dnnl/dnnl.hpp"

namespace {

bn::FloatMatrix ReadImages(const std::string& path, int64_t n) {
  gzFile f = gzopen(path.c_str(), "rb");
  if (f == nullptr) return {};
  unsigned char h[16];
  if (gzread(f, h, 16) != 16) return {};
  bn::FloatMatrix m(n, 784);
  std::vector<unsigned char> buf(static_cast<size_t>(n * 784));
  const int got = gzread(f, buf.data(), static_cast<unsigned>(buf.size()));
  gzclose(f);
  if (got != static_cast<int>(buf.size())) return {};
  for (size_t i = 0; i < buf.size(); ++i) m.data[i] = buf[i] / 255.0f;
  return m;
}

// Seconds per call of an M x K by K x N f32 matmul (plain row-major), best of a few rounds.
double MatmulSeconds(dnnl::engine& eng, dnnl::stream& s, int64_t M, int64_t K, int64_t N,
                     bool trans_a) {
  using tag = dnnl::memory::format_tag;
  using dt = dnnl::memory::data_type;
  dnnl::memory::desc a_md({M, K}, dt::f32, trans_a ? tag::ba : tag::ab);
  dnnl::memory::desc b_md({K, N}, dt::f32, tag::ab);
  dnnl::memory::desc c_md({M, N}, dt::f32, tag::ab);
  dnnl::matmul mm(dnnl::matmul::primitive_desc(dnnl::matmul::desc(a_md, b_md, c_md), eng));
  std::vector<float> a(static_cast<size_t>(M * K), 0.5f), b(static_cast<size_t>(K * N), 0.25f),
      c(static_cast<size_t>(M * N));
  dnnl::memory am(a_md, eng, a.data()), bm(b_md, eng, b.data()), cm(c_md, eng, c.data());
  double best = 1e9;
  for (int round = 0; round < 5; ++round) {
    const int iters = 20;
    auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < iters; ++i) {
      mm.execute(s, {{DNNL_ARG_SRC, am}, {DNNL_ARG_WEIGHTS, bm}, {DNNL_ARG_DST, cm}});
    }
    s.wait();
    const double t =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / iters;
    if (t < best) best = t;
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  int threads = 2, epochs = 3;
  int64_t rows = 12800;
  std::string hidden = "logistic";
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--threads") threads = std::atoi(argv[i + 1]);
    if (a == "--rows") rows = std::atoll(argv[i + 1]);
    if (a == "--epochs") epochs = std::atoi(argv[i + 1]);
    if (a == "--hidden") hidden = argv[i + 1];
  }
  omp_set_num_threads(threads);
  const std::vector<int64_t> sizes = {784, 1000, 500, 250, 30, 250, 500, 1000, 784};
  const int64_t batch = 128;
  double flops_per_sample = 0;
  for (size_t l = 0; l + 1 < sizes.size(); ++l) {
    const double mnk = static_cast<double>(sizes[l]) * sizes[l + 1];
    flops_per_sample += 2 * mnk * (l == 0 ? 2 : 3);
  }
  // 1. oneDNN matmul on the step's GEMM shapes.
  dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  dnnl::stream s(eng);
  double gemm_seconds = 0;
  std::printf("oneDNN matmul, %d threads, batch %ld:\n", threads, static_cast<long>(batch));
  for (size_t l = 0; l + 1 < sizes.size(); ++l) {
    const int64_t in = sizes[l], out = sizes[l + 1];
    const double fwd = MatmulSeconds(eng, s, batch, in, out, false);
    const double bwd_d = l == 0 ? 0 : MatmulSeconds(eng, s, batch, out, in, false);
    const double bwd_w = MatmulSeconds(eng, s, out, batch, in, true);
    gemm_seconds += fwd + bwd_d + bwd_w;
    std::printf("  layer %4ld->%4ld  fwd %6.1f  bwd-data %6.1f  bwd-weights %6.1f GFLOP/s\n",
                static_cast<long>(in), static_cast<long>(out), 2e-9 * batch * in * out / fwd,
                l == 0 ? 0.0 : 2e-9 * batch * in * out / bwd_d, 2e-9 * batch * in * out / bwd_w);
  }
  const double gemm_rate = flops_per_sample * batch / gemm_seconds;
  std::printf("  all GEMMs of one step: %.3f ms -> %.1f GFLOP/s, %.0f samples/s upper bound\n",
              gemm_seconds * 1e3, gemm_rate * 1e-9, batch / gemm_seconds);

  // 2. The engine's training loop.
  bn::FloatMatrix x =
      ReadImages(std::string(BN_FASHION_MNIST_DIR) + "/train-images-idx3-ubyte.gz", rows);
  if (x.rows != rows) {
    std::fprintf(stderr, "cannot read Fashion-MNIST\n");
    return 1;
  }
  bn::DenseAutoencoderSpec spec;
  spec.hidden_activation = hidden == "relu" ? bn::Activation::kRelu : bn::Activation::kLogistic;
  bn::TrainOptions o;
  o.epochs = epochs;
  o.batch_size = static_cast<int>(batch);
  o.threads = threads;
  o.learning_rate = 1e-3f;
  double last_rate = 0;
  std::vector<double> epoch_rates;
  double prev_t = 0;
  auto r = bn::TrainDenseAutoencoder(
      x, nullptr, spec, o,
      [&](const bn::TrainingProgress& p) {
        if (p.step == p.steps_per_epoch) {
          epoch_rates.push_back(static_cast<double>(rows) / (p.elapsed_seconds - prev_t));
          prev_t = p.elapsed_seconds;
          last_rate = p.samples_per_second;
        }
      },
      nullptr);
  if (!r.ok()) {
    std::fprintf(stderr, "training failed: %s\n", std::string(r.status().message()).c_str());
    return 1;
  }
  double best = 0;
  for (size_t e = 0; e < epoch_rates.size(); ++e) {
    std::printf("engine epoch %zu: %.0f samples/s\n", e + 1, epoch_rates[e]);
    if (epoch_rates[e] > best) best = epoch_rates[e];
  }
  std::printf(
      "engine training (%s hidden, Adam, batch 128, %d threads): best epoch %.0f samples/s, "
      "mean %.0f samples/s = %.1f GFLOP/s (%.0f%% of the matmul-only rate)\n",
      hidden.c_str(), threads, best, last_rate, best * flops_per_sample * 1e-9,
      100.0 * best * flops_per_sample / gemm_rate);
  return 0;
}
