#include "tidegate/forecast/select.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>

#include "tidegate/forecast/model_registry.h"
#include "tidegate/forecast/serialize.h"

namespace tidegate::forecast {
namespace {

using ::testing::HasSubstr;

Series Seasonal(int n, int m) {
  Series s;
  s.seasonal_periods = {m};
  for (int t = 0; t < n; ++t) s.values.push_back(50 + 10 * std::sin(2 * M_PI * t / m));
  return s;
}

TEST(SelectTest, CrossValidationRanksSeasonalNaiveFirstOnAPureCycle) {
  SelectOptions o;
  o.candidates = {"naive", "snaive", "naive2"};
  o.folds = 2;
  auto scores = CrossValidate(Seasonal(24 * 10, 24), o);
  ASSERT_TRUE(scores.ok()) << scores.status();
  ASSERT_EQ(scores->size(), 3u);
  EXPECT_EQ((*scores)[0].name, "snaive");
  EXPECT_NEAR((*scores)[0].error, 0.0, 1e-9);
  EXPECT_EQ(scores->back().name, "naive");
  EXPECT_GT(scores->back().error, 1.0);
}

TEST(SelectTest, AutoCombinesByInverseErrorAndReportsWeights) {
  SelectOptions o;
  o.candidates = {"naive", "snaive"};
  o.combine_top = 2;
  auto model = NewSelect(o);
  Series s = Seasonal(24 * 10, 24);
  for (size_t t = 0; t < s.values.size(); ++t) s.values[t] += 0.3 * std::sin(1.7 * t);
  ASSERT_TRUE(model->Fit(s).ok());
  FitSummary summary = model->Summary();
  ASSERT_TRUE(summary.params.count("weight_snaive"));
  ASSERT_TRUE(summary.params.count("weight_naive"));
  const double ws = summary.params["weight_snaive"], wn = summary.params["weight_naive"];
  EXPECT_NEAR(ws + wn, 1.0, 1e-12);
  EXPECT_GT(ws, wn);
  // w ∝ 1/E: the weight ratio is the inverse error ratio.
  EXPECT_NEAR(ws / wn, summary.params["cv_mae_naive"] / summary.params["cv_mae_snaive"], 1e-9);
  // The combined mean is the weighted mean of the members' means.
  auto sn = MakeForecaster("snaive").value();
  auto nv = MakeForecaster("naive").value();
  ASSERT_TRUE(sn->Fit(s).ok() && nv->Fit(s).ok());
  const std::vector<double> levels = {95};
  auto f = model->Predict(5, levels);
  ASSERT_TRUE(f.ok());
  auto fs = sn->Predict(5, levels).value();
  auto fn = nv->Predict(5, levels).value();
  for (int i = 0; i < 5; ++i) {
    EXPECT_NEAR(f->mean[i], ws * fs.mean[i] + wn * fn.mean[i], 1e-9);
    EXPECT_NEAR(f->intervals[0].upper[i],
                ws * fs.intervals[0].upper[i] + wn * fn.intervals[0].upper[i], 1e-9);
  }
}

TEST(SelectTest, TooShortSeriesFallsBackToSeasonalNaive) {
  auto model = NewSelect();
  Series s = Seasonal(30, 24);
  ASSERT_TRUE(model->Fit(s).ok());
  EXPECT_THAT(model->Summary().fallback, HasSubstr("too short"));
  const std::vector<double> levels = {95};
  EXPECT_TRUE(model->Predict(3, levels).ok());
  auto scores = CrossValidate(s, SelectOptions{});
  EXPECT_EQ(scores.status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(SelectTest, RejectsBadOptions) {
  SelectOptions o;
  for (const char* combination : {"auto", "combo", "select"}) {
    o.candidates = {combination};
    EXPECT_THAT(std::string(o.Validate().message()), HasSubstr("is a combination"));
  }
  o = SelectOptions{};
  o.folds = 0;
  EXPECT_EQ(o.Validate().code(), absl::StatusCode::kInvalidArgument);
  o = SelectOptions{};
  o.candidates = {"no-such"};
  auto scores = CrossValidate(Seasonal(24 * 10, 24), o);
  EXPECT_EQ(scores.status().code(), absl::StatusCode::kNotFound);
}

TEST(SelectTest, LoadRejectsANestedCombination) {
  // A "select" whose member claims to be a combination must be refused before it is loaded, so
  // crafted bytes cannot recurse.
  auto inner = NewSelect();
  ASSERT_TRUE(inner->Fit(Seasonal(30, 24)).ok());
  ByteWriter w;
  w.PutU32(1);
  w.PutDoubles(std::vector<double>{1.0});
  w.PutString(inner->Serialize());
  w.PutString("spec");
  w.PutString("");
  w.PutI64(30);
  auto model = NewSelect();
  const absl::Status st = model->LoadState(w.Release());
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(st.message()), HasSubstr("cannot itself be 'select'"));
  // Its own state (a seasonal-naive member) loads.
  EXPECT_TRUE(model->LoadState(inner->SaveState()).ok());
}

}  // namespace
}  // namespace tidegate::forecast
