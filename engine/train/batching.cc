#include "engine/train/batching.h"

#include <algorithm>

namespace bn {

void Shuffle(std::vector<int64_t>* v, std::mt19937_64* rng) {
  for (size_t i = v->size(); i > 1; --i) {
    const size_t j = static_cast<size_t>((*rng)() % i);
    std::swap((*v)[i - 1], (*v)[j]);
  }
}

void ExampleNoise(uint64_t seed, int64_t index, float stddev, int64_t k, float* out) {
  std::mt19937_64 rng(seed * 0x9E3779B97F4A7C15ull + static_cast<uint64_t>(index) + 1);
  std::normal_distribution<float> dist(0.0f, stddev);
  for (int64_t i = 0; i < k; ++i) out[i] = dist(rng);
}

void Corrupt(Corruption kind, float level, std::mt19937_64* rng, float* x, int64_t count) {
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  std::normal_distribution<float> g(0.0f, level);
  for (int64_t i = 0; i < count; ++i) {
    switch (kind) {
      case Corruption::kMasking:
        if (u(*rng) < level) x[i] = 0.0f;
        break;
      case Corruption::kGaussian:
        x[i] += g(*rng);
        break;
      case Corruption::kSaltAndPepper:
        if (u(*rng) < level) x[i] = u(*rng) < 0.5f ? 0.0f : 1.0f;
        break;
      case Corruption::kNone:
        return;
    }
  }
}

BatchBuffers::BatchBuffers(int64_t rows, int64_t width, const BatchNoise& noise, bool labels)
    : targets(static_cast<size_t>(rows * width)),
      corrupted(targets.size()),
      code_noise(static_cast<size_t>(rows * noise.code_size)),
      labels(labels ? static_cast<size_t>(rows) : 0) {}

TrainBatch PrepareBatch(const FloatMatrix& x, const std::vector<int>* labels, const int64_t* rows,
                        int64_t m, const BatchNoise& noise, std::mt19937_64* rng,
                        BatchBuffers* buffers,
                        const std::function<void(float* rows, int64_t m)>* augment,
                        const FloatMatrix* targets_matrix) {
  const int64_t d = x.cols, k = noise.code_size;
  float* targets = buffers->targets.data();
  float* code_noise = buffers->code_noise.data();
  for (int64_t r = 0; r < m; ++r) {
    std::copy_n(x.row(rows[r]), d, targets + r * d);
    if (noise.binary_codes) {
      ExampleNoise(noise.seed, rows[r], noise.code_noise_stddev, k, code_noise + r * k);
    }
    if (labels != nullptr) buffers->labels[r] = (*labels)[rows[r]];
  }
  if (augment != nullptr && *augment) (*augment)(targets, m);
  TrainBatch batch;
  batch.size = m;
  batch.input = targets;
  batch.target = targets;
  if (labels != nullptr) batch.labels = buffers->labels.data();
  if (targets_matrix != nullptr) {
    float* input = buffers->corrupted.data();
    std::copy_n(targets, m * d, input);
    for (int64_t r = 0; r < m; ++r) std::copy_n(targets_matrix->row(rows[r]), d, targets + r * d);
    batch.input = input;
    if (noise.corruption != Corruption::kNone && !(noise.corruption_level <= 0)) {
      Corrupt(noise.corruption, noise.corruption_level, rng, input, m * d);
    }
  } else if (noise.corruption != Corruption::kNone && !(noise.corruption_level <= 0)) {
    float* corrupted = buffers->corrupted.data();
    std::copy_n(targets, m * d, corrupted);
    Corrupt(noise.corruption, noise.corruption_level, rng, corrupted, m * d);
    batch.input = corrupted;
  }
  // Fresh noise after the corruption's draws; a new distribution each batch (no cached draw).
  const bool fresh = !noise.binary_codes && noise.fresh_code_noise_stddev > 0;
  if (fresh) {
    std::normal_distribution<float> gauss(0.0f, noise.fresh_code_noise_stddev);
    for (int64_t i = 0; i < m * k; ++i) code_noise[i] = gauss(*rng);
  }
  if (noise.binary_codes || fresh) batch.code_noise = code_noise;
  return batch;
}

}  // namespace bn
