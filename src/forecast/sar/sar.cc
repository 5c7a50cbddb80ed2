// Seasonal linear autoregression (see sar.h for the math).
#include "tidegate/forecast/sar.h"

#include <fmt/format.h>

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <limits>

#include "tidegate/common/status.h"
#include "tidegate/forecast/serialize.h"
#include "tidegate/forecast/stats.h"

namespace tidegate::forecast {
namespace {

constexpr uint32_t kStateVersion = 1;
constexpr double kRidgePerRow = 1e-3;

class Sar final : public Forecaster {
 public:
  Sar() { summary_.model = "sar"; }
  std::string_view Name() const override { return "sar"; }
  absl::Status Fit(const Series& series) override;
  absl::StatusOr<Forecast> Predict(int h, std::span<const double> levels) const override;
  absl::Status Update(double y) override;
  FitSummary Summary() const override { return summary_; }
  std::unique_ptr<Forecaster> Clone() const override { return std::make_unique<Sar>(*this); }
  std::string SaveState() const override;
  absl::Status LoadState(std::string_view bytes) override;

 private:
  // z_{t-k} for the next step t = t_, read from the ring (k >= 1).
  double Lagged(const std::vector<double>& ring, int64_t t, int k) const {
    return ring[static_cast<size_t>((t - k) % static_cast<int64_t>(ring.size()))];
  }
  double OneStep(const std::vector<double>& ring, int64_t t) const {
    double z = coef_[0];
    for (size_t i = 0; i < lags_.size(); ++i) z += coef_[i + 1] * Lagged(ring, t, lags_[i]);
    return std::clamp(z, z_lo_, z_hi_);
  }
  double ToZ(double y) const { return ((log_ ? std::log(y) : y) - center_) / scale_; }
  double FromZ(double z) const {
    const double x = center_ + scale_ * z;
    return log_ ? std::exp(x) : x;
  }

  bool fitted_ = false;
  bool log_ = false;
  double center_ = 0, scale_ = 1;
  std::vector<int> lags_;
  std::vector<double> coef_;  // [β_0, β_k for k in lags_].
  std::vector<double> ring_;  // z history, size = max lag; ring_[t mod size].
  int64_t t_ = 0;
  double sigma_ = 0;
  double z_lo_ = 0, z_hi_ = 0;
  FitSummary summary_;
};

absl::Status Sar::Fit(const Series& series) {
  TIDEGATE_RETURN_IF_ERROR(ValidateSeries(series));
  if (CountObserved(series.values) == 0) {
    return absl::FailedPreconditionError("sar: the series has no observed value");
  }
  summary_ = FitSummary{};
  summary_.model = "sar";
  std::vector<double> x = series.values;
  FillGapsLinear(&x);
  const auto n = static_cast<int64_t>(x.size());
  log_ = std::all_of(x.begin(), x.end(), [](double v) { return v > 0; });
  if (log_) {
    for (double& v : x) v = std::log(v);
  }
  double sum = 0, sum2 = 0;
  for (double v : x) sum += v;
  center_ = sum / static_cast<double>(n);
  for (double v : x) sum2 += (v - center_) * (v - center_);
  scale_ = n > 1 ? std::sqrt(sum2 / static_cast<double>(n - 1)) : 0.0;
  if (!(scale_ > 1e-12 * std::max(1.0, std::fabs(center_)))) scale_ = 1;  // Constant series.
  std::vector<double> z(x.size());
  double zmin = 0, zmax = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    z[i] = (x[i] - center_) / scale_;
    zmin = i ? std::min(zmin, z[i]) : z[i];
    zmax = i ? std::max(zmax, z[i]) : z[i];
  }
  const double range = std::max(zmax - zmin, 1.0);
  z_lo_ = zmin - 3 * range;
  z_hi_ = zmax + 3 * range;

  // Lag set.
  const int m1 = series.seasonal_periods.empty() ? 0 : series.seasonal_periods.front();
  const int p = m1 >= 2 ? std::min(m1, 24) : 12;
  std::vector<int> lags;
  for (int k = 1; k <= p; ++k) lags.push_back(k);
  for (int m : series.seasonal_periods) {
    if (n < 3 * static_cast<int64_t>(m)) continue;
    for (int k : {m - 1, m, m + 1}) lags.push_back(k);
  }
  std::sort(lags.begin(), lags.end());
  lags.erase(std::unique(lags.begin(), lags.end()), lags.end());
  int max_lag = lags.back();
  if (n - max_lag < 2 * static_cast<int64_t>(lags.size()) + 10) {
    const int fallback_lag = (m1 >= 2 && n > m1) ? m1 : 1;
    summary_.fallback =
        fmt::format("series of {} values too short for {} lags: fitted the lag-{} autoregression",
                    n, lags.size(), fallback_lag);
    lags = {fallback_lag};
    max_lag = fallback_lag;
  }
  lags_ = lags;
  const int64_t rows = n - max_lag;
  const int cols = static_cast<int>(lags_.size()) + 1;
  coef_.assign(static_cast<size_t>(cols), 0.0);
  if (rows >= 1) {
    Eigen::MatrixXd xtx = Eigen::MatrixXd::Zero(cols, cols);
    Eigen::VectorXd xty = Eigen::VectorXd::Zero(cols);
    Eigen::VectorXd row(cols);
    for (int64_t t = max_lag; t < n; ++t) {
      row[0] = 1;
      for (size_t i = 0; i < lags_.size(); ++i) row[i + 1] = z[static_cast<size_t>(t - lags_[i])];
      xtx.selfadjointView<Eigen::Lower>().rankUpdate(row);
      xty += row * z[static_cast<size_t>(t)];
    }
    xtx.triangularView<Eigen::Upper>() = xtx.transpose();
    xtx.diagonal().array() += kRidgePerRow * static_cast<double>(rows);
    Eigen::VectorXd beta = xtx.ldlt().solve(xty);
    if (beta.allFinite()) {
      for (int i = 0; i < cols; ++i) coef_[static_cast<size_t>(i)] = beta[i];
    }
  }
  // Residuals, sigma and the state ring.
  ring_.assign(static_cast<size_t>(max_lag), 0.0);
  std::vector<double> residuals(x.size(), std::numeric_limits<double>::quiet_NaN());
  double sse = 0;
  int64_t count = 0;
  for (int64_t t = 0; t < n; ++t) {
    if (t >= max_lag) {
      const double e = z[static_cast<size_t>(t)] - OneStep(ring_, t);
      if (!std::isnan(series.values[static_cast<size_t>(t)])) {
        residuals[static_cast<size_t>(t)] = e;
        sse += e * e;
        ++count;
      }
    }
    ring_[static_cast<size_t>(t % max_lag)] = z[static_cast<size_t>(t)];
  }
  t_ = n;
  sigma_ = count > 0 ? std::sqrt(sse / static_cast<double>(count)) : 0.0;
  summary_.spec =
      fmt::format("SAR({} lags, max {}){}", lags_.size(), max_lag, log_ ? " on log" : "");
  summary_.n_obs = static_cast<int64_t>(CountObserved(series.values));
  summary_.n_params = cols + 1;
  summary_.sigma2 = sigma_ * sigma_;
  summary_.params["intercept"] = coef_[0];
  for (size_t i = 0; i < lags_.size(); ++i) {
    summary_.params[fmt::format("ar{}", lags_[i])] = coef_[i + 1];
  }
  if (count > 0 && sigma_ > 0) {
    const double nn = static_cast<double>(count);
    // Gaussian log-likelihood of the standardised (and possibly logged) series.
    summary_.log_likelihood = -0.5 * nn * (std::log(2 * M_PI * sigma_ * sigma_) + 1);
    const double k = summary_.n_params;
    summary_.aic = -2 * summary_.log_likelihood + 2 * k;
    summary_.aicc = nn - k - 1 > 0 ? summary_.aic + 2 * k * (k + 1) / (nn - k - 1)
                                   : std::numeric_limits<double>::infinity();
    summary_.bic = -2 * summary_.log_likelihood + k * std::log(nn);
  }
  FillResidualDiagnostics(residuals, series.seasonal_periods, cols - 1, &summary_);
  fitted_ = true;
  return absl::OkStatus();
}

absl::StatusOr<Forecast> Sar::Predict(int h, std::span<const double> levels) const {
  if (!fitted_) return absl::FailedPreconditionError("sar: Predict before Fit");
  TIDEGATE_RETURN_IF_ERROR(ValidatePredictArgs(h, levels));
  std::vector<double> ring = ring_;
  std::vector<double> zmean(static_cast<size_t>(h));
  for (int i = 0; i < h; ++i) {
    const int64_t t = t_ + i;
    zmean[i] = OneStep(ring, t);
    ring[static_cast<size_t>(t % static_cast<int64_t>(ring.size()))] = zmean[i];
  }
  // ψ weights and h-step sd on the z scale.
  std::vector<double> psi(static_cast<size_t>(h), 0.0), zsd(static_cast<size_t>(h));
  psi[0] = 1;
  double acc = 0;
  const double cap = z_hi_ - z_lo_;
  for (int j = 0; j < h; ++j) {
    if (j > 0) {
      double v = 0;
      for (size_t i = 0; i < lags_.size() && lags_[i] <= j; ++i)
        v += coef_[i + 1] * psi[j - lags_[i]];
      psi[j] = std::clamp(v, -1e6, 1e6);
    }
    acc += psi[j] * psi[j];
    zsd[j] = std::min(sigma_ * std::sqrt(acc), cap);
  }
  Forecast f;
  f.mean.resize(static_cast<size_t>(h));
  for (int i = 0; i < h; ++i) f.mean[i] = FromZ(zmean[i]);
  for (double level : levels) {
    const double q = NormalQuantile(0.5 + level / 200);
    PredictionInterval pi;
    pi.level = level;
    pi.lower.resize(static_cast<size_t>(h));
    pi.upper.resize(static_cast<size_t>(h));
    for (int i = 0; i < h; ++i) {
      pi.lower[i] = std::min(FromZ(std::max(zmean[i] - q * zsd[i], z_lo_)), f.mean[i]);
      pi.upper[i] = std::max(FromZ(std::min(zmean[i] + q * zsd[i], z_hi_)), f.mean[i]);
    }
    f.intervals.push_back(std::move(pi));
  }
  return f;
}

absl::Status Sar::Update(double y) {
  if (!fitted_) return absl::FailedPreconditionError("sar: Update before Fit");
  if (std::isinf(y)) return absl::InvalidArgumentError(fmt::format("sar: Update with {}", y));
  double z;
  if (std::isnan(y) || (log_ && !(y > 0))) {
    // Missing (or not representable on the log scale): feed the one-step forecast back.
    z = OneStep(ring_, t_);
  } else {
    z = std::clamp(ToZ(y), z_lo_, z_hi_);
  }
  ring_[static_cast<size_t>(t_ % static_cast<int64_t>(ring_.size()))] = z;
  ++t_;
  return absl::OkStatus();
}

std::string Sar::SaveState() const {
  ByteWriter w;
  w.PutU32(kStateVersion);
  w.PutU32(fitted_ ? 1 : 0);
  w.PutU32(log_ ? 1 : 0);
  w.PutDouble(center_);
  w.PutDouble(scale_);
  w.PutInts(lags_);
  w.PutDoubles(coef_);
  w.PutDoubles(ring_);
  w.PutI64(t_);
  w.PutDouble(sigma_);
  w.PutDouble(z_lo_);
  w.PutDouble(z_hi_);
  w.PutString(summary_.spec);
  w.PutString(summary_.fallback);
  w.PutI64(summary_.n_obs);
  return w.Release();
}

absl::Status Sar::LoadState(std::string_view bytes) {
  ByteReader r(bytes);
  uint32_t version = 0, fitted = 0, log = 0;
  double center = 0, scale = 0, sigma = 0, lo = 0, hi = 0;
  std::vector<int> lags;
  std::vector<double> coef, ring;
  int64_t t = 0, n_obs = 0;
  std::string spec, fallback;
  if (!r.GetU32(&version) || version != kStateVersion || !r.GetU32(&fitted) || !r.GetU32(&log) ||
      !r.GetDouble(&center) || !r.GetDouble(&scale) || !r.GetInts(&lags) || !r.GetDoubles(&coef) ||
      !r.GetDoubles(&ring) || !r.GetI64(&t) || !r.GetDouble(&sigma) || !r.GetDouble(&lo) ||
      !r.GetDouble(&hi) || !r.GetString(&spec) || !r.GetString(&fallback) || !r.GetI64(&n_obs) ||
      !r.AtEnd()) {
    return absl::InvalidArgumentError("sar: state truncated or malformed");
  }
  if (fitted == 0) {  // An unfitted model: nothing else to restore.
    *this = Sar();
    return absl::OkStatus();
  }
  const bool lags_ok = !lags.empty() && std::is_sorted(lags.begin(), lags.end()) &&
                       lags.front() >= 1 && static_cast<size_t>(lags.back()) == ring.size();
  if (!lags_ok || coef.size() != lags.size() + 1 || t < 0 || !(scale > 0) || !(sigma >= 0) ||
      !(lo <= hi)) {
    return absl::InvalidArgumentError("sar: state inconsistent");
  }
  fitted_ = fitted != 0;
  log_ = log != 0;
  center_ = center;
  scale_ = scale;
  lags_ = std::move(lags);
  coef_ = std::move(coef);
  ring_ = std::move(ring);
  t_ = t;
  sigma_ = sigma;
  z_lo_ = lo;
  z_hi_ = hi;
  summary_ = FitSummary{};
  summary_.model = "sar";
  summary_.spec = std::move(spec);
  summary_.fallback = std::move(fallback);
  summary_.n_obs = n_obs;
  summary_.sigma2 = sigma * sigma;
  return absl::OkStatus();
}

}  // namespace

std::unique_ptr<Forecaster> NewSeasonalAutoregression() { return std::make_unique<Sar>(); }

}  // namespace tidegate::forecast
