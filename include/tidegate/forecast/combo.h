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
// A member that fails to fit is left out and named in FitSummary::fallback; when every member
// fails, seasonal naive is fitted instead (also stated).
//
// Thread-safety: as every Forecaster (forecaster.h).
#ifndef TIDEGATE_FORECAST_COMBO_H_
#define TIDEGATE_FORECAST_COMBO_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "tidegate/forecast/forecaster.h"

namespace tidegate::forecast {

struct ComboOptions {
  // Registry names; none may be "combo" or "auto". Default: SARIMA, the seasonal autoregression,
  // the Prophet-style model and seasonal naive (median of four = mean of the middle two), the
  // best of the sets measured on M4 hourly (docs/BENCHMARKS.md).
  std::vector<std::string> members = {"arima", "sar", "prophet", "snaive"};
  enum class Aggregate { kMedian, kMean };
  Aggregate aggregate = Aggregate::kMedian;

  // OK, or InvalidArgument naming the offending member (empty list, unknown, nested combo/auto).
  absl::Status Validate() const;
};

std::unique_ptr<Forecaster> NewCombo(const ComboOptions& options);
std::unique_ptr<Forecaster> NewCombo();

}  // namespace tidegate::forecast

#endif  // TIDEGATE_FORECAST_COMBO_H_
