// The saved state of a Forecaster that wraps a core model with its own byte format (ets, arima,
// prophet): a version, a fitted flag, the core model's bytes, and the parts of the FitSummary the
// core model cannot rebuild by itself (fallback note, residual diagnostics, observation count).
//
// Layout (serialize.h primitives, in order):
//   u32 version, u32 fitted (0 or 1); when fitted: string core, string fallback,
//   double residual_mean, double residual_sd, double ljung_box_p, i64 ljung_box_lag, i64 n_obs.
//
// Also the one loader of a combination's member models (combo.cc, select.cc).
//
// Thread-safety: pure functions.
#ifndef TIDEGATE_SRC_FORECAST_ADAPTER_STATE_H_
#define TIDEGATE_SRC_FORECAST_ADAPTER_STATE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "tidegate/forecast/forecaster.h"
#include "tidegate/forecast/global_model.h"

namespace tidegate::forecast {

struct AdapterState {
  std::string core;   // The core model's own bytes.
  FitSummary extras;  // Only fallback, residual_*, ljung_box_*, n_obs are meaningful.
};

// Bytes for an unfitted adapter (core == nullptr) or a fitted one.
std::string SaveAdapterState(uint32_t version, const std::string* core, const FitSummary& summary);

// Parses SaveAdapterState bytes written with `version`. nullopt = the adapter was unfitted.
// InvalidArgument naming `model` for a wrong version, truncation or trailing bytes.
absl::StatusOr<std::optional<AdapterState>> LoadAdapterState(std::string_view model,
                                                             uint32_t version,
                                                             std::string_view bytes);

// Copies the extras (fallback, residual diagnostics, n_obs) into `summary`.
void ApplyAdapterExtras(const FitSummary& extras, FitSummary* summary);

// True for the models that hold other models ("auto", "combo", "select"); none may be a member of
// another, so that loading crafted bytes cannot recurse without bound.
bool IsCombination(std::string_view name);

// Loads member `index` of combination `owner` from its Serialize() bytes, global members from
// `context`. InvalidArgument naming owner and index when the bytes are malformed or name a
// combination; FailedPrecondition when a global member's trained model is not in `context`.
absl::StatusOr<std::unique_ptr<Forecaster>> LoadMember(std::string_view owner, size_t index,
                                                       std::string_view bytes,
                                                       const ModelContext& context);

}  // namespace tidegate::forecast

#endif  // TIDEGATE_SRC_FORECAST_ADAPTER_STATE_H_
