// tidegate/forecast/global_model.h — a model trained across many series, used per series.
//
// Classical models (ets, arima, …) are fitted on one series at a time and are made from nothing by
// the registry. A global model (the "lstm") is instead trained once on a whole collection of
// series — by `tidegate train` or the nightly retraining — and then serves every series through a
// small per-series adapter that implements Forecaster and shares the trained weights read-only.
//
// The registry (model_registry.h) lists such models by name like any other, but cannot make them
// from nothing: the caller hands it the trained model in a ModelContext. Without one,
// MakeForecaster("lstm") is FailedPrecondition with a message saying how to get one. This keeps the
// forecast layer free of the learning library (and of libtorch): the learning library implements
// GlobalModel; the forecast layer only sees this interface.
//
// Thread-safety: a GlobalModel is immutable once made; all methods are const and safe to call
// concurrently. Adapters it makes share it through shared_ptr and may live on other threads.
#ifndef TIDEGATE_FORECAST_GLOBAL_MODEL_H_
#define TIDEGATE_FORECAST_GLOBAL_MODEL_H_

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "tidegate/forecast/forecaster.h"

namespace tidegate::forecast {

class GlobalModel : public std::enable_shared_from_this<GlobalModel> {
 public:
  virtual ~GlobalModel() = default;

  // The registry name of the adapters this model makes ("lstm").
  virtual std::string_view Name() const = 0;
  // A short stable identifier of the trained weights (a hash), stored in every adapter's saved
  // state so that an adapter is never restored onto different weights.
  virtual std::string Fingerprint() const = 0;
  // One-line description of the trained model for fit summaries and logs.
  virtual std::string Describe() const = 0;
  // A new, unfitted per-series Forecaster sharing this model's weights. The model must be owned
  // by a shared_ptr (the adapter keeps it alive).
  virtual std::unique_ptr<Forecaster> NewForecaster() const = 0;
};

// What MakeForecaster may need beyond a name: the trained global models, by registry name.
struct ModelContext {
  std::map<std::string, std::shared_ptr<const GlobalModel>, std::less<>> global_models;

  // The model registered under `name`, or nullptr.
  const GlobalModel* Find(std::string_view name) const {
    auto it = global_models.find(name);
    return it == global_models.end() ? nullptr : it->second.get();
  }
  // Adds (or replaces) `model` under its Name().
  void Add(std::shared_ptr<const GlobalModel> model) {
    std::string name(model->Name());
    global_models[std::move(name)] = std::move(model);
  }
};

}  // namespace tidegate::forecast

#endif  // TIDEGATE_FORECAST_GLOBAL_MODEL_H_
