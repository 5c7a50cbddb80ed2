// tidegate/forecast/baseline.h — the M4 benchmark forecasters: naive, seasonal naive, Naive2.
//
// All three are "lag walks" on a possibly deseasonalised series d_t = y_t / s_{t mod m}:
//   naive    (lag 1, s ≡ 1)      ŷ_{n+h} = y_n
//   snaive   (lag m, s ≡ 1)      ŷ_{n+h} = y_{n − m + ((h−1) mod m) + 1}
//   naive2   (lag 1, s from classical multiplicative decomposition when the M4 seasonality test
//             says the series is seasonal, else s ≡ 1)
//                                ŷ_{n+h} = d_n · s_{(n+h−1) mod m}
// Intervals are model-based, as R forecast's lagwalk(): with σ² the mean squared one-step residual
// of d (d_t − d_{t−lag}), the h-step standard deviation is σ·sqrt(⌊(h−1)/lag⌋ + 1), multiplied by
// s_{(n+h−1) mod m} for Naive2; intervals are mean ± z·sd (Gaussian).
//
// Seasonality test (M4 benchmarks code, Makridakis et al. 2020): with n >= 3m values and r_k the
// sample ACF, the series is seasonal when |r_m| > 1.645 · sqrt((1 + 2 Σ_{k<m} r_k²) / n), a 90 %
// one-sided test of the lag-m autocorrelation (Bartlett's variance).
// Classical multiplicative decomposition (R's decompose(type = "multiplicative")): trend is the
// centred moving average of order m (2×m for even m); s_j is the mean of y_t / trend_t over t ≡ j
// (mod m), then normalised so that the m indices average 1.
//
// Missing values: a lag walk carries the last observed value of the same phase forward (like R's
// lagwalk); decomposition and the seasonality test run on a linearly interpolated copy.
// Fallbacks (stated in FitSummary::fallback): snaive without a period, or with fewer than m + 1
// values, fits naive; Naive2 with non-positive values or too short a series skips the seasonal
// adjustment. Fit fails (FailedPrecondition) only when no value is observed.
//
// Update is O(1): one ring-buffer write. Thread-safety: as for every Forecaster (forecaster.h).
#ifndef TIDEGATE_FORECAST_BASELINE_H_
#define TIDEGATE_FORECAST_BASELINE_H_

#include <memory>
#include <span>
#include <string>
#include <vector>

#include "tidegate/forecast/forecaster.h"

namespace tidegate::forecast {

std::unique_ptr<Forecaster> NewNaive();
std::unique_ptr<Forecaster> NewSeasonalNaive();
std::unique_ptr<Forecaster> NewNaive2();

// The M4 seasonality test above. False when n < 3m, m < 2, or the ACF is undefined. `y` must not
// contain NaN (interpolate first).
bool M4SeasonalityTest(std::span<const double> y, int m);

// The m multiplicative seasonal indices of classical decomposition, phase j = index mod m.
// Empty when y has fewer than 2m values or a trend value <= 0. `y` must not contain NaN.
std::vector<double> ClassicalMultiplicativeIndices(std::span<const double> y, int m);

}  // namespace tidegate::forecast

#endif  // TIDEGATE_FORECAST_BASELINE_H_
