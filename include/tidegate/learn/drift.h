// tidegate/learn/drift.h — detects series whose forecast errors have drifted (two-sided CUSUM).
//
// Between full retrains, a global model is trusted per series only as long as its errors look
// like the errors it was trained to make. For each series the caller feeds the observation and
// the forecast that was made for it (median and a scale, e.g. from the 80 % interval); the
// detector standardises the error and runs a two-sided CUSUM (Page 1954) on it:
//
//   e_t  = clamp((y_t − median_t) / scale_t, −c, c)              (c = clip, default 3)
//   g⁺_t = max(0, g⁺_{t−1} + e_t − k),   g⁻_t = max(0, g⁻_{t−1} − e_t − k)
//   drift when g⁺_t > h or g⁻_t > h                                (k = 0.5, h = 5 by default)
//
// With e ~ N(0, 1) (a calibrated forecast) and k = 0.5, h = 5, Siegmund's approximation gives an
// in-control average run length of ≈ 940 steps per side (≈ 470 two-sided) before a false alarm,
// and a shift of one scale unit in the mean is detected after ≈ 10 steps. The clip keeps a single
// outlier (an anomaly, not drift) from raising the alarm by itself: it takes at least
// ceil(h / (c − k)) + 1 = 3 consecutive errors at the clip to alarm.
//
// A drifted series stays flagged (and its sums frozen) until Reset(key) — typically after the
// caller has refitted or fine-tuned it. Missing observations (NaN y) are skipped.
//
// Thread-safety: not synchronised; use one detector per thread or guard it.
#ifndef TIDEGATE_LEARN_DRIFT_H_
#define TIDEGATE_LEARN_DRIFT_H_

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "tidegate/forecast/forecaster.h"

namespace tidegate::learn {

struct DriftOptions {
  double k = 0.5;     // Allowance (reference value), in scale units; > 0.
  double h = 5.0;     // Decision threshold, in scale units; > 0.
  double clip = 3.0;  // Standardised errors are clamped to ±clip; > k.

  absl::Status Validate() const;
};

// Per-series CUSUM state, for inspection.
struct DriftState {
  double g_pos = 0;  // Upper sum (forecasts too low).
  double g_neg = 0;  // Lower sum (forecasts too high).
  int64_t observations = 0;
  bool drifted = false;
  int64_t drifted_at = -1;  // Observation count when the alarm was raised.
};

class DriftDetector {
 public:
  // InvalidArgument (from DriftOptions::Validate) through Create; the constructor is for
  // options known to be valid.
  static absl::StatusOr<DriftDetector> Create(const DriftOptions& options);

  // One observation of series `key`: y against a forecast with this median and scale (> 0;
  // e.g. (q0.9 − q0.1) / 2.563 for an 80 % interval). Returns true when this observation raised
  // the alarm (false if it was already raised). InvalidArgument for a non-finite median, a
  // non-positive or non-finite scale, or an infinite y — naming the series.
  absl::StatusOr<bool> Observe(std::string_view key, double y, double median, double scale);

  // The same with the step-`step` values of a Forecast carrying an interval at `level` percent,
  // scale = (upper − lower) / (2 z_{(1+level/100)/2}). InvalidArgument if the forecast has no
  // interval at `level` or too few steps.
  absl::StatusOr<bool> ObserveForecast(std::string_view key, double y,
                                       const forecast::Forecast& forecast, int step, double level);

  // Series currently flagged, sorted by key.
  std::vector<std::string> Drifted() const;
  // State of `key` (all zero if never observed).
  DriftState State(std::string_view key) const;
  // Clears `key`'s sums and flag (after a refit).
  void Reset(std::string_view key);
  // Continues `key` from a saved State() (checkpoints). InvalidArgument, naming the series, for
  // negative or non-finite sums or a negative observation count.
  absl::Status Restore(std::string_view key, const DriftState& state);
  // Forgets `key` entirely (the series is gone).
  void Erase(std::string_view key);

  const DriftOptions& options() const { return options_; }

 private:
  explicit DriftDetector(const DriftOptions& options) : options_(options) {}
  DriftOptions options_;
  std::map<std::string, DriftState, std::less<>> states_;
};

}  // namespace tidegate::learn

#endif  // TIDEGATE_LEARN_DRIFT_H_
