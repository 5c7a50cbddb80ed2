// tidegate/forecast/ets.h — exponential smoothing in innovations state-space form (ETS), fitted by
// maximum likelihood and chosen automatically by AICc.
//
// EtsModel is the Hyndman et al. family of exponential smoothing models: error additive (A) or
// multiplicative (M); trend none (N), additive (A) or additive damped (Ad); season none (N),
// additive (A) or multiplicative (M). EtsModel::Fit estimates the smoothing parameters and the
// initial states of one model, or of every admissible model and keeps the one with the smallest
// AICc; the fitted model forecasts h steps ahead with prediction intervals and follows the series
// online, one observation at a time, in O(1).
//
// Algorithm (docs/design/forecast-ets.md has the derivations; R. J. Hyndman, A. B. Koehler, J. K.
// Ord, R. D. Snyder, "Forecasting with Exponential Smoothing: the state space approach", 2008):
//   States after observation t: level l_t, trend b_t, seasonal s_t (the last m seasonal values).
//   With phi = 1 for trend A, b = 0 for trend N, and mu_t = l_{t-1} + phi b_{t-1}:
//     one-step forecast     yhat_t = mu_t (+ s_{t-m} for season A, * s_{t-m} for season M)
//     innovation            e_t = y_t - yhat_t (error A)   or   (y_t - yhat_t) / yhat_t (error M)
//     season N or A:        a_t = y_t - yhat_t                      (the additive innovation)
//                           l_t = mu_t + alpha a_t,  b_t = phi b_{t-1} + beta a_t,
//                           s_t = s_{t-m} + gamma a_t
//     season M:             l_t = mu_t + alpha (y_t / s_{t-m} - mu_t)
//                           b_t = phi b_{t-1} + beta (y_t / s_{t-m} - mu_t)
//                           s_t = s_{t-m} + gamma (y_t / mu_t - s_{t-m})
//   (written in terms of y_t these updates are the same for both error types; the error type
//   changes only the likelihood and the forecast distribution).
//   Fit criterion (-2 log-likelihood up to a constant, n non-missing observations):
//     error A:  n log(sum e_t^2)             error M:  n log(sum e_t^2) + 2 sum log|yhat_t|
//   AICc = -2 log L + 2k + 2k(k+1)/(n-k-1), k = smoothing parameters + initial states + 1.
//   Parameter space ("usual" region): 1e-4 <= alpha <= 0.9999, 0 < beta < alpha,
//   0 < gamma < 1 - alpha, 0.8 <= phi <= 0.98; a fitted model whose discount matrix F - g w'
//   (of its linear analogue) has an eigenvalue outside the unit circle (not forecastable) is
//   refitted with an admissibility penalty.
//   Missing values (NaN, +-inf) contribute no error: the state advances with the one-step forecast.
//
// Invariants:
//   * Internally every value is divided by a power of two (exact in floating point) so that the
//     states are O(1): fitting and updating work unchanged from 1e-300 to 1e300.
//   * Forecasts, intervals and summaries never contain NaN (inputs too short or degenerate take a
//     documented fallback, stated in FitSummary::fallback).
//   * Update(y) leaves the model exactly where refitting the recursions over the longer series
//     with the same parameters and initial state would leave it.
//
// Thread-safety: an EtsModel is a value. Const methods (Forecast, summary, Serialize) may run
// concurrently; Update needs exclusive access. Fit and Load are pure functions.
#ifndef TIDEGATE_FORECAST_ETS_H_
#define TIDEGATE_FORECAST_ETS_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace tidegate::forecast {

enum class EtsErrorType : uint8_t { kAdditive = 0, kMultiplicative = 1 };
enum class EtsTrendType : uint8_t { kNone = 0, kAdditive = 1, kDamped = 2 };
enum class EtsSeasonType : uint8_t { kNone = 0, kAdditive = 1, kMultiplicative = 2 };

// Longest season the ETS family fits (as R's ets): longer periods are fitted without season.
inline constexpr int kMaxEtsPeriod = 24;

// One member of the family, e.g. ETS(M,Ad,A).
struct EtsSpec {
  EtsErrorType error = EtsErrorType::kAdditive;
  EtsTrendType trend = EtsTrendType::kNone;
  EtsSeasonType season = EtsSeasonType::kNone;

  // "ETS(A,N,N)", "ETS(M,Ad,M)", ...
  std::string Name() const;
  // Parses R's model code: three letters error/trend/season ("ANN", "MAM") with an optional "d"
  // after the trend letter for damping ("AAdN"); case-sensitive. InvalidArgument otherwise.
  static absl::StatusOr<EtsSpec> Parse(std::string_view code);
  // True for the linear models (error A, season N or A): analytic Gaussian intervals (class 1).
  bool IsLinear() const;

  friend bool operator==(const EtsSpec&, const EtsSpec&) = default;
};

// Smoothing parameters. beta is 0 without trend, gamma 0 without season, phi 1 unless damped.
struct EtsParams {
  double alpha = 0;
  double beta = 0;
  double gamma = 0;
  double phi = 1;
};

// A state vector in the units of the data. seasonal[j] is the seasonal value that the (j+1)-th
// next observation uses (empty without season); for multiplicative seasons it is a factor.
struct EtsState {
  double level = 0;
  double trend = 0;
  std::vector<double> seasonal;
};

enum class EtsOptimizer : uint8_t { kBobyqa = 0, kNelderMead = 1 };

struct EtsOptions {
  // Season length m in observations (24 for hourly data with a daily cycle). 1 = no season.
  // Seasonal models are tried only when 2 <= m <= kMaxEtsPeriod and there are >= 2m observations.
  int period = 1;
  // Fit this model only. Unset: try every admissible model and keep the smallest AICc. Models
  // with a multiplicative component are tried only for strictly positive data, and additive error
  // with multiplicative season (infinite forecast variance) is not tried automatically.
  std::optional<EtsSpec> spec;
  EtsOptimizer optimizer = EtsOptimizer::kBobyqa;
  // Seasonal candidates are first fitted with their m seasonal initial states held at the
  // heuristic values (a screening fit over at most 6 coordinates); the `refine_top` best of them
  // by AICc are then refitted with every initial state free, starting from the screening fit.
  // <= 0: refine every seasonal candidate (R's behaviour, several times slower for m = 24).
  int refine_top = 3;
  // Objective evaluations allowed per candidate model (each is one pass over the series).
  int max_evaluations = 2000;
  // Stop when a step changes the objective by less than this (relative).
  double objective_tolerance = 1e-10;
  // Sample paths used for the intervals of nonlinear models (class 3: seasonal M), fixed seed.
  int simulation_paths = 2000;
  uint64_t simulation_seed = 20020101;

  // OK, or InvalidArgument naming the field.
  absl::Status Validate() const;
};

// What was fitted and how well; explains itself.
struct EtsFitSummary {
  EtsSpec spec;
  int period = 1;  // m of the fitted model (1 when it has no season).
  EtsParams params;
  EtsState initial_state;
  int observations = 0;       // Non-missing observations used.
  int num_parameters = 0;     // k in the information criteria (incl. the innovation variance).
  double log_likelihood = 0;  // -0.5 * the fit criterion above (R's ets convention).
  double aic = 0;
  double aicc = 0;
  double bic = 0;
  double sigma2 = 0;    // Innovation variance: sum e_t^2 / (n - k); relative errors for error M.
  double mse = 0;       // Mean squared one-step error in the units of the data.
  int evaluations = 0;  // Objective evaluations, all candidates together.
  // Every candidate tried, with its AICc (+inf when its fit failed), in the order tried.
  std::vector<std::pair<EtsSpec, double>> candidates;
  // Empty when the requested fit happened; otherwise what was done instead and why.
  std::string fallback;

  // One paragraph: model, parameters, criteria, fallback.
  std::string ToString() const;
};

// A prediction interval for one nominal level, one bound per step.
struct EtsInterval {
  double level = 95;  // Percent.
  std::vector<double> lower;
  std::vector<double> upper;
};

struct EtsForecast {
  std::vector<double> mean;            // Point forecast per step 1..h.
  std::vector<EtsInterval> intervals;  // One per requested level, in the order requested.
};

class Forecaster;

// The "ets" Forecaster of the model registry (forecaster.h): Fit uses the largest period of
// Series::seasonal_periods that is <= kMaxEtsPeriod (others are ignored, as the fit summary's
// fallback states) and automatic model selection; Predict, Update, Serialize as EtsModel.
std::unique_ptr<Forecaster> NewEts();

class EtsModel {
 public:
  // Fits `y` (regularly spaced, NaN = missing). InvalidArgument if options are invalid or `y` has
  // no finite value. Series too short for the requested model, constant series and models whose
  // fit fails fall back to a simpler model; the summary's `fallback` says which and why.
  static absl::StatusOr<EtsModel> Fit(std::span<const double> y, const EtsOptions& options = {});

  // Builds a model from given parameters and initial state and runs the recursions over `y`
  // (no estimation). `initial.seasonal` must have `period` values when the spec has a season.
  // InvalidArgument naming the field if parameters or states are out of range or not finite.
  static absl::StatusOr<EtsModel> FromParameters(std::span<const double> y, const EtsSpec& spec,
                                                 int period, const EtsParams& params,
                                                 const EtsState& initial);

  // One step of the recursions with a new observation, O(1), no allocation. A missing (NaN or
  // infinite) observation advances the state with the one-step forecast. For models with a
  // multiplicative component, states that would become non-positive are held at a small positive
  // floor so the model stays usable.
  void Update(double y) noexcept;

  // Point forecasts and intervals for steps 1..horizon at each level in `levels_pct` (each in
  // (0, 100)). Class 1 (linear) models: exact Gaussian variance; class 2 (error M, season N/A):
  // the analytic variance of Hyndman et al. (2008, ch. 6) with a Gaussian shape (simulated beyond
  // 5000 steps, where the O(h^2) recursion gets slow); class 3 (season M): quantiles of simulated
  // sample paths (fixed seed, so repeatable). lower <= mean <= upper at every step.
  // InvalidArgument for horizon < 1 or > kMaxHorizon (forecaster.h) or a bad level.
  absl::StatusOr<EtsForecast> Forecast(int horizon, std::span<const double> levels_pct = {}) const;

  // One-step in-sample residuals e_t (relative errors for error M; NaN where y is missing) of the
  // series `y` this model was fitted on, recomputed from the fitted initial state.
  // InvalidArgument if the recursions fail on `y` (it is not the fitted series).
  absl::StatusOr<std::vector<double>> Residuals(std::span<const double> y) const;

  // The forecast for the next observation.
  double OneStepForecast() const noexcept;

  // The current state in the units of the data.
  EtsState state() const;
  const EtsFitSummary& summary() const { return summary_; }
  const EtsSpec& spec() const { return summary_.spec; }
  const EtsParams& params() const { return summary_.params; }
  // Observations seen: fitted plus updated (missing ones included).
  int64_t steps() const { return steps_; }

  // A self-describing binary encoding (magic, version, little-endian fields) of the model and its
  // summary. Load(Serialize()) gives a model that forecasts and updates identically.
  std::string Serialize() const;
  // InvalidArgument naming the field for truncated, corrupt or foreign bytes; never crashes.
  static absl::StatusOr<EtsModel> Load(std::string_view bytes);

 private:
  EtsModel() = default;
  friend class EtsModelBuilder;

  // All in scaled units (data / scale_).
  EtsSpec spec_;
  int m_ = 1;
  EtsParams params_;
  double scale_ = 1;  // A power of two.
  double level_ = 0;
  double trend_ = 0;
  std::vector<double> season_;  // Ring buffer; season_[pos_] is the next one used.
  int pos_ = 0;
  double sigma2_ = 0;  // Scaled units for error A; relative for error M.
  int64_t steps_ = 0;
  int simulation_paths_ = 2000;
  uint64_t simulation_seed_ = 20020101;
  EtsFitSummary summary_;
};

}  // namespace tidegate::forecast

#endif  // TIDEGATE_FORECAST_ETS_H_
