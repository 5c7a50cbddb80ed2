#include "tidegate/anomaly/tail.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

namespace tidegate::anomaly {
namespace {

std::vector<double> Sorted(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v;
}

TEST(RankWindowTest, KeepsTheLastValuesInArrivalAndSortedOrder) {
  RankWindow w(5);
  const std::vector<double> xs = {9, 1, 7, 3, 3, 8, 2, 6};
  for (double x : xs) w.Push(x);
  ASSERT_EQ(w.size(), 5u);
  EXPECT_EQ(std::vector<double>(w.arrival().begin(), w.arrival().end()),
            (std::vector<double>{3, 3, 8, 2, 6}));
  EXPECT_EQ(std::vector<double>(w.sorted().begin(), w.sorted().end()),
            (std::vector<double>{2, 3, 3, 6, 8}));
}

TEST(RankWindowTest, SortedStaysAPermutationOfArrivalUnderRandomPushes) {
  const uint64_t seed = 11;
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int> small(0, 20);  // Many ties.
  RankWindow w(37);
  for (int i = 0; i < 2000; ++i) {
    w.Push(small(rng));
    const std::vector<double> expected = Sorted({w.arrival().begin(), w.arrival().end()});
    ASSERT_EQ(std::vector<double>(w.sorted().begin(), w.sorted().end()), expected)
        << "seed " << seed << " push " << i;
  }
}

TEST(TailPValueTest, EmptySampleGivesOne) {
  EXPECT_EQ(UpperTailPValue({}, 3, 0.05), 1);
  EXPECT_EQ(LowerTailPValue({}, 3, 0.05), 1);
}

TEST(TailPValueTest, InsideTheBodyItIsTheConformalRank) {
  std::vector<double> s;
  for (int i = 1; i <= 100; ++i) s.push_back(i);
  // The tail is the top k = max(10, 5 % of 100) samples; below it, ranks. 15 of 100 samples
  // are >= 85.5: p = (1 + 15) / 101.
  EXPECT_DOUBLE_EQ(UpperTailPValue(s, 85.5, 0.05), 16.0 / 101);
  EXPECT_DOUBLE_EQ(UpperTailPValue(s, 0, 0.05), 1);
  // 20 samples are <= 20: p = 21 / 101.
  EXPECT_DOUBLE_EQ(LowerTailPValue(s, 20, 0.05), 21.0 / 101);
}

TEST(TailPValueTest, InsideTheTailTheFitNeverExceedsTheRank) {
  std::vector<double> s;
  for (int i = 1; i <= 100; ++i) s.push_back(i * i);  // A stretched upper tail.
  for (double x : {8200.0, 9000.0, 9801.0, 10000.0}) {
    const double rank = static_cast<double>(1 + std::count_if(s.begin(), s.end(),
                                                              [&](double v) { return v >= x; })) /
                        101;
    EXPECT_LE(UpperTailPValue(s, x, 0.05), rank) << x;
  }
}

TEST(TailPValueTest, BeyondTheLargestItKeepsDecreasing) {
  std::vector<double> s;
  for (int i = 1; i <= 1000; ++i) s.push_back(i);
  double previous = UpperTailPValue(s, 1000, 0.05);
  EXPECT_LE(previous, 2.0 / 1001);
  for (double x : {1001.0, 1100.0, 2000.0, 1e4}) {
    const double p = UpperTailPValue(s, x, 0.05);
    EXPECT_GT(p, 0) << x;
    EXPECT_LT(p, previous) << x;
    previous = p;
  }
  // Beyond double range of the survival function the p-value is floored, never 0.
  EXPECT_EQ(UpperTailPValue(s, 1e300, 0.05), 1e-300);
}

TEST(TailPValueTest, ExponentialTailMatchesTheTrueSurvival) {
  const uint64_t seed = 5;
  std::mt19937_64 rng(seed);
  std::exponential_distribution<double> exp1(1.0);
  std::vector<double> s(5000);
  for (double& x : s) x = exp1(rng);
  s = Sorted(s);
  // Beyond the sample's maximum (about ln 5000 ≈ 8.5) the fit extrapolates P(X ≥ x) = e^{−x}.
  // The shape is estimated from 250 excesses (sd about 0.07), and its error grows with the
  // distance: within 3× at x = 10, within 10× at x = 14, where a rank could only say ≤ 2e-4.
  const double p10 = UpperTailPValue(s, 10, 0.05), p14 = UpperTailPValue(s, 14, 0.05);
  EXPECT_GT(p10, std::exp(-10) / 3) << "seed " << seed;
  EXPECT_LT(p10, std::exp(-10) * 3) << "seed " << seed;
  EXPECT_GT(p14, std::exp(-14) / 10) << "seed " << seed;
  EXPECT_LT(p14, std::exp(-14) * 10) << "seed " << seed;
}

TEST(TailPValueTest, HeavyTailGivesLargerPValuesThanALightOne) {
  const uint64_t seed = 6;
  std::mt19937_64 rng(seed);
  std::exponential_distribution<double> exp1(1.0);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  std::vector<double> light(4000), heavy(4000);
  for (double& x : light) x = exp1(rng);
  for (double& x : heavy) x = 1 / std::sqrt(1 - unit(rng)) - 1;  // Pareto(α = 2), from 0.
  light = Sorted(light);
  heavy = Sorted(heavy);
  // Both 50× their sample's 95th percentile: far rarer under the light tail.
  const double light_x = 50 * light[3800], heavy_x = 50 * heavy[3800];
  EXPECT_LT(UpperTailPValue(light, light_x, 0.05), 1e-12) << "seed " << seed;
  EXPECT_GT(UpperTailPValue(heavy, heavy_x, 0.05), 1e-6) << "seed " << seed;
}

TEST(TailPValueTest, DegenerateTailStillOrdersValuesBeyondIt) {
  const std::vector<double> s(100, 5.0);
  EXPECT_DOUBLE_EQ(UpperTailPValue(s, 5, 0.05), 1);
  const double p6 = UpperTailPValue(s, 6, 0.05), p7 = UpperTailPValue(s, 7, 0.05);
  EXPECT_GT(p6, 0);
  EXPECT_LE(p6, 1.0 / 101);
  EXPECT_LT(p7, p6);
}

TEST(TailPValueTest, LowerTailMirrorsTheUpperTail) {
  std::mt19937_64 rng(7);
  std::normal_distribution<double> normal(0, 1);
  std::vector<double> s(3000);
  for (double& x : s) x = normal(rng);
  std::vector<double> negated;
  for (double x : s) negated.push_back(-x);
  s = Sorted(s);
  negated = Sorted(negated);
  for (double x : {-6.0, -3.5, -1.0, 0.0, 2.0}) {
    EXPECT_DOUBLE_EQ(LowerTailPValue(s, x, 0.05), UpperTailPValue(negated, -x, 0.05)) << x;
  }
}

TEST(TailPValueTest, ExtremeInputsStayInRange) {
  std::vector<double> s;
  for (int i = 0; i < 500; ++i) s.push_back(1e-300 * i);
  for (double x : {-1e308, -1.0, 0.0, 1e-300, 1.0, 1e308}) {
    for (double p : {UpperTailPValue(s, x, 0.05), LowerTailPValue(s, x, 0.05)}) {
      EXPECT_TRUE(std::isfinite(p)) << x;
      EXPECT_GT(p, 0) << x;
      EXPECT_LE(p, 1) << x;
    }
  }
}

}  // namespace
}  // namespace tidegate::anomaly
