#include "server/admission.h"

#include <atomic>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace bn {
namespace {

TEST(AdmissionTest, RefusesBeyondTheLimitAndFreesSlotsWithTheirTickets) {
  Admission::Limits limits;
  limits.queries = 2;
  limits.write_streams = 1;
  Admission admission(limits);
  auto a = admission.Admit(Admission::Kind::kQuery);
  auto b = admission.Admit(Admission::Kind::kQuery);
  ASSERT_TRUE(a.ok());
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(admission.in_flight(Admission::Kind::kQuery), 2);
  auto c = admission.Admit(Admission::Kind::kQuery);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(c.status().message().find("--max-inflight-queries"), absl::string_view::npos);
  EXPECT_EQ(admission.refused(Admission::Kind::kQuery), 1u);
  // Kinds are independent.
  EXPECT_TRUE(admission.Admit(Admission::Kind::kWrite).ok());
  { Admission::Ticket released = std::move(*a); }
  EXPECT_EQ(admission.in_flight(Admission::Kind::kQuery), 1);
  EXPECT_TRUE(admission.Admit(Admission::Kind::kQuery).ok());
  EXPECT_EQ(admission.in_flight(Admission::Kind::kQuery), 1);  // That ticket died at once.
}

TEST(AdmissionTest, MoveAssignmentReleasesTheOverwrittenSlot) {
  Admission::Limits limits;
  limits.write_streams = 2;
  Admission admission(limits);
  auto a = admission.Admit(Admission::Kind::kWrite);
  auto b = admission.Admit(Admission::Kind::kWrite);
  ASSERT_TRUE(a.ok() && b.ok());
  *a = std::move(*b);
  EXPECT_EQ(admission.in_flight(Admission::Kind::kWrite), 1);
}

TEST(AdmissionTest, ConcurrentCallersNeverExceedTheLimit) {
  Admission::Limits limits;
  limits.queries = 3;
  Admission admission(limits);
  std::atomic<int> holding{0}, max_holding{0}, admitted{0}, refused{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 2000; ++i) {
        auto ticket = admission.Admit(Admission::Kind::kQuery);
        if (!ticket.ok()) {
          ++refused;
          continue;
        }
        ++admitted;
        const int now = ++holding;
        int seen = max_holding.load();
        while (now > seen && !max_holding.compare_exchange_weak(seen, now)) {
        }
        --holding;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_LE(max_holding.load(), 3);
  EXPECT_EQ(admitted + refused, 8 * 2000);
  EXPECT_EQ(admission.refused(Admission::Kind::kQuery), static_cast<uint64_t>(refused.load()));
  EXPECT_EQ(admission.in_flight(Admission::Kind::kQuery), 0);
}

}  // namespace
}  // namespace bn
