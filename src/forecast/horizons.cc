#include "tidegate/forecast/horizons.h"

#include <fmt/format.h>

#include <chrono>
#include <cmath>

#include "tidegate/common/status.h"
#include "tidegate/forecast/model_registry.h"

namespace tidegate::forecast {

std::vector<HorizonSpec> DefaultHorizons(Duration base_step) {
  using std::chrono::hours;
  using std::chrono::minutes;
  const Duration minute = minutes(1), hour = hours(1);
  // Round a target resolution up to a multiple of the base step.
  auto at_least = [&](Duration target) {
    if (base_step >= target) return base_step;
    const int64_t k = (target.count() + base_step.count() - 1) / base_step.count();
    return base_step * k;
  };
  return {
      {"short", minute, base_step},
      {"medium", hour, at_least(minute)},
      {"long", hours(24), at_least(hour)},
  };
}

absl::StatusOr<Series> AggregateSeries(const Series& series, int factor, Aggregation aggregation) {
  if (factor < 1) {
    return absl::InvalidArgumentError(
        fmt::format("aggregation factor must be >= 1, got {}", factor));
  }
  Series out;
  out.step = series.step * factor;
  const size_t n = series.values.size();
  const size_t buckets = n / static_cast<size_t>(factor);
  const size_t skip = n - buckets * static_cast<size_t>(factor);  // Leading remainder.
  out.start = series.start + series.step * static_cast<int64_t>(skip);
  out.values.reserve(buckets);
  for (size_t b = 0; b < buckets; ++b) {
    double sum = 0;
    int observed = 0;
    for (int i = 0; i < factor; ++i) {
      const double v = series.values[skip + b * factor + i];
      if (std::isnan(v)) continue;
      sum += v;
      ++observed;
    }
    if (observed == 0) {
      out.values.push_back(std::numeric_limits<double>::quiet_NaN());
    } else if (aggregation == Aggregation::kSum) {
      out.values.push_back(sum * factor / observed);
    } else {
      out.values.push_back(sum / observed);
    }
  }
  return out;
}

std::vector<int> CalendarPeriods(Duration resolution, size_t n) {
  std::vector<int> out;
  const Duration day = std::chrono::hours(24);
  if (resolution.count() <= 0 || day.count() % resolution.count() != 0) return out;
  const int64_t per_day = day.count() / resolution.count();
  for (int64_t p : {per_day, 7 * per_day}) {
    if (p >= 2 && p <= kMaxSeasonalPeriod && static_cast<size_t>(2 * p) <= n) {
      out.push_back(static_cast<int>(p));
    }
  }
  return out;
}

absl::StatusOr<std::vector<HorizonForecast>> ForecastHorizons(const Series& series,
                                                              const MultiHorizonOptions& options) {
  TIDEGATE_RETURN_IF_ERROR(ValidateSeries(series));
  const std::vector<HorizonSpec> specs =
      options.horizons.empty() ? DefaultHorizons(series.step) : options.horizons;
  std::vector<HorizonForecast> out;
  for (HorizonSpec spec : specs) {
    if (spec.resolution.count() == 0) spec.resolution = series.step;
    if (spec.resolution.count() < 0 || spec.resolution.count() % series.step.count() != 0) {
      return absl::InvalidArgumentError(fmt::format(
          "horizon '{}': resolution {} ns is not a positive multiple of the base step {} ns",
          spec.name, spec.resolution.count(), series.step.count()));
    }
    if (spec.span < spec.resolution) {
      return absl::InvalidArgumentError(
          fmt::format("horizon '{}': span {} ns is shorter than its resolution {} ns", spec.name,
                      spec.span.count(), spec.resolution.count()));
    }
    const int factor = static_cast<int>(spec.resolution.count() / series.step.count());
    TIDEGATE_ASSIGN_OR_RETURN(Series agg, AggregateSeries(series, factor, options.aggregation));
    if (agg.values.empty()) {
      return absl::FailedPreconditionError(
          fmt::format("horizon '{}': the series ({} values) is shorter than one {}-value bucket",
                      spec.name, series.values.size(), factor));
    }
    agg.seasonal_periods = CalendarPeriods(spec.resolution, agg.values.size());
    const int h = static_cast<int>((spec.span.count() + spec.resolution.count() - 1) /
                                   spec.resolution.count());
    TIDEGATE_ASSIGN_OR_RETURN(auto model, MakeForecaster(options.model));
    absl::Status st = model->Fit(agg);
    if (!st.ok())
      return absl::Status(st.code(),
                          fmt::format("horizon '{}': {}", spec.name, std::string(st.message())));
    auto f = model->Predict(h, options.levels);
    if (!f.ok()) {
      return absl::Status(f.status().code(), fmt::format("horizon '{}': {}", spec.name,
                                                         std::string(f.status().message())));
    }
    HorizonForecast hf;
    hf.spec = spec;
    hf.start = agg.end();
    hf.step = spec.resolution;
    hf.forecast = std::move(f).value();
    hf.summary = model->Summary();
    hf.history = std::move(agg);
    out.push_back(std::move(hf));
  }
  return out;
}

}  // namespace tidegate::forecast
