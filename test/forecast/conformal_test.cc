#include "tidegate/forecast/conformal.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <random>

namespace tidegate::forecast {
namespace {

using ::testing::HasSubstr;

// A forecast of constant mean 0 with model intervals ± z·sd at 80 and 95 %.
Forecast ModelForecast(int h, double sd) {
  std::vector<double> mean(h, 0.0), sds(h, sd);
  const std::vector<double> levels = {80, 95};
  return GaussianForecast(mean, sds, levels);
}

// Feeds i.i.d. N(0, true_sd²) values to a calibrator whose model claims `model_sd`.
AdaptiveConformal RunStream(double model_sd, double true_sd, int steps, uint32_t seed) {
  ConformalOptions o;
  o.horizon = 3;
  o.levels = {80, 95};
  o.gamma = 0.01;
  auto aci = AdaptiveConformal::Create(o);
  EXPECT_TRUE(aci.ok());
  std::mt19937 rng(seed);
  std::normal_distribution<double> noise(0, true_sd);
  for (int t = 0; t < steps; ++t) {
    EXPECT_TRUE(aci->Record(ModelForecast(3, model_sd)).ok());
    aci->Observe(noise(rng));
  }
  return std::move(aci).value();
}

TEST(ConformalTest, RepairsOverconfidentModel) {
  const uint32_t seed = 42;
  SCOPED_TRACE(::testing::Message() << "seed " << seed);
  // The model's intervals are half as wide as they should be: raw 95 % coverage would be ~68 %.
  AdaptiveConformal aci = RunStream(0.5, 1.0, 6000, seed);
  EXPECT_NEAR(aci.Coverage(95), 0.95, 0.01);
  EXPECT_NEAR(aci.Coverage(80), 0.80, 0.015);
  for (int k = 1; k <= 3; ++k) EXPECT_NEAR(aci.Coverage(95, k), 0.95, 0.015) << "step " << k;
  // The calibrated 95 % half-width approaches the true 1.96 (model claims 0.98).
  Forecast f = aci.Calibrate(ModelForecast(3, 0.5));
  EXPECT_NEAR(f.Interval(95)->upper[0], 1.96, 0.25);
  EXPECT_EQ(f.mean, ModelForecast(3, 0.5).mean);
}

TEST(ConformalTest, NarrowsUnderconfidentModel) {
  AdaptiveConformal aci = RunStream(3.0, 1.0, 6000, 7);
  EXPECT_NEAR(aci.Coverage(95), 0.95, 0.01);
  Forecast f = aci.Calibrate(ModelForecast(3, 3.0));
  EXPECT_LT(f.Interval(95)->upper[1], 3.0);
}

TEST(ConformalTest, UsesModelIntervalUntilEnoughScoresAndSkipsMissing) {
  ConformalOptions o;
  o.horizon = 2;
  o.levels = {95};
  auto aci = AdaptiveConformal::Create(o);
  ASSERT_TRUE(aci.ok());
  Forecast f = ModelForecast(2, 1.0);
  Forecast c = aci->Calibrate(f);
  EXPECT_EQ(c.Interval(95)->upper, f.Interval(95)->upper);
  ASSERT_TRUE(aci->Record(f).ok());
  aci->Observe(std::nan(""));
  EXPECT_EQ(aci->scored(), 0);
  EXPECT_TRUE(std::isnan(aci->Coverage(95)));
  aci->Observe(0.5);  // Step 2 of the first forecast.
  EXPECT_EQ(aci->scored(), 1);
  EXPECT_EQ(aci->Coverage(95, 2), 1.0);
}

TEST(ConformalTest, AlphaBelowZeroGivesFiniteWidestInterval) {
  ConformalOptions o;
  o.horizon = 1;
  o.levels = {95};
  o.gamma = 0.5;  // Large steps drive α below 0 after a few misses.
  o.min_scores = 1;
  auto aci = AdaptiveConformal::Create(o);
  ASSERT_TRUE(aci.ok());
  for (int t = 0; t < 5; ++t) {
    ASSERT_TRUE(aci->Record(ModelForecast(1, 1.0)).ok());
    aci->Observe(100.0 * (t + 1));  // Far outside every interval.
  }
  EXPECT_LT(aci->Alpha(95, 1), 0);
  Forecast c = aci->Calibrate(ModelForecast(1, 1.0));
  EXPECT_TRUE(std::isfinite(c.Interval(95)->upper[0]));
  EXPECT_GT(c.Interval(95)->upper[0], 500);
}

TEST(ConformalTest, SerializedStateCalibratesAsTheOriginal) {
  // 600 steps fill the window (W = 500) and wrap the ring; the restored calibrator then gives the
  // same intervals, coverage and α, and keeps learning identically.
  ConformalOptions o;
  o.horizon = 3;
  o.levels = {80, 95};
  o.gamma = 0.01;
  AdaptiveConformal a = RunStream(0.5, 1.0, 600, 3);
  // Pending forecasts are not serialised: let a's age out unscored (missing values) first.
  for (int i = 0; i < 3; ++i) a.Observe(NAN);
  auto b = AdaptiveConformal::Deserialize(o, a.Serialize());
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(b->Coverage(95), a.Coverage(95));
  EXPECT_EQ(b->scored(), a.scored());
  std::mt19937 rng(5);
  std::normal_distribution<double> noise(0, 1);
  for (int t = 0; t < 300; ++t) {
    ASSERT_TRUE(a.Record(ModelForecast(3, 0.5)).ok());
    ASSERT_TRUE(b->Record(ModelForecast(3, 0.5)).ok());
    const double y = noise(rng);
    a.Observe(y);
    b->Observe(y);
  }
  const Forecast fa = a.Calibrate(ModelForecast(3, 0.5));
  const Forecast fb = b->Calibrate(ModelForecast(3, 0.5));
  for (int k = 0; k < 3; ++k) {
    EXPECT_EQ(fa.Interval(95)->upper[k], fb.Interval(95)->upper[k]) << "step " << k;
    EXPECT_EQ(fa.Interval(80)->lower[k], fb.Interval(80)->lower[k]) << "step " << k;
    EXPECT_EQ(a.Alpha(95, k + 1), b->Alpha(95, k + 1)) << "step " << k;
  }
  EXPECT_EQ(a.Coverage(80), b->Coverage(80));
}

TEST(ConformalTest, DeserializeRefusesForeignOrBrokenState) {
  ConformalOptions o;
  o.horizon = 3;
  o.levels = {80, 95};
  const std::string bytes = RunStream(1.0, 1.0, 50, 1).Serialize();
  ConformalOptions other = o;
  other.horizon = 4;
  auto r = AdaptiveConformal::Deserialize(other, bytes);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(r.status().message(), HasSubstr("saved for horizon 3"));
  r = AdaptiveConformal::Deserialize(o, bytes.substr(0, bytes.size() - 5));
  EXPECT_THAT(r.status().message(), HasSubstr("truncated"));
  r = AdaptiveConformal::Deserialize(o, bytes + "x");
  EXPECT_THAT(r.status().message(), HasSubstr("trailing"));
  std::string wrong = bytes;
  wrong[0] = 9;
  r = AdaptiveConformal::Deserialize(o, wrong);
  EXPECT_THAT(r.status().message(), HasSubstr("version 9"));
}

TEST(ConformalTest, RejectsBadOptionsAndMissingLevels) {
  ConformalOptions o;
  o.gamma = 0;
  auto aci = AdaptiveConformal::Create(o);
  EXPECT_EQ(aci.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(aci.status().message()), HasSubstr("gamma"));
  o = ConformalOptions{};
  o.window = 5;
  EXPECT_THAT(std::string(AdaptiveConformal::Create(o).status().message()), HasSubstr("window"));
  o = ConformalOptions{};
  o.levels = {99};
  auto ok = AdaptiveConformal::Create(o);
  ASSERT_TRUE(ok.ok());
  absl::Status st = ok->Record(ModelForecast(3, 1.0));
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(st.message()), HasSubstr("no 99% interval"));
}

}  // namespace
}  // namespace tidegate::forecast
