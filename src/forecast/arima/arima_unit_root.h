// arima_unit_root.h — the differencing tests of automatic ARIMA: KPSS for d, seasonal strength
// for D. Internal to the ARIMA model.
//
// Thread-safety: pure functions.
#ifndef TIDEGATE_SRC_FORECAST_ARIMA_ARIMA_UNIT_ROOT_H_
#define TIDEGATE_SRC_FORECAST_ARIMA_ARIMA_UNIT_ROOT_H_

#include <span>

namespace tidegate::forecast::arima_internal {

// 5 % critical value of the KPSS level-stationarity statistic (Kwiatkowski et al. 1992, Table 1).
inline constexpr double kKpssCritical5 = 0.463;

// Bartlett-window lag of the long-run variance, l = floor(3 sqrt(n) / 13) (Hobijn, Franses & Ooms
// 2004; the choice of R's ndiffs).
int KpssLag(int n);

// KPSS statistic for level stationarity of the non-missing values of x (taken in order):
//   eta = sum_t S_t^2 / (n^2 s^2(l)),  S_t = sum_{i<=t} (x_i - mean),
//   s^2(l) = (1/n) sum e_t^2 + (2/n) sum_{s=1}^{l} (1 - s/(l+1)) sum_{t>s} e_t e_{t-s}.
// 0 for fewer than 3 values or a constant series.
double KpssStatistic(std::span<const double> x);

// Number of first differences (<= max_d) after which KPSS no longer rejects level stationarity
// at 5 %; stops early on a constant series. *first_stat receives the statistic of x itself.
int KpssDifferences(std::span<const double> x, int max_d, double* first_stat);

// Seasonal strength F_S = max(0, 1 - Var(R) / Var(S + R)) of a classical additive decomposition
// (centred 2 x m moving-average trend, seasonal means of the detrended series), Wang, Smith &
// Hyndman (2006). NaN-aware. 0 when fewer than two full seasons are available.
double SeasonalStrength(std::span<const double> x, int period);

}  // namespace tidegate::forecast::arima_internal

#endif  // TIDEGATE_SRC_FORECAST_ARIMA_ARIMA_UNIT_ROOT_H_
