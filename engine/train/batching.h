// Mini-batch helpers shared by the auto-encoder trainers (dense and convolutional): the seeded
// shuffle, fixed per-example code noise (binary codes) and input corruption (denoising).
// Deterministic functions of their seeds; not thread-safe on a shared rng.
#ifndef BOTTLENECK_ENGINE_TRAIN_BATCHING_H_
#define BOTTLENECK_ENGINE_TRAIN_BATCHING_H_

#include <cstdint>
#include <random>
#include <vector>

#include "engine/model/autoencoder.h"
#include "engine/util/matrix.h"

namespace bn {

// Fisher-Yates with a portable draw, so the order depends only on the seed.
void Shuffle(std::vector<int64_t>* v, std::mt19937_64* rng);

// Fixed Gaussian noise of example `index`: the same every epoch (a function of seed and index).
void ExampleNoise(uint64_t seed, int64_t index, float stddev, int64_t k, float* out);

// Corrupts `count` inputs in place: masking and salt-and-pepper hit a fraction `level` of them,
// Gaussian adds N(0, level^2).
void Corrupt(Corruption kind, float level, std::mt19937_64* rng, float* x, int64_t count);

// The noise a trainer applies to one mini-batch (the same fields in both auto-encoder specs).
struct BatchNoise {
  bool binary_codes = false;  // Fixed per-example code noise (ExampleNoise).
  float code_noise_stddev = 0;
  int64_t code_size = 0;
  uint64_t seed = 0;
  Corruption corruption = Corruption::kNone;
  float corruption_level = 0;
};

// The BatchNoise of an auto-encoder spec (dense or conv: both have binary_codes,
// code_noise_stddev, corruption and corruption_level).
template <typename Spec>
BatchNoise BatchNoiseFor(const Spec& spec, int64_t code_size, uint64_t seed) {
  BatchNoise noise;
  noise.binary_codes = spec.binary_codes;
  noise.code_noise_stddev = spec.code_noise_stddev;
  noise.code_size = code_size;
  noise.seed = seed;
  noise.corruption = spec.corruption;
  noise.corruption_level = spec.corruption_level;
  return noise;
}

// Copies rows rows[0..m) of `x` into `targets` (m * x.cols floats), fills `code_noise` (m *
// code_size) for binary codes, and for denoising corrupts a copy into `corrupted`. Returns the
// network's input for the step: `corrupted` when corrupting, else `targets`. Buffers must be
// large enough; `rng` is used only for corruption.
const float* PrepareBatch(const FloatMatrix& x, const int64_t* rows, int64_t m,
                          const BatchNoise& noise, std::mt19937_64* rng, float* targets,
                          float* corrupted, float* code_noise);

}  // namespace bn

#endif  // BOTTLENECK_ENGINE_TRAIN_BATCHING_H_
