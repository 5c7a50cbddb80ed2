// tidegate/anomaly/detector.h — causal anomaly scores, flags and kinds for one series.
//
// A Detector consumes one observation at a time and returns, for that observation, a score in
// [0, 1], a flag and a kind. It is causal: the result for x_t depends on x_0..x_t only. The
// planner uses the flag to stop trusting a forecast (surge mode); the daemon raises alerts on it.
//
// Algorithm (ConformalDetector; docs/design/anomaly.md has the derivation):
//   1. Prediction. x̂_t is a robust local level: the median of the last `level_window` values
//      (missing values skipped). The residual is r_t = x_t − x̂_t.
//   2. Calibrated surprise. r_t is scaled by a robust spread (MAD of recent residuals), and its
//      conformal p-value is taken against the last `calibration_window` scaled residuals:
//          p_t = (1 + #{i : |s_i| ≥ |s_t|}) / (n + 1)
//      Under exchangeability p_t is uniform, so P(p_t ≤ α) ≤ α: the surprise is calibrated
//      whatever the residual distribution. In the top `tail_fraction` of the calibration set the
//      rank is refined by a generalised-Pareto fit of the tail (tail.h), so p_t keeps resolving
//      below 1/(n + 1) and is comparable between series. The point score is u_t = 1 − p_t.
//   3. Level shifts. A shift makes many moderately surprising residuals in a row, none extreme.
//      With v_t = −log p_t (mean 1 under the null), the short-run mean m_s over `short_window`
//      is compared with the long-run mean and sd of v (anomaly likelihood, as in Ahmad et al.
//      2017): L_t = Φ((m_s − μ_v) / σ_v). Φ is the standard normal CDF.
//   4. Value novelty. The two-sided conformal p-value of x_t among the last `history_window`
//      values, q_t = min(1, 2·min(1 + #{x_i ≥ x_t}, 1 + #{x_i ≤ x_t}) / (n + 1)), with the same
//      tail fit at both ends, catches values outside the range seen so far once the local level
//      of step 1 has adapted to them. A value already in the window gets its exact rank: the
//      tail fit only extrapolates between and beyond the samples. An extreme that recurs at an
//      interval seen between the last extremes on its side, and is no larger than they were, is
//      routine and gets no novelty (recurrence_tolerance).
//   5. Sequence terms (context.h). Seasonal: with a period P found causally by autocorrelation,
//      the median of 5 residuals x_t − median(x_{t−P}, x_{t−2P}, x_{t−3P}), scaled by their MAD,
//      gets a tail p-value p^S against its own past. Context novelty: values quantised by rank into
//      `context_bins` levels, contexts of `context_order` levels, and the count of contexts unseen
//      in `context_window` steps over the last `context_run` steps gets a tail p-value p^C.
//      Gates: L_t counts only when 1 − q_t ≥ likelihood_gate and the context term only when
//      1 − q_t ≥ context_gate (a surge or a new order of values within the bulk of what the
//      series does is not flagged by those terms). Optionally (likelihood_daily_gate) L_t also
//      needs x outside the bulk of the values at the same time of day on earlier days: a surge
//      usual at that hour is not a level shift.
//      Score = max(point_weight·u_t, L_t, 1 − q_t, season_weight·(1 − p^S),
//      context_weight·(1 − p^C)), then a refractory period: after a flag, scores are multiplied
//      by the fraction of `refractory_seconds` elapsed (counted in steps of `step_seconds`), so
//      one event raises one alarm. By default
//      point_weight = 0: the point p-value only feeds L_t.
//   6. Kind: kSpike / kDip when a value or sequence term dominates (by the sign of the residual
//      from the season when one is in use, else from the local level), kLevelShift when the
//      likelihood does, kNone below the flag.
//   Missing observations (NaN) return score 0, flag false, and leave every state unchanged.
//   The likelihood's sums are exact integer running sums (O(1)); the MAD comes from a sorted
//   window in O(spread_window / 2).
//   The first `probation` observations score 0 while the windows fill.
//
// WindowedGaussianDetector is the classic baseline: z = |x_t − μ_W| / σ_W over the previous W
// values and score = erf(z / √2) (two-sided Gaussian tail).
//
// Thread-safety: a Detector is not thread-safe; use one per series (they are small).
#ifndef TIDEGATE_ANOMALY_DETECTOR_H_
#define TIDEGATE_ANOMALY_DETECTOR_H_

#include <cstdint>
#include <deque>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/numeric/int128.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "tidegate/anomaly/context.h"
#include "tidegate/anomaly/tail.h"

namespace tidegate::anomaly {

enum class AnomalyKind { kNone, kSpike, kDip, kLevelShift };
std::string_view AnomalyKindName(AnomalyKind kind);

struct AnomalyResult {
  double score = 0;  // [0, 1]
  bool flag = false;
  AnomalyKind kind = AnomalyKind::kNone;
};

class Detector {
 public:
  virtual ~Detector() = default;
  // Scores x (NaN = missing) given everything seen before. Never returns a NaN score.
  virtual AnomalyResult Observe(double x) = 0;
  virtual std::string_view Name() const = 0;
};

struct ConformalDetectorOptions {
  int level_window = 32;          // Median of this many recent values predicts the next.
  int spread_window = 256;        // MAD of this many recent residuals scales them.
  int calibration_window = 4000;  // Conformal p-values against this many scaled residuals.
  int short_window = 6;           // Likelihood: short-run mean of −log p.
  int long_window = 2400;         // Likelihood: long-run mean and sd of −log p.
  int probation = 150;            // Observations scored 0 while windows fill.
  double flag_threshold = 0.999;  // Score at or above this raises the flag.
  // After a flag, scores are damped for this long, so one event raises one alarm. A duration,
  // not a count of observations: an event lasts hours whatever the sampling interval.
  double refractory_seconds = 60000;  // 16 h 40 min.
  double step_seconds = 60;           // Interval between observations (`detect` measures it).
  int history_window = 4000;          // Value novelty: rank of x among this many past values.
  double point_weight = 0;            // 0: the point surprise only feeds the likelihood.
  // Gates on how far x lies outside the bulk of the recent values, 1 − q_t (the value-novelty
  // score before its weight): the likelihood counts only when 1 − q_t ≥ likelihood_gate (x outside
  // the central 90 % of the history), context novelty only when 1 − q_t ≥ context_gate (outside
  // the central half). 0 disables a gate.
  double likelihood_gate = 0.9;
  double context_gate = 0.5;
  // Daily-profile gate of the likelihood: it counts only when x also lies outside the central
  // likelihood_daily_gate of the values at the same time of day (± daily_halfwidth_seconds) on the
  // earlier days the history holds — a surge that is usual at this hour is not a level shift. The
  // gate passes when too few such values are held to resolve it (at 0.92, fewer than 24: under a
  // day of history at one value per 5 minutes, 8 days at one an hour). 0 disables it.
  double likelihood_daily_gate = 0.92;
  double daily_halfwidth_seconds = 1800;
  double novelty_weight = 1;    // 0 disables the value-novelty term.
  double tail_fraction = 0.05;  // Share of a sample fitted as its tail (tail.h).
  // Seasonal term (context.h): 0 disables it.
  double season_weight = 1;
  double season_min_acf = 0.7;   // Autocorrelation at the period needed to use it.
  int season_max_period = 1440;  // Longest period searched, in observations.
  int season_run = 5;            // Median of this many scaled residuals is the statistic.
  // Context novelty term (context.h): 0 disables it. Below 1 it also raises the term's own flag
  // threshold: context_weight·(1 − p^C) ≥ flag_threshold needs p^C ≤ 1 − flag_threshold /
  // context_weight (5e-4 at the defaults, against 1e-3 for the other terms).
  double context_weight = 0.9995;
  int context_bins = 8;       // Equal-frequency levels a value is quantised into.
  int context_order = 3;      // Levels per context.
  int context_window = 4000;  // Contexts remembered.
  int context_run = 8;        // Steps whose surprises are summed.
  // Recurring extremes: 0 disables. An extreme (x outside the central 99 % of the history, i.e.
  // 1 − q_t ≥ 0.99; steps within two of the last extreme continue its event) that starts a new
  // event is routine when the time since the previous extreme event on the same side of the
  // median is within recurrence_tolerance (relative) of at least recurrence_count of the last
  // eight intervals between extreme events on that side, and it lies no further from the median
  // than (1 + recurrence_tolerance) times the farthest of the nine: its value novelty then does
  // not count (a daily one-step spike is not news on its fifth day). Not in the saved state:
  // Restore rebuilds it from the history.
  double recurrence_tolerance = 0.05;  // Cross-validated (tune_nab.sh).
  int recurrence_count = 1;

  // OK, or InvalidArgument naming the field.
  absl::Status Validate() const;
};

// What a ConformalDetector has learnt, oldest value first in every window (for checkpoints: the
// daemon persists it so that a restart resumes the detector). The sequence terms are rebuilt
// from `history` on Restore.
struct ConformalDetectorState {
  std::vector<double> values;       // Last level_window values.
  std::vector<double> residuals;    // Last spread_window residuals.
  std::vector<double> calibration;  // Last calibration_window |scaled residuals|.
  std::vector<double> surprise;     // Last long_window values of −log p.
  std::vector<double> history;      // Last history_window values.
  int64_t seen = 0;                 // Observations so far (probation).
  int64_t since_flag = -1;          // Steps since the last flag; -1: never flagged.
};

class ConformalDetector final : public Detector {
 public:
  static absl::StatusOr<std::unique_ptr<ConformalDetector>> Create(
      const ConformalDetectorOptions& options);
  // A detector that continues from `state` (as State() returned it). The sequence terms are not
  // in the state: they are rebuilt by replaying `state.history`, exactly when the history holds
  // everything seen. InvalidArgument when the options are invalid, a window holds more values
  // than its option allows, a value is not finite, a surprise lies outside [0, 1000], or the
  // counters are negative (seen < 0, since_flag < -1) — naming the field.
  static absl::StatusOr<std::unique_ptr<ConformalDetector>> Restore(
      const ConformalDetectorOptions& options, ConformalDetectorState state);
  AnomalyResult Observe(double x) override;
  std::string_view Name() const override { return "conformal"; }
  ConformalDetectorState State() const;
  const ConformalDetectorOptions& options() const { return o_; }

 private:
  explicit ConformalDetector(const ConformalDetectorOptions& o);
  void ReplaySequenceTerms();
  void PushSurprise(int64_t quantum);
  // 1 − q of x among the history's values at the same time of day on earlier days (two-sided
  // exact ranks); 1 when too few are held to resolve likelihood_daily_gate.
  double OutsideDailyProfile(double x) const;

  ConformalDetectorOptions o_;
  std::deque<double> values_;         // Last level_window values.
  RankWindow residuals_;              // Last spread_window raw residuals.
  RankWindow calibration_;            // Last calibration_window |scaled residuals|.
  std::deque<int64_t> surprise_;      // Last long_window values of −log p, in units of 2^-16.
  int64_t surprise_sum_ = 0;          // Σ surprise_.
  absl::int128 surprise_sum_sq_ = 0;  // Σ surprise_².
  RankWindow history_;                // Last history_window values.
  // The sequence terms, only when their weight is > 0 (each holds several windows: a detector
  // without them stays small, as the daemon keeps one per class).
  std::unique_ptr<SeasonalTerm> season_;
  std::unique_ptr<ContextNovelty> context_;
  // Recurring extremes: the start step, signed distance from the median, of recent extreme events.
  struct Extreme {
    int64_t step;
    double excess;
  };
  // Whether the history is large enough (and used) for the value-novelty score 1 − q_t.
  bool NoveltyKnown(size_t history_size) const;
  // 1 − q_t: how far x lies outside the bulk of `sorted` (ascending), two-sided.
  double Outside(std::span<const double> sorted, double x) const;
  // Records x at `step` if it is extreme; true when it belongs to a recurring extreme event.
  bool TrackExtreme(int64_t step, double x, double outside, std::span<const double> sorted);
  std::deque<Extreme> extremes_[2];  // Below and above the median.
  int64_t last_extreme_step_ = -1000;
  bool extreme_recurrent_ = false;  // Whether the current extreme event is a recurring one.
  int64_t refractory_steps_;        // refractory_seconds / step_seconds, at least 1.
  int64_t daily_period_;            // One day in steps, at least 1.
  int64_t daily_halfwidth_;         // daily_halfwidth_seconds in steps.
  int64_t seen_ = 0;
  int64_t since_flag_ = -1;  // Steps since the last flag; -1: never flagged.
  std::vector<double> scratch_;
};

struct WindowedGaussianOptions {
  int window = 6400;
  int probation = 150;
  double flag_threshold = 0.9999;
  absl::Status Validate() const;
};

class WindowedGaussianDetector final : public Detector {
 public:
  static absl::StatusOr<std::unique_ptr<WindowedGaussianDetector>> Create(
      const WindowedGaussianOptions& options);
  AnomalyResult Observe(double x) override;
  std::string_view Name() const override { return "windowed_gaussian"; }

 private:
  explicit WindowedGaussianDetector(const WindowedGaussianOptions& o) : o_(o) {}
  WindowedGaussianOptions o_;
  std::deque<double> window_;
  double sum_ = 0;
  double sum_sq_ = 0;
};

// Sets one option by name from text ("refractory_seconds=3600"); InvalidArgument naming the key or
// value.
absl::Status SetOption(ConformalDetectorOptions& options, std::string_view assignment);

// The step_seconds a series sampled at `times` (seconds, ascending) should be scored with: the
// median interval between its first kStepSample + 1 timestamps, which precede the end of the
// default probation, so a score still uses only the rows up to its own. 0 when fewer than two.
inline constexpr size_t kStepSample = 32;
double MeasureStepSeconds(std::span<const double> times);

// "conformal" or "windowed_gaussian" with default options (conformal's adjusted by `settings`,
// each "key=value"); NotFound for any other name. A positive `step_seconds` (the series' interval,
// e.g. MeasureStepSeconds of its timestamps) is set first, so a step_seconds in `settings` wins.
absl::StatusOr<std::unique_ptr<Detector>> MakeDetector(
    std::string_view name, const std::vector<std::string>& settings = {}, double step_seconds = 0);

}  // namespace tidegate::anomaly

#endif  // TIDEGATE_ANOMALY_DETECTOR_H_
