// The "combo" model: median (or mean) of member forecasts and bounds (see combo.h).
#include "tidegate/forecast/combo.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "tidegate/common/status.h"
#include "tidegate/forecast/baseline.h"
#include "tidegate/forecast/model_registry.h"
#include "tidegate/forecast/serialize.h"

namespace tidegate::forecast {
namespace {

constexpr uint32_t kStateVersion = 1;
constexpr size_t kMaxMembers = 64;

bool IsNested(std::string_view name) { return name == "combo" || name == "auto"; }

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
  explicit Combo(ComboOptions options) : options_(std::move(options)) {}
  Combo(const Combo& other) : options_(other.options_), summary_(other.summary_) {
    for (const auto& m : other.members_) members_.push_back(m->Clone());
  }

  std::string_view Name() const override { return "combo"; }
  absl::Status Fit(const Series& series) override;
  absl::StatusOr<Forecast> Predict(int h, std::span<const double> levels) const override;
  absl::Status Update(double y) override {
    if (members_.empty()) return absl::FailedPreconditionError("combo: Update before Fit");
    if (std::isinf(y)) {
      return absl::InvalidArgumentError(
          fmt::format("combo: Update with an infinite value ({})", y));
    }
    for (auto& m : members_) TIDEGATE_RETURN_IF_ERROR(m->Update(y));
    if (!std::isnan(y)) ++summary_.n_obs;
    return absl::OkStatus();
  }
  FitSummary Summary() const override {
    if (members_.empty()) {
      FitSummary s;
      s.model = "combo";
      return s;
    }
    return summary_;
  }
  std::unique_ptr<Forecaster> Clone() const override { return std::make_unique<Combo>(*this); }
  std::string SaveState() const override;
  absl::Status LoadState(std::string_view bytes) override;

 private:
  ComboOptions options_;
  std::vector<std::unique_ptr<Forecaster>> members_;
  FitSummary summary_;
};

absl::Status Combo::Fit(const Series& series) {
  TIDEGATE_RETURN_IF_ERROR(ValidateSeries(series));
  TIDEGATE_RETURN_IF_ERROR(options_.Validate());
  members_.clear();
  summary_ = FitSummary{};
  summary_.model = "combo";
  std::string failed, spec, notes;
  absl::Status first_error = absl::OkStatus();
  for (const auto& name : options_.members) {
    TIDEGATE_ASSIGN_OR_RETURN(auto model, MakeForecaster(name));
    if (absl::Status st = model->Fit(series); !st.ok()) {
      if (st.code() == absl::StatusCode::kInvalidArgument) return st;
      if (first_error.ok()) first_error = st;
      failed +=
          fmt::format("{}{} ({})", failed.empty() ? "" : ", ", name, std::string(st.message()));
      continue;
    }
    const FitSummary ms = model->Summary();
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
  summary_.spec = fmt::format("combo {}({})", how, spec);
  if (!failed.empty()) {
    notes += fmt::format("{}left out: {}", notes.empty() ? "" : "; ", failed);
  }
  summary_.fallback = notes;
  return absl::OkStatus();
}

absl::StatusOr<Forecast> Combo::Predict(int h, std::span<const double> levels) const {
  if (members_.empty()) return absl::FailedPreconditionError("combo: Predict before Fit");
  TIDEGATE_RETURN_IF_ERROR(ValidatePredictArgs(h, levels));
  std::vector<Forecast> parts;
  for (const auto& m : members_) {
    TIDEGATE_ASSIGN_OR_RETURN(Forecast f, m->Predict(h, levels));
    parts.push_back(std::move(f));
  }
  Forecast out;
  out.mean.resize(static_cast<size_t>(h));
  out.intervals.resize(levels.size());
  std::vector<double> v(parts.size());
  for (size_t i = 0; i < static_cast<size_t>(h); ++i) {
    for (size_t j = 0; j < parts.size(); ++j) v[j] = parts[j].mean[i];
    out.mean[i] = Aggregate(v, options_.aggregate);
  }
  for (size_t l = 0; l < levels.size(); ++l) {
    auto& pi = out.intervals[l];
    pi.level = levels[l];
    pi.lower.resize(static_cast<size_t>(h));
    pi.upper.resize(static_cast<size_t>(h));
    for (size_t i = 0; i < static_cast<size_t>(h); ++i) {
      for (size_t j = 0; j < parts.size(); ++j) v[j] = parts[j].intervals[l].lower[i];
      pi.lower[i] = std::min(Aggregate(v, options_.aggregate), out.mean[i]);
      for (size_t j = 0; j < parts.size(); ++j) v[j] = parts[j].intervals[l].upper[i];
      pi.upper[i] = std::max(Aggregate(v, options_.aggregate), out.mean[i]);
    }
  }
  return out;
}

std::string Combo::SaveState() const {
  ByteWriter w;
  w.PutU32(kStateVersion);
  w.PutU32(options_.aggregate == ComboOptions::Aggregate::kMedian ? 0 : 1);
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
  ByteReader r(bytes);
  uint32_t version = 0, how = 0;
  uint64_t n_names = 0, n_members = 0;
  if (!r.GetU32(&version) || version != kStateVersion || !r.GetU32(&how) || how > 1 ||
      !r.GetU64(&n_names) || n_names > kMaxMembers) {
    return absl::InvalidArgumentError("combo: state truncated or malformed");
  }
  ComboOptions options;
  options.aggregate = how == 0 ? ComboOptions::Aggregate::kMedian : ComboOptions::Aggregate::kMean;
  options.members.resize(n_names);
  for (auto& name : options.members) {
    if (!r.GetString(&name)) return absl::InvalidArgumentError("combo: state truncated");
  }
  if (!r.GetU64(&n_members) || n_members > kMaxMembers) {
    return absl::InvalidArgumentError("combo: state truncated or malformed");
  }
  std::vector<std::unique_ptr<Forecaster>> members;
  for (uint64_t i = 0; i < n_members; ++i) {
    std::string member;
    if (!r.GetString(&member)) return absl::InvalidArgumentError("combo: state truncated");
    // Refuse a nested combination before loading it: crafted bytes must not recurse unbounded.
    ByteReader peek(std::string_view(member).substr(std::min<size_t>(4, member.size())));
    uint32_t member_version = 0;
    std::string member_name;
    if (peek.GetU32(&member_version) && peek.GetString(&member_name) && IsNested(member_name)) {
      return absl::InvalidArgumentError(
          fmt::format("combo: member {} cannot itself be '{}'", i, member_name));
    }
    auto m = Forecaster::Load(member);
    if (!m.ok()) {
      return absl::InvalidArgumentError(
          fmt::format("combo: member {}: {}", i, std::string(m.status().message())));
    }
    members.push_back(std::move(m).value());
  }
  FitSummary summary;
  summary.model = "combo";
  if (!r.GetString(&summary.spec) || !r.GetString(&summary.fallback) || !r.GetI64(&summary.n_obs) ||
      !r.AtEnd()) {
    return absl::InvalidArgumentError("combo: state truncated or malformed");
  }
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
  for (size_t i = 0; i < members.size(); ++i) {
    if (IsNested(members[i])) {
      return absl::InvalidArgumentError(
          fmt::format("combo: member #{} '{}' cannot be a combination itself", i + 1, members[i]));
    }
    if (!MakeForecaster(members[i]).ok()) {
      return absl::InvalidArgumentError(
          fmt::format("combo: member #{} '{}' is not a registered model ({})", i + 1, members[i],
                      RegisteredModelNames()));
    }
  }
  return absl::OkStatus();
}

std::unique_ptr<Forecaster> NewCombo(const ComboOptions& options) {
  return std::make_unique<Combo>(options);
}
std::unique_ptr<Forecaster> NewCombo() { return NewCombo(ComboOptions{}); }

}  // namespace tidegate::forecast
