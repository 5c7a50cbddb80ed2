// Tests for tidegate/forecast/ets.h: golden comparisons with R's forecast::ets, bad input,
// serialisation, online update, and the "ets" Forecaster.
//
// Golden reference: test/forecast/golden/ets_reference.json, written by
// test/forecast/golden/make_ets_reference.R (R 4.2, forecast 8.20) from series it generates
// with fixed seeds. Tolerances (stated once, here):
//   * Same parameters and initial states as R (EtsModel::FromParameters): log-likelihood within
//     1e-6 relative, point forecasts within 1e-6 relative, analytic (class 1/2) interval bounds
//     within 1e-4 relative of the half-width; class 3 (simulated by us, approximated by R)
//     bounds within 15 % of R's half-width (R uses a Gaussian approximation, we simulate).
//   * Our own fit of R's model: log-likelihood at least R's minus 0.5 % of |R's|, point
//     forecasts within 2 % of R's at every step.
//   * Automatic selection: the same model for the clear-cut series (additive_trend_season,
//     multiplicative_season); for every series our chosen AICc at most R's chosen AICc plus
//     0.5 % of |R's| (near ties between error types may resolve differently).
#include "tidegate/forecast/ets.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "tidegate/forecast/forecaster.h"
#include "tidegate/forecast/model_registry.h"

namespace tidegate::forecast {
namespace {

using ::testing::HasSubstr;

nlohmann::json LoadReference() {
  const auto path = std::filesystem::path(TIDEGATE_FORECAST_GOLDEN_DIR) / "ets_reference.json";
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << "cannot open " << path;
  return nlohmann::json::parse(in);
}

std::vector<double> Doubles(const nlohmann::json& j) {
  std::vector<double> v;
  for (const auto& x : j) v.push_back(x.is_null() ? NAN : x.get<double>());
  return v;
}

EtsSpec SpecOf(const nlohmann::json& fit) {
  std::string code = fit["error"].get<std::string>() + fit["trend"].get<std::string>() +
                     (fit["damped"].get<bool>() ? "d" : "") + fit["season"].get<std::string>();
  auto spec = EtsSpec::Parse(code);
  EXPECT_TRUE(spec.ok()) << spec.status();
  return *spec;
}

void ExpectNoNaN(const EtsForecast& f) {
  for (double v : f.mean) ASSERT_TRUE(std::isfinite(v));
  for (const auto& iv : f.intervals) {
    for (size_t h = 0; h < f.mean.size(); ++h) {
      ASSERT_FALSE(std::isnan(iv.lower[h]));
      ASSERT_FALSE(std::isnan(iv.upper[h]));
      ASSERT_LE(iv.lower[h], f.mean[h]);
      ASSERT_GE(iv.upper[h], f.mean[h]);
    }
  }
}

class EtsGoldenTest : public ::testing::TestWithParam<int> {
 protected:
  static void SetUpTestSuite() { ref_ = new nlohmann::json(LoadReference()); }
  static void TearDownTestSuite() { delete ref_; }
  const nlohmann::json& Case() const { return (*ref_)["cases"][GetParam()]; }
  static nlohmann::json* ref_;
};
nlohmann::json* EtsGoldenTest::ref_ = nullptr;

// Our likelihood and forecasts at R's parameters and initial states.
TEST_P(EtsGoldenTest, SameParametersGiveSameLikelihoodAndForecasts) {
  const auto& c = Case();
  const auto& fx = c["fixed"];
  SCOPED_TRACE(c["name"].get<std::string>() + " " + fx["method"].get<std::string>());
  const std::vector<double> y = Doubles(c["y"]);
  const EtsSpec spec = SpecOf(fx);
  EtsParams p{fx["alpha"].get<double>(), fx["beta"].get<double>(), fx["gamma"].get<double>(),
              fx["phi"].get<double>()};
  EtsState init{fx["level0"].get<double>(), fx["trend0"].get<double>(), Doubles(fx["seasonal0"])};
  auto model = EtsModel::FromParameters(y, spec, fx["period"].get<int>(), p, init);
  ASSERT_TRUE(model.ok()) << model.status();
  const double r_loglik = fx["loglik"].get<double>();
  EXPECT_NEAR(model->summary().log_likelihood, r_loglik, 1e-6 * std::fabs(r_loglik));
  EXPECT_NEAR(model->summary().aicc, fx["aicc"].get<double>(), 1e-6 * std::fabs(r_loglik));
  EXPECT_NEAR(model->summary().sigma2, fx["sigma2"].get<double>(),
              1e-6 * fx["sigma2"].get<double>());

  const int h = c["h"].get<int>();
  const double levels[] = {80, 95};
  auto f = model->Forecast(h, levels);
  ASSERT_TRUE(f.ok()) << f.status();
  ExpectNoNaN(*f);
  const auto mean = Doubles(fx["mean"]);
  const auto lo95 = Doubles(fx["lower95"]), hi95 = Doubles(fx["upper95"]);
  const auto lo80 = Doubles(fx["lower80"]), hi80 = Doubles(fx["upper80"]);
  const bool analytic = spec.season != EtsSeasonType::kMultiplicative;
  for (int i = 0; i < h; ++i) {
    EXPECT_NEAR(f->mean[i], mean[i], 1e-6 * std::fabs(mean[i])) << "step " << i + 1;
    const double tol95 = (analytic ? 1e-4 : 0.15) * (hi95[i] - mean[i]);
    const double tol80 = (analytic ? 1e-4 : 0.15) * (hi80[i] - mean[i]);
    EXPECT_NEAR(f->intervals[1].lower[i], lo95[i], tol95) << "step " << i + 1;
    EXPECT_NEAR(f->intervals[1].upper[i], hi95[i], tol95) << "step " << i + 1;
    EXPECT_NEAR(f->intervals[0].lower[i], lo80[i], tol80) << "step " << i + 1;
    EXPECT_NEAR(f->intervals[0].upper[i], hi80[i], tol80) << "step " << i + 1;
  }
}

// Our maximum-likelihood fit of the model R fitted.
TEST_P(EtsGoldenTest, FitOfSameModelIsAtLeastAsGoodAsR) {
  const auto& c = Case();
  const auto& fx = c["fixed"];
  SCOPED_TRACE(c["name"].get<std::string>() + " " + fx["method"].get<std::string>());
  const std::vector<double> y = Doubles(c["y"]);
  EtsOptions options;
  options.period = c["period"].get<int>();
  options.spec = SpecOf(fx);
  auto model = EtsModel::Fit(y, options);
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_EQ(model->spec(), *options.spec);
  EXPECT_EQ(model->summary().fallback, "");
  const double r_loglik = fx["loglik"].get<double>();
  EXPECT_GE(model->summary().log_likelihood, r_loglik - 0.005 * std::fabs(r_loglik))
      << model->summary().ToString();
  const int h = c["h"].get<int>();
  auto f = model->Forecast(h, std::vector<double>{95});
  ASSERT_TRUE(f.ok()) << f.status();
  ExpectNoNaN(*f);
  const auto mean = Doubles(fx["mean"]);
  for (int i = 0; i < h; ++i) {
    EXPECT_NEAR(f->mean[i], mean[i], 0.02 * std::fabs(mean[i])) << "step " << i + 1;
  }
}

TEST_P(EtsGoldenTest, AutomaticSelectionMatchesR) {
  const auto& c = Case();
  const auto& au = c["auto"];
  const std::string name = c["name"].get<std::string>();
  SCOPED_TRACE(name + " R chose " + au["method"].get<std::string>());
  const std::vector<double> y = Doubles(c["y"]);
  EtsOptions options;
  options.period = c["period"].get<int>();
  auto model = EtsModel::Fit(y, options);
  ASSERT_TRUE(model.ok()) << model.status();
  const EtsSpec r_spec = SpecOf(au);
  if (name == "additive_trend_season" || name == "multiplicative_season") {
    EXPECT_EQ(model->spec().Name(), r_spec.Name()) << model->summary().ToString();
  }
  const double r_aicc = au["aicc"].get<double>();
  EXPECT_LE(model->summary().aicc, r_aicc + 0.005 * std::fabs(r_aicc))
      << model->summary().ToString();
}

INSTANTIATE_TEST_SUITE_P(RReference, EtsGoldenTest, ::testing::Range(0, 5));

TEST(EtsReferenceFile, HasTheFiveCases) {
  const auto ref = LoadReference();
  ASSERT_EQ(ref["cases"].size(), 5u);
}

// ---- Spec and options ----------------------------------------------------------------------

TEST(EtsSpecTest, ParsesAndNamesRCodes) {
  auto s = EtsSpec::Parse("MAdM");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->Name(), "ETS(M,Ad,M)");
  EXPECT_FALSE(s->IsLinear());
  auto a = EtsSpec::Parse("AAN");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->Name(), "ETS(A,A,N)");
  EXPECT_TRUE(a->IsLinear());
}

TEST(EtsSpecTest, RejectsBadCodesNamingThePart) {
  auto bad_error = EtsSpec::Parse("XNN");
  EXPECT_EQ(bad_error.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(bad_error.status().message()), HasSubstr("error must be"));
  auto mult_trend = EtsSpec::Parse("AMN");
  EXPECT_EQ(mult_trend.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(mult_trend.status().message()), HasSubstr("multiplicative trends"));
  auto length = EtsSpec::Parse("AN");
  EXPECT_THAT(std::string(length.status().message()), HasSubstr("expected 3 letters"));
}

TEST(EtsOptionsTest, RejectsBadFields) {
  EtsOptions o;
  o.period = 0;
  EXPECT_THAT(std::string(o.Validate().message()), HasSubstr("EtsOptions.period"));
  o = EtsOptions{};
  o.spec = *EtsSpec::Parse("ANA");
  o.period = 1;
  EXPECT_EQ(o.Validate().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(o.Validate().message()), HasSubstr("is seasonal but period 1"));
  o = EtsOptions{};
  o.max_evaluations = 1;
  EXPECT_THAT(std::string(o.Validate().message()), HasSubstr("max_evaluations"));
}

EtsOptions Opts(int period, const char* code = nullptr) {
  EtsOptions o;
  o.period = period;
  if (code != nullptr) o.spec = *EtsSpec::Parse(code);
  return o;
}

// ---- Bad input -----------------------------------------------------------------------------

std::vector<double> Seasonal(int n, int m, double level, double amp, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> noise(0, 1);
  std::vector<double> y(n);
  for (int t = 0; t < n; ++t) {
    y[t] = level + 0.05 * t + amp * std::sin(2 * M_PI * t / m) + noise(rng);
  }
  return y;
}

TEST(EtsBadInputTest, AllMissingIsAnError) {
  std::vector<double> y(10, NAN);
  auto m = EtsModel::Fit(y);
  EXPECT_EQ(m.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(m.status().message()), HasSubstr("no finite value"));
  auto empty = EtsModel::Fit(std::vector<double>{});
  EXPECT_EQ(empty.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(EtsBadInputTest, ConstantSeriesFallsBackToExactLevel) {
  std::vector<double> y(50, 7.25);
  auto m = EtsModel::Fit(y, Opts(12));
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_THAT(m->summary().fallback, HasSubstr("constant series"));
  auto f = m->Forecast(10, std::vector<double>{95});
  ASSERT_TRUE(f.ok());
  ExpectNoNaN(*f);
  for (int i = 0; i < 10; ++i) {
    EXPECT_DOUBLE_EQ(f->mean[i], 7.25);
    EXPECT_DOUBLE_EQ(f->intervals[0].lower[i], 7.25);
  }
  EXPECT_FALSE(std::isnan(m->summary().log_likelihood));
  EXPECT_FALSE(std::isnan(m->summary().aicc));
}

TEST(EtsBadInputTest, TooShortSeriesFallsBackAndSaysSo) {
  std::vector<double> y = {3, 5, 4, 6};
  auto m = EtsModel::Fit(y, Opts(12));
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->spec().Name(), "ETS(A,N,N)");
  EXPECT_THAT(m->summary().fallback, HasSubstr("only 4 observations"));
  auto f = m->Forecast(5, std::vector<double>{80, 95});
  ASSERT_TRUE(f.ok());
  ExpectNoNaN(*f);
  EXPECT_FALSE(std::isnan(m->summary().aicc));

  // A single observation is a constant series.
  auto one = EtsModel::Fit(std::vector<double>{42});
  ASSERT_TRUE(one.ok());
  EXPECT_THAT(one->summary().fallback, HasSubstr("constant series"));
}

TEST(EtsBadInputTest, SeasonalRequestOnShortSeriesDropsTheSeason) {
  auto y = Seasonal(30, 24, 100, 10, 1);
  EtsOptions o;
  o.period = 24;
  o.spec = *EtsSpec::Parse("AAA");
  auto m = EtsModel::Fit(y, o);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->spec().Name(), "ETS(A,A,N)");
  EXPECT_THAT(m->summary().fallback, HasSubstr("needs >= 2 seasons"));
}

TEST(EtsBadInputTest, MultiplicativeRequestOnNonPositiveDataFallsBack) {
  auto y = Seasonal(100, 12, 0, 10, 2);  // Crosses zero.
  EtsOptions o;
  o.period = 12;
  o.spec = *EtsSpec::Parse("MNM");
  auto m = EtsModel::Fit(y, o);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->spec().Name(), "ETS(A,N,A)");
  EXPECT_THAT(m->summary().fallback, HasSubstr("strictly positive"));
  // Automatic selection never tries multiplicative models on such data.
  auto a = EtsModel::Fit(y, Opts(12));
  ASSERT_TRUE(a.ok());
  for (const auto& [spec, aicc] : a->summary().candidates) {
    EXPECT_EQ(spec.error, EtsErrorType::kAdditive) << spec.Name();
    EXPECT_NE(spec.season, EtsSeasonType::kMultiplicative) << spec.Name();
  }
}

TEST(EtsBadInputTest, LongPeriodIsIgnoredWithNote) {
  auto y = Seasonal(400, 168, 50, 5, 3);
  auto m = EtsModel::Fit(y, Opts(168));
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->spec().season, EtsSeasonType::kNone);
  EXPECT_THAT(m->summary().fallback, HasSubstr("m=168 > 24"));
}

TEST(EtsBadInputTest, MissingValuesAreSkipped) {
  auto y = Seasonal(120, 12, 100, 10, 4);
  for (int t : {0, 5, 6, 7, 50, 119}) y[t] = NAN;
  y[60] = std::numeric_limits<double>::infinity();  // Treated as missing by the core.
  auto m = EtsModel::Fit(y, Opts(12));
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->summary().observations, 113);
  auto f = m->Forecast(24, std::vector<double>{95});
  ASSERT_TRUE(f.ok());
  ExpectNoNaN(*f);
  EXPECT_NEAR(f->mean[0], 100 + 0.05 * 120 + 10 * std::sin(0.0), 4.0);
}

TEST(EtsBadInputTest, HugeAndTinyMagnitudesGiveScaledResults) {
  const auto base = Seasonal(96, 12, 100, 10, 5);
  EtsOptions o;
  o.period = 12;
  auto ref = EtsModel::Fit(base, o);
  ASSERT_TRUE(ref.ok());
  auto ref_f = ref->Forecast(12, std::vector<double>{95});
  ASSERT_TRUE(ref_f.ok());
  // Powers of two scale exactly, so the fit is the same model with scaled states.
  for (double factor : {0x1p-900, 0x1p-40, 0x1p40, 0x1p900}) {
    std::vector<double> y = base;
    for (double& v : y) v *= factor;
    auto m = EtsModel::Fit(y, o);
    ASSERT_TRUE(m.ok()) << m.status();
    EXPECT_EQ(m->spec(), ref->spec()) << factor;
    auto f = m->Forecast(12, std::vector<double>{95});
    ASSERT_TRUE(f.ok());
    ExpectNoNaN(*f);
    for (int i = 0; i < 12; ++i) {
      EXPECT_NEAR(f->mean[i] / factor, ref_f->mean[i], 1e-9 * std::fabs(ref_f->mean[i]));
      EXPECT_NEAR(f->intervals[0].upper[i] / factor, ref_f->intervals[0].upper[i],
                  1e-9 * std::fabs(ref_f->intervals[0].upper[i]));
    }
  }
  // Non-power-of-two extremes: still finite.
  for (double factor : {3e-300, 7e290}) {
    std::vector<double> y = base;
    for (double& v : y) v *= factor;
    auto m = EtsModel::Fit(y, o);
    ASSERT_TRUE(m.ok()) << m.status();
    auto f = m->Forecast(24, std::vector<double>{80, 95});
    ASSERT_TRUE(f.ok());
    ExpectNoNaN(*f);
  }
}

TEST(EtsBadInputTest, ForecastArgumentsAreChecked) {
  auto m = EtsModel::Fit(Seasonal(60, 12, 10, 1, 6));
  ASSERT_TRUE(m.ok());
  auto h0 = m->Forecast(0);
  EXPECT_EQ(h0.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(h0.status().message()), HasSubstr("horizon"));
  auto lvl = m->Forecast(3, std::vector<double>{95, 100});
  EXPECT_EQ(lvl.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(lvl.status().message()), HasSubstr("level #1"));
}

TEST(EtsBadInputTest, FromParametersRejectsOutOfRange) {
  auto spec = *EtsSpec::Parse("ANM");
  auto bad_alpha = EtsModel::FromParameters({}, spec, 4, EtsParams{1.5, 0, 0.1, 1},
                                            EtsState{1, 0, {1, 1, 1, 1}});
  EXPECT_THAT(std::string(bad_alpha.status().message()), HasSubstr("alpha"));
  auto bad_count =
      EtsModel::FromParameters({}, spec, 4, EtsParams{0.5, 0, 0.1, 1}, EtsState{1, 0, {1, 1, 1}});
  EXPECT_THAT(std::string(bad_count.status().message()), HasSubstr("seasonal count"));
  auto bad_factor = EtsModel::FromParameters({}, spec, 4, EtsParams{0.5, 0, 0.1, 1},
                                             EtsState{1, 0, {1, 1, -1, 1}});
  EXPECT_THAT(std::string(bad_factor.status().message()), HasSubstr("initial seasonal value"));
}

// ---- Online update -------------------------------------------------------------------------

class EtsUpdateTest : public ::testing::TestWithParam<const char*> {};

// Fit on a prefix, feed the rest with Update: the state equals running the fitting recursions
// over the whole series from the fitted initial state with the fitted parameters.
TEST_P(EtsUpdateTest, UpdateEqualsRefitRecursions) {
  auto y = Seasonal(150, 12, 100, 12, 7);
  y[130] = NAN;
  EtsOptions o;
  o.period = 12;
  o.spec = *EtsSpec::Parse(GetParam());
  auto fitted = EtsModel::Fit(std::span<const double>(y).first(100), o);
  ASSERT_TRUE(fitted.ok()) << fitted.status();
  EtsModel online = *fitted;
  for (size_t t = 100; t < y.size(); ++t) online.Update(y[t]);
  auto full = EtsModel::FromParameters(y, fitted->spec(), fitted->summary().period,
                                       fitted->params(), fitted->summary().initial_state);
  ASSERT_TRUE(full.ok()) << full.status();
  const EtsState a = online.state(), b = full->state();
  EXPECT_NEAR(a.level, b.level, 1e-9 * std::fabs(b.level));
  EXPECT_NEAR(a.trend, b.trend, 1e-9);
  ASSERT_EQ(a.seasonal.size(), b.seasonal.size());
  for (size_t j = 0; j < a.seasonal.size(); ++j) EXPECT_NEAR(a.seasonal[j], b.seasonal[j], 1e-9);
  EXPECT_EQ(online.steps(), 150);
  EXPECT_NEAR(online.OneStepForecast(), full->OneStepForecast(), 1e-9 * 100);
}

INSTANTIATE_TEST_SUITE_P(Specs, EtsUpdateTest,
                         ::testing::Values("ANN", "AAN", "AAdN", "ANA", "AAA", "MNN", "MAdN", "MNA",
                                           "MNM", "MAM", "MAdM"));

TEST(EtsUpdateTest, MissingAdvancesWithTheForecastAndBadValuesStayFinite) {
  auto y = Seasonal(96, 12, 100, 10, 8);
  auto m = EtsModel::Fit(y, Opts(12, "MAM"));
  ASSERT_TRUE(m.ok()) << m.status();
  auto f = m->Forecast(3);
  ASSERT_TRUE(f.ok());
  m->Update(NAN);
  EXPECT_NEAR(m->OneStepForecast(), f->mean[1], 1e-9 * std::fabs(f->mean[1]));
  // A negative, a zero and absurd values into a multiplicative model: states stay usable.
  for (double v : {-50.0, 0.0, 1e300, -1e300, std::numeric_limits<double>::infinity()}) {
    m->Update(v);
    auto g = m->Forecast(24, std::vector<double>{95});
    ASSERT_TRUE(g.ok());
    ExpectNoNaN(*g);
  }
}

// ---- Serialisation -------------------------------------------------------------------------

TEST(EtsSerializeTest, RoundTripForecastsAndUpdatesIdentically) {
  auto y = Seasonal(120, 12, 100, 10, 9);
  for (const char* code : {"ANN", "AAdA", "MAM"}) {
    auto m = EtsModel::Fit(y, Opts(12, code));
    ASSERT_TRUE(m.ok()) << m.status();
    const std::string bytes = m->Serialize();
    auto back = EtsModel::Load(bytes);
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_EQ(back->Serialize(), bytes);
    EXPECT_EQ(back->summary().ToString(), m->summary().ToString());
    m->Update(130);
    back->Update(130);
    auto f1 = m->Forecast(30, std::vector<double>{80, 95});
    auto f2 = back->Forecast(30, std::vector<double>{80, 95});
    ASSERT_TRUE(f1.ok() && f2.ok());
    EXPECT_EQ(f1->mean, f2->mean);
    EXPECT_EQ(f1->intervals[1].lower, f2->intervals[1].lower);
    EXPECT_EQ(f1->intervals[1].upper, f2->intervals[1].upper);
  }
}

TEST(EtsSerializeTest, CorruptBytesAreRejectedNotCrashed) {
  auto m = EtsModel::Fit(Seasonal(120, 12, 100, 10, 10), Opts(12));
  ASSERT_TRUE(m.ok());
  const std::string bytes = m->Serialize();
  auto bad_magic = EtsModel::Load("XXXXXXXXXXXXXXXXXXXXXXXXXXXXXX");
  EXPECT_EQ(bad_magic.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(bad_magic.status().message()), HasSubstr("bad magic"));
  auto trailing = EtsModel::Load(bytes + "x");
  EXPECT_THAT(std::string(trailing.status().message()), HasSubstr("trailing"));
  // Every truncation fails cleanly.
  for (size_t n = 0; n < bytes.size(); ++n) {
    auto t = EtsModel::Load(std::string_view(bytes).substr(0, n));
    ASSERT_FALSE(t.ok()) << n;
    ASSERT_EQ(t.status().code(), absl::StatusCode::kInvalidArgument);
  }
  // Flipping any single byte never crashes; a loaded result still forecasts without NaN.
  std::mt19937_64 rng(11);
  for (size_t i = 0; i < bytes.size(); ++i) {
    std::string b = bytes;
    b[i] = static_cast<char>(b[i] ^ static_cast<char>(1 + rng() % 255));
    auto t = EtsModel::Load(b);
    if (t.ok()) {
      auto f = t->Forecast(5, std::vector<double>{95});
      if (f.ok()) {
        for (double v : f->mean) EXPECT_FALSE(std::isnan(v)) << "byte " << i;
      }
    }
  }
}

// ---- The "ets" Forecaster ------------------------------------------------------------------

TEST(EtsForecasterTest, RegisteredAndFollowsTheContract) {
  auto made = MakeForecaster("ets");
  ASSERT_TRUE(made.ok()) << made.status();
  std::unique_ptr<Forecaster> model = *std::move(made);
  EXPECT_EQ(model->Name(), "ets");
  EXPECT_EQ(model->Predict(3, std::vector<double>{95}).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(model->Update(1).code(), absl::StatusCode::kFailedPrecondition);

  Series s;
  s.values = Seasonal(24 * 14, 24, 200, 30, 12);
  s.seasonal_periods = {24, 168};
  ASSERT_TRUE(model->Fit(s).ok());
  const FitSummary sum = model->Summary();
  EXPECT_EQ(sum.model, "ets");
  EXPECT_THAT(sum.spec, HasSubstr("[24]"));
  EXPECT_THAT(sum.fallback, HasSubstr("168 not used"));
  EXPECT_TRUE(sum.params.count("alpha"));
  EXPECT_EQ(sum.n_obs, 24 * 14);
  EXPECT_GT(sum.ljung_box_lag, 0);

  auto f = model->Predict(48, std::vector<double>{80, 95});
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->horizon(), 48);
  EXPECT_EQ(model->Update(std::numeric_limits<double>::infinity()).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(model->Update(NAN).ok());
  EXPECT_TRUE(model->Update(210).ok());

  auto loaded = Forecaster::Load(model->Serialize());
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  auto f1 = model->Predict(48, std::vector<double>{95});
  auto f2 = (*loaded)->Predict(48, std::vector<double>{95});
  ASSERT_TRUE(f1.ok() && f2.ok());
  EXPECT_EQ(f1->mean, f2->mean);
  EXPECT_EQ(f1->intervals[0].upper, f2->intervals[0].upper);
  EXPECT_EQ((*loaded)->Summary().ToString(), model->Summary().ToString());

  auto clone = model->Clone();
  EXPECT_EQ(clone->Predict(5, std::vector<double>{95})->mean,
            model->Predict(5, std::vector<double>{95})->mean);

  Series bad = s;
  bad.values[17] = std::numeric_limits<double>::infinity();
  EXPECT_EQ(model->Fit(bad).code(), absl::StatusCode::kInvalidArgument);
  Series none;
  none.values.assign(10, NAN);
  EXPECT_EQ(model->Fit(none).code(), absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace tidegate::forecast
