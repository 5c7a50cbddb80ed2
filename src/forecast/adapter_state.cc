#include "adapter_state.h"

#include <fmt/format.h>

#include <algorithm>

#include "tidegate/forecast/serialize.h"

namespace tidegate::forecast {

std::string SaveAdapterState(uint32_t version, const std::string* core, const FitSummary& summary) {
  ByteWriter w;
  w.PutU32(version);
  w.PutU32(core != nullptr ? 1 : 0);
  if (core != nullptr) {
    w.PutString(*core);
    w.PutString(summary.fallback);
    for (double v : {summary.residual_mean, summary.residual_sd, summary.ljung_box_p}) {
      w.PutDouble(v);
    }
    w.PutI64(summary.ljung_box_lag);
    w.PutI64(summary.n_obs);
  }
  return w.Release();
}

absl::StatusOr<std::optional<AdapterState>> LoadAdapterState(std::string_view model,
                                                             uint32_t version,
                                                             std::string_view bytes) {
  ByteReader r(bytes);
  uint32_t got = 0, fitted = 0;
  if (!r.GetU32(&got) || got != version || !r.GetU32(&fitted) || fitted > 1) {
    return absl::InvalidArgumentError(
        fmt::format("{} state: bad header (version {}, expected {})", model, got, version));
  }
  if (fitted == 0) {
    if (!r.AtEnd())
      return absl::InvalidArgumentError(fmt::format("{} state: trailing bytes", model));
    return std::optional<AdapterState>();
  }
  AdapterState s;
  int64_t lag = 0;
  if (!r.GetString(&s.core) || !r.GetString(&s.extras.fallback) ||
      !r.GetDouble(&s.extras.residual_mean) || !r.GetDouble(&s.extras.residual_sd) ||
      !r.GetDouble(&s.extras.ljung_box_p) || !r.GetI64(&lag) || !r.GetI64(&s.extras.n_obs) ||
      !r.AtEnd()) {
    return absl::InvalidArgumentError(fmt::format("{} state: truncated or trailing bytes", model));
  }
  s.extras.ljung_box_lag = static_cast<int>(lag);
  return std::optional<AdapterState>(std::move(s));
}

void ApplyAdapterExtras(const FitSummary& extras, FitSummary* summary) {
  summary->fallback = extras.fallback;
  summary->residual_mean = extras.residual_mean;
  summary->residual_sd = extras.residual_sd;
  summary->ljung_box_p = extras.ljung_box_p;
  summary->ljung_box_lag = extras.ljung_box_lag;
  summary->n_obs = extras.n_obs;
}

bool IsCombination(std::string_view name) {
  return name == "auto" || name == "combo" || name == "select";
}

absl::StatusOr<std::unique_ptr<Forecaster>> LoadMember(std::string_view owner, size_t index,
                                                       std::string_view bytes,
                                                       const ModelContext& context) {
  // Peek at the model name in the envelope ("TGFC", u32 version, string name) before loading.
  ByteReader peek(bytes.substr(std::min<size_t>(4, bytes.size())));
  uint32_t version = 0;
  std::string name;
  if (peek.GetU32(&version) && peek.GetString(&name) && IsCombination(name)) {
    return absl::InvalidArgumentError(
        fmt::format("{}: member {} cannot itself be '{}'", owner, index, name));
  }
  auto member = Forecaster::Load(bytes, context);
  if (!member.ok()) {
    const auto code = member.status().code() == absl::StatusCode::kFailedPrecondition
                          ? absl::StatusCode::kFailedPrecondition
                          : absl::StatusCode::kInvalidArgument;
    return absl::Status(code, fmt::format("{}: member {}: {}", owner, index,
                                          std::string(member.status().message())));
  }
  return member;
}

}  // namespace tidegate::forecast
