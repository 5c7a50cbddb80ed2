// tidegate/forecast/select.h — per-series model selection and combination by rolling-origin
// cross-validation, exposed as the model "select" (the automatic choice "auto" is the validated
// combination of combo.h; "select" is the per-series alternative).
//
// Algorithm. Given a series y_1..y_n, candidate models M_1..M_c, a validation horizon v and F
// folds, origin o_f = n − (F − f + 1)·v for f = 1..F (the last F windows of length v):
//   fit M_j on y_1..y_{o_f}, forecast v steps, and record the fold's mean absolute error
//   e_{j,f} = (1/v) Σ_{i=1..v} |y_{o_f+i} − ŷ_{j,o_f+i}|;   E_j = (1/F) Σ_f e_{j,f}.
// (Tashman, "Out-of-sample tests of forecasting accuracy", IJF 16(4), 2000.)
// Selection keeps the candidate with the smallest E_j. Combination keeps the k best and weights
// them by inverse error, w_j ∝ 1/E_j (Σ w_j = 1; a candidate with E_j = 0 takes all the weight),
// then fits each on the full series. The combined forecast is
//   ŷ = Σ w_j ŷ_j,   L = Σ w_j L_j,   U = Σ w_j U_j     (quantile averaging of the bounds;
// each bound of a weighted average of intervals is a weighted average of quantiles, which
// Lichtendahl, Grushka-Cockayne & Winkler, Mgmt Sci 59(8), 2013 show is at least as well
// calibrated in the aggregate as averaging probabilities).
// Candidates that fail to fit are skipped (and listed in the summary); when every candidate
// fails, or the series is too short for one fold (n < v + 2·m), "select" fits seasonal naive
// and states the fallback.
//
// Thread-safety: as every Forecaster (forecaster.h).
#ifndef TIDEGATE_FORECAST_SELECT_H_
#define TIDEGATE_FORECAST_SELECT_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "tidegate/forecast/forecaster.h"

namespace tidegate::forecast {

struct SelectOptions {
  // Registry names; empty = every registered model except the combinations ("auto", "combo",
  // "select"), "naive", "naive2" and global models.
  std::vector<std::string> candidates;
  int validation_horizon = 0;  // v; 0 = 2 × the shortest seasonal period, or 12 without one.
  int folds = 1;               // F >= 1.
  int combine_top = 2;         // k: 1 = pure selection.

  absl::Status Validate() const;
};

struct CandidateScore {
  std::string name;
  double error = 0;  // E_j (mean absolute error over folds); +inf when it failed.
  std::string note;  // The error message when it failed.
};

// Runs the cross-validation above. Scores sorted best first. FailedPrecondition when the series
// is too short for one fold; InvalidArgument for bad options or an unknown candidate.
absl::StatusOr<std::vector<CandidateScore>> CrossValidate(const Series& series,
                                                          const SelectOptions& options);

// The "select" model with options (the registry's NewSelect uses SelectOptions{}).
std::unique_ptr<Forecaster> NewSelect(const SelectOptions& options);
std::unique_ptr<Forecaster> NewSelect();

}  // namespace tidegate::forecast

#endif  // TIDEGATE_FORECAST_SELECT_H_
