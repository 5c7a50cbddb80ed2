#include "forecast/arima/arima_unit_root.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace tidegate::forecast::arima_internal {
namespace {

std::vector<double> Finite(std::span<const double> x) {
  std::vector<double> out;
  out.reserve(x.size());
  for (double v : x) {
    if (!std::isnan(v)) out.push_back(v);
  }
  return out;
}

bool IsConstant(const std::vector<double>& x) {
  if (x.empty()) return true;
  const auto [lo, hi] = std::minmax_element(x.begin(), x.end());
  return *hi - *lo <= 1e-12 * std::max(1.0, std::max(std::abs(*lo), std::abs(*hi)));
}

}  // namespace

int KpssLag(int n) { return static_cast<int>(std::floor(3.0 * std::sqrt(n) / 13.0)); }

double KpssStatistic(std::span<const double> x_in) {
  // Missing values are dropped: the test then sees the observed values back to back, a mild
  // approximation that keeps it usable on gappy series.
  const std::vector<double> x = Finite(x_in);
  const int n = static_cast<int>(x.size());
  if (n < 3 || IsConstant(x)) return 0.0;
  double mean = 0;
  for (double v : x) mean += v;
  mean /= n;
  std::vector<double> e(n);
  for (int t = 0; t < n; ++t) e[t] = x[t] - mean;
  double partial = 0, num = 0, s2 = 0;
  for (int t = 0; t < n; ++t) {
    partial += e[t];
    num += partial * partial;
    s2 += e[t] * e[t];
  }
  const int lag = std::min(KpssLag(n), n - 1);
  for (int s = 1; s <= lag; ++s) {
    double c = 0;
    for (int t = s; t < n; ++t) c += e[t] * e[t - s];
    s2 += 2.0 * (1.0 - s / (lag + 1.0)) * c;
  }
  s2 /= n;
  if (!(s2 > 0)) return 0.0;
  return num / (static_cast<double>(n) * n * s2);
}

int KpssDifferences(std::span<const double> x_in, int max_d, double* first_stat) {
  std::vector<double> x(x_in.begin(), x_in.end());
  *first_stat = KpssStatistic(x);
  double stat = *first_stat;
  int d = 0;
  while (d < max_d && stat > kKpssCritical5) {
    std::vector<double> dx;
    for (size_t t = 1; t < x.size(); ++t) dx.push_back(x[t] - x[t - 1]);
    x = std::move(dx);
    ++d;
    const std::vector<double> f = Finite(x);
    if (f.size() < 3 || IsConstant(f)) break;
    stat = KpssStatistic(x);
  }
  return d;
}

double SeasonalStrength(std::span<const double> x, int period) {
  const int n = static_cast<int>(x.size());
  const int m = period;
  if (m < 2 || n < 2 * m) return 0.0;
  // Centred moving average: order m for odd m, 2 x m for even m.
  std::vector<double> trend(n, std::nan(""));
  const int half = m / 2;
  for (int t = half; t + half < n; ++t) {
    double s = 0;
    if (m % 2 == 1) {
      for (int k = -half; k <= half; ++k) s += x[t + k];
      trend[t] = s / m;
    } else {
      for (int k = -half + 1; k <= half - 1; ++k) s += x[t + k];
      s += 0.5 * (x[t - half] + x[t + half]);
      trend[t] = s / m;
    }
  }
  std::vector<double> detrended(n), season_sum(m, 0.0);
  std::vector<int> season_n(m, 0);
  for (int t = 0; t < n; ++t) {
    detrended[t] = x[t] - trend[t];
    if (!std::isnan(detrended[t])) {
      season_sum[t % m] += detrended[t];
      ++season_n[t % m];
    }
  }
  std::vector<double> index(m, 0.0);
  double centre = 0;
  for (int j = 0; j < m; ++j) {
    index[j] = season_n[j] > 0 ? season_sum[j] / season_n[j] : 0.0;
    centre += index[j];
  }
  centre /= m;
  double sd = 0, sdd = 0, sr = 0, srr = 0;
  int cnt = 0;
  for (int t = 0; t < n; ++t) {
    if (std::isnan(detrended[t])) continue;
    const double rem = detrended[t] - (index[t % m] - centre);
    sd += detrended[t];
    sdd += detrended[t] * detrended[t];
    sr += rem;
    srr += rem * rem;
    ++cnt;
  }
  if (cnt < 2) return 0.0;
  const double var_d = sdd / cnt - (sd / cnt) * (sd / cnt);
  const double var_r = srr / cnt - (sr / cnt) * (sr / cnt);
  if (!(var_d > 0)) return 0.0;
  return std::clamp(1.0 - var_r / var_d, 0.0, 1.0);
}

}  // namespace tidegate::forecast::arima_internal
