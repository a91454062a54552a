// Liveness (server/cluster/liveness.h) on a synthetic clock: heartbeats every second, a lease of
// 5 s, as bottleneckd's defaults.
#include "server/cluster/liveness.h"

#include <gtest/gtest.h>

#include <chrono>

namespace bn::cluster {
namespace {

using Clock = Liveness::Clock;
using std::chrono::milliseconds;
using std::chrono::seconds;

class LivenessTest : public ::testing::Test {
 protected:
  bool Live(const std::string& node) {
    Clock::duration age;
    return liveness_.Live(node, now_, &age);
  }
  uint64_t AgeMs(const std::string& node) {
    Clock::duration age;
    (void)liveness_.Live(node, now_, &age);
    return std::chrono::duration_cast<milliseconds>(age).count();
  }
  // Every node in `beating` heartbeats once a second for `duration` (this node "a" included when
  // listed), b's heartbeat arriving 600 ms after a's.
  void Run(Clock::duration duration, bool a_beats, bool b_beats) {
    const Clock::time_point end = now_ + duration;
    while (now_ < end) {
      now_ += milliseconds(400);
      if (a_beats) liveness_.Moved("a", now_);
      now_ += milliseconds(600);
      if (b_beats) liveness_.Moved("b", now_);
    }
  }

  Clock::time_point now_ = Clock::now();
  Liveness liveness_{"a", seconds(5), seconds(1)};
};

TEST_F(LivenessTest, APeerThatStopsIsDeadALeaseAfterItsLastHeartbeat) {
  EXPECT_FALSE(Live("b"));  // Never seen.
  Run(seconds(10), true, true);
  EXPECT_TRUE(Live("a"));
  EXPECT_TRUE(Live("b"));
  EXPECT_LT(AgeMs("b"), 1000u);
  Run(seconds(4), true, false);
  EXPECT_TRUE(Live("b")) << AgeMs("b");
  Run(seconds(1), true, false);
  EXPECT_FALSE(Live("b")) << AgeMs("b");
  EXPECT_EQ(AgeMs("b"), 5000u);
  liveness_.Moved("b", now_);  // It came back.
  EXPECT_TRUE(Live("b"));
}

TEST_F(LivenessTest, FirstSightIsAsOldAsTheBucketSaysAndDoesNotCountAsOwnHeartbeat) {
  liveness_.FirstSeen("b", now_ - seconds(3), now_);
  liveness_.FirstSeen("a", now_ - seconds(1), now_);  // A previous life of this node id.
  EXPECT_TRUE(Live("b"));
  EXPECT_EQ(AgeMs("b"), 3000u);
  // Nothing moves: with no own heartbeat seen yet, the view is not judged stale, so an old
  // entry of this node's own id ages out (bottleneckd waits for that before it starts).
  now_ += seconds(4);
  EXPECT_FALSE(Live("a")) << AgeMs("a");
  EXPECT_FALSE(Live("b")) << AgeMs("b");
  EXPECT_EQ(AgeMs("b"), 7000u);
}

// The case seen in a test that killed 2 of 3 NATS servers: every heartbeat stops (no quorum).
// Before, a peer whose last heartbeat came a little before this node's own could be judged dead
// just before the stale rule started, and again right after the outage, when this node's
// heartbeat had come back and the peer's next one had not.
TEST_F(LivenessTest, NoPeerLooksDeadDuringOrRightAfterAnOutageOfTheWatch) {
  Run(seconds(10), true, true);
  for (int step = 0; step < 60; ++step) {  // 30 s without any heartbeat, checked every 500 ms.
    now_ += milliseconds(500);
    ASSERT_TRUE(Live("b")) << "at " << step * 500 + 500 << " ms: age " << AgeMs("b");
    ASSERT_TRUE(Live("a"));
  }
  // The outage ends; this node's heartbeat comes back first, b's 600 ms later.
  now_ += milliseconds(400);
  liveness_.Moved("a", now_);
  EXPECT_TRUE(Live("b")) << AgeMs("b");
  now_ += milliseconds(599);
  EXPECT_TRUE(Live("b")) << AgeMs("b");
  now_ += milliseconds(1);
  liveness_.Moved("b", now_);
  EXPECT_TRUE(Live("b"));
  EXPECT_EQ(AgeMs("b"), 0u);
}

TEST_F(LivenessTest, APeerThatDiedDuringAnOutageIsDeadALeaseAfterTheViewIsFreshAgain) {
  Run(seconds(10), true, true);
  EXPECT_EQ(AgeMs("b"), 0u);  // b's last heartbeat came 600 ms after this node's.
  now_ += seconds(20);        // Outage: no heartbeat at all.
  EXPECT_TRUE(Live("b"));
  // b's age stopped growing two heartbeat intervals after this node's last own heartbeat.
  EXPECT_EQ(AgeMs("b"), 1400u);
  // This node's heartbeats are back (the first 400 ms from now); b's never come: its age resumes
  // from 1.4 s, so it is dead 3.6 s after the view is fresh again.
  Run(seconds(3), true, false);
  EXPECT_TRUE(Live("b")) << AgeMs("b");
  EXPECT_EQ(AgeMs("b"), 4000u);
  Run(seconds(1), true, false);
  EXPECT_FALSE(Live("b")) << AgeMs("b");
}

TEST_F(LivenessTest, HeartbeatsThatArriveWhileTheOwnOneIsLateAreNotPaused) {
  Run(seconds(10), true, true);
  // This node's own heartbeat stops coming back (its watch is slow); b's keep arriving.
  Run(seconds(10), false, true);
  EXPECT_TRUE(Live("b"));
  // b then stops too. Its age is frozen while this node's view is stale...
  now_ += seconds(10);
  EXPECT_TRUE(Live("b")) << AgeMs("b");
  // ...and b, which beat during the stale time, is judged on real time once the view is fresh.
  liveness_.Moved("a", now_);
  EXPECT_FALSE(Live("b")) << AgeMs("b");
}

}  // namespace
}  // namespace bn::cluster
