#include "tidegate/alert/scaling.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace tidegate::alert {
namespace {

using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;
using ::testing::HasSubstr;

ResourceSnapshot Curve(double observed, double upper_1m, double upper_1h, double upper_1d) {
  ResourceSnapshot r;
  r.observed_per_s = observed;
  r.forecasts = {{minutes(1), upper_1m * 0.8, upper_1m},
                 {hours(1), upper_1h * 0.8, upper_1h},
                 {hours(24), upper_1d * 0.8, upper_1d}};
  return r;
}

TEST(PeakDemandTest, PiecewiseLinearMaximumOverTheLead) {
  const ResourceSnapshot r = Curve(100, 160, 400, 50);
  EXPECT_DOUBLE_EQ(PeakDemand(r, Statistic::kUpper, Duration::zero()), 100);
  EXPECT_DOUBLE_EQ(PeakDemand(r, Statistic::kUpper, seconds(30)), 130);  // Halfway to 160.
  EXPECT_DOUBLE_EQ(PeakDemand(r, Statistic::kUpper, minutes(1)), 160);
  // Between 1m (160) and 1h (400): at 30m30s, 160 + 240 * (29.5 / 59).
  EXPECT_DOUBLE_EQ(PeakDemand(r, Statistic::kUpper, minutes(30) + seconds(30)), 280);
  // The 1h peak stays the maximum once passed, though the curve falls towards 1d.
  EXPECT_DOUBLE_EQ(PeakDemand(r, Statistic::kUpper, hours(12)), 400);
  EXPECT_DOUBLE_EQ(PeakDemand(r, Statistic::kUpper, hours(48)), 400);
  EXPECT_DOUBLE_EQ(PeakDemand(r, Statistic::kMean, minutes(1)), 128);
  EXPECT_DOUBLE_EQ(PeakDemand(r, Statistic::kObserved, hours(1)), 100);
  // No forecast: the observed rate, constant.
  ResourceSnapshot flat;
  flat.observed_per_s = 7;
  EXPECT_DOUBLE_EQ(PeakDemand(flat, Statistic::kUpper, hours(5)), 7);
}

TEST(PeakDemandTest, SumOfCurvesPeaksWhereTheSumDoes) {
  // One falls while the other rises: the peak of the sum is not the sum of the peaks.
  const ResourceSnapshot a = Curve(100, 0, 0, 0);
  const ResourceSnapshot b = Curve(0, 60, 60, 60);
  EXPECT_DOUBLE_EQ(PeakDemand({&a, &b}, Statistic::kUpper, minutes(10)), 100);
  const ResourceSnapshot c = Curve(0, 150, 150, 150);
  EXPECT_DOUBLE_EQ(PeakDemand({&a, &c}, Statistic::kUpper, minutes(10)), 150);
}

Snapshot Demand(double cpu_upper_1m, double requests_observed) {
  Snapshot s;
  ClassSnapshot c;
  c.key = "shop/class=checkout";
  c.tenant = "shop";
  ResourceSnapshot cpu;
  cpu.observed_per_s = cpu_upper_1m;
  cpu.forecasts = {{minutes(1), cpu_upper_1m, cpu_upper_1m}};
  c.resources["cpu"] = cpu;
  ResourceSnapshot req;
  req.observed_per_s = requests_observed;
  c.resources["requests"] = req;
  s.classes.push_back(c);
  ClassSnapshot other = c;
  other.key = "blog/class=a";
  other.tenant = "blog";
  s.classes.push_back(other);  // Not served by the service below.
  return s;
}

ServiceSpec Spec() {
  ServiceSpec s;
  s.name = "checkout-api";
  s.tenant = "shop";
  s.per_replica = {{"cpu", 100}, {"requests", 1000}};
  s.target_utilization = 0.5;
  s.min_replicas = 2;
  s.max_replicas = 20;
  s.lead_time = minutes(1);
  s.scale_down_stabilization = minutes(5);
  return s;
}

TEST(RecommenderTest, FormulaDrivingResourceAndClamps) {
  SimulatedClock clock;
  Recommender rec({Spec()}, clock);
  // cpu: 420 / (100 * 0.5) = 8.4 -> 9; requests: 3000 / 500 = 6.
  std::vector<Recommendation> r = rec.Update(Demand(420, 3000));
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].recommended_replicas, 9);
  EXPECT_EQ(r[0].raw_replicas, 9);
  EXPECT_EQ(r[0].driving_resource, "cpu");
  EXPECT_DOUBLE_EQ(r[0].predicted_demand.at("cpu"), 420);
  EXPECT_DOUBLE_EQ(r[0].predicted_demand.at("requests"), 3000);
  EXPECT_THAT(r[0].reason, HasSubstr("cpu drives"));
  EXPECT_TRUE(r[0].changed);
  EXPECT_EQ(r[0].since, clock.WallNow());
  EXPECT_FALSE(r[0].current_replicas.has_value());

  // Exactly 8 replicas' worth is 8, not 9.
  clock.Advance(minutes(10));
  r = rec.Update(Demand(400, 0));
  EXPECT_EQ(r[0].recommended_replicas, 8);

  clock.Advance(minutes(10));
  r = rec.Update(Demand(5000, 0));  // 100 replicas' worth, capped.
  EXPECT_EQ(r[0].recommended_replicas, 20);
  EXPECT_THAT(r[0].reason, HasSubstr("capped at max_replicas 20"));

  clock.Advance(minutes(10));
  r = rec.Update(Demand(0, 0));
  EXPECT_EQ(r[0].raw_replicas, 2);
  EXPECT_THAT(r[0].reason, HasSubstr("raised to min_replicas 2"));
}

TEST(RecommenderTest, ScaleUpAtOnceScaleDownAfterTheWindow) {
  SimulatedClock clock;
  Recommender rec({Spec()}, clock);
  EXPECT_EQ(rec.Update(Demand(500, 0))[0].recommended_replicas, 10);
  const WallTime first = clock.WallNow();
  clock.Advance(minutes(1));
  std::vector<Recommendation> r = rec.Update(Demand(200, 0));  // Raw 4: held at 10.
  EXPECT_EQ(r[0].raw_replicas, 4);
  EXPECT_EQ(r[0].recommended_replicas, 10);
  EXPECT_FALSE(r[0].changed);
  EXPECT_EQ(r[0].since, first);
  EXPECT_THAT(r[0].reason, HasSubstr("held at 10 (raw 4) by the scale-down stabilisation"));
  clock.Advance(minutes(1));
  r = rec.Update(Demand(700, 0));  // Up to 14 at once.
  EXPECT_EQ(r[0].recommended_replicas, 14);
  EXPECT_TRUE(r[0].changed);
  for (int i = 0; i < 5; ++i) {
    clock.Advance(minutes(1));
    r = rec.Update(Demand(200, 0));
    EXPECT_EQ(r[0].recommended_replicas, 14) << "minute " << i;
  }
  clock.Advance(seconds(1));  // The 14 is now older than the 5-minute window.
  r = rec.Update(Demand(200, 0));
  EXPECT_EQ(r[0].recommended_replicas, 4);
  EXPECT_TRUE(r[0].changed);
}

TEST(RecommenderTest, ClassListAndCurrentReplicas) {
  SimulatedClock clock;
  ServiceSpec spec = Spec();
  spec.tenant = "";
  spec.classes = {"blog/class=a"};
  spec.per_replica = {{"requests", 100}};
  spec.target_utilization = 1;
  spec.min_replicas = 0;
  Recommender rec({spec}, clock);
  EXPECT_EQ(rec.Update(Demand(0, 250))[0].recommended_replicas, 3);
  EXPECT_TRUE(rec.SetCurrentReplicas("checkout-api", 2).ok());
  EXPECT_EQ(rec.recommendations().at(0).current_replicas, 2);
  EXPECT_EQ(rec.SetCurrentReplicas("nope", 2).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(rec.SetCurrentReplicas("checkout-api", -1).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(rec.Update(Demand(0, 0))[0].driving_resource, "");
}

TEST(RecommenderTest, AResizeEntersTheWindowOnce) {
  SimulatedClock clock;
  Recommender rec({Spec()}, clock);
  EXPECT_EQ(rec.Update(Demand(200, 0))[0].recommended_replicas, 4);
  clock.Advance(minutes(6));  // The first evaluation has left the 5-minute window.
  ASSERT_TRUE(rec.SetCurrentReplicas("checkout-api", 12).ok());  // Someone scaled up.
  std::vector<Recommendation> r = rec.Update(Demand(200, 0));
  EXPECT_EQ(r[0].raw_replicas, 4);
  EXPECT_EQ(r[0].recommended_replicas, 12);
  EXPECT_EQ(r[0].current_replicas, 12);
  EXPECT_THAT(r[0].reason, HasSubstr("held at 12 (raw 4): the service was resized to 12 replicas"));
  clock.Advance(minutes(3));
  ASSERT_TRUE(rec.SetCurrentReplicas("checkout-api", 12).ok());  // Same count: no new resize.
  EXPECT_EQ(rec.Update(Demand(200, 0))[0].recommended_replicas, 12);
  clock.Advance(minutes(2) + seconds(1));  // 5 min 1 s after the resize.
  r = rec.Update(Demand(200, 0));
  EXPECT_EQ(r[0].recommended_replicas, 4);
  EXPECT_TRUE(r[0].changed);
  // A resize below the recommendation changes nothing but the reported count.
  ASSERT_TRUE(rec.SetCurrentReplicas("checkout-api", 2).ok());
  r = rec.Update(Demand(200, 0));
  EXPECT_EQ(r[0].recommended_replicas, 4);
  EXPECT_EQ(r[0].current_replicas, 2);
  EXPECT_EQ(rec.SetCurrentReplicas("checkout-api", Recommender::kMaxReportedReplicas + 1).code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(RecommenderTest, ValidateNamesTheField) {
  ServiceSpec s = Spec();
  EXPECT_TRUE(ValidateServiceSpec(s).ok());
  s.target_utilization = 1.5;
  EXPECT_THAT(std::string(ValidateServiceSpec(s).message()),
              HasSubstr("target_utilization: 1.5 must be in (0, 1]"));
  s = Spec();
  s.max_replicas = 1;
  EXPECT_THAT(std::string(ValidateServiceSpec(s).message()), HasSubstr("max_replicas: 1"));
  s = Spec();
  s.per_replica = {{"cpu", 0}};
  EXPECT_THAT(std::string(ValidateServiceSpec(s).message()), HasSubstr("per_replica.cpu: 0"));
  s = Spec();
  s.name = "a b";
  EXPECT_THAT(std::string(ValidateServiceSpec(s).message()), HasSubstr("name: 'a b'"));
}

}  // namespace
}  // namespace tidegate::alert
