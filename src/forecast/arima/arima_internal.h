// arima_internal.h — what Fit and AutoFit share: data preparation, the parameter transform, the
// cheap "core" fit used for every search candidate, and assembly of a full ArimaModel.
//
// Thread-safety: pure functions.
#ifndef TIDEGATE_SRC_FORECAST_ARIMA_ARIMA_INTERNAL_H_
#define TIDEGATE_SRC_FORECAST_ARIMA_ARIMA_INTERNAL_H_

#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "tidegate/forecast/arima.h"

namespace tidegate::forecast {

// The series divided by `scale` (the largest finite magnitude), ready for any order.
struct ArimaData {
  std::vector<double> ys;  // y / scale, NaN kept.
  double scale = 1;
  int n_finite = 0;
};

// InvalidArgument naming the index of an infinite value, or for a series with no finite value.
absl::StatusOr<ArimaData> PrepareArimaData(std::span<const double> y);

// w = (1-B)^d (1-B^m)^D ys; an entry is NaN when any value it needs is missing.
std::vector<double> Difference(std::span<const double> ys, int d, int seasonal_d, int period);

// Coefficients of one model on the scaled data.
struct ArimaCoefficients {
  std::vector<double> ar, ma, seasonal_ar, seasonal_ma;
  double mu = 0;
};

// Result of optimising one order on a differenced series.
struct ArimaCoreFit {
  bool ok = false;
  ArimaCoefficients coef;
  std::vector<double> x;  // Optimiser coordinates (reusable as a start).
  double loglik = 0;      // On the scaled data (ML: exact; CSS: -n/2 (log(2 pi s2) + 1)).
  double sigma2 = 0;      // ssq / n on the scaled data.
  double ssq = 0;
  int n_used = 0;
  int evaluations = 0;
};

// Fits `order` to the differenced scaled series w. CSS always runs (it is the ML start); ML runs
// when method is kMaximumLikelihood. `start`, if not empty, replaces the CSS start for ML.
ArimaCoreFit FitArimaCore(std::span<const double> w, const ArimaOrder& order, ArimaMethod method,
                          int max_evaluations, std::span<const double> start = {});

// True when every AR/MA polynomial of coef has all roots of modulus >= min_root_modulus.
bool ArimaRootsOk(const ArimaCoefficients& coef, double min_root_modulus);

// Fit() after validation and preparation, with its documented fallbacks.
absl::StatusOr<ArimaModel> FitArimaPrepared(const ArimaData& data, const ArimaOrder& order,
                                            const ArimaFitOptions& options);

class ArimaModelBuilder {
 public:
  // Runs the scaled data through the filter with the given coefficients and fills every field
  // (summary, filter state, buffers). loglik/sigma2 of the summary come from this exact pass,
  // except for CSS fits, where `core` supplies them.
  static ArimaModel Build(const ArimaData& data, const ArimaOrder& order,
                          const ArimaCoefficients& coef, const ArimaCoreFit* core,
                          ArimaMethod method, std::string fallback);
  // Lets AutoFit record its search in the summary.
  static ArimaFitSummary& MutableSummary(ArimaModel& model) { return model.summary_; }
};

}  // namespace tidegate::forecast

#endif  // TIDEGATE_SRC_FORECAST_ARIMA_ARIMA_INTERNAL_H_
