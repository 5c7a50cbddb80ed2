// The "arima" Forecaster: adapts ArimaModel::AutoFit to the Forecaster interface (forecaster.h).
#include <fmt/format.h>

#include <cmath>
#include <memory>
#include <optional>

#include "../adapter_state.h"
#include "tidegate/common/status.h"
#include "tidegate/forecast/arima.h"
#include "tidegate/forecast/forecaster.h"
#include "tidegate/forecast/stats.h"

namespace tidegate::forecast {
namespace {

constexpr uint32_t kStateVersion = 1;

class ArimaForecaster final : public Forecaster {
 public:
  std::string_view Name() const override { return "arima"; }

  absl::Status Fit(const Series& series) override {
    TIDEGATE_RETURN_IF_ERROR(ValidateSeries(series));
    if (CountObserved(series.values) == 0) {
      return absl::FailedPreconditionError(
          fmt::format("arima: no observed value in {} points", series.values.size()));
    }
    // The shortest period: SARIMA carries one seasonal cycle (R's auto.arima likewise).
    int period = 1;
    std::string ignored;
    for (int p : series.seasonal_periods) {
      if (p <= kArimaMaxPeriod && (period == 1 || p < period)) period = p;
    }
    for (int p : series.seasonal_periods) {
      if (p != period) ignored += (ignored.empty() ? "" : ", ") + std::to_string(p);
    }
    TIDEGATE_ASSIGN_OR_RETURN(ArimaModel model, ArimaModel::AutoFit(series.values, period));
    model_ = std::move(model);
    summary_ = MakeSummary(*model_);
    if (!ignored.empty()) {
      const std::string note = fmt::format(
          "seasonal period(s) {} not used by ARIMA (one seasonal period: {})", ignored, period);
      summary_.fallback = summary_.fallback.empty() ? note : summary_.fallback + "; " + note;
    }
    std::vector<int> periods;
    if (period > 1) periods.push_back(period);
    const ArimaOrder& o = model_->order();
    const int fitdf = o.p + o.q + o.seasonal_p + o.seasonal_q;
    FillResidualDiagnostics(model_->residuals(), periods, fitdf, &summary_);
    return absl::OkStatus();
  }

  absl::StatusOr<Forecast> Predict(int h, std::span<const double> levels) const override {
    if (!model_) return absl::FailedPreconditionError("arima: Predict before a successful Fit");
    TIDEGATE_RETURN_IF_ERROR(ValidatePredictArgs(h, levels));
    TIDEGATE_ASSIGN_OR_RETURN(ArimaForecast f, model_->Forecast(h));
    return GaussianForecast(std::move(f.mean), f.standard_error, levels);
  }

  absl::Status Update(double y) override {
    if (!model_) return absl::FailedPreconditionError("arima: Update before a successful Fit");
    TIDEGATE_RETURN_IF_ERROR(model_->Update(y));
    if (!std::isnan(y)) ++summary_.n_obs;
    return absl::OkStatus();
  }

  FitSummary Summary() const override {
    if (!model_) {
      FitSummary s;
      s.model = "arima";
      return s;
    }
    return summary_;
  }

  std::unique_ptr<Forecaster> Clone() const override {
    return std::make_unique<ArimaForecaster>(*this);
  }

  std::string SaveState() const override {
    if (!model_) return SaveAdapterState(kStateVersion, nullptr, summary_);
    const std::string core = model_->Serialize();
    return SaveAdapterState(kStateVersion, &core, summary_);
  }

  absl::Status LoadState(std::string_view bytes) override {
    TIDEGATE_ASSIGN_OR_RETURN(std::optional<AdapterState> state,
                              LoadAdapterState("arima", kStateVersion, bytes));
    if (!state) {
      model_.reset();
      summary_ = FitSummary{};
      return absl::OkStatus();
    }
    TIDEGATE_ASSIGN_OR_RETURN(ArimaModel model, ArimaModel::Load(state->core));
    model_ = std::move(model);
    summary_ = MakeSummary(*model_);
    ApplyAdapterExtras(state->extras, &summary_);
    return absl::OkStatus();
  }

 private:
  static FitSummary MakeSummary(const ArimaModel& model) {
    const ArimaFitSummary& a = model.summary();
    FitSummary s;
    s.model = "arima";
    s.spec = ArimaOrderToString(a.order);
    auto put = [&s](const char* prefix, const std::vector<double>& v) {
      for (size_t i = 0; i < v.size(); ++i) s.params[fmt::format("{}{}", prefix, i + 1)] = v[i];
    };
    put("ar", a.ar);
    put("ma", a.ma);
    put("sar", a.seasonal_ar);
    put("sma", a.seasonal_ma);
    if (a.order.constant) {
      s.params[a.order.d + a.order.seasonal_d == 0 ? "intercept" : "drift"] = a.drift;
    }
    s.n_obs = a.n_used + a.order.d + a.order.seasonal_d * a.order.period;
    s.n_params =
        static_cast<int>(a.ar.size() + a.ma.size() + a.seasonal_ar.size() + a.seasonal_ma.size()) +
        (a.order.constant ? 1 : 0) + 1;
    s.log_likelihood = a.loglik;
    s.aic = a.aic;
    s.aicc = a.aicc;
    s.bic = a.bic;
    s.sigma2 = a.sigma2_unbiased;
    s.fallback = a.fallback;
    return s;
  }

  std::optional<ArimaModel> model_;
  FitSummary summary_;
};

}  // namespace

std::unique_ptr<Forecaster> NewArima() { return std::make_unique<ArimaForecaster>(); }

}  // namespace tidegate::forecast
