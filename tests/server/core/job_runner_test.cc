#include "server/core/job_runner.h"

#include <atomic>
#include <chrono>
#include <thread>

#include "gtest/gtest.h"

namespace bn {
namespace {

using std::chrono::milliseconds;

// Runs until cancelled, recording whether it saw the flag.
JobRunner::JobFn Spinner(std::atomic<int>* started, std::atomic<int>* cancelled) {
  return [started, cancelled](const CancellationFlag& cancel) {
    ++*started;
    while (!cancel.cancelled()) std::this_thread::sleep_for(milliseconds(1));
    ++*cancelled;
  };
}

TEST(JobRunnerTest, RunsAtMostMaxConcurrentAndQueuesTheRest) {
  std::atomic<int> started{0}, cancelled{0};
  JobRunner runner(/*max_concurrent=*/1, /*max_queued=*/4);
  ASSERT_TRUE(runner.Submit("a", Spinner(&started, &cancelled)).ok());
  ASSERT_TRUE(runner.Submit("b", Spinner(&started, &cancelled)).ok());
  while (started.load() < 1) std::this_thread::sleep_for(milliseconds(1));
  std::this_thread::sleep_for(milliseconds(50));
  EXPECT_EQ(started.load(), 1);  // "b" waits for the only slot.
  EXPECT_EQ(runner.active(), 2);
  EXPECT_TRUE(runner.Cancel("a"));
  while (started.load() < 2) std::this_thread::sleep_for(milliseconds(1));
  EXPECT_TRUE(runner.Cancel("b"));
  while (runner.active() > 0) std::this_thread::sleep_for(milliseconds(1));
  EXPECT_EQ(cancelled.load(), 2);
  EXPECT_FALSE(runner.Cancel("a"));  // Finished jobs are no longer active.
}

TEST(JobRunnerTest, RejectsDuplicatesAndAFullQueue) {
  std::atomic<int> started{0}, cancelled{0};
  JobRunner runner(1, 1);
  ASSERT_TRUE(runner.Submit("a", Spinner(&started, &cancelled)).ok());
  while (started.load() < 1) std::this_thread::sleep_for(milliseconds(1));
  EXPECT_EQ(runner.Submit("a", Spinner(&started, &cancelled)).code(),
            absl::StatusCode::kAlreadyExists);
  ASSERT_TRUE(runner.Submit("b", Spinner(&started, &cancelled)).ok());
  EXPECT_EQ(runner.Submit("c", Spinner(&started, &cancelled)).code(),
            absl::StatusCode::kResourceExhausted);
}

TEST(JobRunnerTest, ShutdownCancelsRunningAndQueuedJobs) {
  std::atomic<int> started{0}, cancelled{0};
  JobRunner runner(1, 4);
  ASSERT_TRUE(runner.Submit("a", Spinner(&started, &cancelled)).ok());
  ASSERT_TRUE(runner.Submit("b", Spinner(&started, &cancelled)).ok());
  while (started.load() < 1) std::this_thread::sleep_for(milliseconds(1));
  runner.Shutdown();
  // The queued job still ran (with its flag set) so it could record its final state.
  EXPECT_EQ(started.load(), 2);
  EXPECT_EQ(cancelled.load(), 2);
  EXPECT_EQ(runner.Submit("c", Spinner(&started, &cancelled)).code(),
            absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace bn
