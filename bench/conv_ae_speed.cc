// Speed of the convolutional auto-encoder against the same net in PyTorch
// (bench/conv_ae_torch.py), measured in the same run: training images/s (Adam, batch 128, on
// the first --rows Fashion-MNIST training images; ours: the second of two epochs, so one-time
// primitive creation is excluded; PyTorch: one epoch after a warm-up batch) and encode
// throughput at batch 1 and batch 256. The two alternate for --rounds rounds on a busy machine;
// the medians and the median of the per-round ratios are printed.
//
// Run from the repository root (the script path is relative), e.g.
//   build/bench/bench_conv_ae_speed --filters 32,64 --code 30 --unpool repeat --threads 1
//       --rows 2560 --rounds 5
// The PyTorch side runs as `env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE /usr/bin/python3
// bench/conv_ae_torch.py ...` (Debian python3-torch: scripts/install-deps.sh --bench).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "engine/data/idx.h"
#include "engine/model/conv_autoencoder.h"
#include "engine/train/autoencoder_trainer.h"

namespace {

double Seconds(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t m = v.size() / 2;
  return v.size() % 2 == 1 ? v[m] : 0.5 * (v[m - 1] + v[m]);
}

int Fail(const absl::Status& s) {
  std::fprintf(stderr, "error: %s\n", std::string(s.message()).c_str());
  return 1;
}

struct Numbers {
  double train = 0, encode1 = 0, encode256 = 0;
};

// Runs the PyTorch script; fills `out` from its "key value" lines. False on failure.
bool RunTorch(const std::string& command, Numbers* out, long long* params) {
  FILE* p = popen(command.c_str(), "r");
  if (p == nullptr) return false;
  std::map<std::string, double> values;
  char line[512];
  while (std::fgets(line, sizeof(line), p) != nullptr) {
    std::istringstream is(line);
    std::string key;
    double v = 0;
    if (is >> key >> v) values[key] = v;
  }
  if (pclose(p) != 0) return false;
  if (values.count("train_images_per_s") == 0) return false;
  out->train = values["train_images_per_s"];
  out->encode1 = values["encode_batch1_images_per_s"];
  out->encode256 = values["encode_batch256_images_per_s"];
  *params = static_cast<long long>(values["params"]);
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  std::string unpool = "repeat", filters = "32,64", dense, script = "bench/conv_ae_torch.py";
  int code = 30, threads = 1, rounds = 5, batch = 128;
  int64_t rows = 2560, encode_rows = 2560;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i], v = argv[i + 1];
    if (a == "--unpool")
      unpool = v;
    else if (a == "--filters")
      filters = v;
    else if (a == "--dense")
      dense = v;
    else if (a == "--code")
      code = std::atoi(v.c_str());
    else if (a == "--threads")
      threads = std::atoi(v.c_str());
    else if (a == "--rounds")
      rounds = std::atoi(v.c_str());
    else if (a == "--rows")
      rows = std::atoll(v.c_str());
    else if (a == "--torch-script")
      script = v;
    else {
      std::fprintf(stderr, "unknown flag %s\n", a.c_str());
      return 2;
    }
  }
  bn::SetNnThreads(threads);
  auto data = bn::LoadFashionMnist(BN_FASHION_MNIST_DIR, bn::DatasetSplit::kTrain,
                                   std::max(rows, encode_rows));
  if (!data.ok()) return Fail(data.status());
  bn::FloatMatrix train(rows, data->images.cols);
  std::copy_n(data->images.data.begin(), rows * data->images.cols, train.data.begin());
  const bn::FloatMatrix& x = data->images;

  bn::ConvAutoencoderSpec spec;
  spec.code_size = code;
  spec.unpool = unpool == "switches" ? bn::UnpoolMode::kSwitches : bn::UnpoolMode::kRepeat;
  spec.layers.clear();
  std::stringstream fs(filters);
  for (std::string f; std::getline(fs, f, ',');)
    spec.layers.push_back({std::atoi(f.c_str()), 3, 1, 2});
  std::stringstream ds(dense);
  for (std::string f; std::getline(ds, f, ',');) spec.dense_sizes.push_back(std::atoi(f.c_str()));
  bn::TrainOptions o;
  o.threads = threads;
  o.epochs = 2;
  o.batch_size = batch;

  std::ostringstream cmd;
  cmd << "env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE /usr/bin/python3 " << script << " --threads "
      << threads << " --rows " << rows << " --epochs 1 --filters " << filters << " --code " << code
      << " --unpool " << unpool << " --batch " << batch << " --encode-rows " << encode_rows
      << " --data " << BN_FASHION_MNIST_DIR;
  if (!dense.empty()) cmd << " --dense " << dense;

  std::vector<double> ours_train, ours_e1, ours_e256, torch_train, torch_e1, torch_e256;
  std::vector<double> ratio_train, ratio_e1, ratio_e256;
  long long our_params = 0, torch_params = 0;
  for (int round = 1; round <= rounds; ++round) {
    // Ours: the second epoch's time from the progress reports.
    std::vector<double> epoch_end;
    auto progress = [&](const bn::TrainingProgress& p) {
      if (p.step == p.steps_per_epoch) epoch_end.push_back(p.elapsed_seconds);
    };
    auto trained = bn::TrainConvAutoencoder(train, nullptr, spec, o, progress, nullptr);
    if (!trained.ok()) return Fail(trained.status());
    if (epoch_end.size() != 2) return Fail(absl::InternalError("missing epoch reports"));
    Numbers ours;
    ours.train = static_cast<double>(rows) / (epoch_end[1] - epoch_end[0]);
    const bn::Model& model = *trained->model;
    our_params = model.parameter_count();
    std::vector<float> codes(static_cast<size_t>(x.rows * code));
    if (absl::Status s = model.Encode(x.row(0), 1, codes.data()); !s.ok()) return Fail(s);
    const int64_t n1 = std::min<int64_t>(encode_rows, 500);
    auto t0 = std::chrono::steady_clock::now();
    for (int64_t i = 0; i < n1; ++i) {
      if (absl::Status s = model.Encode(x.row(i), 1, codes.data() + i * code); !s.ok()) {
        return Fail(s);
      }
    }
    ours.encode1 = static_cast<double>(n1) / Seconds(t0);
    if (absl::Status s = model.Encode(x.row(0), 256, codes.data()); !s.ok()) return Fail(s);
    t0 = std::chrono::steady_clock::now();
    int64_t done = 0;
    for (int64_t s0 = 0; s0 + 256 <= encode_rows; s0 += 256) {
      if (absl::Status s = model.Encode(x.row(s0), 256, codes.data() + s0 * code); !s.ok()) {
        return Fail(s);
      }
      done += 256;
    }
    ours.encode256 = static_cast<double>(done) / Seconds(t0);

    Numbers theirs;
    if (!RunTorch(cmd.str(), &theirs, &torch_params)) {
      return Fail(absl::InternalError("PyTorch run failed: " + cmd.str()));
    }
    std::printf(
        "round %d: train images/s ours %.0f torch %.0f (x%.2f); encode batch 1 ours %.0f torch "
        "%.0f (x%.2f); batch 256 ours %.0f torch %.0f (x%.2f)\n",
        round, ours.train, theirs.train, ours.train / theirs.train, ours.encode1, theirs.encode1,
        ours.encode1 / theirs.encode1, ours.encode256, theirs.encode256,
        ours.encode256 / theirs.encode256);
    std::fflush(stdout);
    ours_train.push_back(ours.train);
    ours_e1.push_back(ours.encode1);
    ours_e256.push_back(ours.encode256);
    torch_train.push_back(theirs.train);
    torch_e1.push_back(theirs.encode1);
    torch_e256.push_back(theirs.encode256);
    ratio_train.push_back(ours.train / theirs.train);
    ratio_e1.push_back(ours.encode1 / theirs.encode1);
    ratio_e256.push_back(ours.encode256 / theirs.encode256);
  }
  std::printf(
      "conv AE (filters %s, dense %s, code %d, %s unpooling, batch %d, %d thread(s), %lld "
      "params; PyTorch %lld params), medians of %d rounds:\n"
      "  training images/s: ours %.0f, PyTorch %.0f, ratio ours/PyTorch %.2f\n"
      "  encode batch 1 images/s: ours %.0f, PyTorch %.0f, ratio %.2f\n"
      "  encode batch 256 images/s: ours %.0f, PyTorch %.0f, ratio %.2f\n",
      filters.c_str(), dense.empty() ? "-" : dense.c_str(), code, unpool.c_str(), batch, threads,
      our_params, torch_params, rounds, Median(ours_train), Median(torch_train),
      Median(ratio_train), Median(ours_e1), Median(torch_e1), Median(ratio_e1), Median(ours_e256),
      Median(torch_e256), Median(ratio_e256));
  return 0;
}
