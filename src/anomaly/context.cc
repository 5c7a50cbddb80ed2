#include "tidegate/anomaly/context.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace tidegate::anomaly {
namespace {

// Below this many residuals (seasonal) or calibration samples a term learns only and scores 1.
constexpr size_t kMinSamples = 30;

}  // namespace

SeasonalTerm::SeasonalTerm(int max_period, double min_acf, int run, int spread_window,
                           int calibration_window, double tail_fraction)
    : max_period_(max_period),
      min_acf_(min_acf),
      run_(static_cast<size_t>(run)),
      tail_fraction_(tail_fraction),
      residuals_(static_cast<size_t>(spread_window)),
      calibration_(static_cast<size_t>(calibration_window)) {}

void SeasonalTerm::FindPeriod(const std::deque<double>& recent) {
  const size_t n = recent.size();
  const size_t max_lag = std::min(n / 2, static_cast<size_t>(max_period_));
  if (max_lag < 4) return;
  std::vector<double> y(recent.begin(), recent.end());
  double mean = 0;
  for (double v : y) mean += v;
  mean /= static_cast<double>(n);
  double var = 0;
  for (double& v : y) {
    v -= mean;
    var += v * v;
  }
  int found = 0;
  if (var > 0) {
    std::vector<double> acf(max_lag + 1, 0.0);
    for (size_t lag = 1; lag <= max_lag; ++lag) {
      double s = 0;
      for (size_t i = 0; i + lag < n; ++i) s += y[i] * y[i + lag];
      acf[lag] = s / var;
    }
    // Past the first zero crossing (short lags are high for any smooth series, and a trend or a
    // random walk never crosses within n/2), the highest peak.
    size_t lag = 1;
    while (lag < max_lag && acf[lag] >= 0) ++lag;
    double best = min_acf_;
    for (size_t l = lag + 1; l < max_lag; ++l) {
      if (acf[l] >= acf[l - 1] && acf[l] >= acf[l + 1] && acf[l] >= best) {
        best = acf[l];
        found = static_cast<int>(l);
      }
    }
  }
  if (found != period_) {  // A new period (or none): its residuals start afresh.
    period_ = found;
    residuals_.Assign({});
    magnitudes_.clear();
    calibration_.Assign({});
  }
}

double SeasonalTerm::Observe(double x, const std::deque<double>& recent) {
  ++seen_;
  if (max_period_ > 0 && seen_ >= next_search_) {
    FindPeriod(recent);
    next_search_ = next_search_ < 2400 ? 2 * next_search_ : next_search_ + 4000;
  }
  last_residual_ = 0;
  const size_t p = static_cast<size_t>(period_);
  if (p == 0 || recent.size() < p) return 1;
  // Median of the same phase in up to three earlier periods.
  double past[3];
  size_t m = 0;
  for (size_t k = 1; k <= 3 && k * p <= recent.size(); ++k)
    past[m++] = recent[recent.size() - k * p];
  std::sort(past, past + m);
  const double residual = x - (m == 2 ? (past[0] + past[1]) / 2 : past[m / 2]);
  last_residual_ = residual;

  if (residuals_.size() < kMinSamples) {  // Too few residuals for a spread: learn only.
    residuals_.Push(residual);
    return 1;
  }
  double center = 0;
  const double mad = 1.4826 * MedianAbsDeviation(residuals_.sorted(), &center);
  const double spread = std::max(mad, 1e-9 * std::max(1.0, std::fabs(x)));
  // The statistic: the median of the last `run` magnitudes, so that a change of shape (a run of
  // large residuals) stands out and a single step's jitter at a steep edge of the cycle does not.
  magnitudes_.push_back(std::fabs(residual) / spread);
  if (magnitudes_.size() > run_) magnitudes_.pop_front();
  scratch_.assign(magnitudes_.begin(), magnitudes_.end());
  const double stat = MedianInPlace(scratch_);
  const double pvalue = calibration_.size() >= kMinSamples
                            ? UpperTailPValue(calibration_.sorted(), stat, tail_fraction_)
                            : 1.0;
  residuals_.Push(residual);
  calibration_.Push(stat);
  return pvalue;
}

ContextNovelty::ContextNovelty(int bins, int order, int window, int run, int calibration_window,
                               double tail_fraction)
    : bins_(bins),
      order_(order),
      window_(static_cast<size_t>(window)),
      run_(static_cast<size_t>(run)),
      tail_fraction_(tail_fraction),
      calibration_(static_cast<size_t>(calibration_window)) {}

double ContextNovelty::Observe(double x, std::span<const double> sorted_recent) {
  // Quantise x by its mid-rank among the recent values into `bins` equal-frequency levels.
  int level = 0;
  if (!sorted_recent.empty()) {
    const auto lo = std::lower_bound(sorted_recent.begin(), sorted_recent.end(), x);
    const auto hi = std::upper_bound(lo, sorted_recent.end(), x);
    const double rank =
        (static_cast<double>(lo - sorted_recent.begin()) + 0.5 * static_cast<double>(hi - lo)) /
        static_cast<double>(sorted_recent.size());
    level = std::min(bins_ - 1, static_cast<int>(rank * bins_));
  }
  // The context: this level and the previous order − 1 (FNV-1a over the levels).
  uint64_t key = 1469598103934665603ULL;
  auto mix = [&key](int v) {
    key ^= static_cast<uint64_t>(v + 1);
    key *= 1099511628211ULL;
  };
  for (int v : levels_) mix(v);
  mix(level);
  const bool complete = static_cast<int>(levels_.size()) == order_ - 1;
  levels_.push_back(level);
  if (levels_.size() >= static_cast<size_t>(order_)) levels_.pop_front();

  double novel = 0;
  if (complete) {
    int& c = counts_[key];
    if (c == 0 && !contexts_.empty()) novel = 1;
    ++c;
    contexts_.push_back(key);
    if (contexts_.size() > window_) {
      auto old = counts_.find(contexts_.front());
      contexts_.pop_front();
      if (--old->second == 0) counts_.erase(old);
    }
  }
  novel_.push_back(novel);
  run_count_ += novel;
  if (novel_.size() > run_) {
    run_count_ -= novel_.front();
    novel_.pop_front();
  }
  const double stat = run_count_;
  const double pvalue = calibration_.size() >= kMinSamples
                            ? UpperTailPValue(calibration_.sorted(), stat, tail_fraction_)
                            : 1.0;
  calibration_.Push(stat);
  return pvalue;
}

}  // namespace tidegate::anomaly
