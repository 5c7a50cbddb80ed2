#include "tidegate/workload/generator.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <map>

namespace tidegate::workload {
namespace {

using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;
using ::testing::HasSubstr;

// 2023-11-13 00:00:00 UTC, a Monday.
const WallTime kMonday{seconds(1'699'833'600)};

ClassSpec Steady(double rate) {
  ClassSpec c;
  c.tenant = "t";
  c.descriptors = {{"class", "a"}};
  c.base_rate_per_s = rate;
  c.daily_amplitude = 0;
  c.weekend_dip = 0;
  c.noise = 0;
  c.burst_prob = 0;
  c.cost_cv = 0;
  return c;
}

struct Collected {
  std::vector<history::UsageReport> reports;
  ReportSink Sink() {
    return [this](const std::vector<history::UsageReport>& batch) {
      reports.insert(reports.end(), batch.begin(), batch.end());
      return absl::OkStatus();
    };
  }
};

TEST(GeneratorTest, DeterministicUnderASeed) {
  const WorkloadSpec spec = DemoSpec(kMonday, hours(24 * 3), 7);
  Collected a, b, c;
  ASSERT_TRUE(Generate(spec, a.Sink()).ok());
  ASSERT_TRUE(Generate(spec, b.Sink()).ok());
  WorkloadSpec other = spec;
  other.seed = 8;
  ASSERT_TRUE(Generate(other, c.Sink()).ok());
  EXPECT_EQ(a.reports, b.reports);
  EXPECT_NE(a.reports, c.reports);
}

TEST(GeneratorTest, PoissonCountsMatchTheRateAndCostsTheMeans) {
  WorkloadSpec spec;
  spec.start = kMonday;
  spec.length = hours(6);
  spec.step = seconds(10);
  ClassSpec c = Steady(20);
  c.cost.cpu_ms = 3;
  c.cost.latency_ms = 40;
  c.cost_cv = 0.5;
  spec.classes = {c};
  Collected out;
  ASSERT_TRUE(Generate(spec, out.Sink()).ok());
  double requests = 0, cpu = 0, latency = 0;
  for (const auto& r : out.reports) {
    requests += static_cast<double>(r.count);
    cpu += r.cpu_ms;
    latency += r.latency_ms;
  }
  const double expected = 20.0 * 6 * 3600;  // 432,000; Poisson sd ~657.
  EXPECT_NEAR(requests, expected, 5 * std::sqrt(expected));
  EXPECT_NEAR(cpu / requests, 3, 0.03);
  EXPECT_NEAR(latency / requests, 40, 0.4);
  EXPECT_EQ(out.reports.front().descriptors, c.descriptors);
  EXPECT_EQ(out.reports.front().timestamp, kMonday);
}

TEST(GeneratorTest, DailyCycleAndWeekendDipShowInTheRate) {
  ClassSpec c = Steady(100);
  c.daily_amplitude = 0.5;
  c.peak_hour = 14;
  c.weekend_dip = 0.3;
  EXPECT_NEAR(ExpectedRate(c, kMonday, kMonday + hours(14)), 150, 1e-9);
  EXPECT_NEAR(ExpectedRate(c, kMonday, kMonday + hours(2)), 50, 1e-9);
  // Saturday 14:00: peak less the weekend dip.
  EXPECT_NEAR(ExpectedRate(c, kMonday, kMonday + hours(24 * 5 + 14)), 105, 1e-9);
}

TEST(GeneratorTest, FlashCrowdRaisesTheRateAndIsGroundTruth) {
  WorkloadSpec spec;
  spec.start = kMonday;
  spec.length = hours(4);
  spec.step = seconds(60);
  spec.classes = {Steady(10)};
  spec.events = {{EventKind::kFlashCrowd, hours(2), hours(1), 5, 0}};
  Collected out;
  auto truth = Generate(spec, out.Sink());
  ASSERT_TRUE(truth.ok()) << truth.status();
  ASSERT_EQ(truth->size(), 1u);
  EXPECT_EQ((*truth)[0].kind, EventKind::kFlashCrowd);
  EXPECT_EQ((*truth)[0].begin, kMonday + hours(2));
  EXPECT_EQ((*truth)[0].end, kMonday + hours(3));
  double before = 0, peak = 0;
  for (const auto& r : out.reports) {
    const auto t = r.timestamp - kMonday;
    if (t < hours(2)) before += static_cast<double>(r.count);
    if (t >= hours(2) + minutes(20) && t < hours(2) + minutes(40))
      peak += static_cast<double>(r.count);
  }
  EXPECT_NEAR(before / 120, 600, 60);  // 10/s for 60 s steps.
  EXPECT_NEAR(peak / 20, 3000, 200);   // Held at 5x in the middle half.
}

TEST(GeneratorTest, RefusesImpossibleParametersNamingTheField) {
  struct Case {
    std::function<void(WorkloadSpec&)> mutate;
    const char* message;
  } cases[] = {
      {[](WorkloadSpec& s) { s.length = Duration(0); }, "length = 0 s: must be positive"},
      {[](WorkloadSpec& s) { s.classes.clear(); }, "classes: at least one is needed"},
      {[](WorkloadSpec& s) { s.classes[0].daily_amplitude = 1.5; },
       "classes[0].daily_amplitude = 1.5: must be in [0, 1)"},
      {[](WorkloadSpec& s) { s.classes[0].base_rate_per_s = -3; },
       "classes[0].base_rate_per_s = -3"},
      {[](WorkloadSpec& s) { s.classes[0].trend_per_day = -1; },
       "classes[0].trend_per_day = -1: the rate would reach zero"},
      {[](WorkloadSpec& s) { s.classes[0].tier = 7; }, "classes[0].tier = 7"},
      {[](WorkloadSpec& s) { s.classes[0].cost.cpu_ms = NAN; }, "classes[0].cost = nan"},
      {[](WorkloadSpec& s) {
         s.events = {{EventKind::kSpike, hours(1), hours(1), 0.5, 0}};
       },
       "events[0].magnitude = 0.5"},
      {[](WorkloadSpec& s) {
         s.events = {{EventKind::kSpike, hours(100), hours(1), 2, 0}};
       },
       "events[0].at = 360000: must fall within the workload"},
      {[](WorkloadSpec& s) {
         s.events = {{EventKind::kSpike, hours(1), hours(1), 2, 9}};
       },
       "events[0].class_index = 9: there are 1 classes"},
      {[](WorkloadSpec& s) { s.step = std::chrono::milliseconds(1); }, "class-steps: at most"},
  };
  for (const Case& c : cases) {
    WorkloadSpec spec;
    spec.start = kMonday;
    spec.length = hours(24);
    spec.classes = {Steady(1)};
    c.mutate(spec);
    Collected out;
    auto r = Generate(spec, out.Sink());
    ASSERT_FALSE(r.ok()) << c.message;
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(r.status().message()), HasSubstr(c.message));
    EXPECT_TRUE(out.reports.empty());
  }
}

TEST(GeneratorTest, SinkErrorStopsGeneration) {
  const WorkloadSpec spec = DemoSpec(kMonday, hours(24), 1);
  int calls = 0;
  auto r = Generate(spec, [&](const std::vector<history::UsageReport>&) {
    return ++calls == 3 ? absl::UnavailableError("disk full") : absl::OkStatus();
  });
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(calls, 3);
}

TEST(GeneratorTest, DemoSpecIsValidForEveryLength) {
  for (int hours_long = 1; hours_long <= 24 * 30; hours_long += 7) {
    EXPECT_TRUE(ValidateWorkloadSpec(DemoSpec(kMonday, hours(hours_long), 1)).ok()) << hours_long;
  }
}

TEST(GeneratorTest, DemoSpecIsValidAndCoversEveryTier) {
  const WorkloadSpec spec = DemoSpec(kMonday, hours(24 * 14), 42);
  ASSERT_TRUE(ValidateWorkloadSpec(spec).ok());
  std::map<int, int> tiers;
  for (const auto& c : spec.classes) ++tiers[c.tier];
  EXPECT_EQ(tiers.size(), 4u);
  EXPECT_FALSE(spec.events.empty());
}

}  // namespace
}  // namespace tidegate::workload
