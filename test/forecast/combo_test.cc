// The "combo" model (combo.h). The generic Forecaster contract is checked by
// model_contract_test.cc.
#include "tidegate/forecast/combo.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numbers>

#include "tidegate/forecast/model_registry.h"

namespace tidegate::forecast {
namespace {

using ::testing::HasSubstr;

Series Hourly(int n) {
  Series s;
  s.seasonal_periods = {24};
  for (int t = 0; t < n; ++t) {
    s.values.push_back(40 + 0.03 * t + 6 * std::sin(2 * std::numbers::pi * t / 24) +
                       ((t * 7919) % 13) * 0.3);
  }
  return s;
}

TEST(ComboTest, MedianAndMeanOfMembersPerStepAndBound) {
  const Series s = Hourly(24 * 10);
  const std::vector<std::string> names = {"naive", "snaive", "sar"};
  const std::vector<double> levels = {90};
  std::vector<Forecast> parts;
  for (const auto& name : names) {
    auto m = MakeForecaster(name);
    ASSERT_TRUE(m.ok());
    ASSERT_TRUE((*m)->Fit(s).ok());
    parts.push_back(*(*m)->Predict(30, levels));
  }
  for (auto how : {ComboOptions::Aggregate::kMedian, ComboOptions::Aggregate::kMean}) {
    ComboOptions o;
    o.members = names;
    o.aggregate = how;
    auto combo = NewCombo(o);
    ASSERT_TRUE(combo->Fit(s).ok());
    auto f = combo->Predict(30, levels);
    ASSERT_TRUE(f.ok());
    for (size_t i = 0; i < 30; ++i) {
      auto agg = [&](auto get) {
        std::vector<double> v;
        for (const auto& p : parts) v.push_back(get(p));
        std::sort(v.begin(), v.end());
        return how == ComboOptions::Aggregate::kMedian ? v[1] : (v[0] + v[1] + v[2]) / 3;
      };
      const double mean = agg([&](const Forecast& p) { return p.mean[i]; });
      EXPECT_DOUBLE_EQ(f->mean[i], mean);
      EXPECT_DOUBLE_EQ(
          f->intervals[0].lower[i],
          std::min(mean, agg([&](const Forecast& p) { return p.intervals[0].lower[i]; })));
      EXPECT_DOUBLE_EQ(
          f->intervals[0].upper[i],
          std::max(mean, agg([&](const Forecast& p) { return p.intervals[0].upper[i]; })));
    }
    EXPECT_THAT(combo->Summary().spec,
                HasSubstr(how == ComboOptions::Aggregate::kMedian ? "median" : "mean"));
  }
}

TEST(ComboTest, SaveLoadKeepsMembersAndAggregate) {
  ComboOptions o;
  o.members = {"snaive", "sar"};
  o.aggregate = ComboOptions::Aggregate::kMean;
  auto combo = NewCombo(o);
  ASSERT_TRUE(combo->Fit(Hourly(24 * 8)).ok());
  ASSERT_TRUE(combo->Update(50).ok());
  const std::vector<double> levels = {95};
  auto loaded = Forecaster::Load(combo->Serialize());
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ((*loaded)->Predict(24, levels)->mean, combo->Predict(24, levels)->mean);
  EXPECT_EQ((*loaded)->Summary().spec, combo->Summary().spec);
}

TEST(ComboTest, BadMembersAreRejected) {
  ComboOptions o;
  o.members = {"arima", "combo"};
  absl::Status st = NewCombo(o)->Fit(Hourly(100));
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(st.message()), HasSubstr("member #2 'combo'"));
  o.members = {"nosuch"};
  st = NewCombo(o)->Fit(Hourly(100));
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(st.message()), HasSubstr("'nosuch' is not a registered model"));
  o.members = {};
  EXPECT_EQ(NewCombo(o)->Fit(Hourly(100)).code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace tidegate::forecast
