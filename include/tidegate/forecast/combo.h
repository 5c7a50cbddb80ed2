// tidegate/forecast/combo.h — "combo": a fixed combination of several models' forecasts.
//
// Algorithm. Every member model M_1..M_c is fitted on the full series; at each step i the combined
// forecast takes, separately for the point forecast and for each interval bound, the median
// (default) or the mean of the members' values:
//     ŷ_i = med_j ŷ_{j,i},   L_i = med_j L_{j,i},   U_i = med_j U_{j,i}.
// Combining quantiles (bounds) rather than probabilities keeps the interval sharp; Lichtendahl,
// Grushka-Cockayne & Winkler (Mgmt Sci 59(8), 2013) show averaged quantiles are at least as well
// calibrated in the aggregate, and the median of forecasts is robust to one member going astray
// (Hibon & Evgeniou, IJF 21(1), 2005: combinations are reliably close to the best member). With
// an even number of members the median is the mean of the middle two. Unlike "auto" (select.h)
// there is no cross-validation, so fitting costs the sum of the members' fits.
// Interval scale. Medians of bounds are not bounds of the median: the combined interval can be
// systematically too wide (or narrow). With κ = interval_scale every bound is moved about the
// combined mean, L'_i = ŷ_i − κ(ŷ_i − L_i), U'_i = ŷ_i + κ(U_i − ŷ_i); κ is chosen once on a
// validation split (docs/design/forecast.md §5), not per series.
// A member may be a global model ("lstm", global_model.h) taken from ComboOptions::context. A
// global member that is not in the context, or cannot serve the series itself (too short for its
// input window, so it would only repeat a classical fallback), is left out and the summary says so.
// A member that fails to fit is left out and named in FitSummary::fallback; when every member
// fails, seasonal naive is fitted instead (also stated).
//
// "auto" (the automatic choice; AutoComboOptions) is this combination with the members,
// aggregation and κ chosen on a validation split of M4 hourly: arima and sar, plus the global
// LSTM when the context holds one.
//
// Thread-safety: as every Forecaster (forecaster.h).
#ifndef TIDEGATE_FORECAST_COMBO_H_
#define TIDEGATE_FORECAST_COMBO_H_

#include <memory>
#include <span>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "tidegate/forecast/forecaster.h"
#include "tidegate/forecast/global_model.h"

namespace tidegate::forecast {

struct ComboOptions {
  // Registry names; none may be "combo" or "auto". Default: SARIMA, the seasonal autoregression,
  // the Prophet-style model and seasonal naive (median of four = mean of the middle two), the
  // best of the sets measured on M4 hourly (docs/BENCHMARKS.md).
  std::vector<std::string> members = {"arima", "sar", "prophet", "snaive"};
  enum class Aggregate { kMedian, kMean };
  Aggregate aggregate = Aggregate::kMedian;
  // κ above: > 0 and finite; 1 = the aggregated bounds unchanged.
  double interval_scale = 1.0;
  // Trained global models a member may name ("lstm"). A global member missing here is left out
  // at Fit (stated in the summary), so one option set serves with and without a model file.
  ModelContext context;

  // OK, or InvalidArgument naming the offending member or field (empty list, unknown, nested
  // combo/auto/select, interval_scale not finite and positive).
  absl::Status Validate() const;
};

// The combination of member forecasts of equal horizon and levels, as the "combo" model makes it
// (median or mean per step of the means and of each bound, bounds clamped around the mean, then
// scaled about it by `interval_scale`). InvalidArgument when `parts` is empty or the parts
// disagree in horizon or levels.
absl::StatusOr<Forecast> CombineForecasts(std::span<const Forecast> parts,
                                          ComboOptions::Aggregate how, double interval_scale);

// The options of "auto", the automatic choice: the median of arima, sar and — when `context`
// holds a trained "lstm" — the LSTM (without it, the mean of arima and sar), with the interval
// scale chosen on validation for each case.
ComboOptions AutoComboOptions(const ModelContext& context);

std::unique_ptr<Forecaster> NewCombo(const ComboOptions& options);
std::unique_ptr<Forecaster> NewCombo();
// The "auto" model: a combination named "auto" with AutoComboOptions(context).
std::unique_ptr<Forecaster> NewAuto(const ModelContext& context);

}  // namespace tidegate::forecast

#endif  // TIDEGATE_FORECAST_COMBO_H_
