// The hnswlib distance spaces of the HNSW index: hnswlib's float spaces with the CPU's widest
// kernel (engine/index/distance.h), and a Hamming space over packed 64-bit words.
//
// Internal to engine/index/hnsw_index.cc, its only includer: hnswlib's headers define non-inline
// globals, so a single translation unit of the engine may include them. MakeSpace is thread-safe;
// a space is immutable once made.
#ifndef BOTTLENECK_ENGINE_INDEX_HNSW_SPACES_H_
#define BOTTLENECK_ENGINE_INDEX_HNSW_SPACES_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>

#include "engine/index/distance.h"
#include "engine/index/hnsw_index.h"
#include "hnswlib/hnswlib.h"

namespace bn {
namespace hnsw_internal {
// Unnamed on purpose: this header is part of hnsw_index.cc's translation unit, and internal
// linkage keeps the compiler's code for it what it was when it lived in that file.
namespace {

// Hamming distance over packed codes of `words` 64-bit words.
class HammingSpace : public hnswlib::SpaceInterface<float> {
 public:
  explicit HammingSpace(size_t words) : words_(words), func_(HammingDistance()) {}
  size_t get_data_size() override { return words_ * sizeof(uint64_t); }
  hnswlib::DISTFUNC<float> get_dist_func() override { return func_; }
  void* get_dist_func_param() override { return &words_; }

 private:
  size_t words_;
  hnswlib::DISTFUNC<float> func_;
};

// hnswlib's float spaces with the CPU's widest distance kernel (engine/index/distance.h) in place
// of hnswlib's build-time one, when the CPU has one. The stored layout is hnswlib's: only the
// function that compares two vectors changes.
template <typename Base>
class FastSpace : public Base {
 public:
  FastSpace(size_t dim, DistanceFn fast) : Base(dim), fast_(fast) {}
  hnswlib::DISTFUNC<float> get_dist_func() override {
    return fast_ != nullptr ? fast_ : Base::get_dist_func();
  }

 private:
  DistanceFn fast_;
};

// hnswlib's space constructors write global SIMD function pointers: construct one at a time.
std::mutex& SpaceMutex() {
  static std::mutex mu;
  return mu;
}

// The space of `c`'s metric (cosine is the inner product of normalised vectors).
std::unique_ptr<hnswlib::SpaceInterface<float>> MakeSpace(const IndexConfig& c) {
  std::lock_guard<std::mutex> lock(SpaceMutex());
  switch (c.metric) {
    case Metric::kL2:
      return std::make_unique<FastSpace<hnswlib::L2Space>>(c.dim, FastL2Squared());
    case Metric::kInnerProduct:
    case Metric::kCosine:
      return std::make_unique<FastSpace<hnswlib::InnerProductSpace>>(c.dim,
                                                                     FastInnerProductDistance());
    case Metric::kHamming:
      return std::make_unique<HammingSpace>((c.dim + 63) / 64);
  }
  return nullptr;
}

}  // namespace
}  // namespace hnsw_internal
}  // namespace bn

#endif  // BOTTLENECK_ENGINE_INDEX_HNSW_SPACES_H_
