#include "tidegate/forecast/backtest.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>

#include "tidegate/common/status.h"
#include "tidegate/forecast/conformal.h"
#include "tidegate/forecast/model_registry.h"

namespace tidegate::forecast {
namespace {

SeriesScores Score(const M4Series& s, const Forecast& f, double level, int period) {
  SeriesScores out;
  const double scale = MaseScale(s.train, period);
  const size_t h = std::min(s.test.size(), f.mean.size());
  std::span<const double> y(s.test.data(), h), mean(f.mean.data(), h);
  out.smape = SMape(y, mean);
  out.mase = Mase(y, mean, scale);
  if (const PredictionInterval* pi = f.Interval(level); pi != nullptr) {
    std::span<const double> lo(pi->lower.data(), h), hi(pi->upper.data(), h);
    out.msis = Msis(y, lo, hi, 1 - level / 100, scale);
    out.coverage = Coverage(y, lo, hi);
  } else {
    out.msis = out.coverage = std::numeric_limits<double>::quiet_NaN();
  }
  return out;
}

Series MakeSeries(const M4Series& s, int period) {
  Series series;
  series.values = s.train;
  series.step = std::chrono::hours(1);
  if (period >= 2) series.seasonal_periods = {period};
  return series;
}

}  // namespace

absl::StatusOr<BacktestResult> RunBacktest(
    const std::vector<M4Series>& data, const BacktestOptions& options, const Clock& clock,
    const std::function<void(size_t done, size_t total)>& progress) {
  if (options.horizon < 1 || options.horizon > kMaxHorizon) {
    return absl::InvalidArgumentError(fmt::format("horizon must be >= 1, got {}", options.horizon));
  }
  if (!(options.level > 0 && options.level < 100)) {
    return absl::InvalidArgumentError(
        fmt::format("level must be in (0, 100), got {}", options.level));
  }
  TIDEGATE_ASSIGN_OR_RETURN(auto prototype, MakeForecaster(options.model, options.context));
  const size_t total = options.limit > 0 ? std::min(options.limit, data.size()) : data.size();
  const std::vector<double> levels = {options.level};
  BacktestResult result;
  result.series.reserve(total);
  for (size_t i = 0; i < total; ++i) {
    const M4Series& s = data[i];
    const int h = static_cast<int>(std::min<size_t>(options.horizon, s.test.size()));
    const Series series = MakeSeries(s, options.period);

    // Naive2 reference.
    auto naive2 = MakeForecaster("naive2");
    if (!naive2.ok()) return naive2.status();
    absl::StatusOr<Forecast> ref = absl::UnknownError("not run");
    if (absl::Status st = (*naive2)->Fit(series); st.ok()) ref = (*naive2)->Predict(h, levels);
    SeriesScores ref_scores;
    if (ref.ok()) {
      ref_scores = Score(s, *ref, options.level, options.period);
      result.naive2.Add(ref_scores);
    }

    SeriesResult r;
    r.id = s.id;
    auto model = prototype->Clone();
    const MonoTime t0 = clock.Now();
    absl::StatusOr<Forecast> f =
        CalibratedForecast(*model, series, h, levels, options.calibrate, ConformalOptions{});
    if (!f.ok() && f.status().code() == absl::StatusCode::kFailedPrecondition &&
        options.calibrate > 0) {
      f = CalibratedForecast(*model, series, h, levels, 0, ConformalOptions{});  // Too short.
    }
    r.seconds = std::chrono::duration<double>(clock.Now() - t0).count();
    result.seconds += r.seconds;
    if (f.ok()) {
      const FitSummary summary = model->Summary();
      r.spec = summary.spec;
      r.fallback = summary.fallback;
      r.scores = Score(s, *f, options.level, options.period);
    } else {
      r.failed = true;
      r.fallback = std::string(f.status().message());
      r.scores = ref_scores;
      ++result.failures;
    }
    result.model.Add(r.scores);
    result.series.push_back(std::move(r));
    if (progress) progress(i + 1, total);
  }
  result.owa =
      Owa(result.model.smape(), result.model.mase(), result.naive2.smape(), result.naive2.mase());
  result.owa_official =
      Owa(result.model.smape(), result.model.mase(), kM4HourlyNaive2SMape, kM4HourlyNaive2Mase);
  return result;
}

}  // namespace tidegate::forecast
