// Internal: the ETS recursions shared by fitting, updating and simulation (see
// include/tidegate/forecast/ets.h for the equations). Not a public header.
//
// Everything here works in scaled units (data divided by a power of two) so that values are O(1).
//
// Thread-safety: stateless functions.
#ifndef TIDEGATE_SRC_FORECAST_ETS_ETS_FILTER_H_
#define TIDEGATE_SRC_FORECAST_ETS_ETS_FILTER_H_

#include <cmath>
#include <cstdint>

#include "tidegate/forecast/ets.h"

namespace tidegate::forecast::ets_internal {

// Smoothing coefficients as the recursions use them: phi is 0 without trend (so the trend term
// vanishes), beta 0 without trend, gamma 0 without season.
struct Coeffs {
  double alpha = 0;
  double beta = 0;
  double gamma = 0;
  double phi = 0;
};

inline Coeffs ToCoeffs(const EtsSpec& spec, const EtsParams& p) {
  Coeffs c;
  c.alpha = p.alpha;
  c.beta = spec.trend == EtsTrendType::kNone ? 0.0 : p.beta;
  c.gamma = spec.season == EtsSeasonType::kNone ? 0.0 : p.gamma;
  c.phi =
      spec.trend == EtsTrendType::kNone ? 0.0 : (spec.trend == EtsTrendType::kDamped ? p.phi : 1.0);
  return c;
}

// Mutable filter state. `season` points at m values (a ring); season[pos] is used next.
struct FilterState {
  double level = 0;
  double trend = 0;
  double* season = nullptr;
  int m = 1;
  int pos = 0;
};

// Sums over the non-missing observations.
struct FilterSums {
  double sse = 0;           // sum e_t^2 (relative errors for error M).
  double sse_additive = 0;  // sum (y_t - yhat_t)^2.
  double log_yhat = 0;      // sum log|yhat_t| (error M only).
  int count = 0;
};

// |yhat| (scaled) outside [kMinAbsForecast, kMaxAbsForecast] makes a multiplicative fit invalid.
inline constexpr double kMinAbsForecast = 1e-200;
inline constexpr double kMaxAbsForecast = 1e200;

// Runs the recursions over y[0..n). Returns false (state unspecified) when a multiplicative
// component meets a forecast, level or seasonal factor it cannot divide by, or a value becomes
// non-finite: the parameters are then not usable. `residuals`, if not null, receives e_t (NaN for
// missing observations).
template <EtsSeasonType kSeason, bool kMultError>
bool RunFilter(const double* y, int n, const Coeffs& c, FilterState& st, FilterSums& sums,
               double* residuals) {
  double l = st.level;
  double b = st.trend;
  double* s = st.season;
  const int m = st.m;
  int pos = st.pos;
  double sse = 0, sse_add = 0;
  // Product of |yhat| kept as mantissa * 2^exponent: one log at the end instead of one per step.
  double prod = 1;
  int64_t prod_exp = 0;
  int count = 0;
  for (int t = 0; t < n; ++t) {
    const double mu = l + c.phi * b;
    double yhat = mu;
    if constexpr (kSeason == EtsSeasonType::kAdditive) yhat = mu + s[pos];
    if constexpr (kSeason == EtsSeasonType::kMultiplicative) yhat = mu * s[pos];
    const double yt = y[t];
    if (yt == yt) {  // Not missing (callers turn infinities into NaN).
      const double a = yt - yhat;
      double e = a;
      if constexpr (kMultError) {
        const double ay = std::fabs(yhat);
        if (!(ay >= kMinAbsForecast && ay <= kMaxAbsForecast)) return false;
        e = a / yhat;
        prod *= ay;
        if (prod > 1e50 || prod < 1e-50) {
          int ex;
          prod = std::frexp(prod, &ex);
          prod_exp += ex;
        }
      }
      sse += e * e;
      sse_add += a * a;
      ++count;
      if (residuals != nullptr) residuals[t] = e;
      if constexpr (kSeason == EtsSeasonType::kMultiplicative) {
        const double sp = s[pos];
        if (!(sp > 0) || !(std::fabs(mu) >= kMinAbsForecast)) return false;
        const double r = yt / sp - mu;
        l = mu + c.alpha * r;
        b = c.phi * b + c.beta * r;
        s[pos] = sp + c.gamma * (yt / mu - sp);
      } else {
        l = mu + c.alpha * a;
        b = c.phi * b + c.beta * a;
        if constexpr (kSeason == EtsSeasonType::kAdditive) s[pos] += c.gamma * a;
      }
    } else {
      if (residuals != nullptr) residuals[t] = NAN;
      l = mu;
      b = c.phi * b;
    }
    if constexpr (kSeason != EtsSeasonType::kNone) {
      if (++pos == m) pos = 0;
    }
  }
  if (!std::isfinite(l) || !std::isfinite(b) || !std::isfinite(sse)) return false;
  st.level = l;
  st.trend = b;
  st.pos = pos;
  sums.sse += sse;
  sums.sse_additive += sse_add;
  if constexpr (kMultError) {
    sums.log_yhat += std::log(prod) + static_cast<double>(prod_exp) * M_LN2;
  }
  sums.count += count;
  return true;
}

// Dispatches on the spec.
inline bool Filter(const EtsSpec& spec, const double* y, int n, const Coeffs& c, FilterState& st,
                   FilterSums& sums, double* residuals) {
  const bool mult = spec.error == EtsErrorType::kMultiplicative;
  switch (spec.season) {
    case EtsSeasonType::kNone:
      return mult ? RunFilter<EtsSeasonType::kNone, true>(y, n, c, st, sums, residuals)
                  : RunFilter<EtsSeasonType::kNone, false>(y, n, c, st, sums, residuals);
    case EtsSeasonType::kAdditive:
      return mult ? RunFilter<EtsSeasonType::kAdditive, true>(y, n, c, st, sums, residuals)
                  : RunFilter<EtsSeasonType::kAdditive, false>(y, n, c, st, sums, residuals);
    case EtsSeasonType::kMultiplicative:
      return mult ? RunFilter<EtsSeasonType::kMultiplicative, true>(y, n, c, st, sums, residuals)
                  : RunFilter<EtsSeasonType::kMultiplicative, false>(y, n, c, st, sums, residuals);
  }
  return false;
}

// The fit criterion -2 log L (up to a constant) in scaled units: n log(SSE) [+ 2 sum log|yhat|].
// A perfect fit (SSE = 0) is floored at -1e10 so the criterion stays finite.
inline double Criterion(const EtsSpec& spec, const FilterSums& sums) {
  double v = sums.sse > 0 ? sums.count * std::log(sums.sse) : -1e10;
  if (spec.error == EtsErrorType::kMultiplicative) v += 2.0 * sums.log_yhat;
  return v < -1e10 ? -1e10 : v;
}

}  // namespace tidegate::forecast::ets_internal

#endif  // TIDEGATE_SRC_FORECAST_ETS_ETS_FILTER_H_
