#include "tidegate/shaping/borrowing.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <memory>

namespace tidegate::shaping {
namespace {

using std::chrono::milliseconds;
using ::testing::HasSubstr;

constexpr double kEps = 1e-6;

class BorrowingTest : public ::testing::Test {
 protected:
  std::shared_ptr<TokenBucket> Bucket(double rate, double size) {
    auto b = TokenBucket::Create(BucketConfig{rate, size, {}}, clock_.Now());
    EXPECT_TRUE(b.ok()) << b.status();
    return *b;
  }
  // A pool for a server of 100 work units/s and a 1 s horizon; tier t may fill (1 - reserve[t]).
  std::shared_ptr<TokenBucket> Pool(std::array<double, kMaxTiers> reserve = {0, 0.5, 0.5, 0.5}) {
    auto c = PoolConfig(100, 1, reserve);
    EXPECT_TRUE(c.ok()) << c.status();
    auto b = TokenBucket::Create(*c, clock_.Now());
    EXPECT_TRUE(b.ok()) << b.status();
    return *b;
  }
  SimulatedClock clock_;
};

TEST_F(BorrowingTest, WithoutAPoolItIsTheClassBucket) {
  auto own = Bucket(1, 2);
  EXPECT_TRUE(AcquireOrBorrow(*own, 1, nullptr, 50, clock_.Now(), 1).admitted());
  EXPECT_TRUE(AcquireOrBorrow(*own, 1, nullptr, 50, clock_.Now(), 1).admitted());
  const BorrowDecision d = AcquireOrBorrow(*own, 1, nullptr, 50, clock_.Now(), 1);
  EXPECT_FALSE(d.admitted());
  EXPECT_FALSE(d.by_pool);
  EXPECT_EQ(d.decision.verdict, Verdict::kRefused);
}

TEST_F(BorrowingTest, AssuredRequestsAreChargedToThePool) {
  auto own = Bucket(1, 3);
  auto pool = Pool();
  for (int i = 0; i < 3; ++i) {
    const BorrowDecision d = AcquireOrBorrow(*own, 1, pool.get(), 20, clock_.Now(), 0);
    EXPECT_TRUE(d.admitted());
    EXPECT_FALSE(d.borrowed);
  }
  // 60 of the pool's 100 units (0.6 s of backlog) are taken.
  EXPECT_NEAR(pool->Available(clock_.Now()), 40, kEps);
  // The server drains the backlog at 100/s.
  clock_.Advance(milliseconds(300));
  EXPECT_NEAR(pool->Available(clock_.Now()), 70, kEps);
}

TEST_F(BorrowingTest, ARefusedClassBorrowsUpToItsTiersShareOfTheHorizon) {
  auto own = Bucket(1e-3, 1e-3);  // Empty at once: everything below must borrow.
  auto critical_own = Bucket(1e-3, 1e-3);
  auto pool = Pool();  // Tier 1 may fill half of the 1 s horizon, tier 0 all of it.
  int borrowed = 0;
  for (int i = 0; i < 10; ++i) {
    const BorrowDecision d = AcquireOrBorrow(*own, 1, pool.get(), 10, clock_.Now(), 1);
    if (d.admitted()) {
      EXPECT_TRUE(d.borrowed);
      ++borrowed;
    } else {
      EXPECT_TRUE(d.by_pool);
      EXPECT_EQ(d.decision.verdict, Verdict::kRefused);
    }
  }
  EXPECT_EQ(borrowed, 5);  // 5 x 10 units = 0.5 s of backlog.
  // The critical tier still has the other half.
  for (int i = 0; i < 5; ++i) {
    const BorrowDecision d = AcquireOrBorrow(*critical_own, 1, pool.get(), 10, clock_.Now(), 0);
    EXPECT_TRUE(d.admitted() && d.borrowed) << i;
  }
  EXPECT_FALSE(AcquireOrBorrow(*critical_own, 1, pool.get(), 10, clock_.Now(), 0).admitted());
  // Borrowing never charged the class buckets.
  EXPECT_LE(own->Available(clock_.Now()), 1e-3);
}

TEST_F(BorrowingTest, BorrowingNeverTakesWhatAHigherTierAlreadyHas) {
  auto critical = Bucket(1, 8);
  auto batch = Bucket(1e-3, 1e-3);
  auto pool = Pool();
  // Critical work of 0.8 s is queued: above tier 1's half of the horizon.
  for (int i = 0; i < 8; ++i) {
    ASSERT_TRUE(AcquireOrBorrow(*critical, 1, pool.get(), 10, clock_.Now(), 0).admitted());
  }
  EXPECT_FALSE(AcquireOrBorrow(*batch, 1, pool.get(), 1, clock_.Now(), 1).admitted());
  // Once the server has worked it down to 0.3 s, the batch tier may borrow again.
  clock_.Advance(milliseconds(500));
  EXPECT_TRUE(AcquireOrBorrow(*batch, 1, pool.get(), 10, clock_.Now(), 1).borrowed);
}

TEST_F(BorrowingTest, AnAssuredRequestBeyondTheHorizonIsRefusedAndRefunded) {
  auto own = Bucket(1, 5);
  auto pool = Pool();
  ASSERT_TRUE(AcquireOrBorrow(*own, 1, pool.get(), 90, clock_.Now(), 1).admitted());
  const double own_before = own->Available(clock_.Now());
  const BorrowDecision d = AcquireOrBorrow(*own, 1, pool.get(), 20, clock_.Now(), 1);
  EXPECT_FALSE(d.admitted());
  EXPECT_TRUE(d.by_pool);
  EXPECT_NEAR(own->Available(clock_.Now()), own_before, kEps);  // The class was not charged.
  EXPECT_NEAR(pool->Available(clock_.Now()), 10, kEps);
  // An assured request may use the whole horizon, whatever its tier.
  EXPECT_TRUE(AcquireOrBorrow(*own, 1, pool.get(), 10, clock_.Now(), 3).admitted());
}

TEST_F(BorrowingTest, CostHeadroomLendsToSmallRequestsFirst) {
  auto own = Bucket(1e-3, 1e-3);
  auto pool = Pool({0, 0, 0, 0});
  ASSERT_TRUE(AcquireOrBorrow(*own, 1, pool.get(), 60, clock_.Now(), 0).admitted());
  // 40 units free. With headroom 1 a borrower needs twice its cost free.
  EXPECT_FALSE(AcquireOrBorrow(*own, 1, pool.get(), 25, clock_.Now(), 1, 1.0).admitted());
  const BorrowDecision d = AcquireOrBorrow(*own, 1, pool.get(), 15, clock_.Now(), 1, 1.0);
  EXPECT_TRUE(d.borrowed);
  // Only the cost is kept, not the headroom.
  EXPECT_NEAR(pool->Available(clock_.Now()), 25, kEps);
  EXPECT_NEAR(d.decision.remaining, 25, kEps);
  // The headroom applies to every borrower, tier 0 included.
  EXPECT_FALSE(AcquireOrBorrow(*own, 1, pool.get(), 15, clock_.Now(), 0, 1.0).admitted());
  EXPECT_TRUE(AcquireOrBorrow(*own, 1, pool.get(), 12, clock_.Now(), 0, 1.0).admitted());
}

TEST_F(BorrowingTest, InvalidInputChargesNothing) {
  auto own = Bucket(1, 5);
  auto pool = Pool();
  const double nan = std::numeric_limits<double>::quiet_NaN();
  EXPECT_EQ(AcquireOrBorrow(*own, 1, pool.get(), -1, clock_.Now(), 0).decision.verdict,
            Verdict::kInvalidCost);
  EXPECT_EQ(AcquireOrBorrow(*own, 1, pool.get(), nan, clock_.Now(), 0).decision.verdict,
            Verdict::kInvalidCost);
  EXPECT_EQ(AcquireOrBorrow(*own, 1, pool.get(), 1, clock_.Now(), 0, -1).decision.verdict,
            Verdict::kInvalidCost);
  EXPECT_EQ(AcquireOrBorrow(*own, nan, pool.get(), 1, clock_.Now(), 0).decision.verdict,
            Verdict::kInvalidCost);
  EXPECT_EQ(AcquireOrBorrow(*own, 1, pool.get(), 1, clock_.Now(), 7).decision.verdict,
            Verdict::kInvalidTier);
  EXPECT_NEAR(own->Available(clock_.Now()), 5, kEps);
  EXPECT_NEAR(pool->Available(clock_.Now()), 100, kEps);
}

TEST_F(BorrowingTest, BacklogSyncFollowsASlowerServer) {
  // The pool models 100 units/s; the server does 50.
  auto own = Bucket(10, 10);
  auto pool = Pool();
  BacklogSync sync;
  const MonoTime t0 = clock_.Now();
  ASSERT_TRUE(AcquireOrBorrow(*own, 1, pool.get(), 20, t0, 0).admitted());
  const BacklogSync::Ticket a = sync.Admitted(*pool, t0);
  ASSERT_TRUE(AcquireOrBorrow(*own, 1, pool.get(), 20, t0, 0).admitted());
  const BacklogSync::Ticket b = sync.Admitted(*pool, t0);
  EXPECT_EQ(a.predicted_done, t0 + milliseconds(200));
  EXPECT_EQ(b.predicted_done, t0 + milliseconds(400));
  // A finishes at 0.4 s, 0.2 s late: B and everything after it are 0.2 s later too.
  EXPECT_NEAR(sync.Completed(*pool, a, t0 + milliseconds(400)), 0.2, 1e-9);
  EXPECT_NEAR(pool->Available(t0 + milliseconds(400)), 80, kEps);  // B is now due at 0.6 s.
  EXPECT_NEAR(sync.shift_s(), 0.2, 1e-9);
  // B finishes at 0.8 s: 0.4 s late, of which 0.2 s already applied. The queue is empty now, in
  // the model as on the server: no backlog is invented.
  EXPECT_NEAR(sync.Completed(*pool, b, t0 + milliseconds(800)), 0.2, 1e-9);
  EXPECT_NEAR(pool->Available(t0 + milliseconds(800)), 100, kEps);
  EXPECT_NEAR(sync.shift_s(), 0.4, 1e-9);
}

TEST_F(BorrowingTest, BacklogSyncGivesBackWhenTheServerIsFaster) {
  auto own = Bucket(10, 10);
  auto pool = Pool();
  BacklogSync sync;
  const MonoTime t0 = clock_.Now();
  ASSERT_TRUE(AcquireOrBorrow(*own, 1, pool.get(), 50, t0, 0).admitted());
  const BacklogSync::Ticket a = sync.Admitted(*pool, t0);
  // Done at 0.25 s instead of 0.5 s: the model's remaining 0.25 s of queue is gone.
  EXPECT_NEAR(sync.Completed(*pool, a, t0 + milliseconds(250)), -0.25, 1e-9);
  EXPECT_NEAR(pool->Available(t0 + milliseconds(250)), 100, kEps);
  // Cost true-ups go through the sync and count as shifts, so that they are not corrected twice.
  ASSERT_TRUE(AcquireOrBorrow(*own, 1, pool.get(), 10, t0 + milliseconds(250), 0).admitted());
  const BacklogSync::Ticket c = sync.Admitted(*pool, t0 + milliseconds(250));
  ASSERT_TRUE(sync.Settle(*pool, 10, t0 + milliseconds(250)).ok());  // It cost 20, not 10.
  EXPECT_NEAR(sync.Completed(*pool, c, t0 + milliseconds(450)), 0, 1e-9);
  EXPECT_FALSE(sync.Settle(*pool, std::numeric_limits<double>::infinity(), t0).ok());
}

TEST_F(BorrowingTest, PoolConfigIsCapacityTimesHorizonAndRefusesBadInput) {
  auto c = PoolConfig(200, 2.5, {0, 0.2, 0.3, 0.4});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_DOUBLE_EQ(c->rate_per_s, 200);
  EXPECT_DOUBLE_EQ(c->size, 500);
  EXPECT_DOUBLE_EQ(c->reserve_fraction[2], 0.3);
  EXPECT_THAT(std::string(PoolConfig(0, 1, {}).status().message()), HasSubstr("pool capacity = 0"));
  EXPECT_THAT(
      std::string(PoolConfig(std::numeric_limits<double>::infinity(), 1, {}).status().message()),
      HasSubstr("pool capacity = inf"));
  EXPECT_THAT(std::string(PoolConfig(10, -1, {}).status().message()),
              HasSubstr("pool horizon = -1"));
  EXPECT_EQ(PoolConfig(10, 1, {0, 0.5, 0.2, 0.2}).status().code(),
            absl::StatusCode::kInvalidArgument);  // Reserves must not decrease.
  EXPECT_EQ(PoolConfig(10, 1, {0.1, 0.5, 0.5, 0.5}).status().code(),
            absl::StatusCode::kInvalidArgument);  // Tier 0 reserves nothing.
}

TEST(UnknownCostEstimatorTest, RunningMeanAndVarianceThenExponentialWeights) {
  auto e = UnknownCostEstimator::Create(/*weight=*/0.25, /*spread=*/0);
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->Estimate(), 0);  // Nothing completed yet: declare the known part alone.
  // The first 1/w = 4 completions: the plain mean and (population) variance.
  for (double x : {10.0, 20.0, 30.0, 40.0}) ASSERT_TRUE(e->Observe(x).ok());
  EXPECT_EQ(e->completions(), 4);
  EXPECT_NEAR(e->mean(), 25, 1e-9);
  EXPECT_NEAR(e->stddev(), std::sqrt(125.0), 1e-9);
  EXPECT_NEAR(e->Estimate(), 25, 1e-9);
  // Then weight 0.25: m += 0.25 (x - m), v = 0.75 (v + 0.25 d^2).
  ASSERT_TRUE(e->Observe(65).ok());
  EXPECT_NEAR(e->mean(), 35, 1e-9);
  EXPECT_NEAR(e->stddev(), std::sqrt(0.75 * (125 + 0.25 * 1600)), 1e-9);
  // A drift is followed: after many completions of 100 the mean is there.
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(e->Observe(100).ok());
  EXPECT_NEAR(e->mean(), 100, 1e-6);
  EXPECT_NEAR(e->stddev(), 0, 1e-3);
}

TEST(UnknownCostEstimatorTest, SpreadDeclaresMoreForAWiderClass) {
  auto narrow = UnknownCostEstimator::Create(0.01, 2);
  auto wide = UnknownCostEstimator::Create(0.01, 2);
  ASSERT_TRUE(narrow.ok() && wide.ok());
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE(narrow->Observe(i % 2 == 0 ? 90 : 110).ok());  // Mean 100, sd 10.
    ASSERT_TRUE(wide->Observe(i % 2 == 0 ? 0 : 200).ok());     // Mean 100, sd 100.
  }
  EXPECT_NEAR(narrow->Estimate(), 100 + 2 * 10, 1e-9);
  EXPECT_NEAR(wide->Estimate(), 100 + 2 * 100, 1e-9);
}

TEST(UnknownCostEstimatorTest, RefusesBadInput) {
  EXPECT_THAT(std::string(UnknownCostEstimator::Create(0, 0).status().message()),
              HasSubstr("unknown-cost weight = 0"));
  EXPECT_THAT(std::string(UnknownCostEstimator::Create(1.5, 0).status().message()),
              HasSubstr("unknown-cost weight = 1.5"));
  EXPECT_THAT(std::string(UnknownCostEstimator::Create(0.1, -1).status().message()),
              HasSubstr("unknown-cost spread = -1"));
  EXPECT_FALSE(UnknownCostEstimator::Create(0.1, std::numeric_limits<double>::infinity()).ok());
  auto e = UnknownCostEstimator::Create(0.1, 1);
  ASSERT_TRUE(e.ok());
  ASSERT_TRUE(e->Observe(5).ok());
  EXPECT_THAT(std::string(e->Observe(-1).message()), HasSubstr("unknown cost = -1"));
  EXPECT_FALSE(e->Observe(std::numeric_limits<double>::quiet_NaN()).ok());
  EXPECT_EQ(e->completions(), 1);  // The refused observations changed nothing.
  EXPECT_EQ(e->Estimate(), 5);
}

}  // namespace
}  // namespace tidegate::shaping
