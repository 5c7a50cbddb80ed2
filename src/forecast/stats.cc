#include "tidegate/forecast/stats.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace tidegate::forecast {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Regularised lower incomplete gamma P(a, x) by its series; converges fast for x < a + 1.
double GammaPSeries(double a, double x) {
  double sum = 1.0 / a, term = sum, ap = a;
  for (int i = 0; i < 1000; ++i) {
    ap += 1;
    term *= x / ap;
    sum += term;
    if (std::fabs(term) < std::fabs(sum) * 1e-15) break;
  }
  return sum * std::exp(-x + a * std::log(x) - std::lgamma(a));
}

// Regularised upper incomplete gamma Q(a, x) by Lentz's continued fraction; for x >= a + 1.
double GammaQContinuedFraction(double a, double x) {
  constexpr double kTiny = 1e-300;
  double b = x + 1 - a, c = 1 / kTiny, d = 1 / b, h = d;
  for (int i = 1; i < 1000; ++i) {
    const double an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (std::fabs(d) < kTiny) d = kTiny;
    c = b + an / c;
    if (std::fabs(c) < kTiny) c = kTiny;
    d = 1 / d;
    const double del = d * c;
    h *= del;
    if (std::fabs(del - 1) < 1e-15) break;
  }
  return std::exp(-x + a * std::log(x) - std::lgamma(a)) * h;
}

}  // namespace

size_t CountObserved(std::span<const double> y) {
  return static_cast<size_t>(
      std::count_if(y.begin(), y.end(), [](double v) { return !std::isnan(v); }));
}

std::vector<double> Autocorrelation(std::span<const double> y, int max_lag) {
  std::vector<double> r(std::max(0, max_lag), kNaN);
  double sum = 0;
  size_t n = 0;
  for (double v : y) {
    if (!std::isnan(v)) {
      sum += v;
      ++n;
    }
  }
  if (n < 2) return r;
  const double mean = sum / static_cast<double>(n);
  double denom = 0;
  for (double v : y) {
    if (!std::isnan(v)) denom += (v - mean) * (v - mean);
  }
  if (!(denom > 0)) return r;
  for (int k = 1; k <= max_lag; ++k) {
    double num = 0;
    for (size_t t = static_cast<size_t>(k); t < y.size(); ++t) {
      const double a = y[t], b = y[t - k];
      if (!std::isnan(a) && !std::isnan(b)) num += (a - mean) * (b - mean);
    }
    r[k - 1] = static_cast<size_t>(k) < y.size() ? num / denom : 0.0;
  }
  return r;
}

double ChiSquareSurvival(double x, double dof) {
  if (!(dof > 0) || std::isnan(x)) return kNaN;
  if (x <= 0) return 1.0;
  const double a = dof / 2, z = x / 2;
  if (z < a + 1) return std::clamp(1.0 - GammaPSeries(a, z), 0.0, 1.0);
  return std::clamp(GammaQContinuedFraction(a, z), 0.0, 1.0);
}

double LjungBoxPValue(std::span<const double> residuals, int lag, int fitdf) {
  if (lag - fitdf < 1) return kNaN;
  const double n = static_cast<double>(CountObserved(residuals));
  if (n <= lag) return kNaN;
  std::vector<double> r = Autocorrelation(residuals, lag);
  double q = 0;
  for (int k = 1; k <= lag; ++k) {
    if (std::isnan(r[k - 1])) return kNaN;
    q += r[k - 1] * r[k - 1] / (n - k);
  }
  q *= n * (n + 2);
  return ChiSquareSurvival(q, lag - fitdf);
}

void FillResidualDiagnostics(std::span<const double> residuals, std::span<const int> periods,
                             int fitdf, FitSummary* summary) {
  double sum = 0, sum2 = 0;
  size_t n = 0;
  for (double e : residuals) {
    if (std::isnan(e)) continue;
    sum += e;
    ++n;
  }
  if (n == 0) return;
  const double mean = sum / static_cast<double>(n);
  for (double e : residuals) {
    if (!std::isnan(e)) sum2 += (e - mean) * (e - mean);
  }
  summary->residual_mean = mean;
  summary->residual_sd = n > 1 ? std::sqrt(sum2 / static_cast<double>(n - 1)) : kNaN;
  const int cap = static_cast<int>(n / 5);
  const int lag = std::min(periods.empty() ? 10 : 2 * periods.front(), cap);
  if (lag - fitdf >= 1) {
    summary->ljung_box_lag = lag;
    summary->ljung_box_p = LjungBoxPValue(residuals, lag, fitdf);
  }
}

size_t FillGapsLinear(std::vector<double>* y) {
  std::vector<double>& v = *y;
  size_t filled = 0;
  long prev = -1;  // Index of the last observed value.
  for (size_t i = 0; i <= v.size(); ++i) {
    if (i < v.size() && std::isnan(v[i])) continue;
    // Fill the gap (prev, i).
    for (size_t j = static_cast<size_t>(prev + 1); j < i; ++j) {
      if (prev < 0 && i == v.size()) return v.size();  // All missing.
      if (prev < 0) {
        v[j] = v[i];
      } else if (i == v.size()) {
        v[j] = v[prev];
      } else {
        const double w = static_cast<double>(j - prev) / static_cast<double>(i - prev);
        v[j] = v[prev] + w * (v[i] - v[prev]);
      }
      ++filled;
    }
    prev = static_cast<long>(i);
  }
  return filled;
}

}  // namespace tidegate::forecast
