#include "tidegate/common/clock.h"

#include <gtest/gtest.h>

namespace tidegate {
namespace {

TEST(SimulatedClockTest, AdvanceMovesMonotonicAndWallTogether) {
  SimulatedClock clock;
  const MonoTime m0 = clock.Now();
  const WallTime w0 = clock.WallNow();
  clock.Advance(std::chrono::seconds(90));
  EXPECT_EQ(clock.Now() - m0, std::chrono::seconds(90));
  EXPECT_EQ(clock.WallNow() - w0, std::chrono::seconds(90));
  clock.SetWall(w0 + std::chrono::hours(1));
  EXPECT_EQ(clock.Now() - m0, std::chrono::hours(1));
}

TEST(RealClockTest, MonotonicNeverGoesBackwards) {
  Clock& clock = RealClock();
  MonoTime last = clock.Now();
  for (int i = 0; i < 1000; ++i) {
    const MonoTime now = clock.Now();
    ASSERT_GE(now, last);
    last = now;
  }
  EXPECT_GT(clock.WallNow().time_since_epoch(), std::chrono::hours(24 * 365 * 50));
}

}  // namespace
}  // namespace tidegate
