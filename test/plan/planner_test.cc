// Planner rules one by one (target, lead time, size, caps, reserve, fallback, feedback, surge),
// the seed's calculate_refill_rate as a unit test, and every validation error.
#include "tidegate/plan/planner.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <random>

namespace tidegate::plan {
namespace {

using std::chrono::seconds;
using testing::HasSubstr;

constexpr int kReq = static_cast<int>(Resource::kRequests);
constexpr int kCpu = static_cast<int>(Resource::kCpuMs);
const MonoTime kNow = MonoTime(seconds(5000));

// The seed's pseudocode, verbatim.
double calculate_refill_rate(double predicted, double window, double capacity) {
  return std::min(predicted / window * 1.2, 0.8 * capacity);
}

ClassConfig Class(std::string name, int tier = 0) {
  ClassConfig c;
  c.name = std::move(name);
  c.tier = tier;
  return c;
}

PlannerConfig OneClass(double capacity, ClassConfig c) {
  PlannerConfig p;
  p.capacity[kReq] = capacity;
  p.reserve_fraction = 0;
  p.classes = {std::move(c)};
  return p;
}

// A forecast with constant mean/lower/upper from kNow, `steps` steps of `step`.
DemandForecast Flat(double mean, double lower, double upper, int steps = 12,
                    Duration step = seconds(10)) {
  DemandForecast f;
  f.origin = kNow;
  f.step = step;
  f.mean.assign(steps, mean);
  f.lower.assign(steps, lower);
  f.upper.assign(steps, upper);
  return f;
}

Planner MakePlanner(PlannerConfig config) {
  auto p = Planner::Create(std::move(config));
  EXPECT_TRUE(p.ok()) << p.status();
  return std::move(p).value();
}

Plan PlanOnce(Planner& planner, std::vector<ClassInput> inputs,
              std::vector<FeedbackState> feedback = {}) {
  auto plan = planner.MakePlan(inputs, feedback, kNow);
  EXPECT_TRUE(plan.ok()) << plan.status();
  return std::move(plan).value();
}

TEST(PlannerTest, SeedRuleIsTheDegenerateCase) {
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> pred(0, 5000), win(1, 600), cap(1, 2000);
  for (int trial = 0; trial < 2000; ++trial) {
    const double predicted = pred(rng), window_s = win(rng), capacity = cap(rng);
    SCOPED_TRACE(testing::Message() << "predicted " << predicted << " window " << window_s
                                    << " capacity " << capacity);
    ClassConfig c = Class("seed");
    c.margin = 0.2;
    c.cap_fraction = 0.8;
    c.statistic = Statistic::kMean;
    c.aggregation = Aggregation::kAverage;
    PlannerConfig config = OneClass(capacity, c);
    const auto window =
        std::chrono::duration_cast<Duration>(std::chrono::duration<double>(window_s));
    config.window = window;
    Planner planner = MakePlanner(config);
    // One forecast step spanning the window; its mean rate is the predicted consumption / window.
    const double rate = predicted / std::chrono::duration<double>(window).count();
    Plan plan = PlanOnce(planner, {{Flat(rate, rate, rate, 1, window)}});
    ASSERT_EQ(
        plan.classes[0].rate_per_s,
        calculate_refill_rate(predicted, std::chrono::duration<double>(window).count(), capacity));
  }
}

TEST(PlannerTest, DefaultTargetIsUpperQuantileMaxOverWindowTimesMargin) {
  ClassConfig c = Class("a");
  c.margin = 0.1;
  PlannerConfig config = OneClass(1e6, c);
  config.window = seconds(30);
  Planner planner = MakePlanner(config);
  DemandForecast f = Flat(100, 80, 120);
  f.upper[1] = 150;  // Inside [0, 30 s).
  f.upper[5] = 900;  // At 50 s: outside the window.
  Plan plan = PlanOnce(planner, {{f}});
  EXPECT_DOUBLE_EQ(plan.classes[0].rate_per_s, 150 * 1.1);
  const Explanation& why = plan.classes[0].why;
  EXPECT_EQ(why.reason, Reason::kForecast);
  EXPECT_EQ(why.statistic, Statistic::kUpper);
  EXPECT_DOUBLE_EQ(why.forecast_per_s, 150);
  EXPECT_EQ(why.level, 95);
  EXPECT_EQ(why.allocation.limit, Limit::kDemand);
  EXPECT_EQ(plan.classes[0].valid_until, kNow + seconds(30));
}

TEST(PlannerTest, LeadTimeAppliesARiseBeforeItArrives) {
  ClassConfig c = Class("a");
  c.margin = 0;
  PlannerConfig config = OneClass(1e6, c);
  config.window = seconds(10);
  DemandForecast f = Flat(100, 100, 100);
  f.upper[3] = f.mean[3] = 400;  // Rise at [30 s, 40 s).
  {
    Planner planner = MakePlanner(config);
    EXPECT_DOUBLE_EQ(PlanOnce(planner, {{f}}).classes[0].rate_per_s, 100);
  }
  config.classes[0].lead_time = seconds(25);  // Window [0, 35 s) now reaches the rise.
  Planner planner = MakePlanner(config);
  EXPECT_DOUBLE_EQ(PlanOnce(planner, {{f}}).classes[0].rate_per_s, 400);
}

TEST(PlannerTest, AverageAggregationIsTimeWeighted) {
  ClassConfig c = Class("a");
  c.margin = 0;
  c.statistic = Statistic::kMean;
  c.aggregation = Aggregation::kAverage;
  PlannerConfig config = OneClass(1e6, c);
  config.window = seconds(15);  // One and a half steps.
  Planner planner = MakePlanner(config);
  DemandForecast f = Flat(100, 100, 100);
  f.mean[1] = 400;
  f.upper[1] = 400;
  // (100 * 10 + 400 * 5) / 15 = 200.
  EXPECT_DOUBLE_EQ(PlanOnce(planner, {{f}}).classes[0].rate_per_s, 200);
}

TEST(PlannerTest, BucketSizeGrowsWithSpreadWithinBounds) {
  ClassConfig c = Class("a");
  c.base_burst = 10;
  c.min_burst = 5;
  c.max_burst = 25;
  PlannerConfig config = OneClass(1e6, c);
  Planner planner = MakePlanner(config);
  EXPECT_DOUBLE_EQ(PlanOnce(planner, {{Flat(100, 100, 100)}}).classes[0].size, 10);
  // Spread (130 - 70) / 100 = 0.6 -> 10 * 1.6.
  Plan plan = PlanOnce(planner, {{Flat(100, 70, 130)}});
  EXPECT_DOUBLE_EQ(plan.classes[0].size, 16);
  EXPECT_DOUBLE_EQ(plan.classes[0].why.spread, 0.6);
  EXPECT_DOUBLE_EQ(PlanOnce(planner, {{Flat(100, 0, 300)}}).classes[0].size, 25);
  EXPECT_DOUBLE_EQ(PlanOnce(planner, {{Flat(0, 0, 1)}}).classes[0].size, 25);
  planner = MakePlanner(OneClass(1e6, [] {
    ClassConfig d = Class("a");
    d.base_burst = 2;
    d.min_burst = 5;
    return d;
  }()));
  EXPECT_DOUBLE_EQ(PlanOnce(planner, {{Flat(100, 100, 100)}}).classes[0].size, 5);
}

TEST(PlannerTest, MarginalTierGetsTheShortfallAsBurst) {
  // Capacity 100/s. Tier 0 asks 120/s (upper, margin 0) and gets 100: it is the marginal tier,
  // so its size holds the shortfall over the 60 s window, (120 - 100) * 60 = 1200 (≤ max_burst).
  // Tier 1 (also short, but below the marginal tier) keeps the spread rule's size.
  PlannerConfig config;
  config.capacity[kReq] = 100;
  config.reserve_fraction = 0;
  ClassConfig a = Class("a", 0), b = Class("b", 1), c = Class("c", 0);
  for (ClassConfig* x : {&a, &b, &c}) {
    x->margin = 0;
    x->cap_fraction = 1;
    x->base_burst = 10;
  }
  a.max_burst = 5000;
  config.classes = {a, b};
  Planner planner = MakePlanner(config);
  Plan plan = PlanOnce(planner, {{Flat(110, 100, 120)}, {Flat(50, 50, 50)}});
  EXPECT_DOUBLE_EQ(plan.classes[0].rate_per_s, 100);
  EXPECT_DOUBLE_EQ(plan.classes[0].size, 1200);
  EXPECT_DOUBLE_EQ(plan.classes[0].why.shortfall_size, 1200);
  EXPECT_THAT(planner.Describe(0, plan.classes[0]), HasSubstr("shortfall burst 1200"));
  EXPECT_DOUBLE_EQ(plan.classes[1].rate_per_s, 0);
  EXPECT_DOUBLE_EQ(plan.classes[1].size, 10);
  EXPECT_DOUBLE_EQ(plan.classes[1].why.shortfall_size, 0);
  // Bounded by max_burst.
  config.classes[0].max_burst = 300;
  planner = MakePlanner(config);
  EXPECT_DOUBLE_EQ(PlanOnce(planner, {{Flat(110, 100, 120)}, {Flat(50, 50, 50)}}).classes[0].size,
                   300);
  // When tier 0 fits, tier 1 is the marginal tier, but tier 0 is active: a tier-1 burst would
  // queue in front of it, so no shortfall burst.
  config.classes = {c, b};
  config.classes[1].max_burst = 5000;
  planner = MakePlanner(config);
  plan = PlanOnce(planner, {{Flat(60, 60, 60)}, {Flat(50, 50, 50)}});
  EXPECT_DOUBLE_EQ(plan.classes[0].size, 10);
  EXPECT_DOUBLE_EQ(plan.classes[1].rate_per_s, 40);
  EXPECT_DOUBLE_EQ(plan.classes[1].size, 10);
  // With tier 0 idle, tier 1 is the top active tier and gets its shortfall: (150 - 100) * 60.
  plan = PlanOnce(planner, {{Flat(0, 0, 0)}, {Flat(150, 150, 150)}});
  EXPECT_DOUBLE_EQ(plan.classes[1].rate_per_s, 100);
  EXPECT_DOUBLE_EQ(plan.classes[1].size, 3000);
}

TEST(PlannerTest, MultiResourceCapAndReserve) {
  PlannerConfig config;
  config.capacity[kCpu] = 1000;  // cpu_ms per second.
  config.capacity[kReq] = 1e6;
  config.reserve_fraction = 0.1;
  ClassConfig c = Class("heavy");
  c.margin = 0;
  c.cap_fraction = 1;
  config.classes = {c};
  Planner planner = MakePlanner(config);
  ClassInput in{Flat(500, 500, 500), ResourceVector{5, 0, 0, 0, 1}};  // 5 cpu_ms a request.
  Plan plan = PlanOnce(planner, {in});
  // 1000 * 0.9 / 5 = 180 requests/s, limited by CPU.
  EXPECT_DOUBLE_EQ(plan.classes[0].rate_per_s, 180);
  EXPECT_EQ(plan.classes[0].why.allocation.limit, Limit::kCapacity);
  EXPECT_EQ(plan.classes[0].why.allocation.resource, kCpu);
  EXPECT_TRUE(plan.classes[0].why.learned_cost);
  EXPECT_LE(plan.stats.committed[kCpu], 900 * (1 + 1e-12));
  EXPECT_EQ(plan.stats.limited, 1);
  // cap_fraction caps a class even with capacity to spare: 0.5 * 1000 / 5 = 100.
  config.classes[0].cap_fraction = 0.5;
  planner = MakePlanner(config);
  plan = PlanOnce(planner, {in});
  EXPECT_DOUBLE_EQ(plan.classes[0].rate_per_s, 100);
  EXPECT_DOUBLE_EQ(plan.classes[0].why.cap_per_s, 100);
}

TEST(PlannerTest, CeilingBoundsTheDemand) {
  ClassConfig c = Class("a");
  c.ceiling_per_s = 50;
  Planner planner = MakePlanner(OneClass(1e6, c));
  Plan plan = PlanOnce(planner, {{Flat(100, 100, 100)}});
  EXPECT_DOUBLE_EQ(plan.classes[0].rate_per_s, 50);
  EXPECT_DOUBLE_EQ(plan.classes[0].why.demand_per_s, 50);
}

TEST(PlannerTest, FallbackWithoutForecastUsesStaticLimitAndIsCounted) {
  ClassConfig c = Class("new");
  c.static_rate_per_s = 42;
  c.static_size = 7;
  Planner planner = MakePlanner(OneClass(1e6, c));
  Plan plan = PlanOnce(planner, {{}});
  EXPECT_EQ(plan.classes[0].rate_per_s, 42);
  EXPECT_EQ(plan.classes[0].size, 7);
  EXPECT_EQ(plan.classes[0].why.reason, Reason::kFallbackNoForecast);
  EXPECT_EQ(plan.stats.fallbacks, 1);
  EXPECT_THAT(planner.Describe(0, plan.classes[0]), HasSubstr("fallback: no forecast"));
  PlanOnce(planner, {{}});
  EXPECT_EQ(planner.stats().fallbacks, 2);
  EXPECT_EQ(planner.stats().ticks, 2);
}

TEST(PlannerTest, FallbackOnInvalidOrStaleForecast) {
  ClassConfig c = Class("a");
  c.static_rate_per_s = 3;
  Planner planner = MakePlanner(OneClass(1e6, c));
  DemandForecast bad = Flat(100, 120, 130);  // lower > mean
  Plan plan = PlanOnce(planner, {{bad}});
  EXPECT_EQ(plan.classes[0].why.reason, Reason::kFallbackInvalidForecast);
  EXPECT_THAT(plan.classes[0].why.detail, HasSubstr("step 0"));
  EXPECT_EQ(plan.classes[0].rate_per_s, 3);
  DemandForecast nan = Flat(100, 90, 110);
  nan.upper[4] = std::nan("");
  EXPECT_EQ(PlanOnce(planner, {{nan}}).classes[0].why.reason, Reason::kFallbackInvalidForecast);
  DemandForecast ragged = Flat(100, 90, 110);
  ragged.lower.pop_back();
  EXPECT_EQ(PlanOnce(planner, {{ragged}}).classes[0].why.reason, Reason::kFallbackInvalidForecast);
  DemandForecast old = Flat(100, 90, 110, 3);
  old.origin = kNow - seconds(100);  // Ends 70 s ago.
  plan = PlanOnce(planner, {{old}});
  EXPECT_EQ(plan.classes[0].why.reason, Reason::kFallbackStaleForecast);
  EXPECT_EQ(plan.stats.fallbacks, 1);
  EXPECT_EQ(planner.stats().fallbacks, 4);
}

TEST(PlannerTest, InvalidLearnedCostFallsBackToConfiguredCost) {
  Planner planner = MakePlanner(OneClass(1e6, Class("a")));
  ClassInput in{Flat(10, 10, 10), ResourceVector{-1, 0, 0, 0, 1}};
  Plan plan = PlanOnce(planner, {in});
  EXPECT_EQ(plan.stats.invalid_costs, 1);
  EXPECT_FALSE(plan.classes[0].why.learned_cost);
  EXPECT_DOUBLE_EQ(plan.classes[0].rate_per_s, 12);
}

TEST(PlannerTest, BiasCorrectionShiftsTheForecast) {
  ClassConfig c = Class("a");
  c.margin = 0;
  Planner planner = MakePlanner(OneClass(1e6, c));
  FeedbackState fb;
  fb.bias_per_s = 30;  // Reality ran 30/s above the forecast.
  Plan plan = PlanOnce(planner, {{Flat(100, 90, 110)}}, {fb});
  EXPECT_DOUBLE_EQ(plan.classes[0].rate_per_s, 140);
  EXPECT_DOUBLE_EQ(plan.classes[0].why.bias_correction_per_s, 30);
  fb.bias_per_s = -500;  // Never below zero.
  EXPECT_DOUBLE_EQ(PlanOnce(planner, {{Flat(100, 90, 110)}}, {fb}).classes[0].rate_per_s, 0);
}

TEST(PlannerTest, SurgeGrowsWithinTheTierAllowanceAndEndsWhenForecastCatchesUp) {
  PlannerConfig config;
  config.capacity[kReq] = 1000;
  config.reserve_fraction = 0;
  ClassConfig hi = Class("critical", 0), lo = Class("batch", 1);
  hi.margin = lo.margin = 0;
  hi.cap_fraction = lo.cap_fraction = 1;
  config.classes = {hi, lo};
  config.feedback.growth = 2;
  config.feedback.max_factor = 100;
  Planner planner = MakePlanner(config);
  std::vector<FeedbackState> fb(2);
  const DemandForecast f = Flat(100, 90, 110);
  double planned = 110;
  // Reality is at 300/s, far above the interval: the critical class doubles each tick.
  std::vector<double> rates;
  for (int tick = 0; tick < 5; ++tick) {
    Observation obs{300, 100, 90, 110, planned, true};
    ASSERT_TRUE(UpdateFeedback(config.feedback, obs, &fb[0]).ok());
    Plan plan = PlanOnce(planner, {{f}, {Flat(800, 800, 800)}}, fb);
    planned = plan.classes[0].rate_per_s;
    rates.push_back(planned);
    EXPECT_EQ(plan.classes[0].why.surge, SurgeMode::kUp);
    EXPECT_LE(plan.classes[0].rate_per_s + plan.classes[1].rate_per_s, 1000 * (1 + 1e-12));
  }
  EXPECT_DOUBLE_EQ(rates[0], 600);   // max(110, 300) * 2
  EXPECT_DOUBLE_EQ(rates[1], 1000);  // 1200, bounded by the capacity the tier may have.
  EXPECT_DOUBLE_EQ(rates[4], 1000);
  // The forecast catches up: surge ends.
  Observation ok{300, 300, 250, 350, planned, false};
  ASSERT_TRUE(UpdateFeedback(config.feedback, ok, &fb[0]).ok());
  EXPECT_EQ(fb[0].surge, SurgeMode::kNone);
}

TEST(PlannerTest, SurgeDownShrinksMultiplicatively) {
  ClassConfig c = Class("a");
  c.margin = 0;
  PlannerConfig config = OneClass(1e6, c);
  config.feedback.shrink = 0.5;
  config.feedback.bias_gain = 0;
  Planner planner = MakePlanner(config);
  FeedbackState fb;
  ASSERT_TRUE(UpdateFeedback(config.feedback, {10, 100, 90, 110, 110, true}, &fb).ok());
  EXPECT_EQ(fb.surge, SurgeMode::kDown);
  EXPECT_DOUBLE_EQ(fb.surge_rate_per_s, 55);
  EXPECT_DOUBLE_EQ(PlanOnce(planner, {{Flat(100, 90, 110)}}, {fb}).classes[0].rate_per_s, 55);
  ASSERT_TRUE(UpdateFeedback(config.feedback, {10, 100, 90, 110, 55, true}, &fb).ok());
  EXPECT_DOUBLE_EQ(fb.surge_rate_per_s, 27.5);
  ASSERT_TRUE(UpdateFeedback(config.feedback, {10, 100, 90, 110, 27.5, true}, &fb).ok());
  ASSERT_TRUE(UpdateFeedback(config.feedback, {10, 100, 90, 110, 13.75, true}, &fb).ok());
  EXPECT_DOUBLE_EQ(fb.surge_rate_per_s, 10);  // Never below what actually arrives.
  // The margin applies to the surge-down rate as to any target: min(110, 10) * 1.2.
  config.classes[0].margin = 0.2;
  planner = MakePlanner(config);
  EXPECT_DOUBLE_EQ(PlanOnce(planner, {{Flat(100, 90, 110)}}, {fb}).classes[0].rate_per_s, 12);
}

TEST(PlannerTest, PriorityAndFairnessThroughThePlanner) {
  PlannerConfig config;
  config.capacity[kReq] = 1000;
  config.reserve_fraction = 0.2;  // 800 to plan.
  ClassConfig a = Class("a", 0), b = Class("b", 1), c = Class("c", 1);
  for (ClassConfig* x : {&a, &b, &c}) {
    x->margin = 0;
    x->cap_fraction = 1;
  }
  c.weight = 3;
  c.floor_per_s = 40;
  config.classes = {a, b, c};
  Planner planner = MakePlanner(config);
  Plan plan =
      PlanOnce(planner, {{Flat(600, 600, 600)}, {Flat(500, 500, 500)}, {Flat(500, 500, 500)}});
  EXPECT_DOUBLE_EQ(plan.classes[0].rate_per_s, 600);
  // Tier 1 shares 200 with weights 1:3 (c's floor 40 < its share 150).
  EXPECT_NEAR(plan.classes[1].rate_per_s, 50, 1e-9);
  EXPECT_NEAR(plan.classes[2].rate_per_s, 150, 1e-9);
  EXPECT_NEAR(plan.stats.committed[kReq], 800, 1e-9);
  EXPECT_THAT(planner.Describe(1, plan.classes[1]), HasSubstr("limited by capacity.requests"));
}

TEST(PlannerTest, TenantQuotaIsALevelOfTheTree) {
  PlannerConfig config;
  config.capacity[kReq] = 1000;
  config.reserve_fraction = 0;
  config.tenants = {{"acme", "", UnlimitedCapacity()}, {"acme-eu", "acme", UnlimitedCapacity()}};
  config.tenants[0].quota[kReq] = 100;
  ClassConfig a = Class("a"), b = Class("b");
  a.tenant = "acme-eu";
  b.margin = a.margin = 0;
  config.classes = {a, b};
  Planner planner = MakePlanner(config);
  Plan plan = PlanOnce(planner, {{Flat(500, 500, 500)}, {Flat(300, 300, 300)}});
  EXPECT_NEAR(plan.classes[0].rate_per_s, 100, 1e-9);
  EXPECT_EQ(plan.classes[0].why.allocation.limit, Limit::kTenantQuota);
  EXPECT_THAT(planner.Describe(0, plan.classes[0]), HasSubstr("tenant 'acme' quota.requests"));
  EXPECT_DOUBLE_EQ(plan.classes[1].rate_per_s, 300);
}

TEST(PlannerTest, MakePlanRefusesMisalignedInputs) {
  Planner planner = MakePlanner(OneClass(10, Class("a")));
  std::vector<ClassInput> none;
  auto plan = planner.MakePlan(none, {}, kNow);
  EXPECT_EQ(plan.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(plan.status().message(), HasSubstr("0 inputs for 1 classes"));
  std::vector<ClassInput> one(1);
  std::vector<FeedbackState> two(2);
  plan = planner.MakePlan(one, two, kNow);
  EXPECT_THAT(plan.status().message(), HasSubstr("2 feedback states"));
}

TEST(PlannerTest, ToBucketConfigIsAlwaysAValidShapingConfig) {
  for (double rate : {0.0, 1e-9, 5.0, 1e12}) {
    for (double size : {0.0, 1.0, 1e300}) {
      ClassPlan p;
      p.rate_per_s = rate;
      p.size = size;
      EXPECT_TRUE(shaping::ValidateBucketConfig(ToBucketConfig(p)).ok()) << rate << " " << size;
    }
  }
}

TEST(PlannerTest, BorrowingPoolIsTheServersFullCapacityOverTheHorizon) {
  PlannerConfig config = OneClass(100, Class("a"));
  config.capacity[kCpu] = 5000;
  config.reserve_fraction = 0.1;
  {
    Planner planner = MakePlanner(config);
    EXPECT_FALSE(PlanOnce(planner, {ClassInput{Flat(10, 8, 12)}}).pool.has_value());
  }
  config.borrow.enabled = true;
  config.borrow.resource = kCpu;
  config.borrow.horizon = std::chrono::milliseconds(2500);
  config.borrow.tier_reserve = {0, 0.2, 0.3, 0.4};
  Planner planner = MakePlanner(config);
  const Plan plan = PlanOnce(planner, {ClassInput{Flat(10, 8, 12)}});
  ASSERT_TRUE(plan.pool.has_value());
  // The reserve is not held back from the pool: it models the server, whose capacity is all of
  // capacity.cpu_ms.
  EXPECT_DOUBLE_EQ(plan.pool->rate_per_s, 5000);
  EXPECT_DOUBLE_EQ(plan.pool->size, 12500);
  EXPECT_DOUBLE_EQ(plan.pool->reserve_fraction[1], 0.2);
  EXPECT_TRUE(shaping::ValidateBucketConfig(*plan.pool).ok());
  // The class's own plan is unchanged by borrowing.
  config.borrow.enabled = false;
  Planner without = MakePlanner(config);
  EXPECT_DOUBLE_EQ(PlanOnce(without, {ClassInput{Flat(10, 8, 12)}}).classes[0].rate_per_s,
                   plan.classes[0].rate_per_s);
}

TEST(PlannerPropertyTest, RandomTicksNeverCommitMoreThanCapacityMinusReserve) {
  for (uint64_t seed = 1; seed <= 300; ++seed) {
    SCOPED_TRACE(testing::Message() << "seed " << seed);
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<double> u01(0, 1);
    PlannerConfig config;
    config.capacity[kCpu] = 100 + 1000 * u01(rng);
    config.capacity[kReq] = 100 + 1000 * u01(rng);
    config.reserve_fraction = 0.3 * u01(rng);
    const int n = 1 + static_cast<int>(rng() % 30);
    std::vector<ClassInput> inputs(n);
    std::vector<FeedbackState> fb(n);
    for (int i = 0; i < n; ++i) {
      ClassConfig c = Class("c" + std::to_string(i), static_cast<int>(rng() % 4));
      c.weight = 0.1 + u01(rng);
      c.margin = u01(rng);
      c.floor_per_s = u01(rng) < 0.2 ? u01(rng) : 0;
      c.statistic = u01(rng) < 0.5 ? Statistic::kMean : Statistic::kUpper;
      c.lead_time = seconds(rng() % 30);
      config.classes.push_back(c);
      if (u01(rng) < 0.8) {
        const double m = 200 * u01(rng);
        inputs[i].forecast = Flat(m, m * u01(rng), m * (1 + u01(rng)));
      }
      if (u01(rng) < 0.7) inputs[i].cost = ResourceVector{5 * u01(rng), 0, 0, 0, 1};
      if (u01(rng) < 0.3) {
        fb[i].surge = SurgeMode::kUp;
        fb[i].surge_rate_per_s = 1000 * u01(rng);
      }
      fb[i].bias_per_s = 20 * (u01(rng) - 0.5);
    }
    Planner planner = MakePlanner(config);
    Plan plan = PlanOnce(planner, inputs, fb);
    ResourceVector used{};
    for (int i = 0; i < n; ++i) {
      const ClassPlan& p = plan.classes[i];
      const ResourceVector cost = inputs[i].cost.value_or(config.classes[i].cost);
      ASSERT_GE(p.rate_per_s, 0);
      ASSERT_LE(p.rate_per_s, p.why.demand_per_s * (1 + 1e-12));
      ASSERT_GE(p.size, std::min(config.classes[i].min_burst, config.classes[i].static_size));
      for (int r = 0; r < kNumResources; ++r) used[r] += p.rate_per_s * cost[r];
    }
    for (int r : {kCpu, kReq}) {
      ASSERT_LE(used[r], config.capacity[r] * (1 - config.reserve_fraction) * (1 + 1e-9));
      ASSERT_NEAR(used[r], plan.stats.committed[r], 1e-9 * (1 + used[r]));
    }
  }
}

// ---- Validation at load -------------------------------------------------------------------

void ExpectRefused(const PlannerConfig& config, std::string_view substring) {
  auto p = Planner::Create(config);
  ASSERT_FALSE(p.ok()) << "accepted; expected: " << substring;
  EXPECT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(p.status().message()), HasSubstr(std::string(substring)));
}

TEST(PlannerValidationTest, RefusesImpossibleConfigurationsNamingTheFields) {
  PlannerConfig base;
  base.capacity[kReq] = 100;
  base.reserve_fraction = 0.1;
  base.tenants = {{"t1", "", UnlimitedCapacity()}, {"t2", "t1", UnlimitedCapacity()}};
  base.classes = {Class("a", 0), Class("b", 1)};
  ASSERT_TRUE(Planner::Create(base).ok());

  PlannerConfig c = base;
  c.classes[1].margin = -0.1;
  ExpectRefused(c, "classes[1] 'b'.margin = -0.1: must be finite and >= 0");

  c = base;
  c.classes.push_back(Class("a", 2));
  ExpectRefused(c, "classes[2].tier = 2 and classes[0].tier = 0: class 'a' is in two tiers");

  c = base;
  c.classes.push_back(Class("a", 0));
  ExpectRefused(c, "classes[2].name = 'a': duplicate of classes[0]");

  c = base;
  c.classes[0].floor_per_s = 50;
  c.classes[1].floor_per_s = 45;
  ExpectRefused(c, "floors need 95 requests/s but capacity.requests * (1 - reserve_fraction) = 90");

  c = base;
  c.tenants[0].parent = "t2";
  ExpectRefused(c, "tenant tree has a cycle: t1 -> t2 -> t1");

  c = base;
  c.tenants.push_back({"t3", "t3", UnlimitedCapacity()});
  ExpectRefused(c, "tenants[2].parent: the tenant tree has a cycle: t3 -> t3");

  c = base;
  c.tenants[1].parent = "nobody";
  ExpectRefused(c, "tenants[1].parent = 'nobody': unknown tenant");

  c = base;
  c.classes[0].tenant = "acme";
  ExpectRefused(c, "classes[0].tenant = 'acme': unknown tenant");

  c = base;
  c.tenants[1].quota[kReq] = 10;
  c.classes[0].tenant = "t2";
  c.classes[0].floor_per_s = 20;
  ExpectRefused(c, "floors of tenant 't2' need 20 requests/s but tenants[1].quota.requests = 10");

  c = base;
  c.classes[0].tier = 4;
  ExpectRefused(c, "classes[0] 'a'.tier = 4: must be in [0, 4)");

  c = base;
  c.classes[0].weight = 0;
  ExpectRefused(c, "classes[0] 'a'.weight = 0");

  c = base;
  c.classes[0].ceiling_per_s = 1;
  c.classes[0].floor_per_s = 2;
  ExpectRefused(c, "classes[0] 'a'.ceiling_per_s = 1 is below floor_per_s = 2");

  c = base;
  c.classes[0].min_burst = 10;
  c.classes[0].max_burst = 5;
  ExpectRefused(c, "classes[0] 'a'.min_burst = 10, max_burst = 5");

  c = base;
  c.classes[0].cost = ResourceVector{};
  ExpectRefused(c, "classes[0] 'a'.cost: every entry is 0");

  c = base;
  c.classes[0].lead_time = -seconds(1);
  ExpectRefused(c, "classes[0] 'a'.lead_time = -1 s");

  c = base;
  c.capacity[kCpu] = 0;
  ExpectRefused(c, "capacity.cpu_ms = 0: must be > 0");

  c = base;
  c.reserve_fraction = 1;
  ExpectRefused(c, "reserve_fraction = 1: must be in [0, 1)");

  c = base;
  c.feedback.growth = 0.9;
  ExpectRefused(c, "feedback.growth = 0.9: must be > 1");

  c = base;
  c.classes[0].name.clear();
  ExpectRefused(c, "classes[0].name: must not be empty");

  c = base;
  c.borrow.enabled = true;
  c.borrow.resource = kCpu;
  ExpectRefused(c, "borrow.resource = cpu_ms: capacity.cpu_ms is unlimited, nothing to borrow");

  c = base;
  c.borrow.enabled = true;
  c.borrow.resource = 9;
  ExpectRefused(c, "borrow.resource = 9: unknown resource");

  c = base;
  c.borrow.enabled = true;
  c.borrow.resource = kReq;
  c.borrow.horizon = Duration::zero();
  ExpectRefused(c, "borrow.horizon = 0 s: must be > 0");

  c = base;
  c.borrow.enabled = true;
  c.borrow.resource = kReq;
  c.borrow.cost_headroom = -1;
  ExpectRefused(c, "borrow.cost_headroom = -1: must be finite and >= 0");

  c = base;
  c.borrow.enabled = true;
  c.borrow.resource = kReq;
  c.borrow.tier_reserve = {0, 0.5, 0.2, 0.2};
  ExpectRefused(c, "borrow.tier_reserve: ");
}

TEST(FeedbackTest, EwmaOfErrorAndBias) {
  FeedbackConfig config;
  config.alpha = 0.5;
  FeedbackState s;
  ASSERT_TRUE(UpdateFeedback(config, {120, 100, 0, 1000, 100, false}, &s).ok());
  EXPECT_DOUBLE_EQ(s.bias_per_s, 10);
  EXPECT_DOUBLE_EQ(s.abs_error_per_s, 10);
  ASSERT_TRUE(UpdateFeedback(config, {80, 100, 0, 1000, 100, false}, &s).ok());
  EXPECT_DOUBLE_EQ(s.bias_per_s, -5);
  EXPECT_DOUBLE_EQ(s.abs_error_per_s, 15);
  EXPECT_EQ(s.surge, SurgeMode::kNone);
  EXPECT_EQ(s.observations, 2);
}

TEST(FeedbackTest, RequireAnomalyGatesSurge) {
  FeedbackConfig config;
  config.require_anomaly = true;
  FeedbackState s;
  ASSERT_TRUE(UpdateFeedback(config, {500, 100, 90, 110, 110, false}, &s).ok());
  EXPECT_EQ(s.surge, SurgeMode::kNone);
  ASSERT_TRUE(UpdateFeedback(config, {500, 100, 90, 110, 110, true}, &s).ok());
  EXPECT_EQ(s.surge, SurgeMode::kUp);
  EXPECT_DOUBLE_EQ(s.surge_rate_per_s, 750);  // max(110, 500) * 1.5
}

TEST(FeedbackTest, RefusesBadObservationsAndLeavesStateAlone) {
  FeedbackState s;
  s.bias_per_s = 3;
  absl::Status st = UpdateFeedback({}, {std::nan(""), 1, 0, 2, 1, false}, &s);
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(st.message()), HasSubstr("observation.actual_per_s"));
  st = UpdateFeedback({}, {1, 1, 3, 2, 1, false}, &s);
  EXPECT_THAT(std::string(st.message()), HasSubstr("predicted_lower = 3 > predicted_upper = 2"));
  EXPECT_EQ(s.bias_per_s, 3);
  EXPECT_EQ(s.observations, 0);
}

}  // namespace
}  // namespace tidegate::plan
