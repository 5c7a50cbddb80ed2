#include "tidegate/anomaly/tail.h"

#include <algorithm>
#include <cmath>

namespace tidegate::anomaly {
namespace {

constexpr size_t kMinTail = 10;
constexpr double kMaxShape = 0.9;

// The tail p-value with the sample seen through `at(i)`, i = 0 the largest, 1 the next, ...,
// `count_at_least` samples ≥ x, and `range` the sample's spread. Shared by both tails.
template <typename At>
double TailPValue(size_t n, At at, double x, size_t count_at_least, double range,
                  double tail_fraction) {
  const double conformal = static_cast<double>(1 + count_at_least) / static_cast<double>(n + 1);
  const size_t k = std::max(kMinTail, static_cast<size_t>(tail_fraction * static_cast<double>(n)));
  if (k >= n) return conformal;  // Too few samples for a tail: ranks only.
  const double u = at(k);        // The threshold: the (k+1)-th largest sample.
  if (!(x > u)) return conformal;
  double mean = 0;
  for (size_t i = 0; i < k; ++i) mean += at(i) - u;
  mean /= static_cast<double>(k);
  const double excess = x - u;
  const double tail_share = static_cast<double>(k) / static_cast<double>(n + 1);
  if (!(mean > 0)) {
    // All top k equal u: no spread to fit. Shrink the conformal p-value with the distance.
    const double scale = range > 0 ? range : (std::fabs(u) > 0 ? std::fabs(u) : 1.0);
    return conformal * scale / (scale + excess);
  }
  double var = 0;
  for (size_t i = 0; i < k; ++i) var += (at(i) - u - mean) * (at(i) - u - mean);
  var /= static_cast<double>(k - 1);
  double shape = 0;
  double scale = mean;
  if (var > 0) {
    const double ratio = mean * mean / var;
    shape = std::clamp(0.5 * (1 - ratio), 0.0, kMaxShape);
    scale = shape > 0 ? 0.5 * mean * (1 + ratio) : mean;
  }
  const double survival =
      shape > 1e-9 ? std::pow(1 + shape * excess / scale, -1 / shape) : std::exp(-excess / scale);
  return std::clamp(tail_share * survival, 1e-300, conformal);
}

}  // namespace

void RankWindow::Push(double x) {
  arrival_.push_back(x);
  sorted_.insert(std::upper_bound(sorted_.begin(), sorted_.end(), x), x);
  if (arrival_.size() > capacity_) {
    sorted_.erase(std::lower_bound(sorted_.begin(), sorted_.end(), arrival_.front()));
    arrival_.pop_front();
  }
}

void RankWindow::Assign(std::span<const double> oldest_first) {
  const size_t n = std::min(oldest_first.size(), capacity_);
  const std::span<const double> kept = oldest_first.last(n);
  arrival_.assign(kept.begin(), kept.end());
  sorted_.assign(kept.begin(), kept.end());
  std::sort(sorted_.begin(), sorted_.end());
}

double MedianInPlace(std::vector<double>& v) {
  const size_t mid = v.size() / 2;
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(mid), v.end());
  double m = v[mid];
  if (v.size() % 2 == 0) {
    m = (m + *std::max_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(mid))) / 2;
  }
  return m;
}

double MedianAbsDeviation(std::span<const double> sorted, double* median) {
  const size_t n = sorted.size();
  const size_t mid = n / 2;
  const double m = n % 2 == 0 ? (sorted[mid] + sorted[mid - 1]) / 2 : sorted[mid];
  *median = m;
  // Distances below the median, nearest first: m − sorted[i] for i = lo, lo − 1, ...; above it:
  // sorted[j] − m for j = hi, hi + 1, ... Merge until the (mid + 1)-th smallest.
  size_t hi =
      static_cast<size_t>(std::lower_bound(sorted.begin(), sorted.end(), m) - sorted.begin());
  ptrdiff_t lo = static_cast<ptrdiff_t>(hi) - 1;
  double previous = 0, current = 0;
  for (size_t k = 0; k <= mid; ++k) {
    previous = current;
    const bool take_low =
        hi >= n || (lo >= 0 && m - sorted[static_cast<size_t>(lo)] <= sorted[hi] - m);
    if (take_low) {
      current = m - sorted[static_cast<size_t>(lo--)];
    } else {
      current = sorted[hi++] - m;
    }
  }
  return n % 2 == 0 ? (current + previous) / 2 : current;
}

double UpperTailPValue(std::span<const double> sorted, double x, double tail_fraction) {
  const size_t n = sorted.size();
  if (n == 0) return 1;
  const size_t at_least =
      static_cast<size_t>(sorted.end() - std::lower_bound(sorted.begin(), sorted.end(), x));
  return TailPValue(
      n, [&](size_t i) { return sorted[n - 1 - i]; }, x, at_least, sorted.back() - sorted.front(),
      tail_fraction);
}

double LowerTailPValue(std::span<const double> sorted, double x, double tail_fraction) {
  const size_t n = sorted.size();
  if (n == 0) return 1;
  const size_t at_most =
      static_cast<size_t>(std::upper_bound(sorted.begin(), sorted.end(), x) - sorted.begin());
  return TailPValue(
      n, [&](size_t i) { return -sorted[i]; }, -x, at_most, sorted.back() - sorted.front(),
      tail_fraction);
}

}  // namespace tidegate::anomaly
