#include "tidegate/shaping/token_bucket.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace tidegate::shaping {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using ::testing::HasSubstr;

constexpr double kEps = 1e-6;

BucketConfig Config(double rate, double size, std::array<double, kMaxTiers> reserve = {}) {
  BucketConfig c;
  c.rate_per_s = rate;
  c.size = size;
  c.reserve_fraction = reserve;
  return c;
}

class TokenBucketTest : public ::testing::Test {
 protected:
  std::shared_ptr<TokenBucket> Make(const BucketConfig& c,
                                    std::shared_ptr<TokenBucket> parent = nullptr) {
    auto b = TokenBucket::Create(c, clock_.Now(), std::move(parent));
    EXPECT_TRUE(b.ok()) << b.status();
    return *b;
  }
  SimulatedClock clock_;
};

TEST_F(TokenBucketTest, StartsFullAndAdmitsUpToSize) {
  auto b = Make(Config(10, 5));
  EXPECT_NEAR(b->Available(clock_.Now()), 5, kEps);
  for (int i = 0; i < 5; ++i) {
    Decision d = b->TryAcquire(1, clock_.Now());
    EXPECT_TRUE(d.admitted()) << i;
    EXPECT_NEAR(d.remaining, 4 - i, kEps);
  }
  Decision d = b->TryAcquire(1, clock_.Now());
  EXPECT_EQ(d.verdict, Verdict::kRefused);
  EXPECT_EQ(d.level, 0);
  // One token refills in 1/rate = 100 ms.
  EXPECT_EQ(d.retry_after, milliseconds(100));
}

TEST_F(TokenBucketTest, RefillsAtRateAndCapsAtSize) {
  auto b = Make(Config(10, 5));
  ASSERT_TRUE(b->TryAcquire(5, clock_.Now()).admitted());
  clock_.Advance(milliseconds(250));
  EXPECT_NEAR(b->Available(clock_.Now()), 2.5, kEps);
  clock_.Advance(seconds(60));
  EXPECT_NEAR(b->Available(clock_.Now()), 5, kEps);
}

TEST_F(TokenBucketTest, FractionalCostsAndZeroCost) {
  auto b = Make(Config(1, 1));
  EXPECT_TRUE(b->TryAcquire(0.25, clock_.Now()).admitted());
  EXPECT_TRUE(b->TryAcquire(0.75, clock_.Now()).admitted());
  EXPECT_FALSE(b->TryAcquire(0.01, clock_.Now()).admitted());
  // Zero cost: admitted when not in debt, charges nothing.
  EXPECT_TRUE(b->TryAcquire(0, clock_.Now()).admitted());
  EXPECT_NEAR(b->Available(clock_.Now()), 0, kEps);
}

TEST_F(TokenBucketTest, RejectsInvalidConfigsWithNamedField) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  struct Case {
    BucketConfig config;
    const char* message;
  } cases[] = {
      {Config(-1, 5), "rate_per_s = -1"},
      {Config(nan, 5), "rate_per_s = nan"},
      {Config(0, 5), "rate_per_s = 0"},
      {Config(2e9, 5), "rate_per_s = 2000000000"},
      {Config(10, 0), "size = 0"},
      {Config(10, -3), "size = -3"},
      {Config(10, std::numeric_limits<double>::infinity()), "size = inf"},
      {Config(1e-5, 1e6), "must refill within"},
      {Config(10, 5, {0.1, 0.2, 0.3, 0.4}), "reserve_fraction[0] = 0.1"},
      {Config(10, 5, {0, 0.5, 0.2, 0.6}), "reserve_fraction[2] = 0.2 is below"},
      {Config(10, 5, {0, 0.5, 1.0, 1.0}), "reserve_fraction[2] = 1: must be in [0, 1)"},
  };
  for (const Case& c : cases) {
    auto b = TokenBucket::Create(c.config, clock_.Now());
    ASSERT_FALSE(b.ok()) << c.message;
    EXPECT_EQ(b.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(b.status().message()), HasSubstr(c.message));
  }
}

TEST_F(TokenBucketTest, InvalidCostAndTierAreErrorsNotRefusals) {
  auto b = Make(Config(10, 5));
  const double nan = std::numeric_limits<double>::quiet_NaN();
  EXPECT_EQ(b->TryAcquire(-1, clock_.Now()).verdict, Verdict::kInvalidCost);
  EXPECT_EQ(b->TryAcquire(nan, clock_.Now()).verdict, Verdict::kInvalidCost);
  EXPECT_EQ(b->TryAcquire(std::numeric_limits<double>::infinity(), clock_.Now()).verdict,
            Verdict::kInvalidCost);
  EXPECT_EQ(b->TryAcquire(1, clock_.Now(), -1).verdict, Verdict::kInvalidTier);
  EXPECT_EQ(b->TryAcquire(1, clock_.Now(), kMaxTiers).verdict, Verdict::kInvalidTier);
  Decision too_large = b->TryAcquire(5.5, clock_.Now());
  EXPECT_EQ(too_large.verdict, Verdict::kCostTooLarge);
  absl::Status s = DecisionToStatus(too_large, 5.5, 0);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("cost = 5.5 exceeds"));
  EXPECT_EQ(DecisionToStatus(b->TryAcquire(nan, clock_.Now()), nan, 0).code(),
            absl::StatusCode::kInvalidArgument);
  // None of the invalid requests charged anything.
  EXPECT_NEAR(b->Available(clock_.Now()), 5, kEps);
}

TEST_F(TokenBucketTest, RefusalStatusCarriesRetryAfter) {
  auto b = Make(Config(2, 1));
  ASSERT_TRUE(b->TryAcquire(1, clock_.Now()).admitted());
  Decision d = b->TryAcquire(1, clock_.Now());
  absl::Status s = DecisionToStatus(d, 1, 0);
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(s.message()), HasSubstr("retry after 0.500 s"));
}

TEST_F(TokenBucketTest, SettleGoesIntoDebtWhichRefillRepays) {
  auto b = Make(Config(10, 5));
  ASSERT_TRUE(b->TryAcquire(5, clock_.Now()).admitted());
  // The request actually cost 8 more than estimated: the balance is -8.
  ASSERT_TRUE(b->Settle(8, clock_.Now()).ok());
  EXPECT_NEAR(b->Available(clock_.Now()), -8, kEps);
  EXPECT_FALSE(b->TryAcquire(0, clock_.Now()).admitted());  // In debt: nothing passes.
  clock_.Advance(milliseconds(800));                        // 8 tokens of refill repay the debt.
  EXPECT_NEAR(b->Available(clock_.Now()), 0, kEps);
  EXPECT_TRUE(b->TryAcquire(0, clock_.Now()).admitted());
  EXPECT_FALSE(b->TryAcquire(0.5, clock_.Now()).admitted());
  clock_.Advance(milliseconds(100));
  EXPECT_TRUE(b->TryAcquire(1, clock_.Now()).admitted());
}

TEST_F(TokenBucketTest, RefundNeverFillsPastSize) {
  auto b = Make(Config(10, 5));
  ASSERT_TRUE(b->TryAcquire(2, clock_.Now()).admitted());
  ASSERT_TRUE(b->Settle(-1.5, clock_.Now()).ok());
  EXPECT_NEAR(b->Available(clock_.Now()), 4.5, kEps);
  ASSERT_TRUE(b->Settle(-100, clock_.Now()).ok());
  EXPECT_NEAR(b->Available(clock_.Now()), 5, kEps);
}

TEST_F(TokenBucketTest, SettleRejectsNonFiniteDeltaAndChangesNothing) {
  auto b = Make(Config(10, 5));
  absl::Status s = b->Settle(std::numeric_limits<double>::quiet_NaN(), clock_.Now());
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("settle delta = nan"));
  EXPECT_NEAR(b->Available(clock_.Now()), 5, kEps);
}

TEST_F(TokenBucketTest, PriorityReservesKeepLastTokensForHigherTiers) {
  // Tier 1 may not take the last 20 %, tier 2 the last 50 %, tier 3 the last 80 %.
  auto b = Make(Config(1, 10, {0, 0.2, 0.5, 0.8}));
  EXPECT_TRUE(b->TryAcquire(2, clock_.Now(), 3).admitted());  // 10 -> 8: exactly at the reserve.
  EXPECT_FALSE(b->TryAcquire(0.5, clock_.Now(), 3).admitted());
  EXPECT_TRUE(b->TryAcquire(3, clock_.Now(), 2).admitted());  // 8 -> 5
  EXPECT_FALSE(b->TryAcquire(0.5, clock_.Now(), 2).admitted());
  EXPECT_TRUE(b->TryAcquire(3, clock_.Now(), 1).admitted());  // 5 -> 2
  EXPECT_FALSE(b->TryAcquire(0.5, clock_.Now(), 1).admitted());
  EXPECT_TRUE(b->TryAcquire(2, clock_.Now(), 0).admitted());  // Critical takes the last tokens.
  EXPECT_NEAR(b->Available(clock_.Now()), 0, kEps);
  // A tier can never ask for more than its usable share.
  EXPECT_EQ(b->TryAcquire(2.5, clock_.Now(), 3).verdict, Verdict::kCostTooLarge);
}

TEST_F(TokenBucketTest, ReplanCarriesBalanceProportionally) {
  auto b = Make(Config(10, 10));
  ASSERT_TRUE(b->TryAcquire(6, clock_.Now()).admitted());  // 4 of 10: 40 % full.
  ASSERT_TRUE(b->Replan(Config(100, 50), clock_.Now()).ok());
  EXPECT_NEAR(b->Available(clock_.Now()), 20, kEps);  // 40 % of 50.
  EXPECT_NEAR(b->config().rate_per_s, 100, 1e-9);
  EXPECT_NEAR(b->config().size, 50, 1e-12);
  clock_.Advance(milliseconds(100));  // New rate: 10 tokens per 100 ms.
  EXPECT_NEAR(b->Available(clock_.Now()), 30, kEps);
}

TEST_F(TokenBucketTest, ReplanKeepsDebtUnchanged) {
  auto b = Make(Config(10, 10));
  ASSERT_TRUE(b->TryAcquire(10, clock_.Now()).admitted());
  ASSERT_TRUE(b->Settle(3, clock_.Now()).ok());
  ASSERT_TRUE(b->Replan(Config(1, 100), clock_.Now()).ok());
  EXPECT_NEAR(b->Available(clock_.Now()), -3, kEps);
  clock_.Advance(seconds(3));
  EXPECT_NEAR(b->Available(clock_.Now()), 0, kEps);
}

TEST_F(TokenBucketTest, DebtIsCappedAtMaxDebtTimeOfRefill) {
  // A slow bucket (a month of burst) settled far beyond its size: 100 months of owed refill would
  // overflow the fixed-point state; the balance stops at -rate * kMaxDebtTime instead.
  const double rate = 0.01;
  const double size = rate * 30 * 24 * 3600;
  const double max_debt = rate * std::chrono::duration<double>(kMaxDebtTime).count();
  auto b = Make(Config(rate, size));
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(b->Settle(size, clock_.Now()).ok());
  EXPECT_NEAR(b->Available(clock_.Now()), -max_debt, 1e-6 * max_debt);
  // It is repaid at the refill rate like any debt.
  clock_.Advance(std::chrono::hours(24 * 365));
  EXPECT_NEAR(b->Available(clock_.Now()), 0, 1e-6 * max_debt);
  // A Replan to a lower rate keeps the debt in tokens, capped again at the new rate's year.
  ASSERT_TRUE(b->Settle(max_debt / 2, clock_.Now()).ok());
  ASSERT_TRUE(b->Replan(Config(rate / 10, size / 10), clock_.Now()).ok());
  EXPECT_NEAR(b->Available(clock_.Now()), -max_debt / 10, 1e-6 * max_debt);
}

TEST_F(TokenBucketTest, RebaseKeepsALongLivedBucketExact) {
  // 30 months without a Replan would take z - epoch past its 56-bit range (~834 days); a rebase
  // every half year keeps every balance exact.
  auto b = Make(Config(2, 100));
  EXPECT_FALSE(b->RebaseIfOld(clock_.Now()));
  for (int month = 0; month < 30; ++month) {
    clock_.Advance(std::chrono::hours(24 * 30));
    b->RebaseIfOld(clock_.Now());
    ASSERT_TRUE(b->TryAcquire(100, clock_.Now()).admitted()) << "month " << month;
    EXPECT_NEAR(b->Available(clock_.Now()), 0, kEps);
    ASSERT_TRUE(b->Settle(3, clock_.Now()).ok());
    EXPECT_NEAR(b->Available(clock_.Now()), -3, kEps);
  }
  EXPECT_EQ(b->config().rate_per_s, 2);
  EXPECT_EQ(b->config().size, 100);
}

TEST_F(TokenBucketTest, ReplanRejectsInvalidConfigAndKeepsOld) {
  auto b = Make(Config(10, 10));
  absl::Status s = b->Replan(Config(-5, 10), clock_.Now());
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("rate_per_s = -5"));
  EXPECT_NEAR(b->config().rate_per_s, 10, 1e-9);
  EXPECT_NEAR(b->Available(clock_.Now()), 10, kEps);
}

TEST_F(TokenBucketTest, ManyReplansWrapTheGenerationSafely) {
  auto b = Make(Config(10, 10));
  for (int i = 0; i < 1000; ++i) {
    ASSERT_TRUE(b->Replan(Config(10 + i % 7, 10 + i % 3), clock_.Now()).ok());
    clock_.Advance(milliseconds(1));
  }
  EXPECT_LE(b->Available(clock_.Now()), b->config().size + kEps);
  EXPECT_TRUE(b->TryAcquire(1, clock_.Now()).admitted());
}

TEST_F(TokenBucketTest, HierarchyAdmitsOnlyWhenEveryLevelAdmits) {
  auto global = Make(Config(100, 3));
  auto tenant = Make(Config(100, 10), global);
  auto cls = Make(Config(100, 10), tenant);
  EXPECT_TRUE(cls->TryAcquire(2, clock_.Now()).admitted());
  Decision d = cls->TryAcquire(2, clock_.Now());  // Global has only 1 left.
  EXPECT_EQ(d.verdict, Verdict::kRefused);
  EXPECT_EQ(d.level, 2);
  // The refusal at the global level left no charge at the class or tenant level.
  EXPECT_NEAR(cls->Available(clock_.Now()), 8, kEps);
  EXPECT_NEAR(tenant->Available(clock_.Now()), 8, kEps);
  EXPECT_NEAR(global->Available(clock_.Now()), 1, kEps);
  EXPECT_NEAR(d.remaining, 8, kEps);
}

TEST_F(TokenBucketTest, HierarchyRefusalAtClassTouchesNoParent) {
  auto tenant = Make(Config(100, 10));
  auto cls = Make(Config(1, 1), tenant);
  EXPECT_TRUE(cls->TryAcquire(1, clock_.Now()).admitted());
  Decision d = cls->TryAcquire(1, clock_.Now());
  EXPECT_EQ(d.verdict, Verdict::kRefused);
  EXPECT_EQ(d.level, 0);
  EXPECT_NEAR(tenant->Available(clock_.Now()), 9, kEps);
}

TEST_F(TokenBucketTest, HierarchyCostTooLargeAtParentIsReported) {
  auto tenant = Make(Config(100, 2));
  auto cls = Make(Config(100, 10), tenant);
  Decision d = cls->TryAcquire(5, clock_.Now());
  EXPECT_EQ(d.verdict, Verdict::kCostTooLarge);
  EXPECT_EQ(d.level, 1);
  EXPECT_NEAR(cls->Available(clock_.Now()), 10, kEps);
}

TEST_F(TokenBucketTest, SettleChargesEveryLevel) {
  auto tenant = Make(Config(10, 10));
  auto cls = Make(Config(10, 10), tenant);
  ASSERT_TRUE(cls->TryAcquire(1, clock_.Now()).admitted());
  ASSERT_TRUE(cls->Settle(4, clock_.Now()).ok());
  EXPECT_NEAR(cls->Available(clock_.Now()), 5, kEps);
  EXPECT_NEAR(tenant->Available(clock_.Now()), 5, kEps);
  EXPECT_EQ(cls->parent(), tenant.get());
}

TEST_F(TokenBucketTest, OlderNowSeesNoExtraTokens) {
  auto b = Make(Config(10, 10));
  ASSERT_TRUE(b->TryAcquire(10, clock_.Now()).admitted());
  const MonoTime earlier = clock_.Now() - seconds(5);
  EXPECT_FALSE(b->TryAcquire(1, earlier).admitted());
  EXPECT_LE(b->Available(earlier), 0);
}

TEST_F(TokenBucketTest, SlowBucketWithDaysOfBurstStartsFull) {
  // 3,490 tokens at 0.018 tokens/s take ~54 h to refill (found by the fuzzer).
  auto b = Make(Config(0.0179709, 3490.3));
  EXPECT_NEAR(b->Available(clock_.Now()), 3490.3, 1e-6);
  ASSERT_TRUE(b->TryAcquire(3490, clock_.Now()).admitted());
  ASSERT_TRUE(b->Replan(Config(0.01, 5000), clock_.Now()).ok());
  EXPECT_NEAR(b->Available(clock_.Now()), 0.3 * 5000 / 3490.3, 1e-6);
  clock_.Advance(std::chrono::hours(24 * 10));
  EXPECT_NEAR(b->Available(clock_.Now()), 5000, 1e-6);
}

TEST_F(TokenBucketTest, HotStateFitsTwoCacheLines) { EXPECT_LE(sizeof(TokenBucket), 128u); }

}  // namespace
}  // namespace tidegate::shaping
