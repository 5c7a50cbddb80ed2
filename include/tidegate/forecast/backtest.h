// tidegate/forecast/backtest.h — scores a model on a train/test split (the M4 protocol).
//
// For each series: fit the named model on the training values, forecast the test horizon with a
// (1 − α) interval, and score sMAPE, MASE, MSIS and coverage (metrics.h). Naive2 is run on the
// same split so that OWA is computed against the Naive2 of *this* data (on the full M4 hourly
// set it equals the official 18.383 / 2.395). Timing reads the injected Clock.
//
// A series the model cannot fit (an error, not a fallback) is recorded with its error and scored
// with the Naive2 forecast instead, so the averages always cover every series; the count of such
// series is reported.
//
// Thread-safety: RunBacktest is reentrant; it calls `progress` on the calling thread.
#ifndef TIDEGATE_FORECAST_BACKTEST_H_
#define TIDEGATE_FORECAST_BACKTEST_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "tidegate/common/clock.h"
#include "tidegate/forecast/global_model.h"
#include "tidegate/forecast/m4.h"
#include "tidegate/forecast/metrics.h"

namespace tidegate::forecast {

struct BacktestOptions {
  std::string model = "auto";  // Registry name (model_registry.h).
  int horizon = 48;
  int period = 24;    // Seasonal period hint and MASE scale lag.
  double level = 95;  // Interval level, percent; α = 1 − level/100.
  size_t limit = 0;   // Score only the first `limit` series (0 = all).
  // Adaptive conformal calibration warm-up, in steps (conformal.h CalibratedForecast); 0 = the
  // model's own intervals.
  int calibrate = 0;
  // Trained global models, for a global `model` such as "lstm" (global_model.h).
  ModelContext context;
};

struct SeriesResult {
  std::string id;
  std::string spec;      // FitSummary::spec of the fitted model.
  std::string fallback;  // FitSummary::fallback, or the fit error when Naive2 was substituted.
  bool failed = false;   // The model returned an error; scores are Naive2's.
  SeriesScores scores;
  double seconds = 0;  // Fit + predict.
};

struct BacktestResult {
  std::vector<SeriesResult> series;
  MetricAccumulator model;
  MetricAccumulator naive2;
  double owa = 0;           // Against this run's Naive2.
  double owa_official = 0;  // Against the official M4 hourly Naive2 constants.
  double seconds = 0;       // Fit + predict time of the model, summed over series.
  int failures = 0;
};

// InvalidArgument for options out of range; NotFound for an unknown model; otherwise OK (even if
// some series failed; see above).
absl::StatusOr<BacktestResult> RunBacktest(
    const std::vector<M4Series>& data, const BacktestOptions& options, const Clock& clock,
    const std::function<void(size_t done, size_t total)>& progress = nullptr);

}  // namespace tidegate::forecast

#endif  // TIDEGATE_FORECAST_BACKTEST_H_
