#include "tidegate/forecast/select.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "adapter_state.h"
#include "tidegate/common/status.h"
#include "tidegate/forecast/baseline.h"
#include "tidegate/forecast/model_registry.h"
#include "tidegate/forecast/serialize.h"

namespace tidegate::forecast {
namespace {

constexpr uint32_t kStateVersion = 1;
constexpr double kInf = std::numeric_limits<double>::infinity();

std::vector<std::string> DefaultCandidates() {
  std::vector<std::string> out;
  for (const auto& entry : RegisteredModels()) {
    // Combinations are not candidates: they already refit several candidates.
    if (IsCombination(entry.name) || entry.name == "naive" || entry.name == "naive2") continue;
    if (entry.global) continue;  // Needs a trained model from a ModelContext.
    out.emplace_back(entry.name);
  }
  return out;
}

int ValidationHorizon(const SelectOptions& o, const Series& s) {
  if (o.validation_horizon > 0) return o.validation_horizon;
  return s.seasonal_periods.empty() ? 12 : 2 * s.seasonal_periods.front();
}

int ShortestPeriod(const Series& s) {
  return s.seasonal_periods.empty() ? 1 : s.seasonal_periods.front();
}

class SelectForecaster final : public Forecaster {
 public:
  explicit SelectForecaster(SelectOptions options) : options_(std::move(options)) {
    summary_.model = "select";
  }
  SelectForecaster(const SelectForecaster& other)
      : options_(other.options_), weights_(other.weights_), summary_(other.summary_) {
    for (const auto& m : other.members_) members_.push_back(m->Clone());
  }

  std::string_view Name() const override { return "select"; }
  absl::Status Fit(const Series& series) override;
  absl::StatusOr<Forecast> Predict(int h, std::span<const double> levels) const override;
  absl::Status Update(double y) override {
    if (members_.empty()) return absl::FailedPreconditionError("select: Update before Fit");
    if (std::isinf(y)) return absl::InvalidArgumentError(fmt::format("select: Update with {}", y));
    for (auto& m : members_) TIDEGATE_RETURN_IF_ERROR(m->Update(y));
    return absl::OkStatus();
  }
  FitSummary Summary() const override { return summary_; }
  std::unique_ptr<Forecaster> Clone() const override {
    return std::make_unique<SelectForecaster>(*this);
  }
  std::string SaveState() const override;
  absl::Status LoadState(std::string_view bytes) override;

 private:
  absl::Status FitFallback(const Series& series, std::string why);

  SelectOptions options_;
  std::vector<std::unique_ptr<Forecaster>> members_;
  std::vector<double> weights_;
  FitSummary summary_;
};

absl::Status SelectForecaster::FitFallback(const Series& series, std::string why) {
  auto model = NewSeasonalNaive();
  TIDEGATE_RETURN_IF_ERROR(model->Fit(series));
  members_.clear();
  weights_ = {1.0};
  summary_ = model->Summary();
  summary_.model = "select";
  summary_.spec = fmt::format("select = {}", summary_.spec);
  summary_.fallback = summary_.fallback.empty() ? why : why + "; " + summary_.fallback;
  members_.push_back(std::move(model));
  return absl::OkStatus();
}

absl::Status SelectForecaster::Fit(const Series& series) {
  TIDEGATE_RETURN_IF_ERROR(ValidateSeries(series));
  TIDEGATE_RETURN_IF_ERROR(options_.Validate());
  members_.clear();
  weights_.clear();
  summary_ = FitSummary{};
  summary_.model = "select";
  auto scores = CrossValidate(series, options_);
  if (!scores.ok()) {
    if (scores.status().code() != absl::StatusCode::kFailedPrecondition) return scores.status();
    return FitFallback(series, std::string(scores.status().message()));
  }
  std::string failed;
  std::vector<std::pair<std::string, double>> chosen;
  for (const auto& s : *scores) {
    if (!std::isfinite(s.error)) {
      failed += fmt::format("{}{} ({})", failed.empty() ? "" : ", ", s.name, s.note);
      continue;
    }
    if (static_cast<int>(chosen.size()) < options_.combine_top)
      chosen.emplace_back(s.name, s.error);
  }
  if (chosen.empty()) return FitFallback(series, "every candidate failed: " + failed);
  // Inverse-error weights; an exact fit takes all the weight.
  std::vector<double> w;
  if (chosen.front().second <= 0) {
    chosen.resize(1);
    w = {1.0};
  } else {
    double total = 0;
    for (const auto& [name, e] : chosen) total += 1 / e;
    for (const auto& [name, e] : chosen) w.push_back(1 / e / total);
  }
  std::string spec;
  for (size_t i = 0; i < chosen.size(); ++i) {
    auto model = MakeForecaster(chosen[i].first);
    if (!model.ok()) return model.status();
    absl::Status st = (*model)->Fit(series);
    if (!st.ok()) {
      failed += fmt::format("{}{} (full fit: {})", failed.empty() ? "" : ", ", chosen[i].first,
                            std::string(st.message()));
      continue;
    }
    const FitSummary ms = (*model)->Summary();
    spec += fmt::format("{}{:.3f}*{}", spec.empty() ? "" : " + ", w[i], ms.spec);
    summary_.params[fmt::format("weight_{}", chosen[i].first)] = w[i];
    summary_.params[fmt::format("cv_mae_{}", chosen[i].first)] = chosen[i].second;
    if (!ms.fallback.empty()) {
      summary_.fallback += fmt::format("{}{}: {}", summary_.fallback.empty() ? "" : "; ",
                                       chosen[i].first, ms.fallback);
    }
    if (members_.empty()) {  // Diagnostics of the best member.
      summary_.n_obs = ms.n_obs;
      summary_.sigma2 = ms.sigma2;
      summary_.residual_mean = ms.residual_mean;
      summary_.residual_sd = ms.residual_sd;
      summary_.ljung_box_p = ms.ljung_box_p;
      summary_.ljung_box_lag = ms.ljung_box_lag;
    }
    members_.push_back(std::move(model).value());
    weights_.push_back(w[i]);
  }
  if (members_.empty()) return FitFallback(series, "every chosen candidate failed: " + failed);
  double total = 0;
  for (double x : weights_) total += x;
  for (double& x : weights_) x /= total;
  summary_.spec = "select = " + spec;
  if (!failed.empty()) {
    summary_.fallback +=
        fmt::format("{}skipped: {}", summary_.fallback.empty() ? "" : "; ", failed);
  }
  return absl::OkStatus();
}

absl::StatusOr<Forecast> SelectForecaster::Predict(int h, std::span<const double> levels) const {
  if (members_.empty()) return absl::FailedPreconditionError("select: Predict before Fit");
  TIDEGATE_RETURN_IF_ERROR(ValidatePredictArgs(h, levels));
  Forecast out;
  for (size_t j = 0; j < members_.size(); ++j) {
    TIDEGATE_ASSIGN_OR_RETURN(Forecast f, members_[j]->Predict(h, levels));
    const double w = weights_[j];
    if (j == 0) {
      out.mean.assign(h, 0.0);
      out.intervals.resize(f.intervals.size());
      for (size_t l = 0; l < f.intervals.size(); ++l) {
        out.intervals[l].level = f.intervals[l].level;
        out.intervals[l].lower.assign(h, 0.0);
        out.intervals[l].upper.assign(h, 0.0);
      }
    }
    for (int i = 0; i < h; ++i) out.mean[i] += w * f.mean[i];
    for (size_t l = 0; l < f.intervals.size(); ++l) {
      for (int i = 0; i < h; ++i) {
        out.intervals[l].lower[i] += w * f.intervals[l].lower[i];
        out.intervals[l].upper[i] += w * f.intervals[l].upper[i];
      }
    }
  }
  return out;
}

std::string SelectForecaster::SaveState() const {
  ByteWriter w;
  w.PutU32(kStateVersion);
  w.PutDoubles(weights_);
  for (const auto& m : members_) w.PutString(m->Serialize());
  w.PutString(summary_.spec);
  w.PutString(summary_.fallback);
  w.PutI64(summary_.n_obs);
  return w.Release();
}

absl::Status SelectForecaster::LoadState(std::string_view bytes) {
  ByteReader r(bytes);
  uint32_t version = 0;
  std::vector<double> weights;
  if (!r.GetU32(&version) || version != kStateVersion || !r.GetDoubles(&weights) ||
      weights.empty() || weights.size() > 64) {
    return absl::InvalidArgumentError("select: state truncated or malformed");
  }
  std::vector<std::unique_ptr<Forecaster>> members;
  for (size_t i = 0; i < weights.size(); ++i) {
    std::string bytes_i;
    if (!r.GetString(&bytes_i)) return absl::InvalidArgumentError("select: state truncated");
    TIDEGATE_ASSIGN_OR_RETURN(auto m, LoadMember("select", i, bytes_i, ModelContext{}));
    members.push_back(std::move(m));
  }
  FitSummary summary;
  summary.model = "select";
  if (!r.GetString(&summary.spec) || !r.GetString(&summary.fallback) || !r.GetI64(&summary.n_obs) ||
      !r.AtEnd()) {
    return absl::InvalidArgumentError("select: state truncated or malformed");
  }
  members_ = std::move(members);
  weights_ = std::move(weights);
  summary_ = std::move(summary);
  return absl::OkStatus();
}

}  // namespace

absl::Status SelectOptions::Validate() const {
  if (validation_horizon < 0) {
    return absl::InvalidArgumentError(
        fmt::format("validation_horizon must be >= 0, got {}", validation_horizon));
  }
  if (folds < 1)
    return absl::InvalidArgumentError(fmt::format("folds must be >= 1, got {}", folds));
  if (combine_top < 1) {
    return absl::InvalidArgumentError(fmt::format("combine_top must be >= 1, got {}", combine_top));
  }
  for (const auto& c : candidates) {
    if (IsCombination(c)) {
      return absl::InvalidArgumentError(
          fmt::format("'{}' is a combination and cannot be a candidate of 'select'", c));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<CandidateScore>> CrossValidate(const Series& series,
                                                          const SelectOptions& options) {
  TIDEGATE_RETURN_IF_ERROR(options.Validate());
  const std::vector<std::string> names =
      options.candidates.empty() ? DefaultCandidates() : options.candidates;
  const int v = ValidationHorizon(options, series);
  const int m = ShortestPeriod(series);
  const auto n = static_cast<int64_t>(series.values.size());
  const int64_t first_origin = n - static_cast<int64_t>(options.folds) * v;
  if (first_origin < 2 * m + 2 || first_origin < 4) {
    return absl::FailedPreconditionError(fmt::format(
        "series of {} values too short for {} validation fold(s) of {} steps with period {}", n,
        options.folds, v, m));
  }
  std::vector<CandidateScore> scores;
  for (const auto& name : names) {
    TIDEGATE_ASSIGN_OR_RETURN(auto model, MakeForecaster(name));
    CandidateScore score{name, 0.0, ""};
    for (int f = 0; f < options.folds && std::isfinite(score.error); ++f) {
      const int64_t origin = first_origin + static_cast<int64_t>(f) * v;
      Series train = series;
      train.values.resize(static_cast<size_t>(origin));
      absl::Status st = model->Fit(train);
      absl::StatusOr<Forecast> fc =
          st.ok() ? model->Predict(v, std::span<const double>()) : absl::StatusOr<Forecast>(st);
      if (!fc.ok()) {
        score.error = kInf;
        score.note = std::string(fc.status().message());
        break;
      }
      double sum = 0;
      int count = 0;
      for (int i = 0; i < v; ++i) {
        const double y = series.values[static_cast<size_t>(origin + i)];
        if (std::isnan(y)) continue;
        sum += std::fabs(y - fc->mean[i]);
        ++count;
      }
      score.error += (count ? sum / count : 0.0) / options.folds;
    }
    scores.push_back(std::move(score));
  }
  std::stable_sort(
      scores.begin(), scores.end(),
      [](const CandidateScore& a, const CandidateScore& b) { return a.error < b.error; });
  return scores;
}

std::unique_ptr<Forecaster> NewSelect(const SelectOptions& options) {
  return std::make_unique<SelectForecaster>(options);
}
std::unique_ptr<Forecaster> NewSelect() { return NewSelect(SelectOptions{}); }

}  // namespace tidegate::forecast
