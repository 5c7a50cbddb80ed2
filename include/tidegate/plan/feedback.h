// tidegate/plan/feedback.h — per-class feedback state: forecast error, bias, and surge mode.
//
// After every tick the caller reports, per class, what demand actually arrived (admitted plus
// rejected requests/s) next to what the forecast said for that tick. UpdateFeedback folds it into
// the class's FeedbackState; the planner (planner.h) reads the state at the next tick to
//   * correct the forecast by the tracked bias, and
//   * run the class in surge mode while reality is outside the forecast interval.
//
// Algorithm (docs/design/planner.md, "Feedback"), with e = actual - predicted_mean:
//   bias  <- (1 - alpha) * bias + alpha * e               (requests/s; EWMA of the signed error)
//   error <- (1 - alpha) * error + alpha * |e|            (EWMA of the absolute error)
//   Surge up, entered when actual > upper (and, if require_anomaly, the anomaly flag is set):
//     surge_rate <- min(max(surge_rate, planned) * growth, actual * max_factor), and at least
//     actual. Left as soon as lower <= actual <= upper (the forecast caught up).
//   Surge down, entered when actual < lower (same condition on the flag):
//     surge_rate <- max(min(surge_rate, planned) * shrink, actual). Left likewise.
//   The planner uses max(target, surge_rate) in surge up and min(target, surge_rate * (1 + margin))
//   in surge down;
//   the allocation then bounds the class by what its tier may have.
//
// Thread-safety: pure functions over caller-owned state; no synchronisation.
#ifndef TIDEGATE_PLAN_FEEDBACK_H_
#define TIDEGATE_PLAN_FEEDBACK_H_

#include <cstdint>
#include <string_view>

#include "absl/status/status.h"

namespace tidegate::plan {

struct FeedbackConfig {
  double alpha = 0.2;            // EWMA weight of the newest observation, in (0, 1].
  double bias_gain = 1.0;        // Fraction of the tracked bias added to the forecast, in [0, 1].
  double growth = 1.5;           // Surge-up multiplier per tick, > 1.
  double shrink = 0.7;           // Surge-down multiplier per tick, in (0, 1).
  double max_factor = 4.0;       // Surge-up rate never exceeds actual * max_factor; >= 1.
  bool require_anomaly = false;  // Surge only when the observation is flagged as an anomaly.

  // OK, or InvalidArgument naming the field ("feedback.growth = 0.9: must be > 1").
  absl::Status Validate() const;
};

enum class SurgeMode : uint8_t { kNone, kUp, kDown };
std::string_view SurgeModeName(SurgeMode mode);

// One class's feedback memory. Value-initialised = no history.
struct FeedbackState {
  double bias_per_s = 0;       // EWMA of actual - predicted mean.
  double abs_error_per_s = 0;  // EWMA of |actual - predicted mean|.
  SurgeMode surge = SurgeMode::kNone;
  double surge_rate_per_s = 0;  // The surge rate for the next plan (meaningful unless kNone).
  int64_t observations = 0;
  int64_t surge_ticks = 0;  // Consecutive ticks spent in the current surge.
};

// What happened over one tick, next to what was predicted for it.
struct Observation {
  double actual_per_s = 0;     // Demand that arrived (admitted + rejected), requests/s.
  double predicted_mean = 0;   // The forecast's mean for that tick (before bias correction).
  double predicted_lower = 0;  // The forecast interval for that tick.
  double predicted_upper = 0;
  double planned_rate_per_s = 0;  // The refill rate the plan gave the class for that tick.
  bool anomaly = false;           // The forecasting engine's anomaly flag.
};

// Folds `obs` into `state` (see the Algorithm above). Non-finite or negative numbers in `obs` are
// refused with InvalidArgument naming the field, and `state` is left unchanged.
absl::Status UpdateFeedback(const FeedbackConfig& config, const Observation& obs,
                            FeedbackState* state);

}  // namespace tidegate::plan

#endif  // TIDEGATE_PLAN_FEEDBACK_H_
