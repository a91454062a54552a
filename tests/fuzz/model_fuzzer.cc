// libFuzzer target: model files (engine/model/model_file.h) and every registered payload loader
// (PCA, dense auto-encoder, convolutional auto-encoder, classifier). Built by run_fuzzers.sh.
//
// Input: byte 0 selects how the rest is used.
//   even: the rest is a whole model file (envelope checks: magic, version, length, CRC).
//   odd:  byte 1 picks the kind (0..4, 0 unknown) and the rest is a payload that is wrapped in a
//         valid envelope (right length, right CRC), so mutations reach the payload loaders.
// A model that loads must work: Encode and Decode of two rows succeed (a classifier's Encode
// gives probabilities that sum to 1, unless its weights overflow float, and its Decode is
// Unimplemented), and its re-serialization
// loads again into the same model (same sizes, byte-identical second serialization).
//
// BN_FUZZ_WRITE_SEEDS=DIR writes seeds (real files of small trained models, both forms) and exits.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "engine/model/autoencoder.h"
#include "engine/model/conv_autoencoder.h"
#include "engine/model/model_file.h"
#include "engine/model/pca.h"
#include "engine/train/autoencoder_trainer.h"
#include "engine/train/classifier_trainer.h"
#include "engine/util/bytes.h"
#include "engine/util/log.h"

namespace {

[[noreturn]] void Fail(const char* what) {
  std::fprintf(stderr, "model_fuzzer invariant violated: %s\n", what);
  std::abort();
}

// The envelope of model_file.h around `payload`.
std::string Wrap(uint32_t kind, const std::string& payload) {
  std::string out;
  bn::ByteWriter w(&out);
  w.Raw("BNMODEL\0", 8);
  w.U32(bn::kModelFormatVersion);
  w.U32(kind);
  w.U64(payload.size());
  out += payload;
  w.U32(bn::Crc32(out));
  return out;
}

void CheckModel(const bn::Model& model) {
  const int64_t in = model.input_size(), code = model.code_size();
  if (in < 1 || code < 1) Fail("loaded model has an empty input or code");
  std::string bytes;
  {
    absl::StatusOr<std::string> s = bn::SerializeModel(model);
    if (!s.ok()) Fail("a loaded model does not serialize");
    bytes = std::move(*s);
  }
  absl::StatusOr<std::unique_ptr<bn::Model>> again = bn::DeserializeModel(bytes);
  if (!again.ok()) Fail("a re-serialized model does not load");
  if ((*again)->kind() != model.kind() || (*again)->input_size() != in ||
      (*again)->code_size() != code || (*again)->code_type() != model.code_type()) {
    Fail("a re-serialized model loads with other sizes");
  }
  absl::StatusOr<std::string> second = bn::SerializeModel(**again);
  if (!second.ok() || *second != bytes) Fail("serialization is not stable");
  // Keep single inputs cheap: skip inference for large geometries (conv nets whose activations
  // are not bounded by the payload size).
  if (in > (1 << 14) || code > (1 << 12)) return;
  constexpr int64_t kRows = 2;
  std::vector<float> x(static_cast<size_t>(kRows * in));
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>((i * 37) % 101) / 100.0f;
  std::vector<float> codes(static_cast<size_t>(kRows * code));
  if (!model.Encode(x.data(), kRows, codes.data()).ok()) Fail("Encode of a loaded model failed");
  std::vector<float> out(x.size());
  if (model.kind() == bn::ModelKind::kClassifier) {
    // Finite but huge weights may overflow float (NaN then, as codes of other kinds may be):
    // rows of finite probabilities must be distributions.
    for (int64_t r = 0; r < kRows; ++r) {
      double sum = 0;
      bool finite = true;
      for (int64_t c = 0; c < code; ++c) {
        const float p = codes[r * code + c];
        finite = finite && std::isfinite(p);
        if (finite && (p < 0 || p > 1)) Fail("a class probability outside [0, 1]");
        sum += p;
      }
      if (finite && !(std::fabs(sum - 1.0) < 1e-3)) Fail("class probabilities do not sum to 1");
    }
    if (model.Decode(codes.data(), kRows, out.data()).code() != absl::StatusCode::kUnimplemented) {
      Fail("a classifier decoded");
    }
  } else if (!model.Decode(codes.data(), kRows, out.data()).ok()) {
    Fail("Decode of a loaded model failed");
  }
  if (!model.Encode(x.data(), 0, codes.data()).ok()) Fail("Encode of zero rows failed");
}

// --- seeds: small real models trained with the engine API ---------------------------------

bn::FloatMatrix RandomRows(int64_t rows, int64_t cols, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  bn::FloatMatrix m(rows, cols);
  for (float& v : m.data) v = u(rng);
  return m;
}

void WriteSeed(const std::string& dir, const std::string& name, const std::string& model_file) {
  // Even first byte: the whole file; odd: kind byte + payload.
  std::ofstream(dir + "/" + name + ".file", std::ios::binary) << '\0' << model_file;
  uint32_t kind = 0;
  std::memcpy(&kind, model_file.data() + 12, 4);
  const std::string payload = model_file.substr(24, model_file.size() - 28);
  std::ofstream(dir + "/" + name + ".payload", std::ios::binary)
      << '\1' << static_cast<char>(kind) << payload;
}

void Save(const std::string& dir, const std::string& name, const bn::Model& model) {
  absl::StatusOr<std::string> bytes = bn::SerializeModel(model);
  if (!bytes.ok()) Fail("seed model does not serialize");
  WriteSeed(dir, name, *bytes);
}

void WriteSeeds(const std::string& dir) {
  const bn::FloatMatrix x = RandomRows(24, 16, 1);
  auto pca = bn::FitPca(x, 3);
  if (!pca.ok()) Fail("seed PCA");
  Save(dir, "pca", **pca);

  bn::TrainOptions options;
  options.epochs = 1;
  options.batch_size = 8;
  options.threads = 1;
  bn::DenseAutoencoderSpec dense;
  dense.input_size = 16;
  dense.encoder_sizes = {8};
  dense.code_size = 4;
  auto ae = bn::TrainDenseAutoencoder(x, nullptr, dense, options, {}, nullptr);
  if (!ae.ok()) Fail("seed dense AE");
  Save(dir, "dense", *ae->model);
  dense.binary_codes = true;
  dense.tied_weights = true;
  auto binary = bn::TrainDenseAutoencoder(x, nullptr, dense, options, {}, nullptr);
  if (!binary.ok()) Fail("seed binary dense AE");
  Save(dir, "dense_binary_tied", *binary->model);

  bn::ConvAutoencoderSpec conv;
  conv.height = 4;
  conv.width = 4;
  conv.channels = 1;
  conv.layers = {{2, 3, 1, 2}};
  conv.code_size = 3;
  auto cae = bn::TrainConvAutoencoder(x, nullptr, conv, options, {}, nullptr);
  if (!cae.ok()) Fail("seed conv AE");
  Save(dir, "conv_switches", *cae->model);
  conv.unpool = bn::UnpoolMode::kRepeat;
  conv.binary_codes = true;
  auto crep = bn::TrainConvAutoencoder(x, nullptr, conv, options, {}, nullptr);
  if (!crep.ok()) Fail("seed conv AE (repeat)");
  Save(dir, "conv_repeat_binary", *crep->model);

  // Classifiers: random initialisation with mixed activations, and one whose first layers are
  // the dense auto-encoder's encoder (ReLU hidden, linear code layer).
  std::vector<int> labels(static_cast<size_t>(x.rows));
  for (size_t i = 0; i < labels.size(); ++i) labels[i] = static_cast<int>(i % 3);
  bn::ClassifierSpec classifier;
  classifier.input_size = 16;
  classifier.hidden_sizes = {6, 5};
  classifier.hidden_activations = {bn::Activation::kTanh, bn::Activation::kLogistic};
  classifier.num_classes = 3;
  auto random =
      bn::TrainClassifier(x, labels, nullptr, nullptr, classifier, {}, options, {}, nullptr);
  if (!random.ok()) Fail("seed classifier");
  Save(dir, "classifier", *random->model);
  dense.binary_codes = false;
  dense.tied_weights = false;
  dense.hidden_activation = bn::Activation::kRelu;
  auto relu = bn::TrainDenseAutoencoder(x, nullptr, dense, options, {}, nullptr);
  if (!relu.ok()) Fail("seed ReLU dense AE");
  auto encoder = bn::DenseEncoderLayers(*relu->model);
  if (!encoder.ok()) Fail("seed encoder layers");
  classifier.hidden_sizes = {8, 4};
  classifier.hidden_activations = {bn::Activation::kRelu, bn::Activation::kLinear};
  auto pretrained = bn::TrainClassifier(x, labels, nullptr, nullptr, classifier, {*encoder, true},
                                        options, {}, nullptr);
  if (!pretrained.ok()) Fail("seed classifier from an encoder");
  Save(dir, "classifier_from_encoder", *pretrained->model);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  bn::SetMinLogLevel(bn::LogLevel::kError);
  if (const char* dir = std::getenv("BN_FUZZ_WRITE_SEEDS")) {
    WriteSeeds(dir);
    std::exit(0);
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const std::string rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  std::string file;
  if (data[0] % 2 == 0) {
    file = rest;
  } else {
    if (rest.empty()) return 0;
    file = Wrap(static_cast<uint8_t>(rest[0]) % 5, rest.substr(1));
  }
  absl::StatusOr<std::unique_ptr<bn::Model>> model = bn::DeserializeModel(file);
  if (model.ok()) CheckModel(**model);
  return 0;
}
