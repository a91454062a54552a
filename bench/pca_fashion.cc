// PCA on Fashion-MNIST (or MNIST): fit on the 60k training images, score on the 10k test
// images. Prints, for each k, the fit time, the summed squared error per test image and the label
// precision@10 of test codes queried against training codes (Euclidean, exact kNN).
//
//   build/bench/bench_pca_fashion [fashion-mnist|mnist] [k ...]     (default: fashion-mnist 2 10
//   30)
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "engine/data/idx.h"
#include "engine/eval/metrics.h"
#include "engine/model/pca.h"

namespace {
double Since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}
}  // namespace

int main(int argc, char** argv) {
  const std::string name = argc > 1 ? argv[1] : "fashion-mnist";
  std::vector<int> ks;
  for (int i = 2; i < argc; ++i) ks.push_back(std::atoi(argv[i]));
  if (ks.empty()) ks = {2, 10, 30};
  auto t = std::chrono::steady_clock::now();
  auto train =
      bn::LoadImageDataset(name, BN_FASHION_MNIST_DIR, BN_DATASETS_DIR, bn::DatasetSplit::kTrain);
  auto test =
      bn::LoadImageDataset(name, BN_FASHION_MNIST_DIR, BN_DATASETS_DIR, bn::DatasetSplit::kTest);
  if (!train.ok() || !test.ok()) {
    std::fprintf(stderr, "load failed: %s %s\n", train.status().ToString().c_str(),
                 test.status().ToString().c_str());
    return 1;
  }
  std::printf("%s: %lld train, %lld test images loaded in %.2f s\n", name.c_str(),
              static_cast<long long>(train->images.rows), static_cast<long long>(test->images.rows),
              Since(t));
  std::printf("%4s %8s %12s %12s %8s %10s\n", "k", "fit_s", "test_err", "train_err", "P@10",
              "knn_s");
  for (int k : ks) {
    t = std::chrono::steady_clock::now();
    auto pca = bn::FitPca(train->images, k);
    if (!pca.ok()) {
      std::fprintf(stderr, "%s\n", pca.status().ToString().c_str());
      return 1;
    }
    const double fit = Since(t);
    auto err = bn::ReconstructionError(**pca, test->images);
    auto train_codes = bn::EncodeAll(**pca, train->images);
    auto test_codes = bn::EncodeAll(**pca, test->images);
    if (!err.ok() || !train_codes.ok() || !test_codes.ok()) return 1;
    t = std::chrono::steady_clock::now();
    auto p = bn::PrecisionAtK(*test_codes, test->labels, *train_codes, train->labels, {10},
                              bn::CodeDistance::kL2);
    if (!p.ok()) return 1;
    std::printf("%4d %8.2f %12.4f %12.4f %8.4f %10.2f\n", k, fit, *err,
                (*pca)->discarded_variance(), (*p)[0], Since(t));
    std::fflush(stdout);
  }
  // Raw pixels (no model) for reference.
  t = std::chrono::steady_clock::now();
  auto raw = bn::PrecisionAtK(test->images, test->labels, train->images, train->labels, {10},
                              bn::CodeDistance::kL2);
  if (raw.ok()) std::printf("raw pixels P@10 %.4f (%.2f s)\n", (*raw)[0], Since(t));
  return 0;
}
