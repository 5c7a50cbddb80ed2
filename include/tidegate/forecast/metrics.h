// tidegate/forecast/metrics.h — forecast accuracy and interval metrics as the M4 competition
// defines them (Makridakis, Spiliotis & Assimakopoulos, IJF 36(1), 2020; M4-methods
// "Benchmarks and Evaluation.R"), plus running aggregation over many series.
//
// For one series with in-sample x_1..x_n, seasonal period m, actuals y_1..y_h, forecasts f_i
// and interval [L_i, U_i] at level 1 − α:
//   sMAPE    = (1/h) Σ 200 |y_i − f_i| / (|y_i| + |f_i|)          (a 0/0 term counts as 0)
//   scale    = (1/(n−m)) Σ_{t=m+1..n} |x_t − x_{t−m}|             (m := 1 when n <= m)
//   MASE     = (1/h) Σ |y_i − f_i| / scale
//   MSIS     = (1/h) Σ [(U_i − L_i) + (2/α)(L_i − y_i)·1{y_i < L_i} + (2/α)(y_i − U_i)·1{y_i >
//   U_i}]
//              / scale
//   coverage = (1/h) Σ 1{L_i <= y_i <= U_i}
// Over a data set each metric is the plain mean over series, and
//   OWA = ½ (sMAPE / sMAPE_Naive2 + MASE / MASE_Naive2)       on those means,
//   ACD = |mean coverage − (1 − α)|.
// A series whose scale is 0 (a constant or seasonally constant history) has undefined MASE and
// MSIS: the functions return +inf for a non-zero error (NaN for 0/0), and Aggregate counts and
// skips such series for those two metrics only (M4 hourly has none).
//
// Thread-safety: pure functions; MetricAccumulator is a value type without synchronisation.
#ifndef TIDEGATE_FORECAST_METRICS_H_
#define TIDEGATE_FORECAST_METRICS_H_

#include <cstdint>
#include <span>

namespace tidegate::forecast {

// Official M4 hourly Naive2 scores, the OWA reference.
inline constexpr double kM4HourlyNaive2SMape = 18.383;
inline constexpr double kM4HourlyNaive2Mase = 2.395;

double SMape(std::span<const double> actual, std::span<const double> forecast);
double MaseScale(std::span<const double> insample, int m);
double Mase(std::span<const double> actual, std::span<const double> forecast, double scale);
double Msis(std::span<const double> actual, std::span<const double> lower,
            std::span<const double> upper, double alpha, double scale);
double Coverage(std::span<const double> actual, std::span<const double> lower,
                std::span<const double> upper);
double Owa(double smape, double mase, double smape_naive2, double mase_naive2);

// Scores of one series (NaN where not computed, e.g. no interval).
struct SeriesScores {
  double smape = 0;
  double mase = 0;
  double msis = 0;
  double coverage = 0;
};

// Running means over series. Add() each series's scores; non-finite MASE/MSIS are skipped (and
// counted) as the header comment explains; NaN msis/coverage (no interval) are skipped.
class MetricAccumulator {
 public:
  void Add(const SeriesScores& s);
  int64_t count() const { return n_; }
  double smape() const { return n_smape_ ? smape_ / n_smape_ : 0; }
  double mase() const { return n_mase_ ? mase_ / n_mase_ : 0; }
  double msis() const { return n_msis_ ? msis_ / n_msis_ : 0; }
  double coverage() const { return n_cov_ ? cov_ / n_cov_ : 0; }
  int64_t skipped_scale() const { return skipped_scale_; }

 private:
  int64_t n_ = 0, n_smape_ = 0, n_mase_ = 0, n_msis_ = 0, n_cov_ = 0, skipped_scale_ = 0;
  double smape_ = 0, mase_ = 0, msis_ = 0, cov_ = 0;
};

}  // namespace tidegate::forecast

#endif  // TIDEGATE_FORECAST_METRICS_H_
