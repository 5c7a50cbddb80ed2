// tidegate/forecast/conformal.h — online interval calibration by adaptive conformal inference.
//
// A model's intervals are only as honest as its error model. AdaptiveConformal recalibrates them
// online, separately for every horizon step k = 1..H and every level, so that the long-run
// coverage matches the nominal level whatever the model assumed.
//
// Algorithm (Gibbs & Candès, "Adaptive Conformal Inference Under Distribution Shift", NeurIPS
// 2021), per (level 1 − α, step k):
//   Score. A forecast issued at time t gives mean μ and model interval [L, U] for y_{t+k}. When
//   y = y_{t+k} arrives its conformity score is the error in units of the model half-width on
//   that side:  s = (y − μ)/(U − μ) if y >= μ,  s = (μ − y)/(μ − L) otherwise
//   (s <= 1 exactly when the model interval covered y).
//   Interval. With Q̂(p) the empirical p-quantile of the last W scores, the calibrated interval is
//     [μ − q (μ − L), μ + q (U − μ)],  q = Q̂(1 − α_t)
//   (q = 1 reproduces the model interval; fewer than `min_scores` scores: q = 1).
//   Adaptation. err_t = 1{y ∉ calibrated interval at issue time};  α_{t+1} = α_t + γ (α − err_t).
//   For any sequence, |(1/T) Σ err_t − α| <= (max(α_1, 1 − α_1) + γ) / (γ T)  (their Prop. 4.1),
//   so long-run miscoverage converges to α without distributional assumptions.
//   α_t may leave [0, 1]: α_t <= 0 gives q = max score × (1 + 1/W) (the widest seen, a finite
//   stand-in for the infinite interval), α_t >= 1 gives q = 0 (the mean only).
//
// Usage, once per time step: Calibrate(f) the forecast just issued and Record() it; when the next
// value arrives, Observe(y) scores every pending forecast that predicted this time step.
//
// Invariants: at most H pending forecasts; W scores per (level, step); every output finite.
// Thread-safety: not synchronised; one owner per series.
#ifndef TIDEGATE_FORECAST_CONFORMAL_H_
#define TIDEGATE_FORECAST_CONFORMAL_H_

#include <deque>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "tidegate/forecast/forecaster.h"

namespace tidegate::forecast {

struct ConformalOptions {
  int horizon = 48;                   // H: steps per forecast.
  std::vector<double> levels = {95};  // Percent; forecasts must carry these intervals.
  double gamma = 0.005;               // Step size γ of the α update; > 0.
  int window = 500;                   // W: scores kept per (level, step); >= 10.
  int min_scores = 20;                // Below this many scores the model interval is used.

  // OK or InvalidArgument naming the field.
  absl::Status Validate() const;
};

class AdaptiveConformal {
 public:
  static absl::StatusOr<AdaptiveConformal> Create(const ConformalOptions& options);

  // The calibrated version of `f` (same mean; intervals rescaled per step and level). Steps
  // beyond H and levels not configured are passed through unchanged.
  Forecast Calibrate(const Forecast& f) const;

  // Remembers a forecast issued now (its model intervals, and the calibrated ones that will be
  // judged for err_t). InvalidArgument if it lacks a configured level.
  absl::Status Record(const Forecast& model_forecast);

  // The next observation (NaN = missing: pending forecasts age without being scored).
  void Observe(double y);

  // Running coverage of the calibrated intervals at `level`, over every step scored so far
  // (NaN before the first score), and per step k (1-based).
  double Coverage(double level) const;
  double Coverage(double level, int step) const;
  // Current α_t for (level, step).
  double Alpha(double level, int step) const;
  int64_t scored() const { return scored_; }

  // What has been learnt — α_t, the scores and the coverage counts of every (level, step) — as
  // bytes (serialize.h format, versioned) for checkpoints. Pending forecasts are not included:
  // they are transient, and a restored calibrator scores the forecasts recorded after it.
  std::string Serialize() const;
  // A calibrator with `options` that continues from Serialize()'s bytes. InvalidArgument naming
  // the problem when the bytes are malformed (truncated, another version, non-finite values) or
  // were written with another horizon, other levels or a larger window.
  static absl::StatusOr<AdaptiveConformal> Deserialize(const ConformalOptions& options,
                                                       std::string_view bytes);

 private:
  struct Cell {  // One (level, step).
    double alpha = 0.05;
    std::vector<double> scores;  // Ring of the last W scores.
    size_t next = 0;             // Ring write position once full.
    int64_t covered = 0, total = 0;
    double Quantile(double p, int min_scores, int window) const;
  };
  struct Pending {
    Forecast model;       // As issued by the model (only the first H steps).
    Forecast calibrated;  // As Calibrate() gave it then.
    int age = 0;          // Steps observed since issue.
  };

  explicit AdaptiveConformal(const ConformalOptions& options);
  int LevelIndex(double level) const;
  Cell& At(int level_index, int step) { return cells_[level_index * options_.horizon + step]; }
  const Cell& At(int level_index, int step) const {
    return cells_[level_index * options_.horizon + step];
  }

  ConformalOptions options_;
  std::vector<Cell> cells_;  // levels × H.
  std::deque<Pending> pending_;
  int64_t scored_ = 0;
};

// One-shot use for a stored series (the CLI, the M4 backtest): fits `model` on all but the last
// `warmup` values, then streams those values through Update() while a calibrator (options.horizon
// := h, options.levels := levels) scores the forecast issued at every step; finally refits on
// the whole series and returns its forecast calibrated with what was learnt. warmup = 0 returns
// the model's own forecast. `calibrator` (optional) receives the calibrator's final state.
// Errors: those of Fit/Predict, InvalidArgument for bad options, FailedPrecondition when the
// series is too short for the warm-up (fewer than warmup + 2·h values).
absl::StatusOr<Forecast> CalibratedForecast(Forecaster& model, const Series& series, int h,
                                            std::span<const double> levels, int warmup,
                                            ConformalOptions options,
                                            AdaptiveConformal* calibrator = nullptr);

}  // namespace tidegate::forecast

#endif  // TIDEGATE_FORECAST_CONFORMAL_H_
