// AutoFit: Hyndman & Khandakar (2008) order selection — seasonal differencing from a seasonal
// strength test, d from KPSS tests, stepwise search over (p, q, P, Q, constant) by AICc.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <optional>
#include <tuple>

#include "forecast/arima/arima_internal.h"
#include "forecast/arima/arima_unit_root.h"
#include "tidegate/common/status.h"

namespace tidegate::forecast {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
// Candidates whose AR or MA roots come closer to the unit circle than this are rejected, as in
// R's auto.arima: they forecast erratically and their likelihood surface is flat.
constexpr double kMinRootModulus = 1.01;

struct Candidate {
  int p = 0, q = 0, sp = 0, sq = 0;
  bool constant = false;
  auto Key() const { return std::make_tuple(p, q, sp, sq, constant); }
};

}  // namespace

absl::Status AutoArimaOptions::IsValid() const {
  auto range = [](const char* name, int v, int lo, int hi) -> absl::Status {
    if (v < lo || v > hi) {
      return absl::InvalidArgumentError(
          fmt::format("AutoArimaOptions: {} = {} is outside [{}, {}]", name, v, lo, hi));
    }
    return absl::OkStatus();
  };
  TIDEGATE_RETURN_IF_ERROR(range("max_p", max_p, 0, kArimaMaxOrder));
  TIDEGATE_RETURN_IF_ERROR(range("max_q", max_q, 0, kArimaMaxOrder));
  TIDEGATE_RETURN_IF_ERROR(range("max_seasonal_p", max_seasonal_p, 0, kArimaMaxSeasonal));
  TIDEGATE_RETURN_IF_ERROR(range("max_seasonal_q", max_seasonal_q, 0, kArimaMaxSeasonal));
  TIDEGATE_RETURN_IF_ERROR(range("max_order", max_order, 0, 4 * kArimaMaxOrder));
  TIDEGATE_RETURN_IF_ERROR(range("max_d", max_d, 0, kArimaMaxDiff));
  TIDEGATE_RETURN_IF_ERROR(range("max_seasonal_d", max_seasonal_d, 0, 1));
  TIDEGATE_RETURN_IF_ERROR(range("max_models", max_models, 1, 10000));
  if (!(seasonal_strength_threshold >= 0 && seasonal_strength_threshold <= 1)) {
    return absl::InvalidArgumentError(
        fmt::format("AutoArimaOptions: seasonal_strength_threshold = {} is outside [0, 1]",
                    seasonal_strength_threshold));
  }
  return fit.IsValid();
}

absl::StatusOr<ArimaModel> ArimaModel::AutoFit(std::span<const double> y, int period,
                                               const AutoArimaOptions& options) {
  TIDEGATE_RETURN_IF_ERROR(options.IsValid());
  if (period < 1 || period > kArimaMaxPeriod) {
    return absl::InvalidArgumentError(
        fmt::format("ARIMA auto: period = {} is outside [1, {}]", period, kArimaMaxPeriod));
  }
  TIDEGATE_ASSIGN_OR_RETURN(ArimaData data, PrepareArimaData(y));
  std::string note;
  const int n = data.n_finite;

  // Seasonal differencing: D = 1 when the seasonal strength says so.
  bool seasonal = period > 1 && n >= 2 * period + 3;
  if (period > 1 && !seasonal) {
    note = fmt::format("{} observations are fewer than 2 seasons + 3 ({}): non-seasonal search", n,
                       2 * period + 3);
  }
  int big_d = 0;
  double strength = 0;
  if (seasonal) {
    strength = arima_internal::SeasonalStrength(data.ys, period);
    if (options.max_seasonal_d >= 1 && strength > options.seasonal_strength_threshold) big_d = 1;
  }
  const std::vector<double> xs = Difference(data.ys, 0, big_d, period);
  double kpss = 0;
  const int d = arima_internal::KpssDifferences(xs, options.max_d, &kpss);
  const int sp_max = seasonal ? options.max_seasonal_p : 0;
  const int sq_max = seasonal ? options.max_seasonal_q : 0;
  const bool constant_ok = options.allow_constant && d + big_d <= 1;
  const bool approximate =
      options.approximation == AutoArimaOptions::Approximation::kAlways ||
      (options.approximation == AutoArimaOptions::Approximation::kAuto && (n > 150 || period > 12));
  const ArimaMethod search_method =
      approximate ? ArimaMethod::kConditionalSumOfSquares : ArimaMethod::kMaximumLikelihood;

  const std::vector<double> w = Difference(data.ys, d, big_d, period);
  int n_w = 0;
  for (double v : w) n_w += std::isnan(v) ? 0 : 1;
  const int n_star = n - d - big_d * period;
  {
    // A constant (or nearly empty) differenced series leaves nothing to search: Fit's documented
    // fallbacks handle it exactly.
    double lo = kInf, hi = -kInf;
    for (double v : w) {
      if (!std::isnan(v)) {
        lo = std::min(lo, v);
        hi = std::max(hi, v);
      }
    }
    if (n_w < 3 || hi - lo <= 1e-12) {
      ArimaOrder simple;
      simple.d = d;
      simple.seasonal_d = seasonal ? big_d : 0;
      simple.period = period;
      simple.constant = constant_ok;
      TIDEGATE_ASSIGN_OR_RETURN(ArimaModel m, FitArimaPrepared(data, simple, options.fit));
      ArimaFitSummary& s = ArimaModelBuilder::MutableSummary(m);
      s.kpss_statistic = kpss;
      s.seasonal_strength = strength;
      if (!note.empty()) s.fallback = s.fallback.empty() ? note : note + "; " + s.fallback;
      return m;
    }
  }

  auto make_order = [&](const Candidate& c) {
    ArimaOrder o;
    o.p = c.p;
    o.d = d;
    o.q = c.q;
    o.seasonal_p = c.sp;
    o.seasonal_d = seasonal ? big_d : 0;
    o.seasonal_q = c.sq;
    o.period = period;
    o.constant = c.constant;
    return o;
  };
  // Non-seasonal orders of a seasonal-period series still need period = 1 for validation when D
  // is 0 and no seasonal terms are present: ValidateArimaOrder accepts period > 1 with P=D=Q=0.
  auto valid = [&](const Candidate& c) {
    return c.p >= 0 && c.q >= 0 && c.sp >= 0 && c.sq >= 0 && c.p <= options.max_p &&
           c.q <= options.max_q && c.sp <= sp_max && c.sq <= sq_max &&
           c.p + c.q + c.sp + c.sq <= options.max_order && (constant_ok || !c.constant);
  };

  std::map<std::tuple<int, int, int, int, bool>, double> tried;
  struct Ranked {
    double aicc;
    Candidate c;
    std::vector<double> x;  // Optimiser coordinates of the search fit: the ML start.
  };
  std::vector<Ranked> ranked;
  int models = 0;
  auto score = [&](const Candidate& c) {
    auto [it, inserted] = tried.emplace(c.Key(), kInf);
    if (!inserted) return it->second;
    const ArimaOrder o = make_order(c);
    const int ncoef = c.p + c.q + c.sp + c.sq + (c.constant ? 1 : 0);
    const int npar = ncoef + 1;
    if (n_w < ncoef + 3 || n_star - npar - 1 <= 0) return kInf;
    ++models;
    ArimaCoreFit fit = FitArimaCore(w, o, search_method, options.fit.max_evaluations);
    if (!fit.ok || !ArimaRootsOk(fit.coef, kMinRootModulus)) return kInf;
    // With CSS the residual count varies with the AR order, so both criteria use n* (as R does
    // with its offset): n* log sigma2 + 2 k, plus the AICc correction.
    const double ic = search_method == ArimaMethod::kConditionalSumOfSquares
                          ? n_star * std::log(std::max(fit.sigma2, 1e-20)) + 2.0 * npar
                          : -2.0 * fit.loglik + 2.0 * npar;
    const double aicc = ic + 2.0 * npar * (npar + 1) / (n_star - npar - 1);
    it->second = aicc;
    ranked.push_back({aicc, c, std::move(fit.x)});
    return aicc;
  };

  Candidate best;
  double best_score = kInf;
  auto consider = [&](const Candidate& c) {
    if (!valid(c) || models >= options.max_models) return false;
    const double s = score(c);
    if (s < best_score) {
      best_score = s;
      best = c;
      return true;
    }
    return false;
  };
  const bool c0 = constant_ok;
  if (seasonal) {
    consider({2, 2, 1, 1, c0});
    consider({0, 0, 0, 0, c0});
    consider({1, 0, 1, 0, c0});
    consider({0, 1, 0, 1, c0});
  } else {
    consider({2, 2, 0, 0, c0});
    consider({0, 0, 0, 0, c0});
    consider({1, 0, 0, 0, c0});
    consider({0, 1, 0, 0, c0});
  }
  if (c0) consider({0, 0, 0, 0, false});
  // Clipped starting points (max_order < 6, say) may all be invalid: fall back to white noise.
  if (best_score == kInf) consider({0, 0, 0, 0, false});

  bool improved = true;
  while (improved && models < options.max_models) {
    improved = false;
    const Candidate b = best;
    std::vector<Candidate> moves;
    if (seasonal) {
      for (auto [dp, dq] :
           {std::pair{-1, 0}, {1, 0}, {0, -1}, {0, 1}, {-1, -1}, {1, 1}, {-1, 1}, {1, -1}}) {
        Candidate c = b;
        c.sp += dp;
        c.sq += dq;
        moves.push_back(c);
      }
    }
    for (auto [dp, dq] :
         {std::pair{-1, 0}, {1, 0}, {0, -1}, {0, 1}, {-1, -1}, {1, 1}, {-1, 1}, {1, -1}}) {
      Candidate c = b;
      c.p += dp;
      c.q += dq;
      moves.push_back(c);
    }
    if (constant_ok) {
      Candidate c = b;
      c.constant = !c.constant;
      moves.push_back(c);
    }
    for (const Candidate& c : moves) {
      if (consider(c)) {
        improved = true;
        break;
      }
    }
  }

  // Refit the winners by exact ML (started where the search fit ended); keep the first whose ML
  // coefficients are well inside the stationary and invertible regions. Only that one pays for
  // the full filter pass of Build.
  std::stable_sort(ranked.begin(), ranked.end(),
                   [](const Ranked& a, const Ranked& b) { return a.aicc < b.aicc; });
  std::optional<ArimaModel> chosen;
  const ArimaFitOptions& final_options = options.fit;
  std::optional<std::pair<ArimaOrder, ArimaCoreFit>> first_ok;
  for (size_t i = 0; i < ranked.size() && i < 5; ++i) {
    const ArimaOrder o = make_order(ranked[i].c);
    ArimaCoreFit fit =
        FitArimaCore(w, o, final_options.method, final_options.max_evaluations, ranked[i].x);
    if (!fit.ok) continue;
    if (ArimaRootsOk(fit.coef, kMinRootModulus)) {
      first_ok.reset();
      chosen = ArimaModelBuilder::Build(data, o, fit.coef, &fit, final_options.method, "");
      break;
    }
    if (!first_ok.has_value()) first_ok.emplace(o, std::move(fit));
  }
  if (!chosen.has_value() && first_ok.has_value()) {
    chosen = ArimaModelBuilder::Build(data, first_ok->first, first_ok->second.coef,
                                      &first_ok->second, final_options.method, "");
  }
  if (!chosen.has_value()) {
    // No candidate could be scored (a very short or degenerate series): the simplest model.
    TIDEGATE_ASSIGN_OR_RETURN(ArimaModel m,
                              FitArimaPrepared(data, make_order({0, 0, 0, 0, c0}), final_options));
    chosen = std::move(m);
    note += note.empty() ? "" : "; ";
    note += "no candidate order could be fitted: fitted the simplest model";
  }
  ArimaFitSummary& s = ArimaModelBuilder::MutableSummary(*chosen);
  s.models_tried = models;
  s.kpss_statistic = kpss;
  s.seasonal_strength = strength;
  if (!note.empty()) s.fallback = s.fallback.empty() ? note : note + "; " + s.fallback;
  return std::move(*chosen);
}

}  // namespace tidegate::forecast
