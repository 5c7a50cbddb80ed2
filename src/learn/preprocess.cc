#include "learn/preprocess.h"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace tidegate::learn {

absl::StatusOr<std::vector<double>> InterpolateMissing(std::span<const double> values) {
  std::vector<double> out(values.begin(), values.end());
  const int64_t n = static_cast<int64_t>(out.size());
  int64_t prev = -1;
  for (int64_t i = 0; i < n; ++i) {
    if (std::isnan(out[i])) continue;
    if (prev < 0) {
      for (int64_t j = 0; j < i; ++j) out[j] = out[i];
    } else if (i - prev > 1) {
      for (int64_t j = prev + 1; j < i; ++j) {
        const double w = static_cast<double>(j - prev) / static_cast<double>(i - prev);
        out[j] = (1 - w) * out[prev] + w * out[i];
      }
    }
    prev = i;
  }
  if (prev < 0) return absl::FailedPreconditionError("every value is missing");
  for (int64_t j = prev + 1; j < n; ++j) out[j] = out[prev];
  return out;
}

SeriesProfile SeriesProfile::Fit(std::span<const double> clean, int period) {
  SeriesProfile p;
  const double lo = *std::min_element(clean.begin(), clean.end());
  p.multiplicative = lo > 0;
  p.nonnegative = lo >= 0;
  const int64_t n = static_cast<int64_t>(clean.size());
  p.seasonal.assign(period, p.multiplicative ? 1.0 : 0.0);
  if (period < 2 || n < 3 * static_cast<int64_t>(period)) return p;
  // Classical decomposition over the last <= 28 periods: a centred moving average of order P
  // (2×P for even P) estimates the trend; the ratio (or difference) to it, averaged by phase
  // with the median, estimates the seasonal index.
  const int64_t span_len = std::min<int64_t>(n, 28 * static_cast<int64_t>(period));
  const int64_t begin = n - span_len;
  const int half = period / 2;
  std::vector<std::vector<double>> by_phase(period);
  for (int64_t t = begin + half; t + half < n; ++t) {
    double ma;
    if (period % 2 == 0) {
      double s = 0.5 * (clean[t - half] + clean[t + half]);
      for (int64_t j = t - half + 1; j < t + half; ++j) s += clean[j];
      ma = s / period;
    } else {
      double s = 0;
      for (int64_t j = t - half; j <= t + half; ++j) s += clean[j];
      ma = s / period;
    }
    const double v = p.multiplicative ? clean[t] / ma : clean[t] - ma;
    if (std::isfinite(v)) by_phase[t % period].push_back(v);
  }
  double sum = 0;
  for (int j = 0; j < period; ++j) {
    auto& v = by_phase[j];
    if (v.empty()) return p;  // Cannot happen with >= 3 periods; stay flat if it does.
    std::nth_element(v.begin(), v.begin() + v.size() / 2, v.end());
    p.seasonal[j] = v[v.size() / 2];
    sum += p.seasonal[j];
  }
  const double mean = sum / period;
  for (double& s : p.seasonal) {
    if (p.multiplicative) {
      s = std::clamp(s / mean, 0.05, 20.0);
    } else {
      s -= mean;
    }
  }
  return p;
}

double SeriesProfile::Deseasonalise(double y, int64_t index) const {
  const double s = seasonal[static_cast<size_t>(index % static_cast<int64_t>(seasonal.size()))];
  return multiplicative ? y / s : y - s;
}

double SeriesProfile::Reseasonalise(double d, int64_t index) const {
  const double s = seasonal[static_cast<size_t>(index % static_cast<int64_t>(seasonal.size()))];
  const double y = multiplicative ? d * s : d + s;
  return nonnegative ? std::max(0.0, y) : y;
}

void SeriesProfile::Write(forecast::ByteWriter& w) const {
  w.PutU32(multiplicative ? 1 : 0);
  w.PutU32(nonnegative ? 1 : 0);
  w.PutDoubles(seasonal);
}

bool SeriesProfile::Read(forecast::ByteReader& r, int period) {
  uint32_t m = 0, nn = 0;
  if (!r.GetU32(&m) || !r.GetU32(&nn) || m > 1 || nn > 1 || !r.GetDoubles(&seasonal) ||
      seasonal.size() != static_cast<size_t>(period)) {
    return false;
  }
  multiplicative = m == 1;
  nonnegative = nn == 1;
  for (double s : seasonal) {
    if (!std::isfinite(s) || (multiplicative && s <= 0)) return false;
  }
  return true;
}

void AppendCalendar(WallTime t, std::vector<float>* out) {
  const int64_t s = std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
  constexpr int64_t kDay = 86400, kWeek = 7 * kDay;
  const double day = static_cast<double>(((s % kDay) + kDay) % kDay) / kDay;
  const double week = static_cast<double>(((s % kWeek) + kWeek) % kWeek) / kWeek;
  constexpr double kTwoPi = 2 * std::numbers::pi;
  out->push_back(static_cast<float>(std::sin(kTwoPi * day)));
  out->push_back(static_cast<float>(std::cos(kTwoPi * day)));
  out->push_back(static_cast<float>(std::sin(kTwoPi * week)));
  out->push_back(static_cast<float>(std::cos(kTwoPi * week)));
}

void MakeWindow(std::span<const double> d, WallTime first_time, Duration step,
                const LstmOptions& options, WindowInput* out) {
  const int p = options.period;
  const int k = options.patches;
  const size_t w = static_cast<size_t>(p) * k;
  double level = 0;
  for (size_t i = w - p; i < w; ++i) level += d[i];
  level /= p;
  double scale = 0;
  for (size_t i = 0; i < w; ++i) scale += std::fabs(d[i]);
  scale /= static_cast<double>(w);
  // A window of zeros (or tiny values) has no scale of its own: fall back to 1 unit.
  if (!(scale > 1e-9)) scale = 1;
  out->level = level;
  out->scale = scale;
  out->patches.clear();
  out->extra.clear();
  for (int j = 0; j < k; ++j) {
    for (int i = 0; i < p; ++i) out->patches.push_back(Normalise(d[j * p + i], *out));
    AppendCalendar(first_time + step * static_cast<int64_t>(j * p), &out->patches);
  }
  for (int i = 0; i < p; ++i) out->extra.push_back(Normalise(d[(k - 1) * p + i], *out));
  AppendCalendar(first_time + step * static_cast<int64_t>(w), &out->extra);
}

}  // namespace tidegate::learn
