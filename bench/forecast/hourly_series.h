// bench/forecast/hourly_series.h — the synthetic series the forecasting micro-benchmarks fit.
#ifndef TIDEGATE_BENCH_FORECAST_HOURLY_SERIES_H_
#define TIDEGATE_BENCH_FORECAST_HOURLY_SERIES_H_

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

namespace tidegate::forecast {

// Hourly-like: daily cycle, slow drift, AR(1) noise; positive. Deterministic under `seed`.
inline std::vector<double> Hourly(int n, uint64_t seed = 1) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> noise(0.0, 3.0);
  std::vector<double> y(n);
  double ar = 0;
  for (int t = 0; t < n; ++t) {
    ar = 0.6 * ar + noise(rng);
    y[t] =
        200 + 0.02 * t + 40 * std::sin(2 * M_PI * t / 24) + 15 * std::cos(4 * M_PI * t / 24) + ar;
  }
  return y;
}

}  // namespace tidegate::forecast

#endif  // TIDEGATE_BENCH_FORECAST_HOURLY_SERIES_H_
