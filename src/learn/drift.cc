#include "tidegate/learn/drift.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace tidegate::learn {

absl::Status DriftOptions::Validate() const {
  if (!(k > 0) || !std::isfinite(k)) {
    return absl::InvalidArgumentError(fmt::format("drift option k = {} must be > 0", k));
  }
  if (!(h > 0) || !std::isfinite(h)) {
    return absl::InvalidArgumentError(fmt::format("drift option h = {} must be > 0", h));
  }
  if (!(clip > k) || !std::isfinite(clip)) {
    return absl::InvalidArgumentError(
        fmt::format("drift option clip = {} must be finite and > k = {}", clip, k));
  }
  return absl::OkStatus();
}

absl::StatusOr<DriftDetector> DriftDetector::Create(const DriftOptions& options) {
  if (absl::Status st = options.Validate(); !st.ok()) return st;
  return DriftDetector(options);
}

absl::StatusOr<bool> DriftDetector::Observe(std::string_view key, double y, double median,
                                            double scale) {
  if (std::isinf(y)) {
    return absl::InvalidArgumentError(fmt::format("drift: series '{}': observation {}", key, y));
  }
  if (!std::isfinite(median)) {
    return absl::InvalidArgumentError(
        fmt::format("drift: series '{}': forecast median {} is not finite", key, median));
  }
  if (!(scale > 0) || !std::isfinite(scale)) {
    return absl::InvalidArgumentError(fmt::format(
        "drift: series '{}': forecast scale {} must be positive and finite", key, scale));
  }
  auto it = states_.find(key);
  if (it == states_.end()) it = states_.emplace(std::string(key), DriftState{}).first;
  DriftState& s = it->second;
  if (std::isnan(y) || s.drifted) return false;
  const double e = std::clamp((y - median) / scale, -options_.clip, options_.clip);
  s.g_pos = std::max(0.0, s.g_pos + e - options_.k);
  s.g_neg = std::max(0.0, s.g_neg - e - options_.k);
  ++s.observations;
  if (s.g_pos > options_.h || s.g_neg > options_.h) {
    s.drifted = true;
    s.drifted_at = s.observations;
    return true;
  }
  return false;
}

absl::StatusOr<bool> DriftDetector::ObserveForecast(std::string_view key, double y,
                                                    const forecast::Forecast& forecast, int step,
                                                    double level) {
  const forecast::PredictionInterval* pi = forecast.Interval(level);
  if (pi == nullptr) {
    return absl::InvalidArgumentError(
        fmt::format("drift: series '{}': the forecast has no {}% interval", key, level));
  }
  if (step < 0 || step >= forecast.horizon() || static_cast<size_t>(step) >= pi->lower.size()) {
    return absl::InvalidArgumentError(
        fmt::format("drift: series '{}': step {} outside the forecast's {} steps", key, step,
                    forecast.horizon()));
  }
  const double z = forecast::NormalQuantile(0.5 + level / 200);
  double scale = (pi->upper[step] - pi->lower[step]) / (2 * z);
  // A degenerate (zero-width) interval would make every error infinite: floor the scale at a
  // millionth of the forecast's magnitude.
  scale = std::max(scale, 1e-6 * std::max(1.0, std::fabs(forecast.mean[step])));
  return Observe(key, y, forecast.mean[step], scale);
}

std::vector<std::string> DriftDetector::Drifted() const {
  std::vector<std::string> out;
  for (const auto& [key, s] : states_) {
    if (s.drifted) out.push_back(key);
  }
  return out;
}

DriftState DriftDetector::State(std::string_view key) const {
  auto it = states_.find(key);
  return it == states_.end() ? DriftState{} : it->second;
}

void DriftDetector::Reset(std::string_view key) {
  auto it = states_.find(key);
  if (it != states_.end()) it->second = DriftState{};
}

absl::Status DriftDetector::Restore(std::string_view key, const DriftState& state) {
  if (!(state.g_pos >= 0) || !(state.g_neg >= 0) || !std::isfinite(state.g_pos) ||
      !std::isfinite(state.g_neg) || state.observations < 0 || state.drifted_at < -1) {
    return absl::InvalidArgumentError(
        fmt::format("drift: series '{}': saved state out of range (g+ {}, g- {}, n {})", key,
                    state.g_pos, state.g_neg, state.observations));
  }
  auto it = states_.find(key);
  if (it == states_.end()) it = states_.emplace(std::string(key), DriftState{}).first;
  it->second = state;
  return absl::OkStatus();
}

void DriftDetector::Erase(std::string_view key) {
  auto it = states_.find(key);
  if (it != states_.end()) states_.erase(it);
}

}  // namespace tidegate::learn
