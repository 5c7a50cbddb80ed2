// The one list of forecasting models. To add a model: #include its header below and add ONE
// entry to kModels (name, one-line description, factory returning a new unfitted instance).
#include "tidegate/forecast/model_registry.h"

#include <fmt/format.h>

// Model headers (one line each).
#include "tidegate/forecast/arima.h"
#include "tidegate/forecast/baseline.h"
#include "tidegate/forecast/combo.h"
#include "tidegate/forecast/ets.h"
#include "tidegate/forecast/prophet.h"
#include "tidegate/forecast/sar.h"
#include "tidegate/forecast/select.h"

namespace tidegate::forecast {

const std::vector<ModelEntry>& RegisteredModels() {
  static const std::vector<ModelEntry> kModels = {
      // {"name", "description", &Factory},   (one line per model)
      {"naive", "last value (random walk)", &NewNaive},
      {"snaive", "seasonal naive: value one season ago", &NewSeasonalNaive},
      {"naive2", "naive on M4-classically deseasonalised data (M4 benchmark)", &NewNaive2},
      {"sar", "seasonal autoregression on day/week lags (log scale)", &NewSeasonalAutoregression},
      {"auto", "automatic choice: median of arima, sar (+ lstm when loaded), validated intervals",
       nullptr, false, &NewAuto},
      {"select", "per-series selection/combination by rolling-origin cross-validation", &NewSelect},
      {"arima", "seasonal ARIMA, orders by KPSS/seasonal strength and stepwise AICc", &NewArima},
      {"ets", "exponential smoothing state space (ETS), chosen by AICc", &NewEts},
      {"prophet", "additive trend with changepoints, Fourier seasonalities, events (MAP)",
       &NewProphet},
      {"combo", "median of arima, sar, prophet and snaive forecasts and bounds", nullptr, false,
       [](const ModelContext& context) {
         ComboOptions options;
         options.context = context;  // For members named by a saved state (Forecaster::Load).
         return NewCombo(options);
       }},
      {"lstm", "global LSTM with quantile outputs (needs a trained model: tidegate train)", nullptr,
       /*global=*/true},
  };
  return kModels;
}

std::string RegisteredModelNames() {
  std::string out;
  for (const auto& entry : RegisteredModels()) {
    if (!out.empty()) out += ", ";
    out += entry.name;
  }
  return out;
}

absl::StatusOr<std::unique_ptr<Forecaster>> MakeForecaster(std::string_view name,
                                                           const ModelContext& context) {
  for (const auto& entry : RegisteredModels()) {
    if (entry.name != name) continue;
    if (entry.make_in_context != nullptr) return entry.make_in_context(context);
    if (!entry.global) return entry.make();
    if (const GlobalModel* model = context.Find(name); model != nullptr) {
      return model->NewForecaster();
    }
    return absl::FailedPreconditionError(fmt::format(
        "model '{}' is trained across series: train one with `tidegate train` and load it "
        "(--{}-model FILE)",
        name, name));
  }
  return absl::NotFoundError(
      fmt::format("unknown forecasting model '{}' (known: {})", name, RegisteredModelNames()));
}

}  // namespace tidegate::forecast
