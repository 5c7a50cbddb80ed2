#include "tidegate/forecast/metrics.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace tidegate::forecast {

double SMape(std::span<const double> actual, std::span<const double> forecast) {
  const size_t h = std::min(actual.size(), forecast.size());
  if (h == 0) return std::numeric_limits<double>::quiet_NaN();
  double sum = 0;
  for (size_t i = 0; i < h; ++i) {
    const double denom = std::fabs(actual[i]) + std::fabs(forecast[i]);
    if (denom > 0) sum += 200.0 * std::fabs(actual[i] - forecast[i]) / denom;
  }
  return sum / static_cast<double>(h);
}

double MaseScale(std::span<const double> insample, int m) {
  const size_t n = insample.size();
  size_t lag = m < 1 ? 1 : static_cast<size_t>(m);
  if (n <= lag) lag = 1;  // As the M4 code: too short for the seasonal scale.
  if (n <= lag) return std::numeric_limits<double>::quiet_NaN();
  double sum = 0;
  for (size_t t = lag; t < n; ++t) sum += std::fabs(insample[t] - insample[t - lag]);
  return sum / static_cast<double>(n - lag);
}

double Mase(std::span<const double> actual, std::span<const double> forecast, double scale) {
  const size_t h = std::min(actual.size(), forecast.size());
  if (h == 0) return std::numeric_limits<double>::quiet_NaN();
  double sum = 0;
  for (size_t i = 0; i < h; ++i) sum += std::fabs(actual[i] - forecast[i]);
  return sum / static_cast<double>(h) / scale;
}

double Msis(std::span<const double> actual, std::span<const double> lower,
            std::span<const double> upper, double alpha, double scale) {
  const size_t h = std::min({actual.size(), lower.size(), upper.size()});
  if (h == 0) return std::numeric_limits<double>::quiet_NaN();
  double sum = 0;
  for (size_t i = 0; i < h; ++i) {
    const double y = actual[i], l = lower[i], u = upper[i];
    sum += u - l;
    if (y < l) sum += 2.0 / alpha * (l - y);
    if (y > u) sum += 2.0 / alpha * (y - u);
  }
  return sum / static_cast<double>(h) / scale;
}

double Coverage(std::span<const double> actual, std::span<const double> lower,
                std::span<const double> upper) {
  const size_t h = std::min({actual.size(), lower.size(), upper.size()});
  if (h == 0) return std::numeric_limits<double>::quiet_NaN();
  size_t in = 0;
  for (size_t i = 0; i < h; ++i) {
    if (actual[i] >= lower[i] && actual[i] <= upper[i]) ++in;
  }
  return static_cast<double>(in) / static_cast<double>(h);
}

double Owa(double smape, double mase, double smape_naive2, double mase_naive2) {
  return 0.5 * (smape / smape_naive2 + mase / mase_naive2);
}

void MetricAccumulator::Add(const SeriesScores& s) {
  ++n_;
  if (std::isfinite(s.smape)) {
    smape_ += s.smape;
    ++n_smape_;
  }
  if (std::isfinite(s.mase)) {
    mase_ += s.mase;
    ++n_mase_;
  } else {
    ++skipped_scale_;
  }
  if (std::isfinite(s.msis)) {
    msis_ += s.msis;
    ++n_msis_;
  }
  if (std::isfinite(s.coverage)) {
    cov_ += s.coverage;
    ++n_cov_;
  }
}

}  // namespace tidegate::forecast
