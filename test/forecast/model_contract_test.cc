// The Forecaster contract (forecaster.h), run against every registered model.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "tidegate/forecast/forecaster.h"
#include "tidegate/forecast/model_registry.h"

namespace tidegate::forecast {
namespace {

using ::testing::HasSubstr;

// Hourly-like series: level 100, daily cycle, mild trend, deterministic noise.
Series MakeSeries(int n, uint32_t seed = 7) {
  Series s;
  s.seasonal_periods = {24};
  uint32_t state = seed;
  for (int t = 0; t < n; ++t) {
    state = state * 1664525u + 1013904223u;
    const double noise = static_cast<double>(state >> 8) / (1 << 24) - 0.5;
    s.values.push_back(100 + 0.05 * t + 20 * std::sin(2 * M_PI * t / 24) + 4 * noise);
  }
  return s;
}

void ExpectWellFormed(const Forecast& f, int h, size_t levels) {
  ASSERT_EQ(f.horizon(), h);
  ASSERT_EQ(f.intervals.size(), levels);
  for (const auto& pi : f.intervals) {
    ASSERT_EQ(pi.lower.size(), static_cast<size_t>(h));
    for (int i = 0; i < h; ++i) {
      ASSERT_TRUE(std::isfinite(f.mean[i]) && std::isfinite(pi.lower[i]) &&
                  std::isfinite(pi.upper[i]))
          << "step " << i;
      EXPECT_LE(pi.lower[i], f.mean[i] + 1e-9);
      EXPECT_GE(pi.upper[i], f.mean[i] - 1e-9);
    }
  }
}

class ModelContractTest : public ::testing::TestWithParam<std::string> {
 protected:
  std::unique_ptr<Forecaster> Make() {
    auto m = MakeForecaster(GetParam());
    EXPECT_TRUE(m.ok()) << m.status();
    return std::move(m).value();
  }
};

TEST_P(ModelContractTest, FitPredictUpdate) {
  auto model = Make();
  EXPECT_EQ(model->Name(), GetParam());
  const std::vector<double> levels = {80, 95};
  auto before = model->Predict(4, levels);
  EXPECT_EQ(before.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(model->Update(1.0).code(), absl::StatusCode::kFailedPrecondition);

  Series s = MakeSeries(24 * 20);
  ASSERT_TRUE(model->Fit(s).ok());
  auto f = model->Predict(48, levels);
  ASSERT_TRUE(f.ok()) << f.status();
  ExpectWellFormed(*f, 48, 2);
  // 95 % intervals contain the 80 % ones.
  for (int i = 0; i < 48; ++i) {
    EXPECT_LE(f->Interval(95)->lower[i], f->Interval(80)->lower[i] + 1e-9);
    EXPECT_GE(f->Interval(95)->upper[i], f->Interval(80)->upper[i] - 1e-9);
  }
  FitSummary summary = model->Summary();
  EXPECT_EQ(summary.model, GetParam());
  EXPECT_FALSE(summary.spec.empty());
  EXPECT_GT(summary.n_obs, 0);

  ASSERT_TRUE(model->Update(150.0).ok());
  ASSERT_TRUE(model->Update(std::nan("")).ok());
  EXPECT_EQ(model->Update(INFINITY).code(), absl::StatusCode::kInvalidArgument);
  auto g = model->Predict(5, levels);
  ASSERT_TRUE(g.ok());
  ExpectWellFormed(*g, 5, 2);
}

TEST_P(ModelContractTest, RejectsBadArguments) {
  auto model = Make();
  Series s = MakeSeries(24 * 10);
  ASSERT_TRUE(model->Fit(s).ok());
  std::vector<double> ok = {95};
  std::vector<double> bad = {100};
  EXPECT_EQ(model->Predict(0, ok).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(model->Predict(3, bad).status().code(), absl::StatusCode::kInvalidArgument);
  Series inf = s;
  inf.values[5] = INFINITY;
  absl::Status st = model->Fit(inf);
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(st.message()), HasSubstr("index 5"));
  Series empty;
  empty.values = {std::nan(""), std::nan("")};
  EXPECT_EQ(model->Fit(empty).code(), absl::StatusCode::kFailedPrecondition);
}

TEST_P(ModelContractTest, SerializeLoadIsBitIdenticalAndCloneIsIndependent) {
  auto model = Make();
  ASSERT_TRUE(model->Fit(MakeSeries(24 * 12)).ok());
  ASSERT_TRUE(model->Update(110).ok());
  const std::vector<double> levels = {95};
  auto f = model->Predict(30, levels);
  ASSERT_TRUE(f.ok());

  const std::string bytes = model->Serialize();
  auto loaded = Forecaster::Load(bytes);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ((*loaded)->Name(), GetParam());
  auto g = (*loaded)->Predict(30, levels);
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(f->mean, g->mean);
  EXPECT_EQ(f->intervals[0].lower, g->intervals[0].lower);
  EXPECT_EQ(f->intervals[0].upper, g->intervals[0].upper);
  // Both continue identically.
  ASSERT_TRUE(model->Update(120).ok());
  ASSERT_TRUE((*loaded)->Update(120).ok());
  EXPECT_EQ(model->Predict(3, levels)->mean, (*loaded)->Predict(3, levels)->mean);

  // Every truncation is rejected with InvalidArgument, never a crash.
  for (size_t cut = 0; cut + 1 < bytes.size(); cut += 1 + bytes.size() / 200) {
    auto r = Forecaster::Load(std::string_view(bytes).substr(0, cut));
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << "cut " << cut;
  }

  auto clone = model->Clone();
  ASSERT_TRUE(clone->Update(1000).ok());
  EXPECT_NE(clone->Predict(1, levels)->mean, model->Predict(1, levels)->mean);
}

TEST_P(ModelContractTest, ShortAndConstantSeriesFallBackWithoutNaN) {
  auto model = Make();
  const std::vector<double> levels = {95};
  Series constant;
  constant.seasonal_periods = {24};
  constant.values.assign(100, 42.0);
  ASSERT_TRUE(model->Fit(constant).ok());
  auto f = model->Predict(10, levels);
  ASSERT_TRUE(f.ok());
  ExpectWellFormed(*f, 10, 1);
  EXPECT_NEAR(f->mean[0], 42.0, 1e-6);

  Series tiny;
  tiny.seasonal_periods = {24};
  tiny.values = {5, 6, 7};
  ASSERT_TRUE(model->Fit(tiny).ok());
  f = model->Predict(30, levels);
  ASSERT_TRUE(f.ok());
  ExpectWellFormed(*f, 30, 1);
  // Three values cannot carry a 24-period season: every seasonal-capable model must say what it
  // fitted instead (naive has nothing to fall back from).
  if (GetParam() != "naive") {
    EXPECT_FALSE(model->Summary().fallback.empty()) << model->Summary().ToString();
  }

  Series huge = MakeSeries(24 * 8);
  for (double& v : huge.values) v *= 1e12;
  ASSERT_TRUE(model->Fit(huge).ok());
  f = model->Predict(24, levels);
  ASSERT_TRUE(f.ok());
  ExpectWellFormed(*f, 24, 1);
  Series small = MakeSeries(24 * 8);
  for (double& v : small.values) v *= 1e-12;
  ASSERT_TRUE(model->Fit(small).ok());
  f = model->Predict(24, levels);
  ASSERT_TRUE(f.ok());
  ExpectWellFormed(*f, 24, 1);
}

TEST_P(ModelContractTest, MissingValuesAreTolerated) {
  auto model = Make();
  Series s = MakeSeries(24 * 10);
  for (size_t i = 3; i < s.values.size(); i += 7) s.values[i] = std::nan("");
  s.values.back() = std::nan("");
  ASSERT_TRUE(model->Fit(s).ok());
  const std::vector<double> levels = {95};
  auto f = model->Predict(24, levels);
  ASSERT_TRUE(f.ok());
  ExpectWellFormed(*f, 24, 1);
}

std::vector<std::string> AllModels() {
  std::vector<std::string> names;
  for (const auto& entry : RegisteredModels()) {
    // Global models need a trained model; test/learn runs this contract on the LSTM adapter.
    if (!entry.global) names.emplace_back(entry.name);
  }
  return names;
}

INSTANTIATE_TEST_SUITE_P(AllRegistered, ModelContractTest, ::testing::ValuesIn(AllModels()),
                         [](const auto& param_info) { return param_info.param; });

}  // namespace
}  // namespace tidegate::forecast
