#include "tidegate/learn/drift.h"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <random>

namespace tidegate::learn {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

DriftDetector Make(DriftOptions o = {}) { return DriftDetector::Create(o).value(); }

TEST(DriftDetectorTest, CalibratedErrorsRarelyAlarm) {
  // N(0, 1) errors: the in-control run length is ~470 steps two-sided; over 100 series of 100
  // steps each the expected number of alarms is ~100·(1 − e^{−100/470}) ≈ 19. Assert well below
  // the number of series, and that the seeded run is reproducible.
  const uint64_t seed = 20240601;
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> noise(0, 1);
  DriftDetector d = Make();
  for (int s = 0; s < 100; ++s) {
    for (int t = 0; t < 100; ++t) {
      ASSERT_TRUE(d.Observe(fmt::format("s{}", s), noise(rng), 0, 1).ok());
    }
  }
  EXPECT_LT(d.Drifted().size(), 40u) << "seed " << seed;
}

TEST(DriftDetectorTest, LevelShiftIsDetectedWithinExpectedDelay) {
  DriftDetector d = Make();
  // A shift of 1 scale unit: g+ grows by ~0.5 a step, so it crosses h = 5 at step 11.
  int alarmed_at = -1;
  for (int t = 0; t < 40; ++t) {
    auto r = d.Observe("checkout", 101, 100, 1);
    ASSERT_TRUE(r.ok());
    if (*r) {
      alarmed_at = t + 1;
      break;
    }
  }
  EXPECT_EQ(alarmed_at, 11);
  EXPECT_THAT(d.Drifted(), ElementsAre("checkout"));
  EXPECT_EQ(d.State("checkout").drifted_at, 11);
  // Stays flagged (no second alarm) until reset.
  EXPECT_FALSE(d.Observe("checkout", 101, 100, 1).value());
  d.Reset("checkout");
  EXPECT_THAT(d.Drifted(), IsEmpty());
  EXPECT_EQ(d.State("checkout").observations, 0);
}

TEST(DriftDetectorTest, DownwardDriftUsesTheLowerSum) {
  DriftDetector d = Make();
  bool alarmed = false;
  for (int t = 0; t < 20 && !alarmed; ++t) alarmed = d.Observe("a", 97, 100, 1).value();
  EXPECT_TRUE(alarmed);
  EXPECT_GT(d.State("a").g_neg, 5);
  EXPECT_EQ(d.State("a").g_pos, 0);
}

TEST(DriftDetectorTest, SingleOutlierDoesNotAlarmButThreeInARowDo) {
  DriftDetector d = Make();
  EXPECT_FALSE(d.Observe("a", 1e9, 0, 1).value());  // Clipped to 3: g+ = 2.5.
  for (int t = 0; t < 10; ++t) EXPECT_FALSE(d.Observe("a", 0, 0, 1).value());
  EXPECT_EQ(d.State("a").g_pos, 0);
  EXPECT_FALSE(d.Observe("b", 50, 0, 1).value());  // 2.5
  EXPECT_FALSE(d.Observe("b", 50, 0, 1).value());  // 5.0 (not > h)
  EXPECT_TRUE(d.Observe("b", 50, 0, 1).value());   // 7.5
}

TEST(DriftDetectorTest, MissingObservationsAreSkipped) {
  DriftDetector d = Make();
  for (int t = 0; t < 100; ++t) EXPECT_FALSE(d.Observe("a", NAN, 0, 1).value());
  EXPECT_EQ(d.State("a").observations, 0);
}

TEST(DriftDetectorTest, ObserveForecastUsesTheIntervalAsScale) {
  forecast::Forecast f;
  f.mean = {100, 100};
  const double z = forecast::NormalQuantile(0.9);
  f.intervals.push_back({80, {100 - 10 * z, 100 - 10 * z}, {100 + 10 * z, 100 + 10 * z}});
  DriftDetector d = Make();
  ASSERT_TRUE(d.ObserveForecast("a", 110, f, 1, 80).ok());  // e = 1 → g+ = 0.5.
  EXPECT_NEAR(d.State("a").g_pos, 0.5, 1e-9);
  auto no_level = d.ObserveForecast("a", 110, f, 0, 95);
  EXPECT_EQ(no_level.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(no_level.status().message()), HasSubstr("no 95% interval"));
  auto bad_step = d.ObserveForecast("a", 110, f, 2, 80);
  EXPECT_THAT(std::string(bad_step.status().message()), HasSubstr("step 2 outside"));
}

TEST(DriftDetectorTest, BadInputIsInvalidArgument) {
  DriftOptions o;
  o.k = 0;
  auto made = DriftDetector::Create(o);
  EXPECT_EQ(made.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(made.status().message()), HasSubstr("k = 0"));
  o = {};
  o.clip = 0.25;
  EXPECT_THAT(std::string(DriftDetector::Create(o).status().message()), HasSubstr("clip"));
  DriftDetector d = Make();
  auto r = d.Observe("api", 1, 0, 0);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("series 'api': forecast scale 0"));
  EXPECT_EQ(d.Observe("api", INFINITY, 0, 1).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(d.Observe("api", 1, NAN, 1).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(DriftDetectorTest, RestoredStateContinuesTheSums) {
  DriftDetector a = Make();
  for (int t = 0; t < 6; ++t) ASSERT_FALSE(a.Observe("checkout", 101, 100, 1).value());
  DriftDetector b = Make();
  ASSERT_TRUE(b.Restore("checkout", a.State("checkout")).ok());
  // Both cross h = 5 at the 11th shifted step (5 more).
  for (int t = 0; t < 4; ++t) {
    EXPECT_FALSE(a.Observe("checkout", 101, 100, 1).value());
    EXPECT_FALSE(b.Observe("checkout", 101, 100, 1).value());
  }
  EXPECT_TRUE(a.Observe("checkout", 101, 100, 1).value());
  EXPECT_TRUE(b.Observe("checkout", 101, 100, 1).value());
  b.Erase("checkout");
  EXPECT_THAT(b.Drifted(), IsEmpty());
  DriftState bad;
  bad.g_pos = NAN;
  absl::Status s = b.Restore("api", bad);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("series 'api'"));
}

}  // namespace
}  // namespace tidegate::learn
