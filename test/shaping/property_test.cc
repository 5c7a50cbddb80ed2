// Property sweeps: random traces of acquire / settle / replan / advance-time actions, checked
// against the floating-point reference model and against the invariants of token_bucket.h.
// Every trace is seeded; a failure prints its seed so it can be replayed.
#include <gtest/gtest.h>

#include <random>

#include "shaping/reference_bucket.h"
#include "tidegate/shaping/token_bucket.h"

namespace tidegate::shaping {
namespace {

using testing::ReferenceHierarchy;

BucketConfig RandomConfig(std::mt19937_64& rng) {
  std::uniform_real_distribution<double> rate(0.5, 5000), size(0.5, 200), frac(0, 0.3);
  BucketConfig c;
  c.rate_per_s = rate(rng);
  c.size = size(rng);
  double f = 0;
  for (int t = 1; t < kMaxTiers; ++t) c.reserve_fraction[t] = f += frac(rng) / kMaxTiers;
  return c;
}

// Runs one random trace on a `depth`-level hierarchy; compares with the reference after each step.
void RunTrace(uint64_t seed, int depth, int steps, bool with_replan) {
  std::mt19937_64 rng(seed);
  SimulatedClock clock;
  std::vector<BucketConfig> configs;
  for (int i = 0; i < depth; ++i) configs.push_back(RandomConfig(rng));
  std::vector<std::shared_ptr<TokenBucket>> levels(depth);
  for (int i = depth - 1; i >= 0; --i) {
    auto b = TokenBucket::Create(configs[i], clock.Now(), i + 1 < depth ? levels[i + 1] : nullptr);
    EXPECT_TRUE(b.ok());
    levels[i] = *b;
  }
  const auto seconds_of = [](MonoTime t) {
    return std::chrono::duration<double>(t.time_since_epoch()).count();
  };
  ReferenceHierarchy ref(configs, seconds_of(clock.Now()));
  std::uniform_int_distribution<int> action(0, 9), tier(0, kMaxTiers - 1);
  std::uniform_real_distribution<double> unit(0, 1);
  for (int step = 0; step < steps; ++step) {
    const int a = action(rng);
    const double now_s = seconds_of(clock.Now());
    if (a <= 5) {
      const double cost = unit(rng) * ref.config(0).size * 0.5;
      const int t = tier(rng);
      bool ambiguous;
      const Verdict expected = ref.Decide(cost, t, now_s, &ambiguous);
      const Decision got = levels[0]->TryAcquire(cost, clock.Now(), t);
      // Fixed-point time rounds by up to a nanosecond per operation: within that tolerance either
      // verdict is correct, and the reference follows the implementation.
      if (!ambiguous) {
        EXPECT_EQ(got.verdict, expected) << "seed " << seed << " step " << step;
      }
      if (got.admitted()) {
        ref.Charge(cost);
      }
    } else if (a == 6) {
      const double delta = (unit(rng) - 0.6) * ref.config(0).size * 0.3;
      ASSERT_TRUE(levels[0]->Settle(delta, clock.Now()).ok());
      ref.Settle(delta, now_s);
    } else if (a == 7 && with_replan) {
      const int level = std::uniform_int_distribution<int>(0, depth - 1)(rng);
      const BucketConfig c = RandomConfig(rng);
      ASSERT_TRUE(levels[level]->Replan(c, clock.Now()).ok());
      ref.Replan(level, c, now_s);
    } else {
      clock.Advance(std::chrono::microseconds(
          static_cast<int64_t>(unit(rng) * unit(rng) * 2e6 / ref.config(0).rate_per_s)));
    }
    const double after_s = seconds_of(clock.Now());
    for (int i = 0; i < depth; ++i) {
      const double want = ref.Tokens(i, after_s);
      const double got = levels[i]->Available(clock.Now());
      const double tol = ref.Tolerance(i);
      ASSERT_NEAR(got, want, tol) << "seed " << seed << " step " << step << " level " << i;
      ASSERT_LE(got, ref.config(i).size + tol) << "seed " << seed;
    }
  }
}

TEST(TokenBucketPropertyTest, SingleLevelMatchesReference) {
  for (uint64_t seed = 1; seed <= 200; ++seed) RunTrace(seed, 1, 400, false);
}

TEST(TokenBucketPropertyTest, HierarchyWithReplansMatchesReference) {
  for (uint64_t seed = 1000; seed <= 1200; ++seed) RunTrace(seed, 3, 400, true);
}

// For any trace without settles or replans: admitted cost <= size + rate * elapsed.
TEST(TokenBucketPropertyTest, AdmittedCostBoundedBySizePlusRateTimesElapsed) {
  for (uint64_t seed = 1; seed <= 300; ++seed) {
    std::mt19937_64 rng(seed);
    SimulatedClock clock;
    const BucketConfig c = RandomConfig(rng);
    auto b = *TokenBucket::Create(c, clock.Now());
    const MonoTime start = clock.Now();
    double admitted = 0;
    std::uniform_real_distribution<double> unit(0, 1);
    for (int i = 0; i < 2000; ++i) {
      const double cost = unit(rng) * c.size * 0.3;
      if (b->TryAcquire(cost, clock.Now(), 0).admitted()) admitted += cost;
      if (unit(rng) < 0.3)
        clock.Advance(
            std::chrono::microseconds(static_cast<int64_t>(unit(rng) * 1e6 / c.rate_per_s)));
      const double elapsed = std::chrono::duration<double>(clock.Now() - start).count();
      ASSERT_LE(admitted, c.size + c.rate_per_s * elapsed + 1e-6 * c.size)
          << "seed " << seed << " step " << i;
    }
  }
}

// A refused request leaves every level exactly as it was.
TEST(TokenBucketPropertyTest, RefusalChargesNoLevel) {
  for (uint64_t seed = 1; seed <= 200; ++seed) {
    std::mt19937_64 rng(seed);
    SimulatedClock clock;
    auto root = *TokenBucket::Create(RandomConfig(rng), clock.Now());
    auto mid = *TokenBucket::Create(RandomConfig(rng), clock.Now(), root);
    auto leaf = *TokenBucket::Create(RandomConfig(rng), clock.Now(), mid);
    std::uniform_real_distribution<double> unit(0, 1);
    for (int i = 0; i < 500; ++i) {
      const double before[3] = {leaf->Available(clock.Now()), mid->Available(clock.Now()),
                                root->Available(clock.Now())};
      const Decision d = leaf->TryAcquire(unit(rng) * 60, clock.Now(), i % kMaxTiers);
      if (!d.admitted()) {
        EXPECT_NEAR(leaf->Available(clock.Now()), before[0], 1e-6) << "seed " << seed;
        EXPECT_NEAR(mid->Available(clock.Now()), before[1], 1e-6) << "seed " << seed;
        EXPECT_NEAR(root->Available(clock.Now()), before[2], 1e-6) << "seed " << seed;
      }
      if (unit(rng) < 0.2) clock.Advance(std::chrono::milliseconds(1));
    }
  }
}

// Debt is repaid at exactly the refill rate.
TEST(TokenBucketPropertyTest, DebtRepaidAtRefillRate) {
  for (uint64_t seed = 1; seed <= 100; ++seed) {
    std::mt19937_64 rng(seed);
    SimulatedClock clock;
    const BucketConfig c = RandomConfig(rng);
    auto b = *TokenBucket::Create(c, clock.Now());
    const double debt = std::uniform_real_distribution<double>(0.1, 5)(rng) * c.size;
    ASSERT_TRUE(b->Settle(c.size + debt, clock.Now()).ok());
    ASSERT_NEAR(b->Available(clock.Now()), -debt, 1e-6 * c.size);
    const double repay_s = debt / c.rate_per_s;
    clock.Advance(std::chrono::nanoseconds(static_cast<int64_t>(repay_s * 0.5e9)));
    EXPECT_NEAR(b->Available(clock.Now()), -debt / 2, 1e-6 * c.size + 1e-8 * c.rate_per_s);
    clock.Advance(std::chrono::nanoseconds(static_cast<int64_t>(repay_s * 0.5e9) + 1));
    EXPECT_NEAR(b->Available(clock.Now()), 0, 1e-6 * c.size + 1e-8 * c.rate_per_s);
  }
}

}  // namespace
}  // namespace tidegate::shaping
