// ETS model: spec helpers, heuristic initialisation, maximum-likelihood fit
// with NLopt, automatic selection by AICc, forecasts with intervals, online
// update and serialisation. The math is in docs/design/forecast-ets.md.
#include "tidegate/forecast/ets.h"

#include <fmt/format.h>

#include <Eigen/Dense>
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <exception>
#include <limits>
#include <nlopt.hpp>
#include <random>

#include "forecast/ets/ets_filter.h"
#include "tidegate/common/status.h"
#include "tidegate/forecast/forecaster.h"

namespace tidegate::forecast {
namespace {

using ets_internal::Coeffs;
using ets_internal::FilterState;
using ets_internal::FilterSums;
using ets_internal::ToCoeffs;

constexpr double kInvalid = 1e12;  // Criterion of an unusable parameter vector.
constexpr double kAlphaLo = 1e-4, kAlphaHi = 0.9999;
constexpr double kPhiLo = 0.8, kPhiHi = 0.98;
constexpr double kStateFloor = 1e-10;      // Scaled; for states of multiplicative models in Update.
constexpr double kSeasonFloor = 1e-6;      // Multiplicative seasonal factors in Update.
constexpr int kMinObservations = 7;        // Below: tiny-series fallback (k + 4 for ETS(A,N,N)).
constexpr int kClass2ExactHorizon = 5000;  // Longer class-2 horizons are simulated.

bool HasTrend(const EtsSpec& s) { return s.trend != EtsTrendType::kNone; }
bool HasSeason(const EtsSpec& s) { return s.season != EtsSeasonType::kNone; }
bool IsDamped(const EtsSpec& s) { return s.trend == EtsTrendType::kDamped; }
bool IsMultiplicative(const EtsSpec& s) {
  return s.error == EtsErrorType::kMultiplicative || s.season == EtsSeasonType::kMultiplicative;
}

// Parameters counted by the information criteria: smoothing, initial states,
// innovation variance.
int NumParameters(const EtsSpec& s, int m) {
  int k = 1 + 1 + 1;  // alpha, level, sigma^2
  if (HasTrend(s)) k += 2;
  if (IsDamped(s)) k += 1;
  if (HasSeason(s)) k += 1 + (m - 1);
  return k;
}

// Parameters R's ets counts to decide whether a series is long enough (no
// variance).
int MinObservationsFor(const EtsSpec& s, int m) { return NumParameters(s, m) - 1 + 4 + 1; }

double PowerOfTwoScale(double max_abs) {
  if (!(max_abs > 0) || !std::isfinite(max_abs)) return 1.0;
  return std::ldexp(1.0, std::ilogb(max_abs));
}

// ---------------------------------------------------------------------------------------------
// Heuristic initial states (Hyndman et al. 2008, sec. 2.6.1, as R's ets does
// it): a classical decomposition of the first three seasons gives the seasonal
// figure; a regression of the seasonally adjusted first max(10, 2m) points on
// time gives level and trend.
struct InitialStates {
  double level = 0;
  double trend = 0;
  std::vector<double> season;  // m values, season[j] used by observation j (0-based).
};

std::vector<double> SeasonalFigure(const std::vector<double>& y, int m, bool mult) {
  const int nd = std::min<int>(static_cast<int>(y.size()), 3 * m);
  std::vector<double> sum(m, 0.0);
  std::vector<int> cnt(m, 0);
  const bool even = m % 2 == 0;
  const int h = even ? m / 2 : (m - 1) / 2;
  for (int t = h; t + h < nd; ++t) {
    double acc = 0;
    bool ok = true;
    for (int k = -h; k <= h; ++k) {
      const double v = y[t + k];
      if (v != v) {
        ok = false;
        break;
      }
      acc += (even && (k == -h || k == h)) ? 0.5 * v : v;
    }
    if (!ok || y[t] != y[t]) continue;
    const double trend = acc / m;
    if (mult && !(trend > 0)) continue;
    sum[t % m] += mult ? y[t] / trend : y[t] - trend;
    ++cnt[t % m];
  }
  std::vector<double> fig(m);
  for (int j = 0; j < m; ++j) fig[j] = cnt[j] > 0 ? sum[j] / cnt[j] : (mult ? 1.0 : 0.0);
  double mean = 0;
  for (double v : fig) mean += v;
  mean /= m;
  for (double& v : fig) {
    if (mult) {
      v = mean > 0 ? v / mean : 1.0;
    } else {
      v -= mean;
    }
  }
  if (mult) {  // No non-positive factors; renormalise to mean 1.
    double s = 0;
    for (double& v : fig) s += (v = std::max(v, 1e-2));
    for (double& v : fig) v *= m / s;
  }
  return fig;
}

InitialStates HeuristicInit(const std::vector<double>& y, const EtsSpec& spec, int m) {
  InitialStates init;
  const int n = static_cast<int>(y.size());
  std::vector<double> ysa = y;
  if (HasSeason(spec)) {
    const bool mult = spec.season == EtsSeasonType::kMultiplicative;
    init.season = SeasonalFigure(y, m, mult);
    for (int t = 0; t < n; ++t) {
      ysa[t] = mult ? y[t] / init.season[t % m] : y[t] - init.season[t % m];
    }
  }
  const int maxn = std::min(std::max(10, 2 * m), n);
  double sx = 0, sy = 0, sxx = 0, sxy = 0;
  int cnt = 0;
  for (int t = 0; t < maxn; ++t) {
    if (ysa[t] != ysa[t]) continue;
    const double x = t + 1;
    sx += x, sy += ysa[t], sxx += x * x, sxy += x * ysa[t];
    ++cnt;
  }
  if (cnt == 0) {  // The first points are all missing: start from the first
                   // finite value.
    for (double v : ysa) {
      if (v == v) {
        init.level = v;
        break;
      }
    }
    return init;
  }
  const double mean = sy / cnt;
  if (!HasTrend(spec) || cnt < 2) {
    init.level = mean;
    return init;
  }
  const double den = cnt * sxx - sx * sx;
  const double slope = den > 0 ? (cnt * sxy - sx * sy) / den : 0.0;
  init.level = (sy - slope * sx) / cnt;
  init.trend = slope;
  if (std::fabs(init.level + init.trend) < 1e-8) {  // Keep yhat_1 away from zero (error M).
    init.level *= 1 + 1e-3;
    init.trend *= 1 - 1e-3;
  }
  return init;
}

// ---------------------------------------------------------------------------------------------
// Admissibility (Hyndman, Akram & Archibald 2008): the discount matrix D = F -
// g w' of the linear analogue must have all eigenvalues inside the unit circle.
// An additive seasonal state carries one structural eigenvalue 1 (moving level
// up and every seasonal down leaves every forecast unchanged); it is excluded.
bool Admissible(const EtsSpec& spec, int m, const Coeffs& c) {
  const bool trend = HasTrend(spec), season = HasSeason(spec);
  const int so = trend ? 2 : 1;
  const int p = so + (season ? m : 0);
  Eigen::MatrixXd d = Eigen::MatrixXd::Zero(p, p);
  Eigen::VectorXd w = Eigen::VectorXd::Zero(p), g = Eigen::VectorXd::Zero(p);
  d(0, 0) = 1;
  w(0) = 1;
  g(0) = c.alpha;
  if (trend) {
    d(0, 1) = c.phi;
    d(1, 1) = c.phi;
    w(1) = c.phi;
    g(1) = c.beta;
  }
  if (season) {
    d(so, so + m - 1) = 1;
    for (int i = 1; i < m; ++i) d(so + i, so + i - 1) = 1;
    w(so + m - 1) = 1;
    g(so) = c.gamma;
  }
  d -= g * w.transpose();
  const Eigen::VectorXcd ev = d.eigenvalues();
  int skip = -1;
  if (season) {
    double best = 1e-6;
    for (int i = 0; i < ev.size(); ++i) {
      const double dist = std::abs(ev(i) - std::complex<double>(1, 0));
      if (dist < best) best = dist, skip = i;
    }
  }
  for (int i = 0; i < ev.size(); ++i) {
    if (i != skip && std::abs(ev(i)) > 1 + 1e-10) return false;
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// Maximum-likelihood fit of one model. The optimisation vector is
//   [alpha, beta/alpha?, gamma/(1-alpha)?, phi?, u_level, u_trend?,
//   u_season_1..m-1?]
// so that the box bounds are exactly the usual region 0 < beta < alpha, 0 <
// gamma < 1 - alpha; the initial states are the heuristic ones plus u times a
// scale of the data. Seasonal state 0 is determined by the normalisation (sum 0
// for additive, m for multiplicative).
struct CandidateFit {
  EtsSpec spec;
  int m = 1;
  EtsParams params;
  double level = 0, trend = 0;
  std::vector<double> season;
  double criterion = kInvalid;
  int evaluations = 0;
};

struct Objective {
  const std::vector<double>* y = nullptr;
  EtsSpec spec;
  int m = 1;
  InitialStates init;
  double sc_level = 1, sc_trend = 1, sc_season = 1;
  bool penalize_inadmissible = false;
  bool free_season = true;     // Estimate seasonal initial states (else hold init.season).
  std::vector<double> season;  // Work buffer, m values.
  int evaluations = 0;
  double best_f = kInvalid;
  std::vector<double> best_x;

  // Decodes x into parameters and initial states (season into `season`).
  void Decode(const double* x, EtsParams& p, double& l0, double& b0) {
    int i = 0;
    p.alpha = x[i++];
    p.beta = HasTrend(spec) ? p.alpha * x[i++] : 0.0;
    p.gamma = HasSeason(spec) ? (1 - p.alpha) * x[i++] : 0.0;
    p.phi = IsDamped(spec) ? x[i++] : 1.0;
    l0 = init.level + sc_level * x[i++];
    b0 = HasTrend(spec) ? init.trend + sc_trend * x[i++] : 0.0;
    if (HasSeason(spec) && free_season) {
      double sum = 0;
      for (int j = 1; j < m; ++j) sum += (season[j] = init.season[j] + sc_season * x[i++]);
      season[0] = (spec.season == EtsSeasonType::kMultiplicative ? m : 0.0) - sum;
    } else if (HasSeason(spec)) {
      std::copy(init.season.begin(), init.season.end(), season.begin());
    }
  }

  double Evaluate(const double* x) {
    ++evaluations;
    EtsParams p;
    double l0, b0;
    Decode(x, p, l0, b0);
    if (spec.season == EtsSeasonType::kMultiplicative) {
      for (int j = 0; j < m; ++j) {
        if (!(season[j] > 0)) return kInvalid;
      }
    }
    const Coeffs c = ToCoeffs(spec, p);
    if (penalize_inadmissible && !Admissible(spec, m, c)) return kInvalid;
    FilterState st{l0, b0, season.data(), m, 0};
    FilterSums sums;
    if (!ets_internal::Filter(spec, y->data(), static_cast<int>(y->size()), c, st, sums, nullptr)) {
      return kInvalid;
    }
    const double f = ets_internal::Criterion(spec, sums);
    if (!std::isfinite(f)) return kInvalid;
    if (f < best_f) {
      best_f = f;
      best_x.assign(x, x + best_x.size());
    }
    return f;
  }

  static double Call(unsigned n, const double* x, double* grad, void* data) {
    return static_cast<Objective*>(data)->Evaluate(x);
  }
};

// Fits one model. `start` (optional) replaces the heuristic start: its
// parameters and states. With `free_season` false the seasonal initial states
// are held at the start's (a screening fit: at most 6 free coordinates instead
// of up to m + 5).
CandidateFit FitCandidate(const std::vector<double>& y, const EtsSpec& spec, int m,
                          const EtsOptions& options, bool penalize_inadmissible,
                          const CandidateFit* start = nullptr, bool free_season = true) {
  CandidateFit out;
  out.spec = spec;
  out.m = HasSeason(spec) ? m : 1;
  Objective obj;
  obj.y = &y;
  obj.spec = spec;
  obj.m = out.m;
  obj.penalize_inadmissible = penalize_inadmissible;
  obj.free_season = free_season;
  if (start != nullptr) {
    obj.init.level = start->level;
    obj.init.trend = start->trend;
    obj.init.season = start->season;
  } else {
    obj.init = HeuristicInit(y, spec, out.m);
  }
  obj.season.assign(out.m, 0.0);

  double mean = 0, sq = 0;
  int cnt = 0;
  for (double v : y) {
    if (v == v) mean += v, sq += v * v, ++cnt;
  }
  mean /= cnt;
  const double sd = std::sqrt(std::max(0.0, sq / cnt - mean * mean));
  const double sc =
      sd > 1e-12 * std::fabs(mean) && sd > 0 ? sd : std::max(std::fabs(mean), 1.0) * 1e-3;
  obj.sc_level = sc;
  obj.sc_trend = sc / 10;
  obj.sc_season = spec.season == EtsSeasonType::kMultiplicative
                      ? std::clamp(sd / std::max(std::fabs(mean), 1e-300), 1e-3, 1.0)
                      : sc;

  // Starting values (R's ets: alpha near the bottom of its range for long
  // seasons).
  std::vector<double> x, lb, ub, step;
  auto add = [&](double v, double lo, double hi, double dx) {
    x.push_back(std::clamp(v, lo, hi));
    lb.push_back(lo);
    ub.push_back(hi);
    step.push_back(dx);
  };
  const EtsParams p0 = start != nullptr
                           ? start->params
                           : EtsParams{kAlphaLo + 0.2 * (kAlphaHi - kAlphaLo) / out.m, 0, 0, 0.97};
  add(p0.alpha, kAlphaLo, kAlphaHi, 0.05);
  if (HasTrend(spec)) add(start != nullptr ? p0.beta / p0.alpha : 0.1, 1e-4, 0.9999, 0.05);
  if (HasSeason(spec)) add(start != nullptr ? p0.gamma / (1 - p0.alpha) : 0.05, 1e-4, 0.9999, 0.05);
  if (IsDamped(spec)) add(p0.phi, kPhiLo, kPhiHi, 0.02);
  add(0, -50, 50, 0.2);
  if (HasTrend(spec)) add(0, -50, 50, 0.2);
  if (free_season) {
    for (int j = 1; j < out.m; ++j) add(0, -50, 50, 0.2);
  }
  obj.best_x.assign(x.size(), 0.0);

  if (obj.Evaluate(x.data()) >= kInvalid) {
    // The heuristic start is unusable (e.g. yhat_1 <= 0 for error M): start
    // flat at the first value.
    for (double v : y) {
      if (v == v) {
        obj.init.level = spec.season == EtsSeasonType::kMultiplicative ? v / obj.init.season[0]
                         : HasSeason(spec)                             ? v - obj.init.season[0]
                                                                       : v;
        break;
      }
    }
    obj.init.trend = 0;
    if (obj.Evaluate(x.data()) >= kInvalid) return out;
  }

  try {
    nlopt::opt opt(
        options.optimizer == EtsOptimizer::kBobyqa ? nlopt::LN_BOBYQA : nlopt::LN_NELDERMEAD,
        static_cast<unsigned>(x.size()));
    opt.set_lower_bounds(lb);
    opt.set_upper_bounds(ub);
    opt.set_initial_step(step);
    opt.set_min_objective(&Objective::Call, &obj);
    opt.set_maxeval(options.max_evaluations);
    opt.set_ftol_abs(options.objective_tolerance * std::max(1.0, static_cast<double>(cnt)));
    opt.set_xtol_rel(1e-8);
    double f = 0;
    opt.optimize(x, f);
  } catch (const std::exception&) {
    // NLopt throws on round-off limits and invalid states; the best point seen
    // is still valid.
  }
  out.evaluations = obj.evaluations;
  if (!(obj.best_f < kInvalid)) return out;
  obj.Decode(obj.best_x.data(), out.params, out.level, out.trend);
  out.season = obj.season;
  out.criterion = obj.best_f;
  return out;
}

double Aicc(double criterion, int k, int n) {
  return n - k - 1 > 0 ? criterion + 2.0 * k + 2.0 * k * (k + 1) / (n - k - 1)
                       : std::numeric_limits<double>::infinity();
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Spec, options, summary.

std::string EtsSpec::Name() const {
  static constexpr const char* kTrend[] = {"N", "A", "Ad"};
  return fmt::format("ETS({},{},{})", error == EtsErrorType::kAdditive ? "A" : "M",
                     kTrend[static_cast<int>(trend)], "NAM"[static_cast<int>(season)]);
}

absl::StatusOr<EtsSpec> EtsSpec::Parse(std::string_view code) {
  EtsSpec s;
  const bool damped = code.size() == 4 && code[2] == 'd';
  if (!(code.size() == 3 || damped)) {
    return absl::InvalidArgumentError(
        fmt::format("ETS model code '{}': expected 3 letters (e.g. 'MAN') or 4 "
                    "with a damped "
                    "trend ('AAdN')",
                    code));
  }
  const char e = code[0], t = code[1], se = code[code.size() - 1];
  if (e != 'A' && e != 'M') {
    return absl::InvalidArgumentError(
        fmt::format("ETS model code '{}': error must be 'A' or 'M', got '{}'", code, e));
  }
  if (t != 'N' && t != 'A') {
    return absl::InvalidArgumentError(
        fmt::format("ETS model code '{}': trend must be 'N', 'A' or 'Ad' "
                    "(multiplicative trends are not "
                    "supported), got '{}'",
                    code, t));
  }
  if (damped && t != 'A') {
    return absl::InvalidArgumentError(
        fmt::format("ETS model code '{}': only an additive trend can be damped", code));
  }
  if (se != 'N' && se != 'A' && se != 'M') {
    return absl::InvalidArgumentError(
        fmt::format("ETS model code '{}': season must be 'N', 'A' or 'M', got '{}'", code, se));
  }
  s.error = e == 'A' ? EtsErrorType::kAdditive : EtsErrorType::kMultiplicative;
  s.trend =
      t == 'N' ? EtsTrendType::kNone : (damped ? EtsTrendType::kDamped : EtsTrendType::kAdditive);
  s.season = se == 'N'   ? EtsSeasonType::kNone
             : se == 'A' ? EtsSeasonType::kAdditive
                         : EtsSeasonType::kMultiplicative;
  return s;
}

bool EtsSpec::IsLinear() const {
  return error == EtsErrorType::kAdditive && season != EtsSeasonType::kMultiplicative;
}

absl::Status EtsOptions::Validate() const {
  if (period < 1) {
    return absl::InvalidArgumentError(
        fmt::format("EtsOptions.period must be >= 1, got {}", period));
  }
  if (max_evaluations < 10) {
    return absl::InvalidArgumentError(
        fmt::format("EtsOptions.max_evaluations must be >= 10, got {}", max_evaluations));
  }
  if (!(objective_tolerance > 0) || !std::isfinite(objective_tolerance)) {
    return absl::InvalidArgumentError(fmt::format(
        "EtsOptions.objective_tolerance must be finite and > 0, got {}", objective_tolerance));
  }
  if (simulation_paths < 100 || simulation_paths > 1000000) {
    return absl::InvalidArgumentError(fmt::format(
        "EtsOptions.simulation_paths must be in [100, 1000000], got {}", simulation_paths));
  }
  if (spec && spec->season != EtsSeasonType::kNone && (period < 2 || period > kMaxEtsPeriod)) {
    return absl::InvalidArgumentError(
        fmt::format("EtsOptions.spec {} is seasonal but period {} is outside [2, {}]", spec->Name(),
                    period, kMaxEtsPeriod));
  }
  return absl::OkStatus();
}

std::string EtsFitSummary::ToString() const {
  std::string s = fmt::format(
      "{} m={} alpha={:.6g} beta={:.6g} gamma={:.6g} phi={:.6g} loglik={:.6g} "
      "AIC={:.6g} "
      "AICc={:.6g} BIC={:.6g} sigma2={:.6g} n={} k={} evaluations={}",
      spec.Name(), period, params.alpha, params.beta, params.gamma, params.phi, log_likelihood, aic,
      aicc, bic, sigma2, observations, num_parameters, evaluations);
  if (!fallback.empty()) s += " fallback: " + fallback;
  return s;
}

// ---------------------------------------------------------------------------------------------
// Construction.

class EtsModelBuilder {
 public:
  // Runs the fitting kernel from the (scaled) initial state over the scaled
  // series and fills the model and its summary. `criterion_check` is unused
  // except to keep summaries consistent.
  static absl::StatusOr<EtsModel> Build(const std::vector<double>& ys, double scale,
                                        const EtsSpec& spec, int m, const EtsParams& params,
                                        double l0, double b0, const std::vector<double>& s0,
                                        const EtsOptions& options, int evaluations,
                                        std::vector<std::pair<EtsSpec, double>> candidates,
                                        std::string fallback) {
    EtsModel model;
    model.spec_ = spec;
    model.m_ = HasSeason(spec) ? m : 1;
    model.params_ = params;
    if (!HasTrend(spec)) model.params_.beta = 0;
    if (!IsDamped(spec)) model.params_.phi = 1;
    if (!HasSeason(spec)) model.params_.gamma = 0;
    model.scale_ = scale;
    model.level_ = l0;
    model.trend_ = HasTrend(spec) ? b0 : 0.0;
    if (HasSeason(spec)) model.season_ = s0;
    model.pos_ = 0;
    model.simulation_paths_ = options.simulation_paths;
    model.simulation_seed_ = options.simulation_seed;

    FilterState st{model.level_, model.trend_, model.season_.data(), model.m_, 0};
    FilterSums sums;
    const Coeffs c = ToCoeffs(spec, model.params_);
    if (!ets_internal::Filter(spec, ys.data(), static_cast<int>(ys.size()), c, st, sums, nullptr)) {
      return absl::InvalidArgumentError(
          fmt::format("{}: the recursions with alpha={} beta={} gamma={} phi={} reach a "
                      "non-finite state or "
                      "a non-positive multiplicative forecast, level or seasonal factor",
                      spec.Name(), params.alpha, params.beta, params.gamma, params.phi));
    }
    model.level_ = st.level;
    model.trend_ = st.trend;
    model.pos_ = st.pos;
    model.steps_ = static_cast<int64_t>(ys.size());

    EtsFitSummary& sm = model.summary_;
    sm.spec = spec;
    sm.period = model.m_;
    sm.params = model.params_;
    sm.initial_state.level = l0 * scale;
    sm.initial_state.trend = HasTrend(spec) ? b0 * scale : 0.0;
    if (HasSeason(spec)) {
      for (double v : s0) {
        sm.initial_state.seasonal.push_back(spec.season == EtsSeasonType::kAdditive ? v * scale
                                                                                    : v);
      }
    }
    const int n = sums.count;
    const int k = NumParameters(spec, model.m_);
    sm.observations = n;
    sm.num_parameters = k;
    const double log_scale = std::log(scale);
    const double crit = n > 0 ? ets_internal::Criterion(spec, sums) + 2.0 * n * log_scale : 0.0;
    sm.log_likelihood = -0.5 * crit;
    sm.aic = crit + 2.0 * k;
    sm.aicc = Aicc(crit, k, n);
    sm.bic = crit + std::log(std::max(n, 1)) * k;
    const double denom = std::max(n - (k - 1), 1);  // R: parameters excluding sigma^2.
    model.sigma2_ = n > 0 ? sums.sse / denom : 0.0;
    sm.sigma2 =
        spec.error == EtsErrorType::kAdditive ? model.sigma2_ * scale * scale : model.sigma2_;
    sm.mse = n > 0 ? sums.sse_additive / n * scale * scale : 0.0;
    sm.evaluations = evaluations;
    sm.candidates = std::move(candidates);
    sm.fallback = std::move(fallback);
    return model;
  }
};

absl::StatusOr<EtsModel> EtsModel::Fit(std::span<const double> y, const EtsOptions& options) {
  TIDEGATE_RETURN_IF_ERROR(options.Validate());
  double max_abs = 0, first = NAN;
  int n_obs = 0;
  bool positive = true, constant = true;
  for (double v : y) {
    if (!std::isfinite(v)) continue;
    if (n_obs == 0) first = v;
    constant = constant && v == first;
    positive = positive && v > 0;
    max_abs = std::max(max_abs, std::fabs(v));
    ++n_obs;
  }
  if (n_obs == 0) {
    return absl::InvalidArgumentError(
        fmt::format("ETS fit: the series has no finite value ({} points, all missing)", y.size()));
  }
  const double scale = PowerOfTwoScale(max_abs);
  std::vector<double> ys(y.size());
  for (size_t t = 0; t < y.size(); ++t) ys[t] = std::isfinite(y[t]) ? y[t] / scale : NAN;

  const EtsSpec ann{EtsErrorType::kAdditive, EtsTrendType::kNone, EtsSeasonType::kNone};
  std::string fallback;

  if (constant) {
    const std::string why = fmt::format(
        "constant series ({} finite values, all {}): ETS(A,N,N) with "
        "alpha=0.9999 and zero "
        "variance (forecasts repeat the value; intervals have zero width)",
        n_obs, first);
    return EtsModelBuilder::Build(ys, scale, ann, 1, EtsParams{0.9999, 0, 0, 1}, first / scale, 0,
                                  {}, options, 0, {}, why);
  }

  // Candidates.
  int m = options.period;
  bool seasonal_ok = m >= 2 && m <= kMaxEtsPeriod && n_obs >= 2 * m;
  std::vector<EtsSpec> specs;
  if (options.spec) {
    EtsSpec s = *options.spec;
    if (IsMultiplicative(s) && !positive) {
      fallback += fmt::format("{} needs strictly positive data; ", s.Name());
      s.error = EtsErrorType::kAdditive;
      if (s.season == EtsSeasonType::kMultiplicative) s.season = EtsSeasonType::kAdditive;
    }
    if (HasSeason(s) && !seasonal_ok) {
      fallback += fmt::format("{} needs >= 2 seasons of data ({} observations, m={}); ", s.Name(),
                              n_obs, m);
      s.season = EtsSeasonType::kNone;
    }
    if (n_obs < MinObservationsFor(s, m)) {
      fallback += fmt::format("{} needs >= {} observations, got {}; ", s.Name(),
                              MinObservationsFor(s, m), n_obs);
      s = ann;
    }
    if (!fallback.empty()) fallback += "fitted " + s.Name();
    specs.push_back(s);
  } else {
    if (m > kMaxEtsPeriod) {
      fallback = fmt::format(
          "period m={} > {}: seasonality ignored (as R's "
          "ets; use a multi-seasonal model)",
          m, kMaxEtsPeriod);
    } else if (m >= 2 && !seasonal_ok) {
      fallback = fmt::format(
          "only {} observations for period m={} (< 2 "
          "seasons): non-seasonal models only",
          n_obs, m);
    }
    for (EtsErrorType e : {EtsErrorType::kAdditive, EtsErrorType::kMultiplicative}) {
      if (e == EtsErrorType::kMultiplicative && !positive) continue;
      for (EtsTrendType t : {EtsTrendType::kNone, EtsTrendType::kAdditive, EtsTrendType::kDamped}) {
        for (EtsSeasonType s :
             {EtsSeasonType::kNone, EtsSeasonType::kAdditive, EtsSeasonType::kMultiplicative}) {
          if (s != EtsSeasonType::kNone && !seasonal_ok) continue;
          if (s == EtsSeasonType::kMultiplicative && !positive) continue;
          // Additive error with multiplicative season has infinite forecast
          // variance.
          if (e == EtsErrorType::kAdditive && s == EtsSeasonType::kMultiplicative) continue;
          const EtsSpec spec{e, t, s};
          if (n_obs < MinObservationsFor(spec, m)) continue;
          specs.push_back(spec);
        }
      }
    }
    if (specs.empty()) {
      fallback = fmt::format(
          "only {} observations (< {}): ETS(A,N,N) fitted "
          "without model selection; AICc "
          "undefined",
          n_obs, kMinObservations);
      specs.push_back(ann);
    }
  }

  // Fits every candidate; seasonal ones first with their seasonal initial
  // states held at the heuristic values (screening), then the best `refine_top`
  // of those again with every state free, starting from the screening fit.
  // Inadmissible optima are refitted with a penalty.
  int evaluations = 0;
  const double inf = std::numeric_limits<double>::infinity();
  auto fit_one = [&](const EtsSpec& spec, const CandidateFit* start, bool free_season) {
    const int mm = HasSeason(spec) ? m : 1;
    CandidateFit fit = FitCandidate(ys, spec, mm, options, false, start, free_season);
    evaluations += fit.evaluations;
    if (fit.criterion < kInvalid && !Admissible(spec, mm, ToCoeffs(spec, fit.params))) {
      fit = FitCandidate(ys, spec, mm, options, true, start, free_season);
      evaluations += fit.evaluations;
    }
    return fit;
  };
  auto aicc_of = [&](const CandidateFit& fit) {
    if (!(fit.criterion < kInvalid)) return inf;
    const int k = NumParameters(fit.spec, fit.m);
    const double a = Aicc(fit.criterion, k, n_obs);
    return std::isfinite(a) ? a : fit.criterion + 2.0 * k;
  };
  std::vector<CandidateFit> fits;
  for (const EtsSpec& spec : specs) fits.push_back(fit_one(spec, nullptr, !HasSeason(spec)));
  std::vector<size_t> seasonal;
  for (size_t i = 0; i < fits.size(); ++i) {
    if (HasSeason(fits[i].spec)) seasonal.push_back(i);
  }
  std::sort(seasonal.begin(), seasonal.end(),
            [&](size_t a, size_t b) { return aicc_of(fits[a]) < aicc_of(fits[b]); });
  const size_t refine = options.refine_top <= 0
                            ? seasonal.size()
                            : std::min(seasonal.size(), static_cast<size_t>(options.refine_top));
  for (size_t r = 0; r < refine; ++r) {
    CandidateFit& screened = fits[seasonal[r]];
    CandidateFit full =
        fit_one(screened.spec, screened.criterion < kInvalid ? &screened : nullptr, true);
    if (full.criterion < screened.criterion) {
      full.evaluations += screened.evaluations;
      screened = std::move(full);
    }
  }
  std::vector<std::pair<EtsSpec, double>> candidates;
  CandidateFit best;
  double best_aicc = inf;
  bool have_best = false;
  for (CandidateFit& fit : fits) {
    const double aicc = aicc_of(fit);
    candidates.emplace_back(fit.spec,
                            std::isfinite(aicc) ? aicc + 2.0 * n_obs * std::log(scale) : inf);
    if (fit.criterion < kInvalid && (!have_best || aicc < best_aicc)) {
      best = std::move(fit);
      best_aicc = aicc;
      have_best = true;
    }
  }
  if (!have_best) {
    // Every requested fit failed; the additive level model cannot fail on
    // finite data.
    fallback += (fallback.empty() ? "" : "; ") +
                std::string("every candidate fit failed: ETS(A,N,N) fitted instead");
    best = FitCandidate(ys, ann, 1, options, false);
    evaluations += best.evaluations;
    if (!(best.criterion < kInvalid)) {
      return absl::InternalError("ETS fit: ETS(A,N,N) failed on finite data");
    }
  }
  return EtsModelBuilder::Build(ys, scale, best.spec, best.m, best.params, best.level, best.trend,
                                best.season, options, evaluations, std::move(candidates),
                                std::move(fallback));
}

absl::StatusOr<EtsModel> EtsModel::FromParameters(std::span<const double> y, const EtsSpec& spec,
                                                  int period, const EtsParams& params,
                                                  const EtsState& initial) {
  auto bad = [&](std::string_view what, double v) {
    return absl::InvalidArgumentError(
        fmt::format("ETS FromParameters {}: {} out of range, got {}", spec.Name(), what, v));
  };
  if (!(params.alpha >= 0 && params.alpha <= 1)) return bad("alpha (in [0,1])", params.alpha);
  if (HasTrend(spec) && !(params.beta >= 0 && params.beta <= 1)) {
    return bad("beta (in [0,1])", params.beta);
  }
  if (HasSeason(spec) && !(params.gamma >= 0 && params.gamma <= 1)) {
    return bad("gamma (in [0,1])", params.gamma);
  }
  if (IsDamped(spec) && !(params.phi > 0 && params.phi <= 1))
    return bad("phi (in (0,1])", params.phi);
  if (!std::isfinite(initial.level)) return bad("initial level", initial.level);
  if (!std::isfinite(initial.trend)) return bad("initial trend", initial.trend);
  const int m = HasSeason(spec) ? period : 1;
  if (HasSeason(spec)) {
    if (period < 2 || period > kMaxEtsPeriod) return bad("period (in [2, 24])", period);
    if (static_cast<int>(initial.seasonal.size()) != period) {
      return bad("initial seasonal count (must equal period)",
                 static_cast<double>(initial.seasonal.size()));
    }
    for (double v : initial.seasonal) {
      if (!std::isfinite(v) || (spec.season == EtsSeasonType::kMultiplicative && !(v > 0))) {
        return bad("initial seasonal value", v);
      }
    }
  }
  double max_abs = std::fabs(initial.level);
  for (double v : y) {
    if (std::isfinite(v)) max_abs = std::max(max_abs, std::fabs(v));
  }
  const double scale = PowerOfTwoScale(max_abs);
  std::vector<double> ys(y.size());
  for (size_t t = 0; t < y.size(); ++t) ys[t] = std::isfinite(y[t]) ? y[t] / scale : NAN;
  std::vector<double> s0;
  for (double v : initial.seasonal) {
    s0.push_back(spec.season == EtsSeasonType::kAdditive ? v / scale : v);
  }
  return EtsModelBuilder::Build(ys, scale, spec, m, params, initial.level / scale,
                                initial.trend / scale, s0, EtsOptions{}, 0, {}, "");
}

// ---------------------------------------------------------------------------------------------
// Online update and forecasts.

namespace {

// One step of the recursions for online use: missing values advance with the
// forecast, and multiplicative models keep their states positive. Returns
// nothing; never fails.
inline void Step(const EtsSpec& spec, const Coeffs& c, double y, double& l, double& b,
                 double* season, int m, int& pos) noexcept {
  const double mu = l + c.phi * b;
  double nl = mu, nb = c.phi * b;
  if (y == y) {
    if (spec.season == EtsSeasonType::kMultiplicative) {
      const double sp = season[pos];
      const double r = y / sp - mu;
      nl = mu + c.alpha * r;
      nb = c.phi * b + c.beta * r;
      double ns =
          std::fabs(mu) >= ets_internal::kMinAbsForecast ? sp + c.gamma * (y / mu - sp) : sp;
      ns = std::max(ns, kSeasonFloor);
      if (std::isfinite(ns)) season[pos] = ns;
    } else {
      const double yhat = spec.season == EtsSeasonType::kAdditive ? mu + season[pos] : mu;
      const double a = y - yhat;
      nl = mu + c.alpha * a;
      nb = c.phi * b + c.beta * a;
      if (spec.season == EtsSeasonType::kAdditive) {
        const double ns = season[pos] + c.gamma * a;
        if (std::isfinite(ns)) season[pos] = ns;
      }
    }
    if (IsMultiplicative(spec)) nl = std::max(nl, kStateFloor);
    if (!std::isfinite(nl) || !std::isfinite(nb)) nl = mu, nb = c.phi * b;
  }
  l = nl;
  b = nb;
  if (spec.season != EtsSeasonType::kNone && ++pos == m) pos = 0;
}

}  // namespace

void EtsModel::Update(double y) noexcept {
  const double ys = std::isfinite(y) ? y / scale_ : NAN;
  const Coeffs c = ToCoeffs(spec_, params_);
  Step(spec_, c, std::isfinite(ys) ? ys : NAN, level_, trend_, season_.data(), m_, pos_);
  ++steps_;
}

absl::StatusOr<std::vector<double>> EtsModel::Residuals(std::span<const double> y) const {
  std::vector<double> ys(y.size()), res(y.size(), NAN);
  for (size_t t = 0; t < y.size(); ++t) ys[t] = std::isfinite(y[t]) ? y[t] / scale_ : NAN;
  std::vector<double> season;
  for (double v : summary_.initial_state.seasonal) {
    season.push_back(spec_.season == EtsSeasonType::kAdditive ? v / scale_ : v);
  }
  FilterState st{summary_.initial_state.level / scale_, summary_.initial_state.trend / scale_,
                 season.data(), m_, 0};
  FilterSums sums;
  if (!ets_internal::Filter(spec_, ys.data(), static_cast<int>(ys.size()), ToCoeffs(spec_, params_),
                            st, sums, res.data())) {
    return absl::InvalidArgumentError(
        fmt::format("{}: residuals: the recursions fail on this series of {} "
                    "points (not the fitted one?)",
                    spec_.Name(), y.size()));
  }
  return res;
}

double EtsModel::OneStepForecast() const noexcept {
  const Coeffs c = ToCoeffs(spec_, params_);
  const double mu = level_ + c.phi * trend_;
  double yhat = mu;
  if (spec_.season == EtsSeasonType::kAdditive) yhat = mu + season_[pos_];
  if (spec_.season == EtsSeasonType::kMultiplicative) yhat = mu * season_[pos_];
  return yhat * scale_;
}

EtsState EtsModel::state() const {
  EtsState s;
  s.level = level_ * scale_;
  s.trend = trend_ * scale_;
  for (int j = 0; j < static_cast<int>(season_.size()); ++j) {
    const double v = season_[(pos_ + j) % m_];
    s.seasonal.push_back(spec_.season == EtsSeasonType::kAdditive ? v * scale_ : v);
  }
  return s;
}

absl::StatusOr<EtsForecast> EtsModel::Forecast(int horizon,
                                               std::span<const double> levels_pct) const {
  if (horizon < 1 || horizon > kMaxHorizon) {
    return absl::InvalidArgumentError(
        fmt::format("ETS forecast: horizon must be in [1, {}], got {}", kMaxHorizon, horizon));
  }
  for (size_t i = 0; i < levels_pct.size(); ++i) {
    if (!(levels_pct[i] > 0 && levels_pct[i] < 100)) {
      return absl::InvalidArgumentError(fmt::format(
          "ETS forecast: level #{} must be a percentage in (0, 100), got {}", i, levels_pct[i]));
    }
  }
  const Coeffs c = ToCoeffs(spec_, params_);
  const double big = std::numeric_limits<double>::max();
  EtsForecast out;
  out.mean.resize(horizon);
  std::vector<double> mu(horizon);  // Scaled point forecasts.
  double phi_h = 0, phi_pow = 1;
  for (int h = 1; h <= horizon; ++h) {
    if (spec_.trend == EtsTrendType::kAdditive) {
      phi_h = h;
    } else if (spec_.trend == EtsTrendType::kDamped) {
      phi_pow *= c.phi;
      phi_h += phi_pow;
    }
    double f = level_ + phi_h * trend_;
    if (spec_.season == EtsSeasonType::kAdditive) f += season_[(pos_ + h - 1) % m_];
    if (spec_.season == EtsSeasonType::kMultiplicative) f *= season_[(pos_ + h - 1) % m_];
    mu[h - 1] = f;
    out.mean[h - 1] = std::clamp(f * scale_, -big, big);
  }
  if (levels_pct.empty()) return out;

  const double sigma2 = std::isfinite(sigma2_) && sigma2_ > 0 ? sigma2_ : 0.0;
  // c_j = alpha + beta phi_j + gamma [j = 0 mod m]: effect of today's
  // innovation on step j.
  auto cj = [&](int j, double phi_j) {
    double v = c.alpha + c.beta * phi_j;
    if (spec_.season != EtsSeasonType::kNone && j % m_ == 0) v += c.gamma;
    return v;
  };
  std::vector<double> sd(horizon,
                         0.0);  // Scaled standard deviations (classes 1 and 2).
  const bool analytic = spec_.season != EtsSeasonType::kMultiplicative &&
                        (spec_.error == EtsErrorType::kAdditive || horizon <= kClass2ExactHorizon);
  if (analytic) {
    std::vector<double> c2(horizon, 0.0);  // c_j^2, j = 1..h-1 at index j.
    double pj = 0, pp = 1;
    for (int j = 1; j < horizon; ++j) {
      if (spec_.trend == EtsTrendType::kAdditive) pj = j;
      if (spec_.trend == EtsTrendType::kDamped) pp *= c.phi, pj += pp;
      const double v = cj(j, pj);
      c2[j] = v * v;
    }
    if (spec_.error == EtsErrorType::kAdditive) {
      // Class 1: v_h = sigma^2 (1 + sum_{j<h} c_j^2).
      double acc = 1;
      for (int h = 1; h <= horizon; ++h) {
        if (h > 1) acc += c2[h - 1];
        sd[h - 1] = std::sqrt(sigma2 * acc);
      }
    } else {
      // Class 2: theta_1 = mu_1^2, theta_h = mu_h^2 + sigma^2 sum_{j<h} c_j^2
      // theta_{h-j}, v_h = (1 + sigma^2) theta_h - mu_h^2.
      std::vector<double> theta(horizon);
      for (int h = 1; h <= horizon; ++h) {
        double acc = 0;
        for (int j = 1; j < h; ++j) acc += c2[j] * theta[h - j - 1];
        theta[h - 1] = mu[h - 1] * mu[h - 1] + sigma2 * acc;
        const double v = (1 + sigma2) * theta[h - 1] - mu[h - 1] * mu[h - 1];
        sd[h - 1] = std::sqrt(std::max(v, 0.0));
      }
    }
    for (double level : levels_pct) {
      const double z = NormalQuantile(0.5 + level / 200.0);
      EtsInterval iv;
      iv.level = level;
      iv.lower.resize(horizon);
      iv.upper.resize(horizon);
      for (int h = 0; h < horizon; ++h) {
        const double half = z * sd[h];
        iv.lower[h] = std::clamp((mu[h] - half) * scale_, -big, big);
        iv.upper[h] = std::clamp((mu[h] + half) * scale_, -big, big);
      }
      out.intervals.push_back(std::move(iv));
    }
    return out;
  }

  // Class 3 (and class 2 beyond kClass2ExactHorizon steps, where the O(h^2)
  // variance recursion gets slow): simulate sample paths with the model's own
  // recursions and take quantiles. Memory is bounded to ~4M values: long
  // horizons use fewer paths (at least 100).
  const int paths = std::max(100, std::min(simulation_paths_, 4'000'000 / horizon));
  std::vector<double> sims(static_cast<size_t>(paths) * horizon);  // [h][path]
  std::mt19937_64 rng(simulation_seed_);
  std::normal_distribution<double> noise(0.0, std::sqrt(sigma2));
  std::vector<double> season(season_.size());
  for (int p = 0; p < paths; ++p) {
    double l = level_, b = trend_;
    int pos = pos_;
    std::copy(season_.begin(), season_.end(), season.begin());
    for (int h = 0; h < horizon; ++h) {
      double yhat = l + c.phi * b;
      if (spec_.season == EtsSeasonType::kAdditive) yhat += season[pos];
      if (spec_.season == EtsSeasonType::kMultiplicative) yhat *= season[pos];
      const double e = sigma2 > 0 ? noise(rng) : 0.0;
      const double y = spec_.error == EtsErrorType::kMultiplicative ? yhat * (1 + e) : yhat + e;
      sims[static_cast<size_t>(h) * paths + p] = y;
      Step(spec_, c, y, l, b, season.data(), m_, pos);
    }
  }
  for (double level : levels_pct) {
    EtsInterval iv;
    iv.level = level;
    iv.lower.resize(horizon);
    iv.upper.resize(horizon);
    out.intervals.push_back(std::move(iv));
  }
  for (int h = 0; h < horizon; ++h) {
    double* col = sims.data() + static_cast<size_t>(h) * paths;
    auto quantile = [&](double prob) {  // Type 7 (linear interpolation).
      const double pos = prob * (paths - 1);
      const int lo = static_cast<int>(pos);
      std::nth_element(col, col + lo, col + paths);
      double v = col[lo];
      if (lo + 1 < paths) {
        const double next = *std::min_element(col + lo + 1, col + paths);
        v += (pos - lo) * (next - v);
      }
      return v;
    };
    for (size_t i = 0; i < levels_pct.size(); ++i) {
      const double a = (1 - levels_pct[i] / 100) / 2;
      double lo = quantile(a), hi = quantile(1 - a);
      if (!std::isfinite(lo)) lo = mu[h];
      if (!std::isfinite(hi)) hi = mu[h];
      out.intervals[i].lower[h] = std::clamp(std::min(lo, mu[h]) * scale_, -big, big);
      out.intervals[i].upper[h] = std::clamp(std::max(hi, mu[h]) * scale_, -big, big);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Serialisation: "TGETS" + version byte, then fixed fields in little-endian
// order.

namespace {

static_assert(std::endian::native == std::endian::little, "serialisation assumes little-endian");
constexpr char kMagic[6] = {'T', 'G', 'E', 'T', 'S', 1};

class Writer {
 public:
  template <typename T>
  void Put(T v) {
    char buf[sizeof(T)];
    std::memcpy(buf, &v, sizeof(T));
    out_.append(buf, sizeof(T));
  }
  void PutBytes(std::string_view s) {
    Put<uint32_t>(static_cast<uint32_t>(s.size()));
    out_.append(s);
  }
  void PutSpec(const EtsSpec& s) {
    Put<uint8_t>(static_cast<uint8_t>(s.error));
    Put<uint8_t>(static_cast<uint8_t>(s.trend));
    Put<uint8_t>(static_cast<uint8_t>(s.season));
  }
  void PutVector(const std::vector<double>& v) {
    Put<uint32_t>(static_cast<uint32_t>(v.size()));
    for (double x : v) Put<double>(x);
  }
  std::string Take() { return std::move(out_); }

 private:
  std::string out_;
};

class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  template <typename T>
  absl::Status Get(T* v, std::string_view field) {
    if (in_.size() - off_ < sizeof(T)) return Truncated(field);
    std::memcpy(v, in_.data() + off_, sizeof(T));
    off_ += sizeof(T);
    return absl::OkStatus();
  }
  absl::Status GetFinite(double* v, std::string_view field) {
    TIDEGATE_RETURN_IF_ERROR(Get(v, field));
    if (!std::isfinite(*v)) {
      return absl::InvalidArgumentError(
          fmt::format("ETS model bytes: field '{}' is not finite (offset {})", field, off_ - 8));
    }
    return absl::OkStatus();
  }
  absl::Status GetSpec(EtsSpec* s, std::string_view field) {
    uint8_t e = 0, t = 0, se = 0;
    TIDEGATE_RETURN_IF_ERROR(Get(&e, field));
    TIDEGATE_RETURN_IF_ERROR(Get(&t, field));
    TIDEGATE_RETURN_IF_ERROR(Get(&se, field));
    if (e > 1 || t > 2 || se > 2) {
      return absl::InvalidArgumentError(fmt::format(
          "ETS model bytes: field '{}' has an unknown model code ({}, {}, {})", field, e, t, se));
    }
    *s = EtsSpec{static_cast<EtsErrorType>(e), static_cast<EtsTrendType>(t),
                 static_cast<EtsSeasonType>(se)};
    return absl::OkStatus();
  }
  absl::Status GetVector(std::vector<double>* v, uint32_t max, std::string_view field) {
    uint32_t n = 0;
    TIDEGATE_RETURN_IF_ERROR(Get(&n, field));
    if (n > max) {
      return absl::InvalidArgumentError(
          fmt::format("ETS model bytes: field '{}' has {} values (at most {})", field, n, max));
    }
    v->resize(n);
    for (uint32_t i = 0; i < n; ++i) TIDEGATE_RETURN_IF_ERROR(GetFinite(&(*v)[i], field));
    return absl::OkStatus();
  }
  absl::Status GetBytes(std::string* s, uint32_t max, std::string_view field) {
    uint32_t n = 0;
    TIDEGATE_RETURN_IF_ERROR(Get(&n, field));
    if (n > max || in_.size() - off_ < n) return Truncated(field);
    s->assign(in_.data() + off_, n);
    off_ += n;
    return absl::OkStatus();
  }
  bool AtEnd() const { return off_ == in_.size(); }
  size_t offset() const { return off_; }

 private:
  absl::Status Truncated(std::string_view field) const {
    return absl::InvalidArgumentError(fmt::format(
        "ETS model bytes: truncated in field '{}' (offset {}, {} bytes)", field, off_, in_.size()));
  }
  std::string_view in_;
  size_t off_ = 0;
};

}  // namespace

std::string EtsModel::Serialize() const {
  Writer w;
  for (char ch : kMagic) w.Put<char>(ch);
  w.PutSpec(spec_);
  w.Put<int32_t>(m_);
  w.Put<double>(params_.alpha);
  w.Put<double>(params_.beta);
  w.Put<double>(params_.gamma);
  w.Put<double>(params_.phi);
  w.Put<double>(scale_);
  w.Put<double>(level_);
  w.Put<double>(trend_);
  w.PutVector(season_);
  w.Put<int32_t>(pos_);
  w.Put<double>(sigma2_);
  w.Put<int64_t>(steps_);
  w.Put<int32_t>(simulation_paths_);
  w.Put<uint64_t>(simulation_seed_);
  const EtsFitSummary& s = summary_;
  w.Put<double>(s.initial_state.level);
  w.Put<double>(s.initial_state.trend);
  w.PutVector(s.initial_state.seasonal);
  w.Put<int32_t>(s.observations);
  w.Put<int32_t>(s.num_parameters);
  for (double v : {s.log_likelihood, s.aic, s.aicc, s.bic, s.sigma2, s.mse}) w.Put<double>(v);
  w.Put<int32_t>(s.evaluations);
  w.Put<uint32_t>(static_cast<uint32_t>(s.candidates.size()));
  for (const auto& [spec, aicc] : s.candidates) {
    w.PutSpec(spec);
    w.Put<double>(aicc);
  }
  w.PutBytes(s.fallback);
  return w.Take();
}

absl::StatusOr<EtsModel> EtsModel::Load(std::string_view bytes) {
  Reader r(bytes);
  for (size_t i = 0; i < sizeof(kMagic); ++i) {
    char ch = 0;
    TIDEGATE_RETURN_IF_ERROR(r.Get(&ch, "magic"));
    if (ch != kMagic[i]) {
      return absl::InvalidArgumentError(
          fmt::format("ETS model bytes: bad magic/version at offset {} (not an "
                      "ETS model of version {})",
                      i, static_cast<int>(kMagic[5])));
    }
  }
  EtsModel m;
  TIDEGATE_RETURN_IF_ERROR(r.GetSpec(&m.spec_, "spec"));
  int32_t period = 0;
  TIDEGATE_RETURN_IF_ERROR(r.Get(&period, "period"));
  const bool seasonal = HasSeason(m.spec_);
  if (seasonal ? (period < 2 || period > kMaxEtsPeriod) : period != 1) {
    return absl::InvalidArgumentError(
        fmt::format("ETS model bytes: field 'period' = {} invalid for {}", period, m.spec_.Name()));
  }
  m.m_ = period;
  TIDEGATE_RETURN_IF_ERROR(r.GetFinite(&m.params_.alpha, "alpha"));
  TIDEGATE_RETURN_IF_ERROR(r.GetFinite(&m.params_.beta, "beta"));
  TIDEGATE_RETURN_IF_ERROR(r.GetFinite(&m.params_.gamma, "gamma"));
  TIDEGATE_RETURN_IF_ERROR(r.GetFinite(&m.params_.phi, "phi"));
  TIDEGATE_RETURN_IF_ERROR(r.GetFinite(&m.scale_, "scale"));
  if (!(m.scale_ > 0) || PowerOfTwoScale(m.scale_) != m.scale_) {
    return absl::InvalidArgumentError(
        fmt::format("ETS model bytes: field 'scale' = {} is not a power of two", m.scale_));
  }
  TIDEGATE_RETURN_IF_ERROR(r.GetFinite(&m.level_, "level"));
  TIDEGATE_RETURN_IF_ERROR(r.GetFinite(&m.trend_, "trend"));
  TIDEGATE_RETURN_IF_ERROR(r.GetVector(&m.season_, kMaxEtsPeriod, "season"));
  if (static_cast<int>(m.season_.size()) != (seasonal ? period : 0)) {
    return absl::InvalidArgumentError(
        fmt::format("ETS model bytes: field 'season' has {} values, expected {}", m.season_.size(),
                    seasonal ? period : 0));
  }
  TIDEGATE_RETURN_IF_ERROR(r.Get(&m.pos_, "pos"));
  if (m.pos_ < 0 || m.pos_ >= period) {
    return absl::InvalidArgumentError(
        fmt::format("ETS model bytes: field 'pos' = {} invalid", m.pos_));
  }
  TIDEGATE_RETURN_IF_ERROR(r.GetFinite(&m.sigma2_, "sigma2"));
  TIDEGATE_RETURN_IF_ERROR(r.Get(&m.steps_, "steps"));
  TIDEGATE_RETURN_IF_ERROR(r.Get(&m.simulation_paths_, "simulation_paths"));
  if (m.simulation_paths_ < 100 || m.simulation_paths_ > 1000000) {
    return absl::InvalidArgumentError(
        fmt::format("ETS model bytes: field 'simulation_paths' = {} invalid", m.simulation_paths_));
  }
  TIDEGATE_RETURN_IF_ERROR(r.Get(&m.simulation_seed_, "simulation_seed"));
  EtsFitSummary& s = m.summary_;
  s.spec = m.spec_;
  s.period = m.m_;
  s.params = m.params_;
  TIDEGATE_RETURN_IF_ERROR(r.GetFinite(&s.initial_state.level, "initial_level"));
  TIDEGATE_RETURN_IF_ERROR(r.GetFinite(&s.initial_state.trend, "initial_trend"));
  TIDEGATE_RETURN_IF_ERROR(r.GetVector(&s.initial_state.seasonal, kMaxEtsPeriod, "initial_season"));
  TIDEGATE_RETURN_IF_ERROR(r.Get(&s.observations, "observations"));
  TIDEGATE_RETURN_IF_ERROR(r.Get(&s.num_parameters, "num_parameters"));
  for (auto [v, name] : {std::pair{&s.log_likelihood, "log_likelihood"},
                         {&s.aic, "aic"},
                         {&s.aicc, "aicc"},
                         {&s.bic, "bic"},
                         {&s.sigma2, "summary_sigma2"},
                         {&s.mse, "mse"}}) {
    TIDEGATE_RETURN_IF_ERROR(r.Get(v, name));
    if (std::isnan(*v)) {
      return absl::InvalidArgumentError(fmt::format("ETS model bytes: field '{}' is NaN", name));
    }
  }
  TIDEGATE_RETURN_IF_ERROR(r.Get(&s.evaluations, "evaluations"));
  uint32_t ncand = 0;
  TIDEGATE_RETURN_IF_ERROR(r.Get(&ncand, "candidates"));
  if (ncand > 64) {
    return absl::InvalidArgumentError(
        fmt::format("ETS model bytes: field 'candidates' has {} entries (at most 64)", ncand));
  }
  for (uint32_t i = 0; i < ncand; ++i) {
    EtsSpec spec;
    double aicc = 0;
    TIDEGATE_RETURN_IF_ERROR(r.GetSpec(&spec, "candidate_spec"));
    TIDEGATE_RETURN_IF_ERROR(r.Get(&aicc, "candidate_aicc"));
    s.candidates.emplace_back(spec, aicc);
  }
  TIDEGATE_RETURN_IF_ERROR(r.GetBytes(&s.fallback, 1 << 16, "fallback"));
  if (!r.AtEnd()) {
    return absl::InvalidArgumentError(
        fmt::format("ETS model bytes: {} unexpected trailing bytes after offset {}",
                    bytes.size() - r.offset(), r.offset()));
  }
  return m;
}

}  // namespace tidegate::forecast
