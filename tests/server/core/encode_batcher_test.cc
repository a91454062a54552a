#include "server/core/encode_batcher.h"

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>

#include "gtest/gtest.h"

namespace bn {
namespace {

// A model whose code is (sum of inputs, batch size seen); slow enough for queues to form. It
// remembers the thread of its last call.
class SlowSumModel final : public Model {
 public:
  ModelKind kind() const override { return ModelKind::kPca; }
  int64_t input_size() const override { return 3; }
  int64_t code_size() const override { return 2; }
  CodeType code_type() const override { return CodeType::kFloat; }
  int64_t parameter_count() const override { return 0; }
  absl::Status Encode(const float* x, int64_t n, float* codes) const override {
    const int now = ++in_flight_;
    int seen = max_in_flight_.load();
    while (now > seen && !max_in_flight_.compare_exchange_weak(seen, now)) {
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    {
      std::lock_guard<std::mutex> lock(mu_);
      last_encoder_ = std::this_thread::get_id();
    }
    --in_flight_;
    for (int64_t i = 0; i < n; ++i) {
      codes[2 * i] = x[3 * i] + x[3 * i + 1] + x[3 * i + 2];
      codes[2 * i + 1] = static_cast<float>(n);
    }
    return absl::OkStatus();
  }
  absl::Status Decode(const float*, int64_t, float*) const override {
    return absl::UnimplementedError("not needed");
  }
  absl::Status SavePayload(std::string*) const override {
    return absl::UnimplementedError("not needed");
  }
  int max_in_flight() const { return max_in_flight_.load(); }
  std::thread::id last_encoder() const {
    std::lock_guard<std::mutex> lock(mu_);
    return last_encoder_;
  }

 private:
  mutable std::atomic<int> in_flight_{0}, max_in_flight_{0};
  mutable std::mutex mu_;
  mutable std::thread::id last_encoder_;
};

TEST(EncodeBatcherTest, ALoneCallerIsEncodedAtOnce) {
  SlowSumModel model;
  EncodeBatcher batcher(&model);
  const float x[3] = {1, 2, 3};
  float code[2];
  ASSERT_TRUE(batcher.Encode(x, code).ok());
  EXPECT_EQ(code[0], 6);
  EXPECT_EQ(code[1], 1);
  EXPECT_EQ(batcher.calls(), 1u);
}

// No hand-over to another thread: at one client the wake-ups cost more than the encode.
TEST(EncodeBatcherTest, ALoneCallerIsEncodedOnItsOwnThread) {
  SlowSumModel model;
  EncodeBatcher batcher(&model, /*max_batch=*/64);
  for (int i = 0; i < 3; ++i) {
    const float x[3] = {static_cast<float>(i), 1, 1};
    float code[2];
    ASSERT_TRUE(batcher.Encode(x, code).ok());
    EXPECT_EQ(code[0], i + 2.0f);
    EXPECT_EQ(model.last_encoder(), std::this_thread::get_id());
  }
  EXPECT_EQ(batcher.calls(), 3u);
}

TEST(EncodeBatcherTest, ConcurrentCallersShareBatchesAndGetTheirOwnCodes) {
  SlowSumModel model;
  EncodeBatcher batcher(&model, /*max_batch=*/8);
  constexpr int kThreads = 16, kPerThread = 20;
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const float x[3] = {static_cast<float>(t), static_cast<float>(i), 1};
        float code[2];
        if (!batcher.Encode(x, code).ok() || code[0] != t + i + 1 || code[1] < 1 || code[1] > 8) {
          ++wrong;
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_EQ(batcher.rows(), static_cast<uint64_t>(kThreads * kPerThread));
  // With 16 callers and a 5 ms model, batches must have formed, one model call at a time.
  EXPECT_LT(batcher.calls(), batcher.rows() / 2);
  EXPECT_EQ(model.max_in_flight(), 1);
}

TEST(EncodeBatcherTest, MaxBatchOneEncodesEveryCallerAloneAndConcurrently) {
  SlowSumModel model;
  EncodeBatcher batcher(&model, /*max_batch=*/1);
  constexpr int kThreads = 8, kPerThread = 10;
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const float x[3] = {static_cast<float>(t), static_cast<float>(i), 1};
        float code[2];
        if (!batcher.Encode(x, code).ok() || code[0] != t + i + 1 || code[1] != 1) ++wrong;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_EQ(batcher.calls(), batcher.rows());
  EXPECT_EQ(batcher.rows(), static_cast<uint64_t>(kThreads * kPerThread));
  EXPECT_GT(model.max_in_flight(), 1);  // Not serialised behind one another.
}

}  // namespace
}  // namespace bn
