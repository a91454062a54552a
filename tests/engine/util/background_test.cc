#include "engine/util/background.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

#include "engine/index/hnsw_index.h"
#include "engine/nn/context.h"
#include "engine/nn/dense.h"

namespace bn {
namespace {

// Runs `fn` on a new thread (the mark is per thread; the test's main thread stays unmarked).
template <typename Fn>
void OnNewThread(Fn fn) {
  std::thread t(fn);
  t.join();
}

TEST(BackgroundTest, TheMarkIsPerThreadAndOnlyMarkedThreadsYield) {
  EXPECT_FALSE(IsBackgroundThread());
  const uint64_t main_before = BackgroundYieldCount();
  BackgroundYield();
  EXPECT_EQ(BackgroundYieldCount(), main_before);

  bool marked_inside = false;
  uint64_t yields_inside = 0;
  OnNewThread([&] {
    SetBackgroundThread(true);
    marked_inside = IsBackgroundThread();
    BackgroundYield();
    BackgroundYield();
    yields_inside = BackgroundYieldCount();
    SetBackgroundThread(false);
    BackgroundYield();
    if (BackgroundYieldCount() != yields_inside) yields_inside = 0;
  });
  EXPECT_TRUE(marked_inside);
  EXPECT_EQ(yields_inside, 2u);
  EXPECT_FALSE(IsBackgroundThread());  // Marking another thread left this one alone.
}

// Each oneDNN primitive a background thread runs is a point where it offers the CPU.
TEST(BackgroundTest, ABackgroundThreadYieldsBetweenLayerPrimitives) {
  auto ctx = NewNnContext();
  ASSERT_TRUE(ctx.ok());
  DenseLayer layer(*ctx, 8, 4, Activation::kRelu);
  std::vector<float> src(3 * 8, 0.5f), dst(3 * 4), diff(3 * 4, 1.0f), diff_pre(3 * 4),
      diff_src(3 * 8), diff_w(8 * 4), diff_b(4);
  auto run = [&](bool background, uint64_t* forward, uint64_t* backward) {
    OnNewThread([&] {
      SetBackgroundThread(background);
      const uint64_t start = BackgroundYieldCount();
      ASSERT_TRUE(layer.Forward(src.data(), 3, dst.data(), true).ok());
      *forward = BackgroundYieldCount() - start;
      ASSERT_TRUE(layer.ActivationBackward(3, dst.data(), diff.data(), diff_pre.data()).ok());
      ASSERT_TRUE(layer
                      .Backward(3, src.data(), diff_pre.data(), diff_src.data(), diff_w.data(),
                                diff_b.data())
                      .ok());
      *backward = BackgroundYieldCount() - start - *forward;
    });
  };
  uint64_t forward = 0, backward = 0;
  run(true, &forward, &backward);
  EXPECT_EQ(forward, 1u);   // The fused inner product + ReLU.
  EXPECT_EQ(backward, 3u);  // ReLU backward; weights; data.
  run(false, &forward, &backward);
  EXPECT_EQ(forward, 0u);
  EXPECT_EQ(backward, 0u);
}

// A background index build offers the CPU after every insert.
TEST(BackgroundTest, ABackgroundThreadYieldsAfterEachIndexInsert) {
  IndexConfig config;
  config.dim = 4;
  auto index = HnswIndex::Create(config);
  ASSERT_TRUE(index.ok());
  std::vector<uint64_t> item_nos;
  std::vector<std::string> codes;
  for (uint64_t i = 1; i <= 50; ++i) {
    item_nos.push_back(i);
    const float v[4] = {static_cast<float>(i), 1.0f, 2.0f, static_cast<float>(i % 7)};
    codes.emplace_back(reinterpret_cast<const char*>(v), sizeof(v));
  }
  std::vector<absl::string_view> views(codes.begin(), codes.end());
  uint64_t yields = 0;
  OnNewThread([&] {
    SetBackgroundThread(true);
    const uint64_t start = BackgroundYieldCount();
    ASSERT_TRUE((*index)->UpsertBatch(item_nos, views).ok());
    yields = BackgroundYieldCount() - start;
  });
  EXPECT_EQ(yields, 50u);
  EXPECT_EQ((*index)->size(), 50u);
}

}  // namespace
}  // namespace bn
