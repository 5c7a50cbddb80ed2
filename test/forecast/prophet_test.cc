// The "prophet" model (prophet.h) on generated series with known structure. The generic
// Forecaster contract is checked for it by model_contract_test.cc.
#include "tidegate/forecast/prophet.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <numbers>
#include <random>
#include <string>
#include <vector>

#include "tidegate/forecast/model_registry.h"

namespace tidegate::forecast {
namespace {

using ::testing::HasSubstr;
constexpr double kPi = std::numbers::pi;
constexpr uint64_t kSeed = 20261129;
// Largest |tidegate − R prophet| point-forecast difference, relative to max|y| (see the test).
constexpr double kGoldenTolerance = 5e-3;

// A noise source whose seed is printed by the failing test's name (kSeed).
std::vector<double> Noise(int n, double sd, uint64_t seed) {
  std::mt19937_64 gen(seed);
  std::normal_distribution<double> dist(0, sd);
  std::vector<double> out(static_cast<size_t>(n));
  for (double& v : out) v = dist(gen);
  return out;
}

ProphetOptions NoCalendar() {
  ProphetOptions o;
  o.calendar_seasonalities = false;
  return o;
}

double Rmse(const std::vector<double>& a, const std::vector<double>& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += (a[i] - b[i]) * (a[i] - b[i]);
  return std::sqrt(s / static_cast<double>(a.size()));
}

TEST(ProphetTest, TrendBreakIsFoundNearTheTrueChangepoint) {
  SCOPED_TRACE(::testing::Message() << "seed " << kSeed);
  const int n = 600, brk = 300;
  const auto noise = Noise(n, 0.3, kSeed);
  Series s;
  for (int t = 0; t < n; ++t) {
    const double trend = t < brk ? 10 + 0.02 * t : 10 + 0.02 * brk + 0.1 * (t - brk);
    s.values.push_back(trend + noise[static_cast<size_t>(t)]);
  }
  auto model = NewProphet(NoCalendar());
  ASSERT_TRUE(model->Fit(s).ok());
  const FitSummary summary = model->Summary();
  // 25 changepoints over the first 480 steps: one every ~19 steps.
  EXPECT_NEAR(summary.params.at("max_delta_step"), brk, 20) << summary.ToString();
  EXPECT_GT(summary.params.at("max_delta"), 0.04) << summary.ToString();
  EXPECT_NEAR(summary.params.at("k"), 0.02, 0.01);
  // The Laplace prior keeps most slope changes at zero.
  EXPECT_LE(summary.params.at("active_changepoints"), 12) << summary.ToString();
  // The forecast continues the recent slope.
  auto f = model->Predict(48, std::vector<double>{95});
  ASSERT_TRUE(f.ok());
  const double slope = (f->mean[47] - f->mean[0]) / 47;
  EXPECT_NEAR(slope, 0.1, 0.015);
  EXPECT_NEAR(f->mean[0], 10 + 0.02 * brk + 0.1 * (n - brk), 1.0);
}

TEST(ProphetTest, TwoSeasonalitiesAreRecovered) {
  SCOPED_TRACE(::testing::Message() << "seed " << kSeed);
  const int n = 24 * 7 * 4, h = 168;
  auto truth = [](int t) {
    return 50 + 5 * std::sin(2 * kPi * t / 24) + 3 * std::cos(2 * kPi * t / 168);
  };
  const auto noise = Noise(n, 0.2, kSeed + 1);
  Series s;
  s.seasonal_periods = {24, 168};
  for (int t = 0; t < n; ++t) s.values.push_back(truth(t) + noise[static_cast<size_t>(t)]);
  auto model = NewProphet(NoCalendar());
  ASSERT_TRUE(model->Fit(s).ok());
  EXPECT_THAT(model->Summary().spec, HasSubstr("24:10+168:10"));
  auto f = model->Predict(h, std::vector<double>{95});
  ASSERT_TRUE(f.ok());
  std::vector<double> expected;
  for (int t = n; t < n + h; ++t) expected.push_back(truth(t));
  EXPECT_LT(Rmse(f->mean, expected), 0.3);

  // With the daily cycle alone, the weekly one is missed: the error is of its amplitude.
  Series daily_only = s;
  daily_only.seasonal_periods = {24};
  ASSERT_TRUE(model->Fit(daily_only).ok());
  auto g = model->Predict(h, std::vector<double>{95});
  ASSERT_TRUE(g.ok());
  EXPECT_GT(Rmse(g->mean, expected), 1.0);
}

TEST(ProphetTest, CalendarSeasonalitiesFollowTheStep) {
  Series s;
  s.step = std::chrono::hours(1);
  s.values.assign(24 * 7 * 3, 1.0);
  for (size_t t = 0; t < s.values.size(); ++t) s.values[t] += std::sin(2 * kPi * t / 24.0);
  auto model = NewProphet();
  ASSERT_TRUE(model->Fit(s).ok());
  EXPECT_THAT(model->Summary().spec, HasSubstr("24:10+168:5"));
  // Too short for two weeks: the weekly cycle is dropped and the summary says so.
  s.values.resize(24 * 10);
  ASSERT_TRUE(model->Fit(s).ok());
  EXPECT_THAT(model->Summary().spec, HasSubstr("seasonalities=24:10,"));
  EXPECT_THAT(model->Summary().fallback, HasSubstr("seasonal period 168 dropped"));
}

TEST(ProphetTest, EventEffectIsEstimatedAndForecast) {
  SCOPED_TRACE(::testing::Message() << "seed " << kSeed);
  const int n = 24 * 7 * 6;
  const WallTime start{std::chrono::hours(24 * 20'000)};
  ProphetEvent sale;
  sale.name = "sale";
  for (int day : {4, 11, 19, 26, 33, 44}) {  // Day 44 lies in the forecast horizon.
    sale.windows.push_back(
        {start + std::chrono::hours(24 * day), start + std::chrono::hours(24 * (day + 1))});
  }
  ProphetOptions options = NoCalendar();
  options.events = {sale};
  const auto noise = Noise(n + 72, 0.5, kSeed + 2);
  auto value = [&](int t) {
    const int day = t / 24;
    const bool on = day == 4 || day == 11 || day == 19 || day == 26 || day == 33 || day == 44;
    return 20 + 4 * std::sin(2 * kPi * t / 24) + (on ? 8.0 : 0.0) + noise[static_cast<size_t>(t)];
  };
  Series s;
  s.start = start;
  s.seasonal_periods = {24};
  for (int t = 0; t < n; ++t) s.values.push_back(value(t));
  auto model = NewProphet(options);
  ASSERT_TRUE(model->Fit(s).ok());
  EXPECT_NEAR(model->Summary().params.at("event_sale"), 8.0, 0.4) << model->Summary().ToString();
  // Forecast days 42..44: day 44 carries the effect, days 42 and 43 do not.
  auto f = model->Predict(72, std::vector<double>{95});
  ASSERT_TRUE(f.ok());
  double off = 0, on = 0;
  for (int i = 0; i < 48; ++i) off += f->mean[static_cast<size_t>(i)] / 48;
  for (int i = 48; i < 72; ++i) on += f->mean[static_cast<size_t>(i)] / 24;
  EXPECT_NEAR(on - off, 8.0, 0.6);
}

TEST(ProphetTest, IntervalsCoverAtRoughlyTheNominalRate) {
  SCOPED_TRACE(::testing::Message() << "seed " << kSeed);
  // Series drawn from the model's own family: linear trend, daily cycle, Gaussian noise.
  const int n = 24 * 20, h = 24, series = 40;
  int inside95 = 0, inside80 = 0, total = 0;
  std::mt19937_64 gen(kSeed + 3);
  std::uniform_real_distribution<double> unit(0, 1);
  for (int k = 0; k < series; ++k) {
    const double level = 50 + 50 * unit(gen), slope = 0.02 * (unit(gen) - 0.5);
    const double amp = 10 * unit(gen), sd = 0.5 + 2 * unit(gen);
    const auto noise = Noise(n + h, sd, kSeed + 100 + static_cast<uint64_t>(k));
    std::vector<double> y;
    for (int t = 0; t < n + h; ++t) {
      y.push_back(level + slope * t + amp * std::sin(2 * kPi * t / 24) +
                  noise[static_cast<size_t>(t)]);
    }
    Series s;
    s.seasonal_periods = {24};
    s.values.assign(y.begin(), y.begin() + n);
    auto model = NewProphet(NoCalendar());
    ASSERT_TRUE(model->Fit(s).ok());
    auto f = model->Predict(h, std::vector<double>{80, 95});
    ASSERT_TRUE(f.ok());
    for (int i = 0; i < h; ++i) {
      const double actual = y[static_cast<size_t>(n + i)];
      const auto* p95 = f->Interval(95);
      const auto* p80 = f->Interval(80);
      inside95 += actual >= p95->lower[i] && actual <= p95->upper[i];
      inside80 += actual >= p80->lower[i] && actual <= p80->upper[i];
      ++total;
    }
  }
  const double c95 = static_cast<double>(inside95) / total;
  const double c80 = static_cast<double>(inside80) / total;
  EXPECT_NEAR(c95, 0.95, 0.035) << "80 %: " << c80;
  EXPECT_NEAR(c80, 0.80, 0.06);
}

TEST(ProphetTest, PredictIsDeterministicUnderTheSeed) {
  Series s;
  s.seasonal_periods = {24};
  const auto noise = Noise(24 * 12, 1.0, kSeed + 4);
  for (int t = 0; t < 24 * 12; ++t) {
    s.values.push_back(5 + 0.01 * t + std::sin(2 * kPi * t / 24) + noise[static_cast<size_t>(t)]);
  }
  ProphetOptions a = NoCalendar();
  auto m1 = NewProphet(a);
  auto m2 = NewProphet(a);
  ASSERT_TRUE(m1->Fit(s).ok());
  ASSERT_TRUE(m2->Fit(s).ok());
  const std::vector<double> levels = {95};
  EXPECT_EQ(m1->Predict(48, levels)->intervals[0].upper,
            m2->Predict(48, levels)->intervals[0].upper);
  a.seed += 1;
  auto m3 = NewProphet(a);
  ASSERT_TRUE(m3->Fit(s).ok());
  EXPECT_EQ(m1->Predict(48, levels)->mean, m3->Predict(48, levels)->mean);
  EXPECT_NE(m1->Predict(48, levels)->intervals[0].upper,
            m3->Predict(48, levels)->intervals[0].upper);
}

TEST(ProphetTest, SaveLoadWithEventsGivesIdenticalForecasts) {
  const WallTime start{std::chrono::hours(24 * 20'000)};
  ProphetOptions options;
  options.events = {{"launch",
                     {{start + std::chrono::hours(100), start + std::chrono::hours(130)},
                      {start + std::chrono::hours(400), start + std::chrono::hours(420)}}}};
  options.seasonalities = {{24, 6}, {12.5, 2}};
  options.uncertainty_samples = 300;
  Series s;
  s.start = start;
  const auto noise = Noise(360, 1.0, kSeed + 5);
  for (int t = 0; t < 360; ++t) {
    s.values.push_back(30 + std::cos(2 * kPi * t / 24) + (t >= 100 && t < 130 ? 5 : 0) +
                       noise[static_cast<size_t>(t)]);
  }
  auto model = NewProphet(options);
  ASSERT_TRUE(model->Fit(s).ok());
  ASSERT_TRUE(model->Update(31).ok());
  const std::vector<double> levels = {50, 99};
  auto f = model->Predict(80, levels);
  ASSERT_TRUE(f.ok());
  auto loaded = Forecaster::Load(model->Serialize());
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  auto g = (*loaded)->Predict(80, levels);
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(f->mean, g->mean);
  for (size_t l = 0; l < levels.size(); ++l) {
    EXPECT_EQ(f->intervals[l].lower, g->intervals[l].lower);
    EXPECT_EQ(f->intervals[l].upper, g->intervals[l].upper);
  }
  EXPECT_EQ((*loaded)->Summary().ToString(), model->Summary().ToString());
  // The second launch window (steps 400..419) lies in the forecast: it lifts those steps.
  EXPECT_GT(f->mean[400 - 361] - f->mean[390 - 361], 3.0);
}

TEST(ProphetTest, MissingValuesAreLeftOutOfTheFit) {
  SCOPED_TRACE(::testing::Message() << "seed " << kSeed);
  const int n = 24 * 14;
  auto truth = [](int t) { return 100 + 0.05 * t + 10 * std::sin(2 * kPi * t / 24); };
  const auto noise = Noise(n, 0.5, kSeed + 6);
  Series s;
  s.seasonal_periods = {24};
  for (int t = 0; t < n; ++t) s.values.push_back(truth(t) + noise[static_cast<size_t>(t)]);
  for (int t = 5; t < n; t += 4) s.values[static_cast<size_t>(t)] = std::nan("");
  for (int t = 100; t < 160; ++t) s.values[static_cast<size_t>(t)] = std::nan("");  // A gap.
  s.values.back() = std::nan("");
  auto model = NewProphet(NoCalendar());
  ASSERT_TRUE(model->Fit(s).ok());
  auto f = model->Predict(24, std::vector<double>{95});
  ASSERT_TRUE(f.ok());
  std::vector<double> expected;
  for (int t = n; t < n + 24; ++t) expected.push_back(truth(t));
  EXPECT_LT(Rmse(f->mean, expected), 1.0);
  EXPECT_LT(model->Summary().n_obs, n - 100);
}

TEST(ProphetTest, BadInputIsRejectedWithTheReason) {
  Series s;
  s.seasonal_periods = {24};
  for (int t = 0; t < 100; ++t) s.values.push_back(t % 24);
  auto model = NewProphet();
  ASSERT_TRUE(model->Fit(s).ok());
  const std::vector<double> nan_level = {std::nan("")};
  auto f = model->Predict(5, nan_level);
  EXPECT_EQ(f.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(f.status().message()), HasSubstr("level"));

  Series all_missing;
  all_missing.values.assign(50, std::nan(""));
  EXPECT_EQ(model->Fit(all_missing).code(), absl::StatusCode::kFailedPrecondition);

  ProphetOptions bad;
  bad.seasonalities = {{24, 4}, {0.5, 3}};
  absl::Status st = NewProphet(bad)->Fit(s);
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(st.message()), HasSubstr("seasonality #2 period"));
  bad = ProphetOptions{};
  bad.changepoint_prior_scale = -1;
  st = NewProphet(bad)->Fit(s);
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(st.message()), HasSubstr("changepoint_prior_scale"));
  bad = ProphetOptions{};
  bad.events = {{"x", {{WallTime{std::chrono::hours(5)}, WallTime{std::chrono::hours(5)}}}}};
  st = NewProphet(bad)->Fit(s);
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(st.message()), HasSubstr("event 'x' window #1"));

  // A series too short for its changepoints and season fits a simpler form and says so.
  Series tiny;
  tiny.seasonal_periods = {24};
  tiny.values = {3, 4};
  ASSERT_TRUE(model->Fit(tiny).ok());
  EXPECT_THAT(model->Summary().fallback, HasSubstr("0 changepoints instead of 25"));
  EXPECT_THAT(model->Summary().fallback, HasSubstr("seasonal period 24 dropped"));
}

// R prophet 1.0 (Debian r-cran-prophet) on the same series and settings: golden/
// prophet_reference.json, made by golden/make_prophet_reference.R. Both compute the MAP of the
// same posterior with L-BFGS, so the forecasts agree to the optimisers' tolerances.
TEST(ProphetTest, AgreesWithRProphet) {
  const auto path = std::filesystem::path(TIDEGATE_FORECAST_GOLDEN_DIR) / "prophet_reference.json";
  std::ifstream in(path);
  ASSERT_TRUE(in) << path;
  const nlohmann::json cases = nlohmann::json::parse(in);
  ASSERT_GE(cases.size(), 2u);
  for (const auto& c : cases) {
    SCOPED_TRACE(c["name"].get<std::string>());
    ProphetOptions options = NoCalendar();
    for (const auto& season : c["seasonalities"]) {
      options.seasonalities.push_back({season[0].get<double>(), season[1].get<int>()});
    }
    Series s;
    s.values = c["values"].get<std::vector<double>>();
    auto model = NewProphet(options);
    ASSERT_TRUE(model->Fit(s).ok());
    auto f = model->Predict(48, std::vector<double>{95});
    ASSERT_TRUE(f.ok());
    const auto yhat = c["yhat"].get<std::vector<double>>();
    const double scale = c["y_scale"].get<double>();
    double worst = 0;
    for (size_t i = 0; i < yhat.size(); ++i) {
      worst = std::max(worst, std::fabs(f->mean[i] - yhat[i]) / scale);
    }
    EXPECT_LT(worst, kGoldenTolerance) << "worst |tidegate - R| / max|y| over 48 steps";
    const double sigma = std::sqrt(model->Summary().sigma2) / scale;
    EXPECT_NEAR(sigma, c["sigma_obs"].get<double>(), 0.02 * c["sigma_obs"].get<double>());
  }
}

TEST(ProphetTest, RegisteredUnderItsName) {
  auto m = MakeForecaster("prophet");
  ASSERT_TRUE(m.ok());
  EXPECT_EQ((*m)->Name(), "prophet");
}

}  // namespace
}  // namespace tidegate::forecast
