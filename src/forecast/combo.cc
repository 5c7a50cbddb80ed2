// The "combo" model: median (or mean) of member forecasts and bounds (see combo.h).
#include "tidegate/forecast/combo.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "adapter_state.h"
#include "tidegate/common/status.h"
#include "tidegate/forecast/baseline.h"
#include "tidegate/forecast/model_registry.h"
#include "tidegate/forecast/serialize.h"

namespace tidegate::forecast {
namespace {

// Version 2 added the interval scale.
constexpr uint32_t kStateVersion = 2;
constexpr size_t kMaxMembers = 64;

bool IsGlobal(std::string_view name) {
  for (const auto& entry : RegisteredModels()) {
    if (entry.name == name) return entry.global;
  }
  return false;
}

// Median (or mean) of v; v is reordered.
double Aggregate(std::vector<double>& v, ComboOptions::Aggregate how) {
  if (how == ComboOptions::Aggregate::kMean || v.size() <= 2) {
    double s = 0;
    for (double x : v) s += x;
    return s / static_cast<double>(v.size());
  }
  const size_t mid = v.size() / 2;
  std::nth_element(v.begin(), v.begin() + static_cast<ptrdiff_t>(mid), v.end());
  const double upper = v[mid];
  if (v.size() % 2 == 1) return upper;
  const double lower = *std::max_element(v.begin(), v.begin() + static_cast<ptrdiff_t>(mid));
  return (lower + upper) / 2;
}

class Combo final : public Forecaster {
 public:
  Combo(std::string_view name, ComboOptions options) : name_(name), options_(std::move(options)) {}
  Combo(const Combo& other)
      : name_(other.name_), options_(other.options_), summary_(other.summary_) {
    for (const auto& m : other.members_) members_.push_back(m->Clone());
  }

  std::string_view Name() const override { return name_; }
  absl::Status Fit(const Series& series) override;
  absl::StatusOr<Forecast> Predict(int h, std::span<const double> levels) const override;
  absl::Status Update(double y) override {
    if (members_.empty()) {
      return absl::FailedPreconditionError(fmt::format("{}: Update before Fit", name_));
    }
    if (std::isinf(y)) {
      return absl::InvalidArgumentError(
          fmt::format("{}: Update with an infinite value ({})", name_, y));
    }
    for (auto& m : members_) TIDEGATE_RETURN_IF_ERROR(m->Update(y));
    if (!std::isnan(y)) ++summary_.n_obs;
    return absl::OkStatus();
  }
  FitSummary Summary() const override {
    if (members_.empty()) {
      FitSummary s;
      s.model = std::string(name_);
      return s;
    }
    return summary_;
  }
  std::unique_ptr<Forecaster> Clone() const override { return std::make_unique<Combo>(*this); }
  std::string SaveState() const override;
  absl::Status LoadState(std::string_view bytes) override;

 private:
  std::string_view name_;  // "combo" or "auto": a registry name, static storage.
  ComboOptions options_;
  std::vector<std::unique_ptr<Forecaster>> members_;
  FitSummary summary_;
};

absl::Status Combo::Fit(const Series& series) {
  TIDEGATE_RETURN_IF_ERROR(ValidateSeries(series));
  TIDEGATE_RETURN_IF_ERROR(options_.Validate());
  members_.clear();
  summary_ = FitSummary{};
  summary_.model = std::string(name_);
  std::string failed, spec, notes, left_out;
  absl::Status first_error = absl::OkStatus();
  for (const auto& name : options_.members) {
    const bool global = IsGlobal(name);
    if (global && options_.context.Find(name) == nullptr) {
      left_out += fmt::format("{}{} (no trained model loaded)", left_out.empty() ? "" : ", ", name);
      continue;
    }
    TIDEGATE_ASSIGN_OR_RETURN(auto model, MakeForecaster(name, options_.context));
    if (absl::Status st = model->Fit(series); !st.ok()) {
      if (st.code() == absl::StatusCode::kInvalidArgument) return st;
      if (first_error.ok()) first_error = st;
      failed +=
          fmt::format("{}{} ({})", failed.empty() ? "" : ", ", name, std::string(st.message()));
      continue;
    }
    const FitSummary ms = model->Summary();
    if (global && !ms.fallback.empty()) {
      // The global model could not serve this series itself (e.g. too short for its window) and
      // fell back to a classical model: that would only double-count a classical member.
      left_out += fmt::format("{}{} ({})", left_out.empty() ? "" : ", ", name, ms.fallback);
      continue;
    }
    spec += fmt::format("{}{}", spec.empty() ? "" : ", ", ms.spec);
    if (!ms.fallback.empty()) {
      notes += fmt::format("{}{}: {}", notes.empty() ? "" : "; ", name, ms.fallback);
    }
    if (members_.empty()) {
      summary_.n_obs = ms.n_obs;
      summary_.sigma2 = ms.sigma2;
      summary_.residual_mean = ms.residual_mean;
      summary_.residual_sd = ms.residual_sd;
      summary_.ljung_box_p = ms.ljung_box_p;
      summary_.ljung_box_lag = ms.ljung_box_lag;
    }
    members_.push_back(std::move(model));
  }
  if (members_.empty()) {
    auto fallback = NewSeasonalNaive();
    if (absl::Status st = fallback->Fit(series); !st.ok()) return st;
    const FitSummary ms = fallback->Summary();
    summary_.n_obs = ms.n_obs;
    spec = ms.spec;
    notes = fmt::format("every member failed ({}): fitted snaive instead", failed);
    failed.clear();
    members_.push_back(std::move(fallback));
  }
  const char* how = options_.aggregate == ComboOptions::Aggregate::kMedian ? "median" : "mean";
  summary_.spec = fmt::format("{} {}({})", name_, how, spec);
  if (options_.interval_scale != 1.0) {
    summary_.spec += fmt::format(" intervals x{:g}", options_.interval_scale);
  }
  summary_.params["interval_scale"] = options_.interval_scale;
  summary_.params["members"] = static_cast<double>(members_.size());
  if (!failed.empty()) {
    notes += fmt::format("{}left out: {}", notes.empty() ? "" : "; ", failed);
  }
  if (!left_out.empty()) {
    notes +=
        fmt::format("{}classical members only, left out: {}", notes.empty() ? "" : "; ", left_out);
  }
  summary_.fallback = notes;
  return absl::OkStatus();
}

absl::StatusOr<Forecast> Combo::Predict(int h, std::span<const double> levels) const {
  if (members_.empty()) {
    return absl::FailedPreconditionError(fmt::format("{}: Predict before Fit", name_));
  }
  TIDEGATE_RETURN_IF_ERROR(ValidatePredictArgs(h, levels));
  std::vector<Forecast> parts;
  parts.reserve(members_.size());
  for (const auto& m : members_) {
    TIDEGATE_ASSIGN_OR_RETURN(Forecast f, m->Predict(h, levels));
    parts.push_back(std::move(f));
  }
  return CombineForecasts(parts, options_.aggregate, options_.interval_scale);
}

std::string Combo::SaveState() const {
  ByteWriter w;
  w.PutU32(kStateVersion);
  w.PutU32(options_.aggregate == ComboOptions::Aggregate::kMedian ? 0 : 1);
  w.PutDouble(options_.interval_scale);
  w.PutU64(options_.members.size());
  for (const auto& name : options_.members) w.PutString(name);
  w.PutU64(members_.size());
  for (const auto& m : members_) w.PutString(m->Serialize());
  w.PutString(summary_.spec);
  w.PutString(summary_.fallback);
  w.PutI64(summary_.n_obs);
  return w.Release();
}

absl::Status Combo::LoadState(std::string_view bytes) {
  const std::string malformed = fmt::format("{}: state truncated or malformed", name_);
  ByteReader r(bytes);
  uint32_t version = 0, how = 0;
  uint64_t n_names = 0, n_members = 0;
  ComboOptions options;
  options.context = options_.context;
  if (!r.GetU32(&version) || version != kStateVersion || !r.GetU32(&how) || how > 1 ||
      !r.GetDouble(&options.interval_scale) || !r.GetU64(&n_names) || n_names > kMaxMembers) {
    return absl::InvalidArgumentError(malformed);
  }
  options.aggregate = how == 0 ? ComboOptions::Aggregate::kMedian : ComboOptions::Aggregate::kMean;
  options.members.resize(n_names);
  for (auto& name : options.members) {
    if (!r.GetString(&name)) return absl::InvalidArgumentError(malformed);
  }
  if (!(std::isfinite(options.interval_scale) && options.interval_scale > 0) ||
      !r.GetU64(&n_members) || n_members > kMaxMembers) {
    return absl::InvalidArgumentError(malformed);
  }
  std::vector<std::unique_ptr<Forecaster>> members;
  for (uint64_t i = 0; i < n_members; ++i) {
    std::string member;
    if (!r.GetString(&member)) return absl::InvalidArgumentError(malformed);
    TIDEGATE_ASSIGN_OR_RETURN(auto m, LoadMember(name_, i, member, options_.context));
    members.push_back(std::move(m));
  }
  FitSummary summary;
  summary.model = std::string(name_);
  if (!r.GetString(&summary.spec) || !r.GetString(&summary.fallback) || !r.GetI64(&summary.n_obs) ||
      !r.AtEnd()) {
    return absl::InvalidArgumentError(malformed);
  }
  summary.params["interval_scale"] = options.interval_scale;
  summary.params["members"] = static_cast<double>(members.size());
  options_ = std::move(options);
  members_ = std::move(members);
  summary_ = std::move(summary);
  return absl::OkStatus();
}

}  // namespace

absl::Status ComboOptions::Validate() const {
  if (members.empty()) return absl::InvalidArgumentError("combo: no member models");
  if (members.size() > kMaxMembers) {
    return absl::InvalidArgumentError(
        fmt::format("combo: {} members, at most {}", members.size(), kMaxMembers));
  }
  if (!(std::isfinite(interval_scale) && interval_scale > 0)) {
    return absl::InvalidArgumentError(
        fmt::format("combo: interval_scale must be finite and > 0, got {}", interval_scale));
  }
  for (size_t i = 0; i < members.size(); ++i) {
    if (IsCombination(members[i])) {
      return absl::InvalidArgumentError(
          fmt::format("combo: member #{} '{}' cannot be a combination itself", i + 1, members[i]));
    }
    // A global member needs no trained model here (it is left out at Fit without one).
    if (IsGlobal(members[i])) continue;
    if (!MakeForecaster(members[i]).ok()) {
      return absl::InvalidArgumentError(
          fmt::format("combo: member #{} '{}' is not a registered model ({})", i + 1, members[i],
                      RegisteredModelNames()));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<Forecast> CombineForecasts(std::span<const Forecast> parts,
                                          ComboOptions::Aggregate how, double interval_scale) {
  if (parts.empty()) return absl::InvalidArgumentError("combine: no forecasts");
  if (!(std::isfinite(interval_scale) && interval_scale > 0)) {
    return absl::InvalidArgumentError(
        fmt::format("combine: interval_scale must be finite and > 0, got {}", interval_scale));
  }
  const size_t h = parts[0].mean.size();
  const size_t n_levels = parts[0].intervals.size();
  for (size_t j = 0; j < parts.size(); ++j) {
    bool same = parts[j].mean.size() == h && parts[j].intervals.size() == n_levels;
    for (size_t l = 0; same && l < n_levels; ++l) {
      same = parts[j].intervals[l].level == parts[0].intervals[l].level &&
             parts[j].intervals[l].lower.size() == h && parts[j].intervals[l].upper.size() == h;
    }
    if (!same) {
      return absl::InvalidArgumentError(
          fmt::format("combine: forecast {} differs from forecast 0 in horizon or levels", j));
    }
  }
  Forecast out;
  out.mean.resize(h);
  out.intervals.resize(n_levels);
  std::vector<double> v(parts.size());
  for (size_t i = 0; i < h; ++i) {
    for (size_t j = 0; j < parts.size(); ++j) v[j] = parts[j].mean[i];
    out.mean[i] = Aggregate(v, how);
  }
  for (size_t l = 0; l < n_levels; ++l) {
    auto& pi = out.intervals[l];
    pi.level = parts[0].intervals[l].level;
    pi.lower.resize(h);
    pi.upper.resize(h);
    for (size_t i = 0; i < h; ++i) {
      const double mean = out.mean[i];
      for (size_t j = 0; j < parts.size(); ++j) v[j] = parts[j].intervals[l].lower[i];
      pi.lower[i] = mean - interval_scale * (mean - std::min(Aggregate(v, how), mean));
      for (size_t j = 0; j < parts.size(); ++j) v[j] = parts[j].intervals[l].upper[i];
      pi.upper[i] = mean + interval_scale * (std::max(Aggregate(v, how), mean) - mean);
    }
  }
  return out;
}

ComboOptions AutoComboOptions(const ModelContext& context) {
  // Chosen on the M4 hourly validation split (docs/design/forecast.md §5.1, `combo_search`): the
  // best OWA of the 62 subsets/aggregations of {arima, sar, prophet, snaive, lstm} was the median
  // of arima, sar and lstm (validation OWA 0.462); without the LSTM it is the mean of arima and
  // sar (0.515, within 0.001 of the best classical set). κ makes the 95 % interval cover 95 % on
  // that split for each case.
  ComboOptions o;
  o.members = {"arima", "sar", "lstm"};
  o.aggregate = ComboOptions::Aggregate::kMedian;
  o.interval_scale = context.Find("lstm") != nullptr ? 0.916 : 0.928;
  o.context = context;
  return o;
}

std::unique_ptr<Forecaster> NewCombo(const ComboOptions& options) {
  return std::make_unique<Combo>("combo", options);
}
std::unique_ptr<Forecaster> NewCombo() { return NewCombo(ComboOptions{}); }
std::unique_ptr<Forecaster> NewAuto(const ModelContext& context) {
  return std::make_unique<Combo>("auto", AutoComboOptions(context));
}

}  // namespace tidegate::forecast
