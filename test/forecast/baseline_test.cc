#include "tidegate/forecast/baseline.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "tidegate/forecast/model_registry.h"

namespace tidegate::forecast {
namespace {

using ::testing::HasSubstr;

TEST(BaselineTest, SeasonalNaiveRepeatsLastSeasonAndWidensPerSeason) {
  auto model = NewSeasonalNaive();
  Series s;
  s.seasonal_periods = {4};
  s.values = {1, 2, 3, 4, 2, 3, 4, 5, 3, 4, 5, 6};
  ASSERT_TRUE(model->Fit(s).ok());
  const std::vector<double> levels = {95};
  auto f = model->Predict(6, levels);
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->mean, (std::vector<double>{3, 4, 5, 6, 3, 4}));
  // Every residual y_t - y_{t-4} is 1, so sigma = 1; sd = sqrt(floor((h-1)/4) + 1).
  const double z = NormalQuantile(0.975);
  EXPECT_NEAR(f->intervals[0].upper[0] - f->mean[0], z, 1e-12);
  EXPECT_NEAR(f->intervals[0].upper[4] - f->mean[4], z * std::sqrt(2.0), 1e-12);
  EXPECT_EQ(model->Summary().spec, "snaive[4]");
  ASSERT_TRUE(model->Update(10).ok());
  ASSERT_TRUE(model->Update(std::nan("")).ok());
  f = model->Predict(3, levels);
  // After 10 (phase 0) and a missing phase-1 value (carries 4 from a season ago).
  EXPECT_EQ(f->mean, (std::vector<double>{5, 6, 10}));
}

TEST(BaselineTest, SeasonalNaiveFallsBackToNaiveAndSaysSo) {
  auto model = NewSeasonalNaive();
  Series s;
  s.values = {1, 2, 3};
  ASSERT_TRUE(model->Fit(s).ok());
  EXPECT_THAT(model->Summary().fallback, HasSubstr("no seasonal period"));
  s.seasonal_periods = {24};
  ASSERT_TRUE(model->Fit(s).ok());
  EXPECT_THAT(model->Summary().fallback, HasSubstr("shorter than one season"));
  const std::vector<double> levels = {95};
  EXPECT_EQ(model->Predict(2, levels)->mean, (std::vector<double>{3, 3}));
}

TEST(BaselineTest, NaiveCarriesLastObservation) {
  auto model = NewNaive();
  Series s;
  s.values = {1, 3, 2, std::nan("")};
  ASSERT_TRUE(model->Fit(s).ok());
  const std::vector<double> levels = {80};
  auto f = model->Predict(2, levels);
  EXPECT_EQ(f->mean, (std::vector<double>{2, 2}));
  // Residuals 2, -1: sigma = sqrt(5/2); sd_h = sigma sqrt(h).
  EXPECT_NEAR(f->intervals[0].upper[1] - 2, NormalQuantile(0.9) * std::sqrt(2.5) * std::sqrt(2.0),
              1e-12);
}

TEST(BaselineTest, ClassicalIndicesRecoverAMultiplicativePattern) {
  // y = level * s_j exactly, constant level: the indices are s normalised to mean 1.
  const std::vector<double> s = {0.5, 1.0, 1.5, 1.0};
  std::vector<double> y;
  for (int t = 0; t < 40; ++t) y.push_back(100 * s[t % 4]);
  std::vector<double> idx = ClassicalMultiplicativeIndices(y, 4);
  ASSERT_EQ(idx.size(), 4u);
  for (int j = 0; j < 4; ++j) EXPECT_NEAR(idx[j], s[j], 1e-12);
  EXPECT_TRUE(M4SeasonalityTest(y, 4));
  // Too short: no test, no indices.
  std::vector<double> short_y(y.begin(), y.begin() + 7);
  EXPECT_FALSE(M4SeasonalityTest(short_y, 4));
  EXPECT_TRUE(ClassicalMultiplicativeIndices(short_y, 4).empty());
}

TEST(BaselineTest, SeasonalityTestRejectsATrendWithoutCycle) {
  std::vector<double> y;
  uint32_t st = 99;
  for (int t = 0; t < 200; ++t) {
    st = st * 1664525u + 1013904223u;
    y.push_back(50 + static_cast<double>(st >> 8) / (1 << 24));
  }
  EXPECT_FALSE(M4SeasonalityTest(y, 12));
}

TEST(BaselineTest, Naive2ReseasonalisesTheNaiveForecast) {
  const std::vector<double> s = {0.5, 1.0, 1.5, 1.0};
  Series series;
  series.seasonal_periods = {4};
  for (int t = 0; t < 40; ++t) series.values.push_back((100 + t) * s[t % 4]);
  auto model = NewNaive2();
  ASSERT_TRUE(model->Fit(series).ok());
  EXPECT_EQ(model->Summary().params.at("seasonal"), 1);
  const std::vector<double> levels = {95};
  auto f = model->Predict(4, levels);
  ASSERT_TRUE(f.ok());
  // The last deseasonalised value is y_39 / s_3, and step h lands on phase (40 + h - 1) mod 4.
  const std::vector<double> idx = ClassicalMultiplicativeIndices(series.values, 4);
  const double d = series.values[39] / idx[3];
  for (int h = 0; h < 4; ++h) EXPECT_NEAR(f->mean[h], d * idx[h], 1e-9);
  // Non-positive data: no seasonal adjustment, stated in the summary.
  series.values[2] = 0;
  ASSERT_TRUE(model->Fit(series).ok());
  EXPECT_THAT(model->Summary().fallback, HasSubstr("values <= 0"));
}

}  // namespace
}  // namespace tidegate::forecast
