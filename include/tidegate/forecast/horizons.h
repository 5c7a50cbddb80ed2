// tidegate/forecast/horizons.h — short, medium and long forecasts from one base series in one call.
//
// Planning needs the next minute (react), the next hour (provision) and the next day (schedule),
// and each is best forecast at its own resolution: the next minute from the raw base step, the
// next day from hourly totals, where daily and weekly cycles are visible and noise averages out.
//
// Algorithm. For each horizon (span S, resolution r >= base step δ, r a multiple of δ):
//   1. Aggregate the base series by f = r/δ into buckets aligned to the END of the series (so the
//      last bucket is complete; a leading remainder of < f values is dropped):
//        sum:  Y_j = (f / o_j) Σ_{i∈bucket j, observed} y_i    (scaled up for o_j < f missing)
//        mean: Y_j = (1 / o_j) Σ_{i∈bucket j, observed} y_i
//      A bucket with no observed value is missing (NaN).
//   2. Seasonal periods at resolution r: the day (86 400 s / r) and the week (7 × the day) when
//      they are whole numbers >= 2, at most kMaxSeasonalPeriod, and the data holds two of them.
//   3. Fit the model on the aggregated series and forecast h = ⌈S / r⌉ steps.
// Defaults (DefaultHorizons): short = 1 min at r = δ; medium = 1 h at r = max(δ, 1 min);
// long = 1 day at r = max(δ, 1 h).
//
// Thread-safety: ForecastHorizons is reentrant.
#ifndef TIDEGATE_FORECAST_HORIZONS_H_
#define TIDEGATE_FORECAST_HORIZONS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "tidegate/forecast/forecaster.h"

namespace tidegate::forecast {

inline constexpr int kMaxSeasonalPeriod = 1440;

enum class Aggregation { kSum, kMean };

struct HorizonSpec {
  std::string name;     // "short", "medium", "long", …
  Duration span;        // S: how far ahead.
  Duration resolution;  // r: 0 = choose (see DefaultHorizons).
};

// short/medium/long as in the header comment, for a base step δ.
std::vector<HorizonSpec> DefaultHorizons(Duration base_step);

struct MultiHorizonOptions {
  std::string model = "auto";                   // Registry name.
  std::vector<double> levels = {95};            // Interval levels, percent.
  Aggregation aggregation = Aggregation::kSum;  // kSum for counts/costs, kMean for gauges.
  std::vector<HorizonSpec> horizons;            // Empty = DefaultHorizons(series.step).
};

struct HorizonForecast {
  HorizonSpec spec;
  Series history;     // The aggregated series the model was fitted on.
  WallTime start;     // Time of forecast step 1 (= history.end()).
  Duration step;      // = spec.resolution.
  Forecast forecast;  // h = ⌈span / resolution⌉ steps.
  FitSummary summary;
};

// Groups `factor` consecutive values as step 1 describes. InvalidArgument for factor < 1.
absl::StatusOr<Series> AggregateSeries(const Series& series, int factor, Aggregation aggregation);

// Calendar periods (day, week) at `resolution` that `n` values can carry (step 2).
std::vector<int> CalendarPeriods(Duration resolution, size_t n);

// One forecast per horizon. InvalidArgument for a resolution that is not a positive multiple of
// the base step, or a span < resolution; FailedPrecondition (naming the horizon) when the
// aggregated series is empty; model errors are returned with the horizon's name prefixed.
absl::StatusOr<std::vector<HorizonForecast>> ForecastHorizons(const Series& series,
                                                              const MultiHorizonOptions& options);

}  // namespace tidegate::forecast

#endif  // TIDEGATE_FORECAST_HORIZONS_H_
