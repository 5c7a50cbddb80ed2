#include "tidegate/alert/rules.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace tidegate::alert {
namespace {

using std::chrono::minutes;
using std::chrono::seconds;
using ::testing::HasSubstr;

ClassSnapshot Class(std::string key, std::string tenant, std::string resource, double observed,
                    double mean_1h = -1, double upper_1h = -1) {
  ClassSnapshot c;
  c.key = std::move(key);
  c.tenant = std::move(tenant);
  ResourceSnapshot r;
  r.observed_per_s = observed;
  if (mean_1h >= 0) r.forecasts.push_back({std::chrono::hours(1), mean_1h, upper_1h});
  c.resources[resource] = r;
  return c;
}

Rule ClassRule(double threshold, Duration for_duration) {
  Rule r;
  r.name = "CpuHigh";
  r.scope = Scope::kClass;
  r.resource = "cpu";
  r.horizon = std::chrono::hours(1);
  r.statistic = Statistic::kUpper;
  r.op = Comparison::kGreater;
  r.threshold = threshold;
  r.for_duration = for_duration;
  r.labels = {{"severity", "warning"}};
  return r;
}

TEST(RulesTest, PendingThenFiringAfterForThenResolved) {
  SimulatedClock clock;
  Evaluator ev({ClassRule(100, minutes(5))}, clock);
  Snapshot hot;
  hot.classes = {Class("shop/class=a", "shop", "cpu", 10, 80, 120)};
  Snapshot cool;
  cool.classes = {Class("shop/class=a", "shop", "cpu", 10, 60, 90)};

  std::vector<Alert> changed = ev.Evaluate(hot);
  ASSERT_EQ(changed.size(), 1u);
  EXPECT_EQ(changed[0].state, AlertState::kPending);
  EXPECT_EQ(changed[0].labels.at("alertname"), "CpuHigh");
  EXPECT_EQ(changed[0].labels.at("class"), "shop/class=a");
  EXPECT_EQ(changed[0].labels.at("tenant"), "shop");
  EXPECT_EQ(changed[0].labels.at("resource"), "cpu");
  EXPECT_EQ(changed[0].labels.at("horizon"), "1h");
  EXPECT_EQ(changed[0].labels.at("severity"), "warning");
  EXPECT_DOUBLE_EQ(changed[0].value, 120);
  EXPECT_THAT(changed[0].annotations.at("summary"), HasSubstr("120"));
  const WallTime active = clock.WallNow();

  clock.Advance(minutes(4) + seconds(59));
  EXPECT_TRUE(ev.Evaluate(hot).empty());  // Still pending: `for` not yet elapsed.
  EXPECT_EQ(ev.alerts().begin()->second.state, AlertState::kPending);

  clock.Advance(seconds(1));
  changed = ev.Evaluate(hot);
  ASSERT_EQ(changed.size(), 1u);
  EXPECT_EQ(changed[0].state, AlertState::kFiring);
  EXPECT_EQ(changed[0].active_at, active);
  EXPECT_EQ(changed[0].since, clock.WallNow());

  clock.Advance(seconds(15));
  changed = ev.Evaluate(cool);
  ASSERT_EQ(changed.size(), 1u);
  EXPECT_EQ(changed[0].state, AlertState::kResolved);
  ASSERT_TRUE(changed[0].resolved_at.has_value());
  EXPECT_EQ(*changed[0].resolved_at, clock.WallNow());

  // Resolved alerts are retained for 15 minutes, then forgotten.
  clock.Advance(minutes(15));
  EXPECT_TRUE(ev.Evaluate(cool).empty());
  EXPECT_EQ(ev.alerts().size(), 1u);
  clock.Advance(seconds(1));
  ev.Evaluate(cool);
  EXPECT_TRUE(ev.alerts().empty());
}

TEST(RulesTest, PendingThatStopsIsDroppedWithoutResolve) {
  SimulatedClock clock;
  Evaluator ev({ClassRule(100, minutes(5))}, clock);
  Snapshot hot;
  hot.classes = {Class("shop/class=a", "shop", "cpu", 10, 80, 120)};
  ASSERT_EQ(ev.Evaluate(hot).size(), 1u);
  clock.Advance(minutes(1));
  EXPECT_TRUE(ev.Evaluate(Snapshot{}).empty());
  EXPECT_TRUE(ev.alerts().empty());
  // A new activation restarts the `for` clock.
  ev.Evaluate(hot);
  clock.Advance(minutes(4));
  ev.Evaluate(hot);
  EXPECT_EQ(ev.alerts().begin()->second.state, AlertState::kPending);
}

TEST(RulesTest, ZeroForFiresAtOnceAndRefiringStartsAnewAfterResolve) {
  SimulatedClock clock;
  Evaluator ev({ClassRule(100, Duration::zero())}, clock);
  Snapshot hot;
  hot.classes = {Class("shop/class=a", "shop", "cpu", 10, 80, 120)};
  std::vector<Alert> changed = ev.Evaluate(hot);
  ASSERT_EQ(changed.size(), 1u);
  EXPECT_EQ(changed[0].state, AlertState::kFiring);
  clock.Advance(seconds(10));
  ASSERT_EQ(ev.Evaluate(Snapshot{}).at(0).state, AlertState::kResolved);
  clock.Advance(seconds(10));
  changed = ev.Evaluate(hot);
  ASSERT_EQ(changed.size(), 1u);
  EXPECT_EQ(changed[0].state, AlertState::kFiring);
  EXPECT_EQ(changed[0].active_at, clock.WallNow());
  EXPECT_FALSE(changed[0].resolved_at.has_value());
}

TEST(RulesTest, StatisticAndHorizonSelectTheValue) {
  SimulatedClock clock;
  Rule mean = ClassRule(100, Duration::zero());
  mean.name = "Mean";
  mean.statistic = Statistic::kMean;
  Rule observed = ClassRule(5, Duration::zero());
  observed.name = "Observed";
  observed.statistic = Statistic::kObserved;
  Rule day = ClassRule(1, Duration::zero());
  day.name = "Day";
  day.horizon = std::chrono::hours(24);  // No 1d forecast in the snapshot: no data.
  Evaluator ev({mean, observed, day}, clock);
  Snapshot s;
  s.classes = {Class("shop/class=a", "shop", "cpu", 10, 80, 120)};
  std::vector<Alert> changed = ev.Evaluate(s);
  ASSERT_EQ(changed.size(), 1u);  // mean 80 <= 100; 1d missing; observed 10 > 5.
  EXPECT_EQ(changed[0].rule, "Observed");
  EXPECT_EQ(changed[0].labels.count("horizon"), 0u);
  EXPECT_DOUBLE_EQ(changed[0].value, 10);
}

TEST(RulesTest, ComparisonsIncludingBelow) {
  EXPECT_TRUE(Compare(2, Comparison::kGreater, 1));
  EXPECT_FALSE(Compare(1, Comparison::kGreater, 1));
  EXPECT_TRUE(Compare(1, Comparison::kGreaterEqual, 1));
  EXPECT_TRUE(Compare(0, Comparison::kLess, 1));
  EXPECT_FALSE(Compare(1, Comparison::kLess, 1));
  EXPECT_TRUE(Compare(1, Comparison::kLessEqual, 1));

  SimulatedClock clock;
  Rule low = ClassRule(50, Duration::zero());
  low.op = Comparison::kLess;
  Evaluator ev({low}, clock);
  Snapshot s;
  s.classes = {Class("shop/class=a", "shop", "cpu", 10, 30, 40),
               Class("shop/class=b", "shop", "cpu", 10, 30, 60)};
  std::vector<Alert> changed = ev.Evaluate(s);
  ASSERT_EQ(changed.size(), 1u);
  EXPECT_EQ(changed[0].labels.at("class"), "shop/class=a");
}

TEST(RulesTest, TenantScopeSumsItsClasses) {
  SimulatedClock clock;
  Rule r = ClassRule(100, Duration::zero());
  r.scope = Scope::kTenant;
  Evaluator ev({r}, clock);
  Snapshot s;
  s.classes = {Class("shop/class=a", "shop", "cpu", 0, 40, 60),
               Class("shop/class=b", "shop", "cpu", 0, 40, 50),
               Class("blog/class=a", "blog", "cpu", 0, 40, 90),
               Class("blog/class=b", "blog", "mem", 0, 40, 90)};
  std::vector<Alert> changed = ev.Evaluate(s);
  ASSERT_EQ(changed.size(), 1u);
  EXPECT_EQ(changed[0].labels.at("tenant"), "shop");
  EXPECT_EQ(changed[0].labels.count("class"), 0u);
  EXPECT_DOUBLE_EQ(changed[0].value, 110);
  EXPECT_THAT(changed[0].annotations.at("summary"), HasSubstr("tenant shop"));
}

TEST(RulesTest, ResourceScopeAgainstFractionOfCapacity) {
  SimulatedClock clock;
  Rule r = ClassRule(0, Duration::zero());
  r.threshold.reset();
  r.capacity_fraction = 0.8;
  r.scope = Scope::kResource;
  r.annotations = {{"summary", "cpu at {value} of {threshold} ({severity})"}};
  Evaluator ev({r}, clock);
  Snapshot s;
  s.classes = {Class("shop/class=a", "shop", "cpu", 0, 40, 60),
               Class("blog/class=a", "blog", "cpu", 0, 40, 30)};
  // No capacity for cpu: no data, nothing fires.
  EXPECT_TRUE(ev.Evaluate(s).empty());
  s.capacity = {{"cpu", 100}};  // Threshold 80; sum of upper = 90.
  std::vector<Alert> changed = ev.Evaluate(s);
  ASSERT_EQ(changed.size(), 1u);
  EXPECT_EQ(changed[0].labels.count("tenant"), 0u);
  EXPECT_DOUBLE_EQ(changed[0].value, 90);
  EXPECT_EQ(changed[0].annotations.at("summary"), "cpu at 90 of 80 (warning)");
  s.capacity = {{"cpu", 200}};  // Threshold 160: resolves.
  changed = ev.Evaluate(s);
  ASSERT_EQ(changed.size(), 1u);
  EXPECT_EQ(changed[0].state, AlertState::kResolved);
}

TEST(RulesTest, FiltersByTenantAndClass) {
  SimulatedClock clock;
  Rule by_tenant = ClassRule(10, Duration::zero());
  by_tenant.name = "ByTenant";
  by_tenant.tenant = "blog";
  Rule by_class = ClassRule(10, Duration::zero());
  by_class.name = "ByClass";
  by_class.class_key = "shop/class=b";
  Evaluator ev({by_tenant, by_class}, clock);
  Snapshot s;
  s.classes = {Class("shop/class=a", "shop", "cpu", 0, 40, 60),
               Class("shop/class=b", "shop", "cpu", 0, 40, 50),
               Class("blog/class=a", "blog", "cpu", 0, 40, 90)};
  std::vector<Alert> changed = ev.Evaluate(s);
  ASSERT_EQ(changed.size(), 2u);
  EXPECT_EQ(changed[0].rule, "ByTenant");
  EXPECT_EQ(changed[0].labels.at("class"), "blog/class=a");
  EXPECT_EQ(changed[1].rule, "ByClass");
  EXPECT_EQ(changed[1].labels.at("class"), "shop/class=b");
}

TEST(RulesTest, AnomalyRuleWithMinScoreAndKinds) {
  SimulatedClock clock;
  Rule r;
  r.name = "Anomalous";
  r.kind = RuleKind::kAnomaly;
  r.min_score = 0.9;
  r.kinds = {"spike"};
  r.for_duration = seconds(30);
  Evaluator ev({r}, clock);
  Snapshot s;
  s.classes = {Class("shop/class=a", "shop", "requests", 5),
               Class("shop/class=b", "shop", "requests", 5),
               Class("shop/class=c", "shop", "requests", 5)};
  s.classes[0].resources["requests"].anomaly = {true, "spike", 0.95};
  s.classes[1].resources["requests"].anomaly = {true, "spike", 0.5};   // Below min_score.
  s.classes[2].resources["requests"].anomaly = {true, "shift", 0.99};  // Other kind.
  std::vector<Alert> changed = ev.Evaluate(s);
  ASSERT_EQ(changed.size(), 1u);
  EXPECT_EQ(changed[0].state, AlertState::kPending);
  EXPECT_EQ(changed[0].labels.at("class"), "shop/class=a");
  EXPECT_EQ(changed[0].labels.at("resource"), "requests");
  EXPECT_THAT(changed[0].annotations.at("summary"), HasSubstr("spike, score 0.95"));
  clock.Advance(seconds(30));
  changed = ev.Evaluate(s);
  ASSERT_EQ(changed.size(), 1u);
  EXPECT_EQ(changed[0].state, AlertState::kFiring);
  s.classes[0].resources["requests"].anomaly = {};
  clock.Advance(seconds(15));
  changed = ev.Evaluate(s);
  ASSERT_EQ(changed.size(), 1u);
  EXPECT_EQ(changed[0].state, AlertState::kResolved);
}

TEST(RulesTest, RemovedRuleResolvesItsFiringAlerts) {
  SimulatedClock clock;
  Evaluator ev({ClassRule(1, Duration::zero())}, clock);
  Snapshot s;
  s.classes = {Class("shop/class=a", "shop", "cpu", 0, 40, 60)};
  ev.Evaluate(s);
  ev.SetRules({});
  ASSERT_EQ(ev.alerts().size(), 1u);
  EXPECT_EQ(ev.alerts().begin()->second.state, AlertState::kResolved);
}

TEST(RulesTest, ValidateRuleNamesTheField) {
  Rule r = ClassRule(1, Duration::zero());
  EXPECT_TRUE(ValidateRule(r).ok());
  Rule bad = r;
  bad.name = "bad name";
  EXPECT_THAT(std::string(ValidateRule(bad).message()), HasSubstr("name: 'bad name'"));
  bad = r;
  bad.capacity_fraction = 0.5;
  EXPECT_THAT(std::string(ValidateRule(bad).message()), HasSubstr("exactly one of threshold"));
  bad = r;
  bad.horizon = minutes(5);
  EXPECT_THAT(std::string(ValidateRule(bad).message()), HasSubstr("horizon: 300s is not one of"));
  bad = r;
  bad.labels = {{"class", "x"}};
  EXPECT_THAT(std::string(ValidateRule(bad).message()), HasSubstr("labels.class: is set by"));
  bad = r;
  bad.annotations = {{"summary", "{nope}"}};
  EXPECT_THAT(std::string(ValidateRule(bad).message()),
              HasSubstr("annotations.summary: unknown placeholder {nope}"));
  bad = r;
  bad.kind = RuleKind::kAnomaly;
  bad.min_score = 2;
  EXPECT_THAT(std::string(ValidateRule(bad).message()), HasSubstr("anomaly.min_score: 2"));
}

TEST(RulesTest, ExpandTemplateKeepsUnknownAndUnbalanced) {
  EXPECT_EQ(ExpandTemplate("a {x} b {y} {", {{"x", "1"}}), "a 1 b {y} {");
  EXPECT_EQ(ExpandTemplate("", {}), "");
  EXPECT_EQ(ExpandTemplate("}{x}", {{"x", "2"}}), "}2");
}

}  // namespace
}  // namespace tidegate::alert
