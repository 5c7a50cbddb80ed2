// Naive, seasonal naive and Naive2 as one lag-walk implementation (see baseline.h for the math).
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "tidegate/common/status.h"
#include "tidegate/forecast/baseline.h"
#include "tidegate/forecast/serialize.h"
#include "tidegate/forecast/stats.h"

namespace tidegate::forecast {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr uint32_t kStateVersion = 1;

enum class Mode : uint32_t { kNaive = 0, kSeasonalNaive = 1, kNaive2 = 2 };

class LagWalk final : public Forecaster {
 public:
  explicit LagWalk(Mode mode) : mode_(mode) { summary_.model = std::string(Name()); }

  std::string_view Name() const override {
    switch (mode_) {
      case Mode::kNaive:
        return "naive";
      case Mode::kSeasonalNaive:
        return "snaive";
      case Mode::kNaive2:
        return "naive2";
    }
    return "naive";
  }

  absl::Status Fit(const Series& series) override;
  absl::StatusOr<Forecast> Predict(int h, std::span<const double> levels) const override;
  absl::Status Update(double y) override;
  FitSummary Summary() const override { return summary_; }
  std::unique_ptr<Forecaster> Clone() const override { return std::make_unique<LagWalk>(*this); }
  std::string SaveState() const override;
  absl::Status LoadState(std::string_view bytes) override;

 private:
  // Seasonal factor of absolute step t (1 when not seasonally adjusted).
  double Factor(int64_t t) const {
    return seasonal_.empty() ? 1.0 : seasonal_[static_cast<size_t>(t % period_)];
  }
  // Last observed deseasonalised value of t's phase, or the last observed value of any phase.
  double Base(int64_t t) const {
    const double v = ring_[static_cast<size_t>(t % lag_)];
    return std::isnan(v) ? last_ : v;
  }

  Mode mode_;
  bool fitted_ = false;
  int lag_ = 1;                   // Lag of the walk: 1, or m for snaive.
  int period_ = 1;                // Period of seasonal_ (m), 1 when there is none.
  std::vector<double> seasonal_;  // Multiplicative indices (Naive2 only), empty = none.
  std::vector<double> ring_;      // ring_[t mod lag]: last observed d of that phase (NaN = none).
  double last_ = kNaN;            // Last observed d of any phase.
  int64_t t_ = 0;                 // Steps seen (the next observation has index t_).
  double sigma_ = 0;              // RMS of one-step residuals of d.
  FitSummary summary_;
};

absl::Status LagWalk::Fit(const Series& series) {
  TIDEGATE_RETURN_IF_ERROR(ValidateSeries(series));
  const size_t observed = CountObserved(series.values);
  if (observed == 0) {
    return absl::FailedPreconditionError(fmt::format(
        "{}: the series has no observed value ({} missing)", Name(), series.values.size()));
  }
  summary_ = FitSummary{};
  summary_.model = std::string(Name());
  const int m = series.seasonal_periods.empty() ? 1 : series.seasonal_periods.front();
  const auto n = static_cast<int64_t>(series.values.size());
  lag_ = 1;
  period_ = 1;
  seasonal_.clear();
  switch (mode_) {
    case Mode::kNaive:
      summary_.spec = "naive";
      break;
    case Mode::kSeasonalNaive:
      if (m < 2) {
        summary_.fallback = "no seasonal period given: fitted naive instead of snaive";
        summary_.spec = "naive";
      } else if (n < m + 1) {
        summary_.fallback = fmt::format(
            "series of {} values is shorter than one season + 1 (m = {}): fitted naive instead "
            "of snaive",
            n, m);
        summary_.spec = "naive";
      } else {
        lag_ = m;
        summary_.spec = fmt::format("snaive[{}]", m);
      }
      break;
    case Mode::kNaive2: {
      summary_.spec = "naive2";
      if (m >= 2) {
        std::vector<double> filled = series.values;
        FillGapsLinear(&filled);
        const bool positive =
            std::all_of(filled.begin(), filled.end(), [](double v) { return v > 0; });
        if (!positive) {
          summary_.fallback = "series has values <= 0: no multiplicative seasonal adjustment";
        } else if (n < 3 * m) {
          summary_.fallback = fmt::format(
              "series of {} values is shorter than 3 seasons (m = {}): seasonality not tested", n,
              m);
        } else if (M4SeasonalityTest(filled, m)) {
          seasonal_ = ClassicalMultiplicativeIndices(filled, m);
          if (!seasonal_.empty()) period_ = m;
        }
      }
      summary_.params["seasonal"] = seasonal_.empty() ? 0 : 1;
      if (!seasonal_.empty()) summary_.spec = fmt::format("naive2[{}] seasonally adjusted", m);
      break;
    }
  }
  ring_.assign(static_cast<size_t>(lag_), kNaN);
  last_ = kNaN;
  t_ = 0;
  double sum_sq = 0;
  int64_t count = 0;
  std::vector<double> residuals(series.values.size(), kNaN);
  for (int64_t t = 0; t < n; ++t) {
    const double y = series.values[static_cast<size_t>(t)];
    if (!std::isnan(y)) {
      const double d = y / Factor(t);
      const double prev = ring_[static_cast<size_t>(t % lag_)];
      if (!std::isnan(prev)) {
        sum_sq += (d - prev) * (d - prev);
        ++count;
        residuals[static_cast<size_t>(t)] = y - prev * Factor(t);
      }
      ring_[static_cast<size_t>(t % lag_)] = d;
      last_ = d;
    }
  }
  t_ = n;
  sigma_ = count > 0 ? std::sqrt(sum_sq / static_cast<double>(count)) : 0.0;
  summary_.n_obs = static_cast<int64_t>(observed);
  summary_.n_params = 0;
  summary_.sigma2 = sigma_ * sigma_;
  std::vector<int> periods;
  if (m >= 2) periods.push_back(m);
  FillResidualDiagnostics(residuals, periods, 0, &summary_);
  fitted_ = true;
  return absl::OkStatus();
}

absl::StatusOr<Forecast> LagWalk::Predict(int h, std::span<const double> levels) const {
  if (!fitted_) {
    return absl::FailedPreconditionError(fmt::format("{}: Predict before Fit", Name()));
  }
  TIDEGATE_RETURN_IF_ERROR(ValidatePredictArgs(h, levels));
  std::vector<double> mean(static_cast<size_t>(h)), sd(static_cast<size_t>(h));
  for (int i = 0; i < h; ++i) {
    const int64_t t = t_ + i;
    const double factor = Factor(t);
    mean[i] = Base(t) * factor;
    sd[i] = sigma_ * std::sqrt(static_cast<double>(i / lag_ + 1)) * factor;
  }
  return GaussianForecast(std::move(mean), sd, levels);
}

absl::Status LagWalk::Update(double y) {
  if (!fitted_) {
    return absl::FailedPreconditionError(fmt::format("{}: Update before Fit", Name()));
  }
  if (std::isinf(y)) {
    return absl::InvalidArgumentError(fmt::format("{}: Update with {}", Name(), y));
  }
  if (!std::isnan(y)) {
    const double d = y / Factor(t_);
    ring_[static_cast<size_t>(t_ % lag_)] = d;
    last_ = d;
  }
  ++t_;
  return absl::OkStatus();
}

std::string LagWalk::SaveState() const {
  ByteWriter w;
  w.PutU32(kStateVersion);
  w.PutU32(static_cast<uint32_t>(mode_));
  w.PutU32(fitted_ ? 1 : 0);
  w.PutI64(lag_);
  w.PutI64(period_);
  w.PutDoubles(seasonal_);
  w.PutDoubles(ring_);
  w.PutDouble(last_);
  w.PutI64(t_);
  w.PutDouble(sigma_);
  w.PutString(summary_.spec);
  w.PutString(summary_.fallback);
  w.PutI64(summary_.n_obs);
  return w.Release();
}

absl::Status LagWalk::LoadState(std::string_view bytes) {
  ByteReader r(bytes);
  uint32_t version = 0, mode = 0, fitted = 0;
  int64_t lag = 0, period = 0, t = 0, n_obs = 0;
  std::vector<double> seasonal, ring;
  double last = 0, sigma = 0;
  std::string spec, fallback;
  if (!r.GetU32(&version) || version != kStateVersion) {
    return absl::InvalidArgumentError(fmt::format("{}: unknown state version", Name()));
  }
  if (!r.GetU32(&mode) || !r.GetU32(&fitted) || !r.GetI64(&lag) || !r.GetI64(&period) ||
      !r.GetDoubles(&seasonal) || !r.GetDoubles(&ring) || !r.GetDouble(&last) || !r.GetI64(&t) ||
      !r.GetDouble(&sigma) || !r.GetString(&spec) || !r.GetString(&fallback) || !r.GetI64(&n_obs) ||
      !r.AtEnd()) {
    return absl::InvalidArgumentError(fmt::format("{}: state truncated or malformed", Name()));
  }
  if (mode != static_cast<uint32_t>(mode_) || lag < 1 || period < 1 || t < 0 ||
      ring.size() != static_cast<size_t>(lag) ||
      (!seasonal.empty() && seasonal.size() != static_cast<size_t>(period)) || !(sigma >= 0)) {
    return absl::InvalidArgumentError(fmt::format("{}: state inconsistent", Name()));
  }
  fitted_ = fitted != 0;
  lag_ = static_cast<int>(lag);
  period_ = static_cast<int>(period);
  seasonal_ = std::move(seasonal);
  ring_ = std::move(ring);
  last_ = last;
  t_ = t;
  sigma_ = sigma;
  summary_ = FitSummary{};
  summary_.model = std::string(Name());
  summary_.spec = std::move(spec);
  summary_.fallback = std::move(fallback);
  summary_.n_obs = n_obs;
  summary_.sigma2 = sigma * sigma;
  return absl::OkStatus();
}

}  // namespace

bool M4SeasonalityTest(std::span<const double> y, int m) {
  const auto n = static_cast<double>(y.size());
  if (m < 2 || y.size() < 3 * static_cast<size_t>(m)) return false;
  const std::vector<double> r = Autocorrelation(y, m);
  double cum = 1;
  for (int k = 1; k < m; ++k) cum += 2 * r[k - 1] * r[k - 1];
  const double limit = 1.645 / std::sqrt(n) * std::sqrt(cum);
  const double rm = r[m - 1];
  return !std::isnan(rm) && !std::isnan(limit) && std::fabs(rm) > limit;
}

std::vector<double> ClassicalMultiplicativeIndices(std::span<const double> y, int m) {
  const size_t n = y.size();
  if (m < 2 || n < 2 * static_cast<size_t>(m)) return {};
  // Centred moving average: order m for odd m, 2×m (weights 1/2m at both ends) for even m.
  const size_t half = static_cast<size_t>(m / 2);
  std::vector<double> sums(static_cast<size_t>(m), 0.0);
  std::vector<int> counts(static_cast<size_t>(m), 0);
  for (size_t t = half; t + half < n; ++t) {
    double trend = 0;
    if (m % 2 == 0) {
      trend = 0.5 * (y[t - half] + y[t + half]);
      for (size_t k = t - half + 1; k < t + half; ++k) trend += y[k];
    } else {
      for (size_t k = t - half; k <= t + half; ++k) trend += y[k];
    }
    trend /= m;
    if (!(trend > 0)) return {};
    sums[t % m] += y[t] / trend;
    ++counts[t % m];
  }
  std::vector<double> s(static_cast<size_t>(m));
  double total = 0;
  for (size_t j = 0; j < s.size(); ++j) {
    if (counts[j] == 0) return {};
    s[j] = sums[j] / counts[j];
    total += s[j];
  }
  const double avg = total / m;
  for (double& v : s) v /= avg;
  return s;
}

std::unique_ptr<Forecaster> NewNaive() { return std::make_unique<LagWalk>(Mode::kNaive); }
std::unique_ptr<Forecaster> NewSeasonalNaive() {
  return std::make_unique<LagWalk>(Mode::kSeasonalNaive);
}
std::unique_ptr<Forecaster> NewNaive2() { return std::make_unique<LagWalk>(Mode::kNaive2); }

}  // namespace tidegate::forecast
