#include "tidegate/forecast/forecaster.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "tidegate/forecast/model_registry.h"
#include "tidegate/forecast/serialize.h"

namespace tidegate::forecast {
namespace {

using ::testing::HasSubstr;

TEST(NormalQuantileTest, MatchesReferenceValues) {
  // Reference: R qnorm() to 15 digits.
  EXPECT_NEAR(NormalQuantile(0.975), 1.959963984540054, 1e-13);
  EXPECT_NEAR(NormalQuantile(0.9), 1.281551565544601, 1e-13);
  EXPECT_NEAR(NormalQuantile(0.5), 0.0, 1e-15);
  EXPECT_NEAR(NormalQuantile(0.001), -3.090232306167813, 1e-12);
  EXPECT_NEAR(NormalQuantile(1e-10), -6.361340902404056, 1e-10);
  EXPECT_NEAR(NormalQuantile(0.999999), 4.753424308822899, 1e-10);
  EXPECT_EQ(NormalQuantile(0), -std::numeric_limits<double>::infinity());
  EXPECT_EQ(NormalQuantile(1), std::numeric_limits<double>::infinity());
  EXPECT_TRUE(std::isnan(NormalQuantile(1.5)));
  EXPECT_TRUE(std::isnan(NormalQuantile(std::nan(""))));
}

TEST(GaussianForecastTest, SymmetricIntervalsPerLevel) {
  std::vector<double> sd = {1.0, 2.0};
  std::vector<double> levels = {80, 95};
  Forecast f = GaussianForecast({10.0, 20.0}, sd, levels);
  ASSERT_EQ(f.horizon(), 2);
  ASSERT_EQ(f.intervals.size(), 2u);
  const PredictionInterval* p95 = f.Interval(95);
  ASSERT_NE(p95, nullptr);
  EXPECT_NEAR(p95->upper[1], 20 + 2 * 1.959963984540054, 1e-12);
  EXPECT_NEAR(p95->lower[0], 10 - 1.959963984540054, 1e-12);
  EXPECT_NEAR(f.Interval(80)->upper[0], 10 + 1.281551565544601, 1e-12);
  EXPECT_EQ(f.Interval(90), nullptr);
}

TEST(ValidateSeriesTest, NamesTheProblem) {
  Series s;
  s.values = {1, std::nan(""), 3};
  EXPECT_TRUE(ValidateSeries(s).ok());
  s.values[2] = std::numeric_limits<double>::infinity();
  absl::Status st = ValidateSeries(s);
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(st.message()), HasSubstr("index 2"));
  s.values[2] = 3;
  s.seasonal_periods = {24, 1};
  st = ValidateSeries(s);
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(st.message()), HasSubstr("seasonal period #2"));
  s.seasonal_periods = {};
  s.step = Duration(0);
  st = ValidateSeries(s);
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(st.message()), HasSubstr("step must be positive"));
}

TEST(ValidatePredictArgsTest, RejectsBadHorizonAndLevel) {
  std::vector<double> ok = {80, 95};
  EXPECT_TRUE(ValidatePredictArgs(48, ok).ok());
  absl::Status st = ValidatePredictArgs(0, ok);
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(st.message()), HasSubstr("horizon"));
  std::vector<double> bad = {95, 100};
  st = ValidatePredictArgs(1, bad);
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(st.message()), HasSubstr("got 100"));
  ForecastOptions options;
  options.seasonal_periods = {0};
  st = options.Validate();
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(st.message()), HasSubstr("seasonal period #1"));
}

TEST(SerializeTest, ByteReaderRejectsTruncation) {
  ByteWriter w;
  w.PutU32(7);
  w.PutDoubles({1.5, 2.5});
  w.PutString("abc");
  std::string bytes = w.Release();
  ByteReader r(bytes);
  uint32_t v;
  std::vector<double> d;
  std::string s;
  ASSERT_TRUE(r.GetU32(&v) && r.GetDoubles(&d) && r.GetString(&s));
  EXPECT_TRUE(r.AtEnd());
  EXPECT_EQ(v, 7u);
  EXPECT_EQ(d, (std::vector<double>{1.5, 2.5}));
  EXPECT_EQ(s, "abc");
  for (size_t cut = 0; cut < bytes.size(); ++cut) {
    ByteReader t(std::string_view(bytes).substr(0, cut));
    bool all = t.GetU32(&v) && t.GetDoubles(&d) && t.GetString(&s);
    EXPECT_FALSE(all) << "cut at " << cut;
  }
}

TEST(LoadTest, RejectsGarbageWithSpecificErrors) {
  auto r = Forecaster::Load("nope");
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("bad magic"));
  r = Forecaster::Load("TGFC\x01");
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("truncated"));
  ByteWriter w;
  w.PutU32(1);
  w.PutString("no-such-model");
  w.PutString("");
  r = Forecaster::Load("TGFC" + w.Release());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("no-such-model"));
}

TEST(RegistryTest, UnknownNameIsNotFound) {
  auto r = MakeForecaster("does-not-exist");
  EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(r.status().message()),
              HasSubstr("unknown forecasting model 'does-not-exist'"));
}

}  // namespace
}  // namespace tidegate::forecast
