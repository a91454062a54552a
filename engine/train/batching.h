// Mini-batch preparation for the training loop (engine/train/loop.h): the seeded shuffle, input
// corruption (denoising) and code noise (fixed per example for binary codes, fresh per batch
// otherwise).
//
// Deterministic functions of their seeds and random state; not thread-safe on a shared rng.
#ifndef BOTTLENECK_ENGINE_TRAIN_BATCHING_H_
#define BOTTLENECK_ENGINE_TRAIN_BATCHING_H_

#include <cstdint>
#include <functional>
#include <random>
#include <vector>

#include "engine/model/autoencoder.h"
#include "engine/model/trainable.h"
#include "engine/util/matrix.h"

namespace bn {

// Fisher-Yates with a portable draw, so the order depends only on the seed.
void Shuffle(std::vector<int64_t>* v, std::mt19937_64* rng);

// Fixed Gaussian noise of example `index`: the same every epoch (a function of seed and index).
void ExampleNoise(uint64_t seed, int64_t index, float stddev, int64_t k, float* out);

// Corrupts `count` inputs in place: masking and salt-and-pepper hit a fraction `level` of them,
// Gaussian adds N(0, level^2).
void Corrupt(Corruption kind, float level, std::mt19937_64* rng, float* x, int64_t count);

// The noise a trainer applies to each mini-batch. Default: none.
struct BatchNoise {
  bool binary_codes = false;  // fixed per-example code noise (ExampleNoise)
  float code_noise_stddev = 0;
  int64_t code_size = 0;
  uint64_t seed = 0;
  Corruption corruption = Corruption::kNone;
  float corruption_level = 0;
  float fresh_code_noise_stddev = 0;  // > 0 (without binary codes): N(0, s^2) per batch from rng
};

// The BatchNoise of an auto-encoder spec (dense or conv: both have binary_codes,
// code_noise_stddev, corruption and corruption_level); no fresh code noise.
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

// Buffers for batches of up to `rows` rows of `width` values.
struct BatchBuffers {
  BatchBuffers(int64_t rows, int64_t width, const BatchNoise& noise, bool labels);
  std::vector<float> targets, corrupted, code_noise;
  std::vector<int> labels;
};

// The batch of rows rows[0..m) of `x` (and of `labels`, nullable): copies the rows into
// buffers->targets, augments them (`augment`, nullable), draws code noise, and for denoising
// corrupts a copy into buffers->corrupted (the batch's input; else the targets). `rng` draws
// corruption, then fresh code noise. With `targets` (nullable; x's shape) the input is x's rows
// (augmented, corrupted) in buffers->corrupted and the targets are targets' rows, unchanged.
TrainBatch PrepareBatch(const FloatMatrix& x, const std::vector<int>* labels, const int64_t* rows,
                        int64_t m, const BatchNoise& noise, std::mt19937_64* rng,
                        BatchBuffers* buffers,
                        const std::function<void(float* rows, int64_t m)>* augment = nullptr,
                        const FloatMatrix* targets = nullptr);

}  // namespace bn

#endif  // BOTTLENECK_ENGINE_TRAIN_BATCHING_H_
