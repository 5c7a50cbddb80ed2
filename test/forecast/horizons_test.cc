#include "tidegate/forecast/horizons.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>

namespace tidegate::forecast {
namespace {

using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;
using ::testing::HasSubstr;

TEST(HorizonsTest, AggregatesFromTheEndAndScalesPartialSums) {
  Series s;
  s.step = seconds(10);
  s.values = {100, 1, 2, 3, std::nan(""), 5, 6};
  auto agg = AggregateSeries(s, 3, Aggregation::kSum);
  ASSERT_TRUE(agg.ok());
  // Leading remainder (100) dropped; buckets {1,2,3}, {nan,5,6} -> 6 and (11 * 3/2).
  EXPECT_EQ(agg->values, (std::vector<double>{6, 16.5}));
  EXPECT_EQ(agg->step, seconds(30));
  EXPECT_EQ(agg->start, s.start + seconds(10));
  auto mean = AggregateSeries(s, 3, Aggregation::kMean);
  EXPECT_EQ(mean->values, (std::vector<double>{2, 5.5}));
  EXPECT_EQ(AggregateSeries(s, 0, Aggregation::kSum).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(HorizonsTest, CalendarPeriods) {
  EXPECT_EQ(CalendarPeriods(hours(1), 24 * 14), (std::vector<int>{24, 168}));
  EXPECT_EQ(CalendarPeriods(hours(1), 100), (std::vector<int>{24}));
  EXPECT_EQ(CalendarPeriods(minutes(1), 5000), (std::vector<int>{1440}));
  EXPECT_TRUE(CalendarPeriods(seconds(7), 100000).empty());
}

TEST(HorizonsTest, ShortMediumLongFromTenSecondData) {
  // Three days of 10 s counts with a daily cycle.
  Series s;
  s.step = seconds(10);
  for (int t = 0; t < 3 * 8640; ++t) {
    s.values.push_back(20 + 10 * std::sin(2 * M_PI * t / 8640.0) + (t % 7) * 0.1);
  }
  MultiHorizonOptions o;
  o.model = "snaive";
  auto result = ForecastHorizons(s, o);
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->size(), 3u);
  const auto& short_h = (*result)[0];
  EXPECT_EQ(short_h.spec.name, "short");
  EXPECT_EQ(short_h.step, seconds(10));
  EXPECT_EQ(short_h.forecast.horizon(), 6);
  const auto& medium = (*result)[1];
  EXPECT_EQ(medium.step, minutes(1));
  EXPECT_EQ(medium.forecast.horizon(), 60);
  EXPECT_EQ(medium.history.seasonal_periods, (std::vector<int>{1440}));
  const auto& long_h = (*result)[2];
  EXPECT_EQ(long_h.step, hours(1));
  EXPECT_EQ(long_h.forecast.horizon(), 24);
  EXPECT_EQ(long_h.history.seasonal_periods, (std::vector<int>{24}));
  EXPECT_EQ(long_h.start, s.end());
  // An hourly total is about 360 × the 10 s mean level of 20.
  EXPECT_NEAR(long_h.forecast.mean[0], 360 * 20, 360 * 12);
}

TEST(HorizonsTest, RejectsResolutionNotMultipleOfStep) {
  Series s;
  s.step = seconds(10);
  s.values.assign(100, 1.0);
  MultiHorizonOptions o;
  o.model = "naive";
  o.horizons = {{"odd", minutes(1), seconds(15)}};
  auto r = ForecastHorizons(s, o);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("horizon 'odd'"));
  o.horizons = {{"big", hours(1), hours(1)}};
  r = ForecastHorizons(s, o);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace tidegate::forecast
