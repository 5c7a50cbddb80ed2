#include "tidegate/forecast/metrics.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

namespace tidegate::forecast {
namespace {

TEST(MetricsTest, SMapeOnHandNumbers) {
  // 200|y-f|/(|y|+|f|): (10,12) -> 400/22, (20,20) -> 0, (5,0) -> 200.
  std::vector<double> y = {10, 20, 5}, f = {12, 20, 0};
  EXPECT_NEAR(SMape(y, f), (400.0 / 22 + 0 + 200) / 3, 1e-12);
  // 0/0 counts as zero error.
  std::vector<double> z = {0, 0};
  EXPECT_EQ(SMape(z, z), 0.0);
}

TEST(MetricsTest, MaseScaleAndMase) {
  // m = 2: |3-1| + |4-2| + |9-3| = 2 + 2 + 6 over 3 differences.
  std::vector<double> x = {1, 2, 3, 4, 9};
  EXPECT_NEAR(MaseScale(x, 2), 10.0 / 3, 1e-12);
  // n <= m falls back to lag 1, as the M4 code does.
  std::vector<double> short_x = {1, 4};
  EXPECT_NEAR(MaseScale(short_x, 24), 3.0, 1e-12);
  std::vector<double> y = {10, 20}, f = {11, 17};
  EXPECT_NEAR(Mase(y, f, 2.0), (1 + 3) / 2.0 / 2.0, 1e-12);
  // A zero scale with a non-zero error is +inf (and skipped by the accumulator).
  EXPECT_TRUE(std::isinf(Mase(y, f, 0.0)));
}

TEST(MetricsTest, MsisPenalisesMissesByTwoOverAlpha) {
  std::vector<double> y = {5, 0, 12}, lo = {4, 1, 8}, hi = {6, 3, 10};
  // widths 2+2+2 = 6; misses: (1-0)*40 + (12-10)*40 = 120 (alpha = 0.05).
  EXPECT_NEAR(Msis(y, lo, hi, 0.05, 2.0), (6 + 120) / 3.0 / 2.0, 1e-12);
  EXPECT_NEAR(Coverage(y, lo, hi), 1.0 / 3, 1e-12);
}

TEST(MetricsTest, OwaAgainstOfficialNaive2IsOneForNaive2) {
  EXPECT_NEAR(
      Owa(kM4HourlyNaive2SMape, kM4HourlyNaive2Mase, kM4HourlyNaive2SMape, kM4HourlyNaive2Mase),
      1.0, 1e-15);
  // The official seasonal-naive row: OWA 0.627.
  EXPECT_NEAR(Owa(13.912, 1.193, kM4HourlyNaive2SMape, kM4HourlyNaive2Mase), 0.627, 5e-4);
}

TEST(MetricsTest, AccumulatorSkipsUndefinedScale) {
  MetricAccumulator acc;
  acc.Add({10, 1, 5, 1.0});
  acc.Add({20, INFINITY, INFINITY, 0.5});
  EXPECT_EQ(acc.count(), 2);
  EXPECT_NEAR(acc.smape(), 15, 1e-12);
  EXPECT_NEAR(acc.mase(), 1, 1e-12);
  EXPECT_NEAR(acc.msis(), 5, 1e-12);
  EXPECT_NEAR(acc.coverage(), 0.75, 1e-12);
  EXPECT_EQ(acc.skipped_scale(), 1);
}

}  // namespace
}  // namespace tidegate::forecast
