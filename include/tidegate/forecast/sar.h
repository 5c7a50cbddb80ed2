// tidegate/forecast/sar.h — "sar": a seasonal linear autoregression with daily and weekly lags,
// for data with one or two seasonal cycles (hourly traffic: 24 and 168).
//
// Algorithm. Transform x_t = log y_t when every observed y_t > 0 (else x_t = y_t), standardise
// z_t = (x_t − c)/s with the sample mean c and sd s, and regress
//     z_t = β_0 + Σ_{k∈K} β_k z_{t−k} + ε_t,   ε_t ~ N(0, σ²),
// on the lag set K = {1..p} ∪ {m−1, m, m+1 : m a seasonal period with n >= 3m}, p = min(m_1, 24)
// (12 without a season), by ridge least squares (λ = 10⁻³ per row, solved with Eigen's LDLT).
// Forecasts iterate the recursion; the h-step variance is σ² Σ_{j<h} ψ_j² with the MA(∞) weights
// ψ_0 = 1, ψ_j = Σ_{k∈K, k<=j} β_k ψ_{j−k} (Box & Jenkins). Bounds are back-transformed, so on the
// log scale intervals are asymmetric and the point forecast is the median.
// Guards: recursive forecasts and interval bounds are clamped to the history's z range widened by
// 3 ranges on each side (an explosive fit cannot produce inf); missing inputs are linearly
// interpolated for fitting, and Update(NaN) feeds the one-step forecast back.
// Fallbacks (stated): fewer than 2p + 10 usable rows → seasonal naive's lag set K = {m} (or {1}).
//
// Update is O(1): one ring-buffer write. Thread-safety: as every Forecaster (forecaster.h).
#ifndef TIDEGATE_FORECAST_SAR_H_
#define TIDEGATE_FORECAST_SAR_H_

#include <memory>

#include "tidegate/forecast/forecaster.h"

namespace tidegate::forecast {

std::unique_ptr<Forecaster> NewSeasonalAutoregression();

}  // namespace tidegate::forecast

#endif  // TIDEGATE_FORECAST_SAR_H_
