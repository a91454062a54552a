// Mini-batch helpers shared by the auto-encoder trainers (dense and convolutional): the seeded
// shuffle, fixed per-example code noise (binary codes) and input corruption (denoising).
// Deterministic functions of their seeds; not thread-safe on a shared rng.
#ifndef BOTTLENECK_ENGINE_TRAIN_BATCHING_H_
#define BOTTLENECK_ENGINE_TRAIN_BATCHING_H_

#include <cstdint>
#include <random>
#include <vector>

#include "engine/model/autoencoder.h"

namespace bn {

// Fisher-Yates with a portable draw, so the order depends only on the seed.
void Shuffle(std::vector<int64_t>* v, std::mt19937_64* rng);

// Fixed Gaussian noise of example `index`: the same every epoch (a function of seed and index).
void ExampleNoise(uint64_t seed, int64_t index, float stddev, int64_t k, float* out);

// Corrupts `count` inputs in place: masking and salt-and-pepper hit a fraction `level` of them,
// Gaussian adds N(0, level^2).
void Corrupt(Corruption kind, float level, std::mt19937_64* rng, float* x, int64_t count);

}  // namespace bn

#endif  // BOTTLENECK_ENGINE_TRAIN_BATCHING_H_
