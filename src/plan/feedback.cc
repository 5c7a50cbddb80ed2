#include "tidegate/plan/feedback.h"

#include <algorithm>
#include <cmath>

#include "fmt/format.h"

namespace tidegate::plan {

namespace {

absl::Status Bad(std::string_view field, double value, std::string_view rule) {
  return absl::InvalidArgumentError(fmt::format("{} = {}: {}", field, value, rule));
}

}  // namespace

absl::Status FeedbackConfig::Validate() const {
  if (!(alpha > 0 && alpha <= 1)) return Bad("feedback.alpha", alpha, "must be in (0, 1]");
  if (!(bias_gain >= 0 && bias_gain <= 1)) {
    return Bad("feedback.bias_gain", bias_gain, "must be in [0, 1]");
  }
  if (!(growth > 1) || !std::isfinite(growth)) return Bad("feedback.growth", growth, "must be > 1");
  if (!(shrink > 0 && shrink < 1)) return Bad("feedback.shrink", shrink, "must be in (0, 1)");
  if (!(max_factor >= 1) || !std::isfinite(max_factor)) {
    return Bad("feedback.max_factor", max_factor, "must be >= 1");
  }
  return absl::OkStatus();
}

std::string_view SurgeModeName(SurgeMode mode) {
  switch (mode) {
    case SurgeMode::kNone:
      return "none";
    case SurgeMode::kUp:
      return "up";
    case SurgeMode::kDown:
      return "down";
  }
  return "?";
}

absl::Status UpdateFeedback(const FeedbackConfig& config, const Observation& obs,
                            FeedbackState* state) {
  const std::pair<std::string_view, double> fields[] = {
      {"actual_per_s", obs.actual_per_s},
      {"predicted_mean", obs.predicted_mean},
      {"predicted_lower", obs.predicted_lower},
      {"predicted_upper", obs.predicted_upper},
      {"planned_rate_per_s", obs.planned_rate_per_s}};
  for (const auto& [name, value] : fields) {
    if (!std::isfinite(value) || value < 0) {
      return Bad(fmt::format("observation.{}", name), value, "must be finite and >= 0");
    }
  }
  if (obs.predicted_lower > obs.predicted_upper) {
    return absl::InvalidArgumentError(
        fmt::format("observation.predicted_lower = {} > predicted_upper = {}", obs.predicted_lower,
                    obs.predicted_upper));
  }
  const double e = obs.actual_per_s - obs.predicted_mean;
  state->bias_per_s = (1 - config.alpha) * state->bias_per_s + config.alpha * e;
  state->abs_error_per_s = (1 - config.alpha) * state->abs_error_per_s + config.alpha * std::abs(e);
  ++state->observations;

  const bool flagged = obs.anomaly || !config.require_anomaly;
  const bool high = obs.actual_per_s > obs.predicted_upper && flagged;
  const bool low = obs.actual_per_s < obs.predicted_lower && flagged;
  if (high) {
    const double base = state->surge == SurgeMode::kUp
                            ? std::max(state->surge_rate_per_s, obs.planned_rate_per_s)
                            : std::max(obs.planned_rate_per_s, obs.actual_per_s);
    const double grown = std::min(base * config.growth, obs.actual_per_s * config.max_factor);
    state->surge_ticks = state->surge == SurgeMode::kUp ? state->surge_ticks + 1 : 1;
    state->surge = SurgeMode::kUp;
    state->surge_rate_per_s = std::max(grown, obs.actual_per_s);
  } else if (low) {
    const double base = state->surge == SurgeMode::kDown
                            ? std::min(state->surge_rate_per_s, obs.planned_rate_per_s)
                            : obs.planned_rate_per_s;
    state->surge_ticks = state->surge == SurgeMode::kDown ? state->surge_ticks + 1 : 1;
    state->surge = SurgeMode::kDown;
    state->surge_rate_per_s = std::max(base * config.shrink, obs.actual_per_s);
  } else if (obs.actual_per_s >= obs.predicted_lower && obs.actual_per_s <= obs.predicted_upper) {
    // The forecast caught up with reality.
    state->surge = SurgeMode::kNone;
    state->surge_rate_per_s = 0;
    state->surge_ticks = 0;
  }
  return absl::OkStatus();
}

}  // namespace tidegate::plan
