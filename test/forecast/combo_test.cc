// The "combo" model (combo.h). The generic Forecaster contract is checked by
// model_contract_test.cc.
#include "tidegate/forecast/combo.h"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <numbers>

#include "tidegate/forecast/global_model.h"
#include "tidegate/forecast/model_registry.h"
#include "tidegate/forecast/serialize.h"

namespace tidegate::forecast {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// A stand-in for a trained global model registered as "lstm": its adapter forecasts seasonal
// naive + 100 (so its effect on a combination is visible), and falls back to plain seasonal naive
// on a series shorter than 100 values, stating it, as the real adapter does.
class FakeAdapter final : public Forecaster {
 public:
  FakeAdapter() : inner_(MakeForecaster("snaive").value()) {}
  FakeAdapter(const FakeAdapter& o) : inner_(o.inner_->Clone()), summary_(o.summary_) {}
  std::string_view Name() const override { return "lstm"; }
  absl::Status Fit(const Series& s) override {
    if (absl::Status st = inner_->Fit(s); !st.ok()) return st;
    summary_ = inner_->Summary();
    summary_.model = "lstm";
    summary_.fallback = s.size() < 100 ? "series too short for the window: snaive" : "";
    return absl::OkStatus();
  }
  absl::StatusOr<Forecast> Predict(int h, std::span<const double> levels) const override {
    auto f = inner_->Predict(h, levels);
    if (!f.ok() || !summary_.fallback.empty()) return f;
    for (double& x : f->mean) x += 100;
    for (auto& pi : f->intervals) {
      for (double& x : pi.lower) x += 100;
      for (double& x : pi.upper) x += 100;
    }
    return f;
  }
  absl::Status Update(double y) override { return inner_->Update(y); }
  FitSummary Summary() const override { return summary_; }
  std::unique_ptr<Forecaster> Clone() const override {
    return std::make_unique<FakeAdapter>(*this);
  }
  std::string SaveState() const override {
    ByteWriter w;
    w.PutString(inner_->Serialize());
    w.PutString(summary_.fallback);
    return w.Release();
  }
  absl::Status LoadState(std::string_view bytes) override {
    ByteReader r(bytes);
    std::string inner_bytes, fallback;
    if (!r.GetString(&inner_bytes) || !r.GetString(&fallback) || !r.AtEnd()) {
      return absl::InvalidArgumentError("fake: truncated");
    }
    auto inner = Forecaster::Load(inner_bytes);
    if (!inner.ok()) return inner.status();
    inner_ = std::move(inner).value();
    summary_ = inner_->Summary();
    summary_.model = "lstm";
    summary_.fallback = fallback;
    return absl::OkStatus();
  }

 private:
  std::unique_ptr<Forecaster> inner_;
  FitSummary summary_;
};

class FakeGlobal final : public GlobalModel {
 public:
  std::string_view Name() const override { return "lstm"; }
  std::string Fingerprint() const override { return "fake"; }
  std::string Describe() const override { return "fake global model"; }
  std::unique_ptr<Forecaster> NewForecaster() const override {
    return std::make_unique<FakeAdapter>();
  }
};

ModelContext FakeContext() {
  ModelContext context;
  context.Add(std::make_shared<FakeGlobal>());
  return context;
}

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
  for (const char* combination : {"combo", "auto", "select"}) {
    o.members = {"arima", combination};
    absl::Status st = NewCombo(o)->Fit(Hourly(100));
    EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(st.message()), HasSubstr(fmt::format("member #2 '{}'", combination)));
  }
  absl::Status st;
  o.members = {"nosuch"};
  st = NewCombo(o)->Fit(Hourly(100));
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(st.message()), HasSubstr("'nosuch' is not a registered model"));
  o.members = {};
  EXPECT_EQ(NewCombo(o)->Fit(Hourly(100)).code(), absl::StatusCode::kInvalidArgument);
}

TEST(ComboTest, IntervalScaleMovesBoundsAboutTheMean) {
  const Series s = Hourly(24 * 10);
  const std::vector<double> levels = {80, 95};
  ComboOptions o;
  o.members = {"naive", "snaive", "sar"};
  auto plain = NewCombo(o);
  o.interval_scale = 0.8;
  auto scaled = NewCombo(o);
  ASSERT_TRUE(plain->Fit(s).ok());
  ASSERT_TRUE(scaled->Fit(s).ok());
  auto a = plain->Predict(30, levels).value();
  auto b = scaled->Predict(30, levels).value();
  EXPECT_EQ(a.mean, b.mean);
  for (size_t l = 0; l < levels.size(); ++l) {
    for (size_t i = 0; i < 30; ++i) {
      EXPECT_NEAR(b.intervals[l].lower[i], a.mean[i] - 0.8 * (a.mean[i] - a.intervals[l].lower[i]),
                  1e-9);
      EXPECT_NEAR(b.intervals[l].upper[i], a.mean[i] + 0.8 * (a.intervals[l].upper[i] - a.mean[i]),
                  1e-9);
    }
  }
  EXPECT_THAT(scaled->Summary().spec, HasSubstr("intervals x0.8"));
  EXPECT_DOUBLE_EQ(scaled->Summary().params.at("interval_scale"), 0.8);
  // The scale survives Serialize/Load.
  auto loaded = Forecaster::Load(scaled->Serialize());
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ((*loaded)->Predict(30, levels)->intervals[1].upper, b.intervals[1].upper);
  for (double bad : {0.0, -1.0, std::numeric_limits<double>::infinity(),
                     std::numeric_limits<double>::quiet_NaN()}) {
    o.interval_scale = bad;
    absl::Status st = NewCombo(o)->Fit(s);
    EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(std::string(st.message()), HasSubstr("interval_scale"));
  }
}

TEST(ComboTest, CombineForecastsRejectsMismatchedParts) {
  EXPECT_EQ(CombineForecasts({}, ComboOptions::Aggregate::kMedian, 1).status().code(),
            absl::StatusCode::kInvalidArgument);
  std::vector<Forecast> parts(2);
  parts[0].mean = {1, 2, 3};
  parts[1].mean = {1, 2};
  auto r = CombineForecasts(parts, ComboOptions::Aggregate::kMedian, 1);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("forecast 1 differs"));
}

TEST(ComboTest, GlobalMemberJoinsFromTheContext) {
  const Series s = Hourly(24 * 10);
  const std::vector<double> levels = {95};
  ComboOptions o;
  o.members = {"snaive", "sar", "lstm"};
  o.aggregate = ComboOptions::Aggregate::kMean;
  o.context = FakeContext();
  auto combo = NewCombo(o);
  ASSERT_TRUE(combo->Fit(s).ok());
  EXPECT_EQ(combo->Summary().fallback, "");
  EXPECT_DOUBLE_EQ(combo->Summary().params.at("members"), 3);
  // The mean of three members, one of which is seasonal naive + 100.
  auto sn = MakeForecaster("snaive").value();
  auto sar = MakeForecaster("sar").value();
  ASSERT_TRUE(sn->Fit(s).ok() && sar->Fit(s).ok());
  auto f = combo->Predict(24, levels).value();
  auto fs = sn->Predict(24, levels).value();
  auto fr = sar->Predict(24, levels).value();
  for (size_t i = 0; i < 24; ++i) {
    EXPECT_NEAR(f.mean[i], (fs.mean[i] * 2 + 100 + fr.mean[i]) / 3, 1e-9);
  }
  // Saved and loaded with the context: identical; without it the global member cannot load.
  const std::string bytes = combo->Serialize();
  auto loaded = Forecaster::Load(bytes, o.context);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ((*loaded)->Predict(24, levels)->mean, f.mean);
  auto orphan = Forecaster::Load(bytes);
  EXPECT_EQ(orphan.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(orphan.status().message()), HasSubstr("member 2"));
}

TEST(ComboTest, GlobalMemberIsLeftOutWithoutAModelOrOnAShortSeries) {
  const std::vector<double> levels = {95};
  ComboOptions classical;
  classical.members = {"snaive", "sar"};
  ComboOptions with_lstm = classical;
  with_lstm.members.push_back("lstm");
  for (const bool have_model : {false, true}) {
    // No model: left out on any series; with one: left out on a series too short for it.
    const Series s = Hourly(have_model ? 72 : 24 * 10);
    if (have_model) with_lstm.context = FakeContext();
    auto combo = NewCombo(with_lstm);
    auto reference = NewCombo(classical);
    ASSERT_TRUE(combo->Fit(s).ok());
    ASSERT_TRUE(reference->Fit(s).ok());
    EXPECT_THAT(combo->Summary().fallback, HasSubstr("classical members only, left out: lstm"));
    EXPECT_THAT(combo->Summary().fallback,
                HasSubstr(have_model ? "too short" : "no trained model loaded"));
    EXPECT_EQ(combo->Predict(24, levels)->mean, reference->Predict(24, levels)->mean);
  }
}

TEST(ComboTest, AutoIsTheValidatedCombinationWithTheLstmWhenLoaded) {
  const Series s = Hourly(24 * 10);
  auto plain = MakeForecaster("auto");
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ((*plain)->Name(), "auto");
  ASSERT_TRUE((*plain)->Fit(s).ok());
  EXPECT_EQ((*plain)->Summary().model, "auto");
  EXPECT_THAT((*plain)->Summary().fallback, HasSubstr("left out: lstm (no trained model loaded)"));
  auto with_model = MakeForecaster("auto", FakeContext());
  ASSERT_TRUE(with_model.ok());
  ASSERT_TRUE((*with_model)->Fit(s).ok());
  EXPECT_THAT((*with_model)->Summary().fallback, Not(HasSubstr("lstm")));
  EXPECT_EQ((*with_model)->Summary().params.at("members"),
            (*plain)->Summary().params.at("members") + 1);
  const ComboOptions o = AutoComboOptions(ModelContext{});
  EXPECT_TRUE(o.Validate().ok());
  EXPECT_NE(std::find(o.members.begin(), o.members.end(), "lstm"), o.members.end());
}

}  // namespace
}  // namespace tidegate::forecast
