#include "server/core/thread_priority.h"

#include <gtest/gtest.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <thread>

#include "engine/util/background.h"

namespace bn {
namespace {

struct Observed {
  int policy = -1;
  int nice = -100;
  bool background = false;
};

// Lowers a new thread's priority to `level` and reports what the thread then is.
Observed LowerOnNewThread(int level) {
  Observed seen;
  std::thread t([&] {
    LowerThisThreadPriority(level);
    seen.policy = sched_getscheduler(0);
    seen.nice = getpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)));
    seen.background = IsBackgroundThread();
  });
  t.join();
  return seen;
}

TEST(ThreadPriorityTest, IdleLevelIsSchedIdleAndMarksTheThreadAsBackground) {
  const Observed seen = LowerOnNewThread(kIdlePriority);
  EXPECT_EQ(seen.policy, SCHED_IDLE);
  EXPECT_TRUE(seen.background);
}

TEST(ThreadPriorityTest, NiceLevelsSetTheNicenessAndMarkTheThread) {
  const Observed seen = LowerOnNewThread(19);  // Any process may go to 19.
  EXPECT_EQ(seen.policy, SCHED_OTHER);
  EXPECT_EQ(seen.nice, 19);
  EXPECT_TRUE(seen.background);
}

TEST(ThreadPriorityTest, LevelZeroChangesNothing) {
  const Observed seen = LowerOnNewThread(0);
  EXPECT_EQ(seen.policy, sched_getscheduler(0));
  EXPECT_FALSE(seen.background);
}

}  // namespace
}  // namespace bn
