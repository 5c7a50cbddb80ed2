#include "tidegate/anomaly/context.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <deque>
#include <numbers>
#include <random>
#include <vector>

#include "tidegate/anomaly/tail.h"

namespace tidegate::anomaly {
namespace {

// A daily-like cycle: period 48, a high plateau for a third of it, Gaussian noise (sd 1), seeded.
double Cycle(int t, std::mt19937_64& rng) {
  std::normal_distribution<double> noise(0, 1);
  return ((t % 48) < 16 ? 80.0 : 20.0) + noise(rng);
}

TEST(SeasonalTermTest, FindsThePeriodAndScoresAMissingPeakOnly) {
  SeasonalTerm season(/*max_period=*/500, /*min_acf=*/0.6, /*run=*/5, /*spread_window=*/256,
                      /*calibration_window=*/2000, /*tail_fraction=*/0.05);
  std::mt19937_64 rng(3);
  std::deque<double> recent;
  double min_p_normal = 1;
  for (int t = 0; t < 2400; ++t) {
    const double x = Cycle(t, rng);
    const double p = season.Observe(x, recent);
    if (t > 1300) min_p_normal = std::min(min_p_normal, p);
    recent.push_back(x);
    if (recent.size() > 4000) recent.pop_front();
  }
  EXPECT_EQ(season.period(), 48);
  // The next plateau does not come: every value is a plausible value, but not at this phase.
  double min_p_missing = 1;
  for (int t = 2400; t < 2416; ++t) {
    std::normal_distribution<double> noise(0, 1);
    const double x = 20 + noise(rng);
    ASSERT_EQ(t % 48 < 16, true);
    min_p_missing = std::min(min_p_missing, season.Observe(x, recent));
    recent.push_back(x);
  }
  EXPECT_LT(min_p_missing, 1e-3);
  EXPECT_LT(min_p_missing, min_p_normal / 10);
  EXPECT_LT(season.last_residual(), -40);  // Below the season: a dip.
}

TEST(SeasonalTermTest, NoSeasonInNoiseOrARandomWalk) {
  for (bool walk : {false, true}) {
    SeasonalTerm season(500, 0.6, 5, 256, 2000, 0.05);
    std::mt19937_64 rng(5);
    std::normal_distribution<double> noise(0, 1);
    std::deque<double> recent;
    double level = 0;
    for (int t = 0; t < 3000; ++t) {
      level = walk ? level + noise(rng) : noise(rng);
      EXPECT_EQ(season.Observe(level, recent), 1.0) << "walk " << walk << " at " << t;
      recent.push_back(level);
    }
    EXPECT_EQ(season.period(), 0) << "walk " << walk;
  }
}

TEST(ContextNoveltyTest, ARunOfNewContextsScoresLowRepeatsDoNot) {
  ContextNovelty context(/*bins=*/8, /*order=*/3, /*window=*/4000, /*run=*/8,
                         /*calibration_window=*/1000, /*tail_fraction=*/0.05);
  RankWindow recent(4000);
  std::mt19937_64 rng(11);
  std::normal_distribution<double> noise(0, 0.2);
  double min_p_normal = 1;
  for (int t = 0; t < 3000; ++t) {  // A sawtooth of period 20: its contexts repeat.
    const double x = (t % 20) + noise(rng);
    const double p = context.Observe(x, recent.sorted());
    if (t > 1000) min_p_normal = std::min(min_p_normal, p);
    recent.Push(x);
  }
  EXPECT_GT(min_p_normal, 1e-3);
  // The same values in a new order (descending): each value is common, the sequence is not.
  double min_p_new = 1;
  for (int t = 0; t < 20; ++t) {
    const double x = 19 - t + noise(rng);
    min_p_new = std::min(min_p_new, context.Observe(x, recent.sorted()));
    recent.Push(x);
  }
  EXPECT_LT(min_p_new, 1e-3) << "the sawtooth's own minimum: " << min_p_normal;
}

TEST(MedianAbsDeviationTest, MatchesSelectionBitForBit) {
  std::mt19937_64 rng(2);
  std::uniform_int_distribution<int> size(1, 60);
  std::uniform_int_distribution<int> small(0, 5);  // Many ties.
  std::normal_distribution<double> normal(0, 3);
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    const size_t mid = v.size() / 2;
    return v.size() % 2 == 0 ? (v[mid] + v[mid - 1]) / 2 : v[mid];
  };
  for (int trial = 0; trial < 2000; ++trial) {
    std::vector<double> v(static_cast<size_t>(size(rng)));
    for (double& x : v) x = trial % 2 == 0 ? normal(rng) : small(rng);
    std::sort(v.begin(), v.end());
    const double m = median(v);
    std::vector<double> dev;
    for (double x : v) dev.push_back(std::fabs(x - m));
    double got_median = 0;
    EXPECT_EQ(MedianAbsDeviation(v, &got_median), median(dev)) << "trial " << trial;
    EXPECT_EQ(got_median, m);
  }
}

}  // namespace
}  // namespace tidegate::anomaly
