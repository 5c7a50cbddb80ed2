// tidegate/anomaly/context.h — sequence terms of the conformal detector: season and context.
//
// Both model the order of values, which the point and value-novelty terms of detector.h ignore.
// Each returns, per observation, an upper-tail p-value (tail.h) of a surprise statistic against
// that statistic's own recent past, so both are calibrated the same way as the point term.
//
// SeasonalTerm. A period P is found causally from the values seen so far: at a few fixed counts
// (600, 1200, 2400 values, then every 4000) the autocorrelation ρ(ℓ) of the recent values is
// computed for ℓ up to n/2, and P is the lag of its highest peak after its first local minimum,
// kept if ρ(P) ≥ min_acf (otherwise there is no season and the term returns p = 1). The seasonal
// prediction is the median of x_{t−P}, x_{t−2P}, x_{t−3P} (those available), the residual
// e_t = x_t − that median is scaled by the MAD of recent seasonal residuals, and p_t is the tail
// p-value of |e_t / MAD| among the last `calibration_window` of them. It catches a change of shape
// within a daily cycle (a missing peak, a flattened stretch) that is unremarkable value by value.
//
// ContextNovelty (in the spirit of CAD OSE, Smirnov & Ivanova, NAB 2016). Each value is
// quantised by its rank among the recent values into one of `bins` equal-frequency levels, and
// the last `order` levels form a context. A context not seen in the last `window` steps is
// novel. The statistic is the number of novel contexts among the last `run` steps, and its
// p-value is taken against that count's own recent past: one stray context is routine, a run of
// new contexts in a series that usually repeats itself is not. (The count tends to fall as the
// window fills and fewer contexts are new, which makes the p-value conservative, not liberal.)
//
// Thread-safety: plain value types; use one per series.
#ifndef TIDEGATE_ANOMALY_CONTEXT_H_
#define TIDEGATE_ANOMALY_CONTEXT_H_

#include <cstdint>
#include <deque>
#include <span>
#include <unordered_map>
#include <vector>

#include "tidegate/anomaly/tail.h"

namespace tidegate::anomaly {

class SeasonalTerm {
 public:
  SeasonalTerm(int max_period, double min_acf, int run, int spread_window, int calibration_window,
               double tail_fraction);
  // The p-value of x given `recent` (the values before x, oldest first, finite), then learns x's
  // residual. 1 while there is no season. `recent` must be the same stream step after step.
  double Observe(double x, const std::deque<double>& recent);
  // The period in use; 0 when none.
  int period() const { return period_; }
  // x − the seasonal prediction at the last observation (0 without a season).
  double last_residual() const { return last_residual_; }

 private:
  void FindPeriod(const std::deque<double>& recent);

  int max_period_;
  double min_acf_;
  size_t run_;
  double tail_fraction_;
  int period_ = 0;
  int64_t seen_ = 0;
  int64_t next_search_ = 600;
  double last_residual_ = 0;
  RankWindow residuals_;           // Raw seasonal residuals, for the MAD.
  std::deque<double> magnitudes_;  // Last `run` |scaled seasonal residuals|.
  std::vector<double> scratch_;
  RankWindow calibration_;  // Past statistics (medians of `run` magnitudes).
};

class ContextNovelty {
 public:
  ContextNovelty(int bins, int order, int window, int run, int calibration_window,
                 double tail_fraction);
  // The p-value of the context ending in x, x ranked among `sorted_recent` (the values before x,
  // ascending); then records the context.
  double Observe(double x, std::span<const double> sorted_recent);

 private:
  int bins_;
  int order_;
  size_t window_;
  size_t run_;
  double tail_fraction_;
  std::deque<int> levels_;                    // Last order − 1 levels.
  std::deque<uint64_t> contexts_;             // Last `window` contexts, oldest first.
  std::unordered_map<uint64_t, int> counts_;  // Context -> occurrences in contexts_.
  std::deque<double> novel_;                  // Last `run` novelty indicators (0 or 1).
  double run_count_ = 0;                      // Their sum.
  RankWindow calibration_;                    // Past run counts.
};

}  // namespace tidegate::anomaly

#endif  // TIDEGATE_ANOMALY_CONTEXT_H_
