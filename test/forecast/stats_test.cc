#include "tidegate/forecast/stats.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

namespace tidegate::forecast {
namespace {

TEST(StatsTest, AutocorrelationMatchesDefinition) {
  // R: acf(c(1,3,2,5,4), plot=FALSE)$acf[2:3] = 0.1, -0.4 (mean 3, denominator 10).
  std::vector<double> y = {1, 3, 2, 5, 4};
  std::vector<double> r = Autocorrelation(y, 2);
  // lag 1: (-2*0 + 0*-1 + -1*2 + 2*1)/10 = 0.0; lag 2: (-2*-1 + 0*2 + -1*1)/10 = 0.1.
  EXPECT_NEAR(r[0], 0.0, 1e-12);
  EXPECT_NEAR(r[1], 0.1, 1e-12);
  std::vector<double> constant = {2, 2, 2};
  EXPECT_TRUE(std::isnan(Autocorrelation(constant, 1)[0]));
}

TEST(StatsTest, ChiSquareSurvivalReferenceValues) {
  // R: pchisq(x, df, lower.tail = FALSE).
  EXPECT_NEAR(ChiSquareSurvival(3.841458820694124, 1), 0.05, 1e-12);
  EXPECT_NEAR(ChiSquareSurvival(18.30703805327515, 10), 0.05, 1e-12);
  EXPECT_NEAR(ChiSquareSurvival(2.0, 4), 0.7357588823428847, 1e-12);
  EXPECT_NEAR(ChiSquareSurvival(100, 48), 1.8e-05, 1e-5);
  EXPECT_EQ(ChiSquareSurvival(0, 3), 1.0);
  EXPECT_TRUE(std::isnan(ChiSquareSurvival(1, 0)));
}

TEST(StatsTest, LjungBoxSeparatesWhiteNoiseFromAStrongCycle) {
  // A deterministic pseudo-random sequence (LCG) is close to white noise.
  std::vector<double> noise, cycle;
  uint32_t s = 12345;
  for (int i = 0; i < 500; ++i) {
    s = s * 1664525u + 1013904223u;
    noise.push_back(static_cast<double>(s >> 8) / (1 << 24) - 0.5);
    cycle.push_back(std::sin(i * 2 * M_PI / 12) + 0.1 * noise.back());
  }
  EXPECT_GT(LjungBoxPValue(noise, 10, 0), 0.01);
  EXPECT_LT(LjungBoxPValue(cycle, 10, 0), 1e-10);
  EXPECT_TRUE(std::isnan(LjungBoxPValue(noise, 3, 3)));
}

TEST(StatsTest, FillGapsLinear) {
  const double nan = std::nan("");
  std::vector<double> y = {nan, 1, nan, nan, 4, nan};
  EXPECT_EQ(FillGapsLinear(&y), 4u);
  EXPECT_EQ(y, (std::vector<double>{1, 1, 2, 3, 4, 4}));
  std::vector<double> all = {nan, nan};
  EXPECT_EQ(FillGapsLinear(&all), 2u);
  EXPECT_TRUE(std::isnan(all[0]));
  EXPECT_EQ(CountObserved(y), 6u);
}

}  // namespace
}  // namespace tidegate::forecast
