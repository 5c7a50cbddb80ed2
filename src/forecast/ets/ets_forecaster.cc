// The "ets" Forecaster: adapts EtsModel to the Forecaster interface (forecaster.h).
#include <fmt/format.h>

#include <cmath>
#include <memory>
#include <optional>

#include "../adapter_state.h"
#include "tidegate/common/status.h"
#include "tidegate/forecast/ets.h"
#include "tidegate/forecast/forecaster.h"
#include "tidegate/forecast/stats.h"

namespace tidegate::forecast {
namespace {

constexpr uint32_t kStateVersion = 1;

class EtsForecaster final : public Forecaster {
 public:
  std::string_view Name() const override { return "ets"; }

  absl::Status Fit(const Series& series) override {
    TIDEGATE_RETURN_IF_ERROR(ValidateSeries(series));
    EtsOptions options;
    std::string ignored;
    for (int p : series.seasonal_periods) {
      if (p <= kMaxEtsPeriod) {
        options.period = std::max(options.period, p);
      }
    }
    for (int p : series.seasonal_periods) {
      if (p != options.period) ignored += (ignored.empty() ? "" : ", ") + std::to_string(p);
    }
    auto model = EtsModel::Fit(series.values, options);
    if (!model.ok()) {
      if (CountObserved(series.values) == 0) {
        return absl::FailedPreconditionError(
            fmt::format("ets: no observed value in {} points", series.values.size()));
      }
      return model.status();
    }
    model_ = *std::move(model);
    summary_ = MakeSummary(*model_);
    if (!ignored.empty()) {
      std::string note = fmt::format(
          "seasonal period(s) {} not used by ETS (only one period "
          "<= {} is supported)",
          ignored, kMaxEtsPeriod);
      summary_.fallback = summary_.fallback.empty() ? note : summary_.fallback + "; " + note;
    }
    auto residuals = model_->Residuals(series.values);
    if (residuals.ok()) {
      const int period = model_->summary().period;
      std::vector<int> periods;
      if (period > 1) periods.push_back(period);
      const int fitdf = model_->summary().num_parameters - 1;
      FillResidualDiagnostics(*residuals, periods, fitdf, &summary_);
    }
    return absl::OkStatus();
  }

  absl::StatusOr<Forecast> Predict(int h, std::span<const double> levels) const override {
    if (!model_) return absl::FailedPreconditionError("ets: Predict before a successful Fit");
    TIDEGATE_RETURN_IF_ERROR(ValidatePredictArgs(h, levels));
    TIDEGATE_ASSIGN_OR_RETURN(EtsForecast f, model_->Forecast(h, levels));
    Forecast out;
    out.mean = std::move(f.mean);
    for (auto& iv : f.intervals) {
      out.intervals.push_back(
          PredictionInterval{iv.level, std::move(iv.lower), std::move(iv.upper)});
    }
    return out;
  }

  absl::Status Update(double y) override {
    if (!model_) return absl::FailedPreconditionError("ets: Update before a successful Fit");
    if (std::isinf(y)) {
      return absl::InvalidArgumentError(fmt::format("ets: Update with an infinite value ({})", y));
    }
    model_->Update(y);
    if (!std::isnan(y)) ++summary_.n_obs;
    return absl::OkStatus();
  }

  FitSummary Summary() const override {
    if (!model_) {
      FitSummary s;
      s.model = "ets";
      return s;
    }
    return summary_;
  }

  std::unique_ptr<Forecaster> Clone() const override {
    return std::make_unique<EtsForecaster>(*this);
  }

  std::string SaveState() const override {
    if (!model_) return SaveAdapterState(kStateVersion, nullptr, summary_);
    const std::string core = model_->Serialize();
    return SaveAdapterState(kStateVersion, &core, summary_);
  }

  absl::Status LoadState(std::string_view bytes) override {
    TIDEGATE_ASSIGN_OR_RETURN(std::optional<AdapterState> state,
                              LoadAdapterState("ets", kStateVersion, bytes));
    if (!state) {
      model_.reset();
      summary_ = FitSummary{};
      return absl::OkStatus();
    }
    TIDEGATE_ASSIGN_OR_RETURN(EtsModel model, EtsModel::Load(state->core));
    model_ = std::move(model);
    summary_ = MakeSummary(*model_);
    ApplyAdapterExtras(state->extras, &summary_);
    return absl::OkStatus();
  }

 private:
  static FitSummary MakeSummary(const EtsModel& model) {
    const EtsFitSummary& e = model.summary();
    FitSummary s;
    s.model = "ets";
    s.spec = e.spec.Name();
    if (e.period > 1) s.spec += fmt::format("[{}]", e.period);
    s.params["alpha"] = e.params.alpha;
    if (e.spec.trend != EtsTrendType::kNone) s.params["beta"] = e.params.beta;
    if (e.spec.season != EtsSeasonType::kNone) s.params["gamma"] = e.params.gamma;
    if (e.spec.trend == EtsTrendType::kDamped) s.params["phi"] = e.params.phi;
    s.params["l0"] = e.initial_state.level;
    if (e.spec.trend != EtsTrendType::kNone) s.params["b0"] = e.initial_state.trend;
    s.n_obs = e.observations;
    s.n_params = e.num_parameters;
    s.log_likelihood = e.log_likelihood;
    s.aic = e.aic;
    s.aicc = e.aicc;
    s.bic = e.bic;
    s.sigma2 = e.sigma2;
    s.fallback = e.fallback;
    return s;
  }

  std::optional<EtsModel> model_;
  FitSummary summary_;
};

}  // namespace

std::unique_ptr<Forecaster> NewEts() { return std::make_unique<EtsForecaster>(); }

}  // namespace tidegate::forecast
