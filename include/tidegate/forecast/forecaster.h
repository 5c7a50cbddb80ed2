// tidegate/forecast/forecaster.h — the interface every forecasting model implements.
//
// A Forecaster is fitted once on a regularly spaced Series (NaN marks a missing value), then
// forecasts h steps ahead with a mean and central prediction intervals at requested levels, and
// is kept current online with Update(y) for each new observation (O(1) per call, no refit). A
// fitted model is saved with Serialize() and restored with Forecaster::Load() (in
// model_registry.h), so that models survive a daemon restart.
//
// Lifecycle and contract, for every implementation:
//   * Fit(series): OK, or
//       InvalidArgument  — the series is unusable (step <= 0, infinite values, a bad season hint),
//                          the message names what and where ("value at index 17 is inf");
//       FailedPrecondition — too few observations for even the simplest fallback of this model.
//     A model that cannot fit its full form (too short for the season, constant series, optimiser
//     failure) falls back to a simpler form, fits that, returns OK and states the fallback in
//     FitSummary::fallback. Fit may be called again; it replaces all state.
//   * Predict(h, levels): FailedPrecondition before a successful Fit; InvalidArgument for h < 1
//     or h > kMaxHorizon, or a level outside (0, 100). Otherwise every number in the Forecast is
//     finite and lower <= mean <= upper at every step and level. Predict does not change state.
//   * Update(y): advances the state by one step (y NaN = missing: the state moves on its own
//     one-step forecast). FailedPrecondition before Fit; InvalidArgument for an infinite y.
//   * Serialize()/Load(): Load(Serialize()) yields a model whose Predict output is bit-identical.
//
// Thread-safety: a Forecaster is not internally synchronised. Const methods (Predict, Summary,
// Serialize, Clone) may run concurrently with each other; Fit and Update need exclusive access.
// Use Clone() to hand a fitted model to another thread.
#ifndef TIDEGATE_FORECAST_FORECASTER_H_
#define TIDEGATE_FORECAST_FORECASTER_H_

#include <chrono>
#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "tidegate/common/clock.h"

namespace tidegate::forecast {

struct ModelContext;  // global_model.h

// Longest horizon any model must serve in one Predict call.
inline constexpr int kMaxHorizon = 100'000;

// A regularly spaced series: values[i] was observed at start + i * step. NaN = missing.
struct Series {
  std::vector<double> values;
  WallTime start{};
  Duration step = std::chrono::hours(1);
  // Seasonal periods in steps, shortest first (e.g. {24, 168} for hourly data with daily and
  // weekly cycles). A hint: a model uses the periods it supports and the data can carry. Each
  // must be >= 2. Empty = non-seasonal.
  std::vector<int> seasonal_periods;

  size_t size() const { return values.size(); }
  // Time of the observation after the last one (where a forecast's step 1 lands).
  WallTime end() const { return start + step * static_cast<int64_t>(values.size()); }
};

// OK, or InvalidArgument naming the first problem: step <= 0, an infinite value (with its
// index), a seasonal period < 2. Missing values (NaN) are allowed.
absl::Status ValidateSeries(const Series& series);

// What a caller asks of a forecast.
struct ForecastOptions {
  int horizon = 1;                        // h >= 1 steps ahead.
  std::vector<double> levels = {80, 95};  // Interval levels in percent, each in (0, 100).
  std::vector<int> seasonal_periods;      // Overrides Series::seasonal_periods when non-empty.

  // OK, or InvalidArgument naming the field and value.
  absl::Status Validate() const;
};

// One central prediction interval: P(lower[i] <= y_{n+i+1} <= upper[i]) = level / 100 (model-based,
// or calibrated by conformal.h).
struct PredictionInterval {
  double level = 95;  // Percent.
  std::vector<double> lower;
  std::vector<double> upper;
};

// The result of Predict: mean[i] forecasts y_{n+1+i}, i = 0..h-1, n = observations seen so far.
struct Forecast {
  std::vector<double> mean;
  std::vector<PredictionInterval> intervals;  // One per requested level, in the order requested.

  int horizon() const { return static_cast<int>(mean.size()); }
  // The interval at `level` (exact match), or nullptr.
  const PredictionInterval* Interval(double level) const;
};

// What a fit found, for people (the CLI prints it) and for selection (AICc, residual checks).
// Fields a model does not define stay NaN.
struct FitSummary {
  std::string model;  // Registry name: "snaive", "ets", "arima", …
  std::string spec;   // Chosen form, e.g. "ETS(A,Ad,M)", "ARIMA(1,1,1)(0,1,1)[24]".
  std::map<std::string, double> params;  // Parameter name -> estimate ("alpha", "ar1", …).
  int64_t n_obs = 0;                     // Non-missing observations used.
  int n_params = 0;                      // Estimated parameters (including sigma2 when ML).
  double log_likelihood = kNaN;
  double aic = kNaN;
  double aicc = kNaN;
  double bic = kNaN;
  double sigma2 = kNaN;  // One-step innovation variance.
  // Residual diagnostics on the one-step in-sample residuals.
  double residual_mean = kNaN;
  double residual_sd = kNaN;
  double ljung_box_p = kNaN;  // Ljung–Box portmanteau test p-value…
  int ljung_box_lag = 0;      // …over this many lags (0 = not computed).
  // Empty when the requested model was fitted; otherwise what was used instead and why, e.g.
  // "series shorter than 2 seasons: fitted naive instead of snaive".
  std::string fallback;

  static constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

  // Multi-line human-readable text.
  std::string ToString() const;
};

class Forecaster {
 public:
  virtual ~Forecaster() = default;

  // The registry name this model is made and loaded under ("snaive", "ets", …).
  virtual std::string_view Name() const = 0;

  // Fits on `series` (see the contract above). Replaces any previous fit.
  virtual absl::Status Fit(const Series& series) = 0;

  // Forecasts h steps after the last observation seen (by Fit or Update), with one interval per
  // entry of `levels` (percent, each in (0, 100)).
  virtual absl::StatusOr<Forecast> Predict(int h, std::span<const double> levels) const = 0;

  // One new observation (NaN = missing). O(1) in the series length.
  virtual absl::Status Update(double y) = 0;

  // Describes the current fit. Before Fit: model name only, everything else empty/NaN.
  virtual FitSummary Summary() const = 0;

  // A deep copy (fitted state included).
  virtual std::unique_ptr<Forecaster> Clone() const = 0;

  // The model's state as bytes. Deterministic; portable across machines of the same endianness.
  // The envelope (format tag, model name) is added by Serialize(); implementations write only
  // their own fields, preferably with serialize.h's ByteWriter.
  virtual std::string SaveState() const = 0;
  // Restores state written by SaveState() of the same model into a freshly made instance.
  // InvalidArgument (state unchanged or reset, never half-loaded and then used) if the bytes are
  // truncated or malformed.
  virtual absl::Status LoadState(std::string_view bytes) = 0;

  // "TGFC" magic, format version, Name(), then SaveState(). Load it with Forecaster::Load.
  std::string Serialize() const;
  // Makes the named model through the registry (model_registry.h) and restores it.
  // InvalidArgument for bad magic/version/truncation, NotFound for an unknown model name.
  static absl::StatusOr<std::unique_ptr<Forecaster>> Load(std::string_view bytes);
  // The same for a model that may be a global model's adapter (global_model.h): the trained
  // global model comes from `context`; FailedPrecondition when it does not provide it.
  static absl::StatusOr<std::unique_ptr<Forecaster>> Load(std::string_view bytes,
                                                          const ModelContext& context);

  // Predict() with options: levels from `options`, horizon from `options`.
  absl::StatusOr<Forecast> Predict(const ForecastOptions& options) const {
    return Predict(options.horizon, options.levels);
  }
};

// ---- Helpers shared by the models ----------------------------------------------------------

// OK, or InvalidArgument for h outside [1, kMaxHorizon] or a level outside (0, 100).
absl::Status ValidatePredictArgs(int h, std::span<const double> levels);

// Standard normal quantile Phi^{-1}(p) for p in (0, 1) (Acklam's rational approximation refined by
// one Halley step; |error| < 1e-13). Returns ±inf at 0 and 1, NaN outside [0, 1].
double NormalQuantile(double p);

// A Forecast with Gaussian intervals mean[i] ± z_{(1+level/100)/2} * sd[i]. sd must have the
// length of mean, entries >= 0 and finite.
Forecast GaussianForecast(std::vector<double> mean, std::span<const double> sd,
                          std::span<const double> levels);

}  // namespace tidegate::forecast

#endif  // TIDEGATE_FORECAST_FORECASTER_H_
