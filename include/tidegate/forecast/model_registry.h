// tidegate/forecast/model_registry.h — makes a Forecaster by name.
//
// Every model registers with ONE entry in the list in src/forecast/model_registry.cc (plus the
// #include of its header); there is no static self-registration, so a model cannot silently go
// missing when the linker drops an unreferenced object file.
//
// Names are lower-case: "naive", "snaive", "naive2", "ets", "arima", "auto", "lstm", … A name may
// carry no arguments: model options come from the Series (seasonal periods) or the model's own API.
// "auto" is the automatic choice (combo.h: a validated combination that includes the global LSTM
// when the context holds one); "select" is per-series selection by cross-validation (select.h).
//
// A global model ("lstm", global_model.h) is listed like the others but is trained across series
// elsewhere; MakeForecaster makes its per-series adapter from the trained model in the
// ModelContext, and is FailedPrecondition when the context has none.
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
#include "tidegate/forecast/global_model.h"

namespace tidegate::forecast {

// A registry entry: the model's name, a one-line description, and its factory.
struct ModelEntry {
  std::string_view name;
  std::string_view description;
  std::unique_ptr<Forecaster> (*make)();  // nullptr for a global or context-using model.
  bool global = false;                    // Made from ModelContext::global_models[name].
  // For a combination whose members may be global models ("auto"): made with the context.
  std::unique_ptr<Forecaster> (*make_in_context)(const ModelContext&) = nullptr;
};

// A new, unfitted model. NotFound (listing the known names) for an unknown name;
// FailedPrecondition for a global model that `context` does not provide.
absl::StatusOr<std::unique_ptr<Forecaster>> MakeForecaster(std::string_view name,
                                                           const ModelContext& context = {});

// Every registered model, in registration order.
const std::vector<ModelEntry>& RegisteredModels();

// "naive, snaive, …" for help texts and error messages.
std::string RegisteredModelNames();

}  // namespace tidegate::forecast

#endif  // TIDEGATE_FORECAST_MODEL_REGISTRY_H_
