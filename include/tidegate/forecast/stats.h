// tidegate/forecast/stats.h — small statistics the models share: sample autocorrelation, the
// Ljung–Box test, the chi-square tail, residual diagnostics for a FitSummary, and gap filling.
//
// Definitions (n = number of non-missing values, ȳ their mean):
//   ACF       r_k = Σ_{t=k+1..n} (y_t − ȳ)(y_{t−k} − ȳ) / Σ_t (y_t − ȳ)²   (as R's acf(); pairs
//   with a
//             missing member are skipped, the denominator uses every non-missing value)
//   Ljung–Box Q = n(n+2) Σ_{k=1..L} r_k² / (n − k),  p = P(χ²_{L−fitdf} > Q)
//             (Ljung & Box, Biometrika 65(2), 1978)
//
// Thread-safety: pure functions.
#ifndef TIDEGATE_FORECAST_STATS_H_
#define TIDEGATE_FORECAST_STATS_H_

#include <span>
#include <vector>

#include "tidegate/forecast/forecaster.h"

namespace tidegate::forecast {

// r_1..r_max_lag (index 0 holds r_1). NaN entries when the series has < 2 non-missing values or
// zero variance.
std::vector<double> Autocorrelation(std::span<const double> y, int max_lag);

// Upper tail P(X > x) of a chi-square distribution with `dof` > 0 degrees of freedom
// (regularised upper incomplete gamma Q(dof/2, x/2); series or continued fraction as in
// Numerical Recipes §6.2). NaN for dof <= 0.
double ChiSquareSurvival(double x, double dof);

// Ljung–Box p-value of `residuals` over `lag` lags, `fitdf` degrees of freedom used by the model.
// NaN when lag - fitdf < 1 or the residuals are degenerate.
double LjungBoxPValue(std::span<const double> residuals, int lag, int fitdf);

// Fills residual_mean, residual_sd, ljung_box_p and ljung_box_lag of `summary` from one-step
// in-sample residuals (NaN = missing). Lag L = min(10, n/5) for non-seasonal data and
// min(2m, n/5) with m the shortest seasonal period, as R's checkresiduals().
void FillResidualDiagnostics(std::span<const double> residuals, std::span<const int> periods,
                             int fitdf, FitSummary* summary);

// Replaces NaN by linear interpolation between the neighbouring observed values; leading and
// trailing gaps take the nearest observed value. Returns the number of filled values. All-NaN
// input is left unchanged (and the count is y.size()).
size_t FillGapsLinear(std::vector<double>* y);

// Number of non-missing values.
size_t CountObserved(std::span<const double> y);

}  // namespace tidegate::forecast

#endif  // TIDEGATE_FORECAST_STATS_H_
