// tidegate/anomaly/tail.h — order statistics over a sliding window and calibrated tail p-values.
//
// RankWindow keeps the last `capacity` values both in arrival order and sorted, so that the rank
// of a new value among them costs O(log n) and a push O(n) memmove (n is a few thousand here).
//
// UpperTailPValue turns a value x into an upper-tail p-value against a sample (sorted ascending):
//   * inside the sample's body, the conformal p-value  p = (1 + #{s_i ≥ x}) / (n + 1);
//   * in the tail — beyond the k-th largest sample u, k = max(10, ⌊tail_fraction · n⌋) — a
//     peaks-over-threshold fit (Pickands–Balkema–de Haan: excesses over a high threshold are
//     generalised-Pareto). With the excesses y_j = s_j − u of the top k samples, mean m and
//     variance v, the method-of-moments fit is
//         ξ = ½ (1 − m²/v),   σ = ½ m (1 + m²/v)
//     (Hosking & Wallis, Technometrics 29, 1987), and
//         p = k / (n + 1) · (1 + ξ (x − u) / σ)^(−1/ξ)      (ξ → 0: k / (n + 1) · e^{−(x−u)/σ}).
//     ξ is clamped to [0, 0.9]: the fit never claims a finite end point (a value beyond a light
//     tail still gets a positive p) and a heavy tail keeps a finite mean.
//     This is the SPOT construction of Siffer et al., KDD 2017, with moments for speed. Unlike the
//     plain rank it keeps resolving beyond the largest sample, so p-values are comparable between
//     series with different tails and sample sizes.
//   * a degenerate tail (all top k equal) falls back to the conformal p-value scaled by
//     (u_scale / (u_scale + x − u)), where u_scale is the sample's range (or |u|, or 1).
//
// Thread-safety: RankWindow is a plain value type; the functions are pure.
#ifndef TIDEGATE_ANOMALY_TAIL_H_
#define TIDEGATE_ANOMALY_TAIL_H_

#include <cstddef>
#include <deque>
#include <span>
#include <vector>

namespace tidegate::anomaly {

class RankWindow {
 public:
  explicit RankWindow(size_t capacity) : capacity_(capacity) {}

  // Appends x (finite), dropping the oldest value beyond capacity.
  void Push(double x);
  // Replaces the window with the last `capacity` of `oldest_first` (finite values), in
  // O(n log n): what a restore from saved state needs.
  void Assign(std::span<const double> oldest_first);
  size_t size() const { return sorted_.size(); }
  bool empty() const { return sorted_.empty(); }
  // The window's values, ascending.
  std::span<const double> sorted() const { return sorted_; }
  // The window's values, oldest first.
  const std::deque<double>& arrival() const { return arrival_; }

 private:
  size_t capacity_;
  std::deque<double> arrival_;
  std::vector<double> sorted_;  // Invariant: a sorted permutation of arrival_.
};

// The median of `v` (non-empty; the mean of the middle two for an even size), by selection: O(n),
// and `v` is reordered.
double MedianInPlace(std::vector<double>& v);

// The median of `sorted` (ascending, non-empty; the mean of the middle two for an even size) in
// *median, and returns the median absolute deviation from it, by the same even-size rule. O(n/2)
// by merging the distances on either side of the median, which come out sorted; the same values,
// bit for bit, as selecting the medians of the raw and the deviation samples.
double MedianAbsDeviation(std::span<const double> sorted, double* median);

// The upper-tail p-value of x against `sorted` (ascending), in (0, 1]; 1 for an empty sample.
// `tail_fraction` in (0, 1) sets the tail size k; see the header comment.
double UpperTailPValue(std::span<const double> sorted, double x, double tail_fraction);

// The lower-tail p-value: UpperTailPValue of −x against the negated sample.
double LowerTailPValue(std::span<const double> sorted, double x, double tail_fraction);

}  // namespace tidegate::anomaly

#endif  // TIDEGATE_ANOMALY_TAIL_H_
