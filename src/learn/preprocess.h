// learn/preprocess.h — per-series normalisation and input windows of the global LSTM.
//
// See lstm.h (Algorithm) and docs/design/learning.md for the formulas. Pure functions and values.
#ifndef TIDEGATE_SRC_LEARN_PREPROCESS_H_
#define TIDEGATE_SRC_LEARN_PREPROCESS_H_

#include <cstdint>
#include <span>
#include <vector>

#include "absl/status/statusor.h"
#include "tidegate/common/clock.h"
#include "tidegate/forecast/serialize.h"
#include "tidegate/learn/lstm.h"

namespace tidegate::learn {

inline constexpr double kClip = 20.0;  // Normalised inputs and targets are clipped to ±kClip.

// Linear interpolation of NaN runs (leading/trailing runs take the nearest value).
// FailedPrecondition if every value is NaN.
absl::StatusOr<std::vector<double>> InterpolateMissing(std::span<const double> values);

// A series' seasonal profile: d_t = y_t / s[t mod P] (multiplicative) or y_t − s[t mod P].
struct SeriesProfile {
  bool multiplicative = true;
  bool nonnegative = true;       // Every training value >= 0: forecasts are clamped at 0.
  std::vector<double> seasonal;  // P indices, by phase of the series index.

  // From a series without NaN (>= 1 value). Indices from a classical decomposition of the last
  // <= 28 periods when there are at least 3 periods; otherwise flat (1 or 0).
  static SeriesProfile Fit(std::span<const double> clean, int period);
  double Deseasonalise(double y, int64_t index) const;
  double Reseasonalise(double d, int64_t index) const;

  void Write(forecast::ByteWriter& w) const;
  bool Read(forecast::ByteReader& r, int period);
};

// The network inputs for one window of deseasonalised values d[0..K·P) whose first element has
// series index `first_index` (unused here; the phase is already removed) and time `first_time`.
struct WindowInput {
  std::vector<float> patches;  // K × (P + 4).
  std::vector<float> extra;    // P + 4: the last patch and the calendar of the forecast origin.
  double level = 0;            // L.
  double scale = 1;            // S.
};
// Appends to `out` (reusing its buffers).
void MakeWindow(std::span<const double> d, WallTime first_time, Duration step,
                const LstmOptions& options, WindowInput* out);

// sin/cos of hour of day and day of week (UTC) at `t`, appended to `out`.
void AppendCalendar(WallTime t, std::vector<float>* out);

inline float Normalise(double d, const WindowInput& w) {
  double x = (d - w.level) / w.scale;
  if (x > kClip) x = kClip;
  if (x < -kClip) x = -kClip;
  return static_cast<float>(x);
}

// A training/validation series after preprocessing.
struct PreparedSeries {
  SeriesProfile profile;
  std::vector<double> d;  // Deseasonalised values.
  WallTime start{};
  Duration step{};
};

}  // namespace tidegate::learn

#endif  // TIDEGATE_SRC_LEARN_PREPROCESS_H_
