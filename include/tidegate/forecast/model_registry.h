// tidegate/forecast/model_registry.h — makes a Forecaster by name.
//
// Every model registers with ONE entry in the list in src/forecast/model_registry.cc (plus the
// #include of its header); there is no static self-registration, so a model cannot silently go
// missing when the linker drops an unreferenced object file.
//
// Names are lower-case: "naive", "snaive", "naive2", "ets", "arima", "auto", … A name may carry
// no arguments: model options come from the Series (seasonal periods) or the model's own API.
//
// Thread-safety: all functions are safe to call concurrently (the list is immutable).
#ifndef TIDEGATE_FORECAST_MODEL_REGISTRY_H_
#define TIDEGATE_FORECAST_MODEL_REGISTRY_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "tidegate/forecast/forecaster.h"

namespace tidegate::forecast {

// A registry entry: the model's name, a one-line description, and its factory.
struct ModelEntry {
  std::string_view name;
  std::string_view description;
  std::unique_ptr<Forecaster> (*make)();
};

// A new, unfitted model. NotFound (listing the known names) for an unknown name.
absl::StatusOr<std::unique_ptr<Forecaster>> MakeForecaster(std::string_view name);

// Every registered model, in registration order.
const std::vector<ModelEntry>& RegisteredModels();

// "naive, snaive, …" for help texts and error messages.
std::string RegisteredModelNames();

}  // namespace tidegate::forecast

#endif  // TIDEGATE_FORECAST_MODEL_REGISTRY_H_
