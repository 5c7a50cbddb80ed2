// tidegate/forecast/arima.h — seasonal ARIMA with exact Gaussian likelihood and automatic order
// selection (the model behind the registry name "arima").
//
// An ArimaModel is a fitted SARIMA(p,d,q)(P,D,Q)_m with an optional constant, holding the Kalman
// filter state at the end of the data it has seen, so that it can forecast h steps with intervals
// and absorb new observations one at a time. Fit() estimates a given order; AutoFit() chooses the
// order as Hyndman & Khandakar (2008) do. Everything is plain data: copy, move, Serialize and Load
// freely.
//
// Model (B the backshift operator, m the seasonal period):
//   phi(B) Phi(B^m) (w_t - mu) = theta(B) Theta(B^m) e_t,   e_t ~ N(0, sigma2) i.i.d.,
//   w_t = (1 - B)^d (1 - B^m)^D y_t,
//   phi(B) = 1 - sum_i ar_i B^i, theta(B) = 1 + sum_i ma_i B^i (likewise Phi, Theta in B^m).
// mu is the "constant": the mean of y when d + D = 0, the drift per step (d = 1) or per season
// (D = 1) when d + D = 1 (reported as drift = mu / (1 or m) per step, as R reports it); it is not
// allowed when d + D >= 2. This is regression with ARIMA errors on (1, t), as R's Arima fits it.
//
// Algorithm (the math, with citations, is in docs/design/forecast-arima.md):
//   * State space of the ARMA part in Harvey's (1989) form, r = max(p + mP, q + mQ + 1):
//       w_t - mu = Z alpha_t,  alpha_{t+1} = T alpha_t + R e_{t+1},  Z = e_1',
//     T the companion matrix of the expanded AR polynomial, R = (1, theta~_1 .. theta~_{r-1})'.
//     The initial covariance is the stationary solution P = T P T' + R R', computed in O(r^2 + p^3)
//     from the autocovariances (no Lyapunov solve).
//   * Exact log-likelihood by the Kalman filter, sigma2 concentrated out:
//       loglik = -n/2 log(2 pi sigma2^) - 1/2 sum log F_t - n/2,  sigma2^ = (1/n) sum v_t^2 / F_t.
//     Without missing values the covariance recursion runs as Chandrasekhar recursions (Morf,
//     Sidhu & Kailath 1974), O(r) per step; with missing values the full filter skips them.
//   * Maximum likelihood by NLopt's BOBYQA over partial-autocorrelation (Jones 1980) coordinates,
//     which keep every candidate stationary and invertible, started from a conditional-sum-of-
//     squares (CSS) fit.
//   * AutoFit: D from a seasonal-strength test, d from repeated KPSS tests (alpha = 0.05), then the
//     stepwise search over (p, q, P, Q, constant) by AICc; for long or highly seasonal series the
//     search ranks candidates by their CSS fit and only the winner is refitted by exact ML.
//   * Forecasts and their variance come from the state space, carried through the differencing;
//     Update() runs one filter step (O(r^2), O(r) once the filter has converged).
//
// Invariants of a model returned by Fit/AutoFit/Load: every AR polynomial has its roots outside
// the unit circle, every MA polynomial too (invertible); sigma2 >= 0 and finite; the filter state
// is finite. Forecasts are finite for every horizon (intervals widen without bound only as h does).
//
// Thread-safety: const methods may be called concurrently; Update() needs exclusive access.
#ifndef TIDEGATE_FORECAST_ARIMA_H_
#define TIDEGATE_FORECAST_ARIMA_H_

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace tidegate::forecast {

// The orders of a SARIMA model. period = 1 means non-seasonal (P = D = Q must then be 0).
struct ArimaOrder {
  int p = 0, d = 0, q = 0;
  int seasonal_p = 0, seasonal_d = 0, seasonal_q = 0;
  int period = 1;
  bool constant = false;  // Mean (d + D = 0) or drift (d + D = 1). Invalid when d + D >= 2.

  friend bool operator==(const ArimaOrder&, const ArimaOrder&) = default;
};

class Forecaster;

// The "arima" Forecaster of the model registry (forecaster.h): Fit runs AutoFit with the shortest
// of Series::seasonal_periods (others are ignored, as the fit summary's fallback states); Predict
// gives Gaussian intervals from the state-space forecast variance; Update and Serialize as below.
std::unique_ptr<Forecaster> NewArima();

// Limits on orders, enforced by ValidateArimaOrder.
inline constexpr int kArimaMaxOrder = 10;    // Each of p, q.
inline constexpr int kArimaMaxSeasonal = 4;  // Each of P, Q.
inline constexpr int kArimaMaxDiff = 2;      // d.
inline constexpr int kArimaMaxPeriod = 10000;
inline constexpr int kArimaMaxHorizon = 100000;

// OK, or InvalidArgument naming the offending field and value.
absl::Status ValidateArimaOrder(const ArimaOrder& order);

// "ARIMA(1,1,1)(0,1,1)[24] with drift", the way R prints it.
std::string ArimaOrderToString(const ArimaOrder& order);

enum class ArimaMethod {
  kMaximumLikelihood,  // Exact ML, started from CSS (R's "CSS-ML").
  kConditionalSumOfSquares,
};

struct ArimaFitOptions {
  ArimaMethod method = ArimaMethod::kMaximumLikelihood;
  int max_evaluations = 2000;  // Objective evaluations per optimisation.
  absl::Status IsValid() const;
};

struct AutoArimaOptions {
  int max_p = 5, max_q = 5;
  int max_seasonal_p = 2, max_seasonal_q = 2;
  int max_order = 5;  // p + q + P + Q.
  int max_d = 2, max_seasonal_d = 1;
  bool allow_constant = true;
  // Seasonal differencing when the seasonal strength of the series exceeds this (Wang, Smith &
  // Hyndman 2006, on a classical decomposition; 0.64 is the threshold R's nsdiffs uses).
  double seasonal_strength_threshold = 0.64;
  // Rank candidates by CSS and refit only the winner by ML. kAuto: when n > 150 or period > 12
  // (the rule of R's auto.arima).
  enum class Approximation { kAuto, kAlways, kNever } approximation = Approximation::kAuto;
  int max_models = 94;  // Candidates fitted in the stepwise search.
  ArimaFitOptions fit;
  absl::Status IsValid() const;
};

// What a fit produced and how. Coefficients are on the original scale of the data.
struct ArimaFitSummary {
  ArimaOrder order;
  std::vector<double> ar, ma, seasonal_ar, seasonal_ma;
  double mu = 0;      // The constant on the differenced scale (see the file comment); 0 if none.
  double drift = 0;   // mu per step when d + D = 1 (mu / m for D = 1); the mean when d + D = 0.
  double sigma2 = 0;  // Innovation variance, ML estimate: sum v_t^2 / F_t / n.
  double sigma2_unbiased = 0;  // sum v^2/F / (n* - k), k coefficients: used for the intervals.
  double loglik = 0;
  double aic = 0, aicc = 0, bic = 0;
  int n_used = 0;  // Observations in the likelihood (non-missing, after differencing).
  int n_star = 0;  // Observed span minus d + mD (the n of AICc).
  ArimaMethod method = ArimaMethod::kMaximumLikelihood;
  int evaluations = 0;  // Objective evaluations of the final fit.
  // AutoFit only.
  int models_tried = 0;
  double kpss_statistic = 0;  // Of the series as finally differenced seasonally, before d.
  double seasonal_strength = 0;
  // Empty, or what was done instead of the requested model and why (too short, constant, ...).
  std::string fallback;
  // Ljung-Box statistic of the standardised residuals at lag min(2m, n/5) (10 if non-seasonal),
  // and its degrees of freedom (lag minus coefficients, at least 1).
  double ljung_box = 0;
  int ljung_box_df = 0;
};

// Point forecasts and their standard errors, h = 1..horizon, on the data's scale.
struct ArimaForecast {
  std::vector<double> mean;
  std::vector<double> standard_error;
  // Interval at `level` (e.g. 0.95) for step i: mean[i] -/+ z_{(1+level)/2} * standard_error[i].
  double Lower(int i, double level) const;
  double Upper(int i, double level) const;
};

class ArimaModel {
 public:
  // Fits the given order by maximum likelihood (or CSS) to y (regularly spaced; NaN = missing).
  // InvalidArgument for an invalid order or options, an infinite value (naming its index), or no
  // finite value at all. Documented fallbacks (stated in summary().fallback), never an error:
  //   * too few observations for the order (fewer than coefficients + 3 after differencing):
  //     ARIMA(0,d,0)(0,D,0) with the constant if allowed, and if even that is too short,
  //     ARIMA(0,0,0) with mean (a single observation gives a flat forecast with sigma2 = 0);
  //   * a differenced series that is constant: (0,d,0)(0,D,0) with that constant, sigma2 = 0;
  //   * an optimiser that does not converge: the best point it found.
  static absl::StatusOr<ArimaModel> Fit(std::span<const double> y, const ArimaOrder& order,
                                        const ArimaFitOptions& options = {});

  // Chooses d, D, p, q, P, Q and the constant (see the file comment) and fits the winner by ML.
  // period = 1 for non-seasonal data. Errors as Fit; short series never fail (seasonal terms are
  // dropped when n < 2 * period + 3, see the design note).
  static absl::StatusOr<ArimaModel> AutoFit(std::span<const double> y, int period,
                                            const AutoArimaOptions& options = {});

  // Mean and standard error for steps 1..horizon after the last observation seen.
  // InvalidArgument if horizon < 1 or > kArimaMaxHorizon. O(h r^2).
  absl::StatusOr<ArimaForecast> Forecast(int horizon) const;

  // Absorbs the next observation (NaN = missing): one Kalman step plus the differencing buffers.
  // InvalidArgument for +/-infinity (the model is unchanged). Never allocates.
  absl::Status Update(double y);

  // Self-describing little-endian bytes (magic, version, orders, coefficients, filter state).
  std::string Serialize() const;
  // InvalidArgument (with the field that is wrong) for bytes that are not a valid model.
  static absl::StatusOr<ArimaModel> Load(std::string_view bytes);

  const ArimaFitSummary& summary() const { return summary_; }
  const ArimaOrder& order() const { return summary_.order; }
  // Observations seen: the fitted series plus every Update.
  int64_t observations() const { return observations_; }
  // One-step-ahead prediction of the next observation (the mean of Forecast(1)).
  double NextPrediction() const;

  // One-step innovations y_t - E[y_t | past] of the fitted series on the data's scale, NaN where
  // y_t or a value its differencing needs is missing. Empty after Load (not serialised).
  const std::vector<double>& residuals() const { return residuals_; }

  // Internals exposed for tests: the state-space predicted state and covariance (units of sigma2,
  // on the scaled data), row-major r x r.
  const std::vector<double>& filter_state() const { return a_; }
  const std::vector<double>& filter_covariance() const { return p_; }

 private:
  friend class ArimaModelBuilder;
  ArimaModel() = default;
  // One observation (scaled; NaN = missing) through the differencing buffers and the filter.
  // Returns the standardised innovation v / sqrt(F), NaN if there was none. warm_fill stands in
  // for a missing value before the differencing buffers are full.
  double Step(double y_scaled, double warm_fill = 0.0);

  ArimaFitSummary summary_;
  double scale_ = 1;             // Data are divided by this before fitting.
  std::vector<double> ar_full_;  // Expanded phi(B)Phi(B^m): w_t = sum ar_full_[k] w_{t-1-k} + ...
  std::vector<double> ma_full_;  // Expanded theta(B)Theta(B^m).
  std::vector<double> delta_;    // y_t - sum delta_[k] y_{t-1-k} = w_t.
  double mu_scaled_ = 0;
  double sigma2_scaled_ = 0;  // Unbiased, for intervals.
  int r_ = 1;
  std::vector<double> a_;        // a_{t+1|t}, size r.
  std::vector<double> p_;        // P_{t+1|t}, r x r row-major.
  bool steady_ = false;          // P has converged: Update skips the covariance recursion.
  int calm_ = 0;                 // Consecutive observed steps with a negligible change of P.
  std::vector<double> scratch_;  // r*r + r doubles for KalmanStep.
  std::vector<double> y_raw_;    // Last len(delta) scaled observations, newest last (NaN kept).
  std::vector<double> y_fill_;   // Same with missing values replaced by their prediction.
  int64_t observations_ = 0;
  std::vector<double> residuals_;
};

}  // namespace tidegate::forecast

#endif  // TIDEGATE_FORECAST_ARIMA_H_
