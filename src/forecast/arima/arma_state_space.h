// arma_state_space.h — internal numerical core of the ARIMA model: polynomial algebra, the
// stationary initial covariance, the Kalman and Chandrasekhar likelihood recursions, CSS.
//
// Conventions: an ARMA(p, q) polynomial pair is stored "expanded" (seasonal factors multiplied
// out) as ar[k-1] = coefficient of w_{t-k} and ma[k-1] = coefficient of e_{t-k} in
//   w_t = sum_k ar[k-1] w_{t-k} + e_t + sum_k ma[k-1] e_{t-k}.
// The state dimension is r = max(p, q + 1). All recursions run with unit innovation variance
// (sigma2 is concentrated out by the caller). Matrices are row-major std::vector<double>.
//
// Thread-safety: pure functions.
#ifndef TIDEGATE_SRC_FORECAST_ARIMA_ARMA_STATE_SPACE_H_
#define TIDEGATE_SRC_FORECAST_ARIMA_ARMA_STATE_SPACE_H_

#include <span>
#include <vector>

namespace tidegate::forecast::arima_internal {

// phi(B) Phi(B^m) multiplied out; input and output in the "ar" sign convention above
// (phi(B) = 1 - sum ar_k B^k). For the MA side pass negate = true (theta(B) = 1 + sum ma_k B^k).
std::vector<double> ExpandSeasonal(std::span<const double> nonseasonal,
                                   std::span<const double> seasonal, int period, bool negate);

// Coefficients delta with (1-B)^d (1-B^m)^D y_t = y_t - sum_k delta[k-1] y_{t-k}.
std::vector<double> DifferencingPolynomial(int d, int seasonal_d, int period);

// Jones (1980): maps unconstrained u (any reals) to the coefficients of a stationary AR polynomial
// through partial autocorrelations pacf_k = tanh(u_k) and the Durbin-Levinson recursion.
std::vector<double> PacfToAr(std::span<const double> u);

// Spectral radius of the companion matrix of 1 - sum c_k B^k: the reciprocal of the smallest root
// modulus. 0 for an empty polynomial. Stationary (invertible for MA with c = -theta) iff < 1.
double CompanionSpectralRadius(std::span<const double> c);

// First row of the stationary state covariance (length r): Cov(w_t, alpha_t[k]), from the
// autocovariances gamma(0..r) and the psi weights. False if the AR part is not stationary.
bool StationaryFirstRow(std::span<const double> ar, std::span<const double> ma,
                        std::vector<double>* row);

// Stationary covariance of the Harvey state (unit innovation variance), r x r row-major: the
// solution of P = T P T' + R R', filled from the first row in O(r^2). False if not stationary.
bool StationaryCovariance(std::span<const double> ar, std::span<const double> ma,
                          std::vector<double>* p);

// Sums of the Gaussian likelihood: sum v^2/F, sum log F, and the count of observations used.
struct FilterSums {
  double ssq = 0;
  double sumlog = 0;
  int n = 0;
  bool ok = true;
};

// Kalman filter likelihood of the (mean-removed) w; NaN entries are missing and skipped.
// If state/cov are not null they receive a_{n+1|n} and P_{n+1|n}; if std_resid is not null it
// receives v_t / sqrt(F_t) (NaN where missing). Full covariance recursion: O(r^2) per step.
FilterSums KalmanFilter(std::span<const double> ar, std::span<const double> ma,
                        std::span<const double> w, std::vector<double>* state,
                        std::vector<double>* cov, std::vector<double>* std_resid);

// Same likelihood (w must have no missing value) through the Chandrasekhar recursions, O(r) per
// step; it stops updating the gain once the increments vanish.
FilterSums ChandrasekharFilter(std::span<const double> ar, std::span<const double> ma,
                               std::span<const double> w);

// Conditional sum of squares: residuals from t = len(ar) on, earlier residuals 0; a residual that
// needs a missing value is skipped (not counted, taken as 0 afterwards).
FilterSums ConditionalSumOfSquares(std::span<const double> ar, std::span<const double> ma,
                                   std::span<const double> w);

// One step of the full Kalman filter on an existing predicted (a, P): measurement update with
// observation w (mean removed; NaN = missing) and the time update. scratch must hold r*r + r
// doubles. Sets *v and *f to the innovation and its variance (v = NaN when missing). Returns the
// largest absolute change of P. When `steady` is set (only valid for an observed w) the covariance
// is taken as converged and only the state moves: O(r) instead of O(r^2).
double KalmanStep(std::span<const double> ar, std::span<const double> ma, double w, bool steady,
                  std::span<double> a, std::span<double> p, std::span<double> scratch, double* v,
                  double* f);

// Steady-state detection for KalmanStep callers: P counts as converged once its largest change
// stayed below kSteadyTolerance for r consecutive observed steps.
inline constexpr double kSteadyTolerance = 1e-11;

// Standard normal quantile for 0 < prob < 1: Abramowitz & Stegun 26.2.23 refined by Newton steps
// on erfc (full double precision).
double NormalQuantile(double prob);

}  // namespace tidegate::forecast::arima_internal

#endif  // TIDEGATE_SRC_FORECAST_ARIMA_ARMA_STATE_SPACE_H_
