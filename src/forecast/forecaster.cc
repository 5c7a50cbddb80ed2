// Shared parts of the Forecaster interface: validation, the serialisation envelope, the normal
// quantile and Gaussian intervals.
#include "tidegate/forecast/forecaster.h"

#include <fmt/format.h>

#include <cmath>
#include <limits>

#include "tidegate/common/status.h"
#include "tidegate/forecast/model_registry.h"
#include "tidegate/forecast/serialize.h"

namespace tidegate::forecast {
namespace {

constexpr std::string_view kMagic = "TGFC";
constexpr uint32_t kFormatVersion = 1;

std::string FormatNumber(double v) {
  if (std::isnan(v)) return "NA";
  return fmt::format("{:.6g}", v);
}

}  // namespace

absl::Status ValidateSeries(const Series& series) {
  if (series.step.count() <= 0) {
    return absl::InvalidArgumentError(
        fmt::format("series step must be positive, got {} ns", series.step.count()));
  }
  for (size_t i = 0; i < series.values.size(); ++i) {
    if (std::isinf(series.values[i])) {
      return absl::InvalidArgumentError(
          fmt::format("series value at index {} is {}", i, series.values[i]));
    }
  }
  for (size_t i = 0; i < series.seasonal_periods.size(); ++i) {
    if (series.seasonal_periods[i] < 2) {
      return absl::InvalidArgumentError(fmt::format("seasonal period #{} must be >= 2, got {}",
                                                    i + 1, series.seasonal_periods[i]));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidatePredictArgs(int h, std::span<const double> levels) {
  if (h < 1 || h > kMaxHorizon) {
    return absl::InvalidArgumentError(
        fmt::format("horizon must be in [1, {}], got {}", kMaxHorizon, h));
  }
  for (double level : levels) {
    if (!(level > 0 && level < 100)) {
      return absl::InvalidArgumentError(
          fmt::format("interval level must be in (0, 100) percent, got {}", level));
    }
  }
  return absl::OkStatus();
}

absl::Status ForecastOptions::Validate() const {
  TIDEGATE_RETURN_IF_ERROR(ValidatePredictArgs(horizon, levels));
  for (size_t i = 0; i < seasonal_periods.size(); ++i) {
    if (seasonal_periods[i] < 2) {
      return absl::InvalidArgumentError(
          fmt::format("seasonal period #{} must be >= 2, got {}", i + 1, seasonal_periods[i]));
    }
  }
  return absl::OkStatus();
}

const PredictionInterval* Forecast::Interval(double level) const {
  for (const auto& interval : intervals) {
    if (interval.level == level) return &interval;
  }
  return nullptr;
}

std::string FitSummary::ToString() const {
  std::string out = fmt::format("model: {}\n", model);
  if (!spec.empty()) out += fmt::format("spec: {}\n", spec);
  if (!fallback.empty()) out += fmt::format("fallback: {}\n", fallback);
  out += fmt::format("observations: {}  parameters: {}\n", n_obs, n_params);
  for (const auto& [name, value] : params) {
    out += fmt::format("  {} = {}\n", name, FormatNumber(value));
  }
  out += fmt::format("loglik: {}  AIC: {}  AICc: {}  BIC: {}\n", FormatNumber(log_likelihood),
                     FormatNumber(aic), FormatNumber(aicc), FormatNumber(bic));
  out += fmt::format("sigma2: {}  residual mean: {}  residual sd: {}\n", FormatNumber(sigma2),
                     FormatNumber(residual_mean), FormatNumber(residual_sd));
  if (ljung_box_lag > 0) {
    out +=
        fmt::format("Ljung-Box p-value ({} lags): {}\n", ljung_box_lag, FormatNumber(ljung_box_p));
  }
  return out;
}

std::string Forecaster::Serialize() const {
  ByteWriter w;
  std::string out(kMagic);
  w.PutU32(kFormatVersion);
  w.PutString(Name());
  w.PutString(SaveState());
  return out + w.Release();
}

absl::StatusOr<std::unique_ptr<Forecaster>> Forecaster::Load(std::string_view bytes) {
  return Load(bytes, ModelContext{});
}

absl::StatusOr<std::unique_ptr<Forecaster>> Forecaster::Load(std::string_view bytes,
                                                             const ModelContext& context) {
  if (bytes.substr(0, kMagic.size()) != kMagic) {
    return absl::InvalidArgumentError("not a serialised tidegate forecaster (bad magic)");
  }
  ByteReader r(bytes.substr(kMagic.size()));
  uint32_t version = 0;
  std::string name, state;
  if (!r.GetU32(&version)) {
    return absl::InvalidArgumentError("serialised forecaster truncated in its header");
  }
  if (version != kFormatVersion) {
    return absl::InvalidArgumentError(
        fmt::format("serialised forecaster has format version {}, this build reads {}", version,
                    kFormatVersion));
  }
  if (!r.GetString(&name) || !r.GetString(&state) || !r.AtEnd()) {
    return absl::InvalidArgumentError("serialised forecaster truncated or has trailing bytes");
  }
  TIDEGATE_ASSIGN_OR_RETURN(auto model, MakeForecaster(name, context));
  absl::Status st = model->LoadState(state);
  if (!st.ok()) {
    // FailedPrecondition (a member's trained global model is missing from `context`) stays so.
    const auto code = st.code() == absl::StatusCode::kFailedPrecondition
                          ? absl::StatusCode::kFailedPrecondition
                          : absl::StatusCode::kInvalidArgument;
    return absl::Status(code,
                        fmt::format("cannot load model '{}': {}", name, std::string(st.message())));
  }
  return model;
}

double NormalQuantile(double p) {
  if (std::isnan(p) || p < 0 || p > 1) return std::numeric_limits<double>::quiet_NaN();
  if (p == 0) return -std::numeric_limits<double>::infinity();
  if (p == 1) return std::numeric_limits<double>::infinity();
  // Acklam's algorithm: rational approximations in the central region and the tails.
  static constexpr double a[] = {-3.969683028665376e+01, 2.209460984245205e+02,
                                 -2.759285104469687e+02, 1.383577518672690e+02,
                                 -3.066479806614716e+01, 2.506628277459239e+00};
  static constexpr double b[] = {-5.447609879822406e+01, 1.615858368580409e+02,
                                 -1.556989798598866e+02, 6.680131188771972e+01,
                                 -1.328068155288572e+01};
  static constexpr double c[] = {-7.784894002430293e-03, -3.223964580411365e-01,
                                 -2.400758277161838e+00, -2.549732539343734e+00,
                                 4.374664141464968e+00,  2.938163982698783e+00};
  static constexpr double d[] = {7.784695709041462e-03, 3.224671290700398e-01,
                                 2.445134137142996e+00, 3.754408661907416e+00};
  constexpr double kLow = 0.02425;
  double x;
  if (p < kLow) {
    const double q = std::sqrt(-2 * std::log(p));
    x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
        ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  } else if (p <= 1 - kLow) {
    const double q = p - 0.5;
    const double r = q * q;
    x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
        (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
  } else {
    const double q = std::sqrt(-2 * std::log1p(-p));
    x = -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
        ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  }
  // One Halley step on Phi(x) - p brings the relative error to machine precision.
  const double e = 0.5 * std::erfc(-x / std::sqrt(2.0)) - p;
  const double u = e * std::sqrt(2 * M_PI) * std::exp(x * x / 2);
  return x - u / (1 + x * u / 2);
}

Forecast GaussianForecast(std::vector<double> mean, std::span<const double> sd,
                          std::span<const double> levels) {
  Forecast f;
  f.intervals.reserve(levels.size());
  for (double level : levels) {
    const double z = NormalQuantile(0.5 + level / 200.0);
    PredictionInterval pi;
    pi.level = level;
    pi.lower.resize(mean.size());
    pi.upper.resize(mean.size());
    for (size_t i = 0; i < mean.size(); ++i) {
      pi.lower[i] = mean[i] - z * sd[i];
      pi.upper[i] = mean[i] + z * sd[i];
    }
    f.intervals.push_back(std::move(pi));
  }
  f.mean = std::move(mean);
  return f;
}

}  // namespace tidegate::forecast
