// ArimaModel: fixed-order fitting, the filter pass, forecasting, online update, serialisation.
// The math is in docs/design/forecast-arima.md; comments here say why, not what.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <exception>
#include <functional>
#include <limits>
#include <nlopt.hpp>

#include "forecast/arima/arima_internal.h"
#include "forecast/arima/arma_state_space.h"
#include "tidegate/common/status.h"
#include "tidegate/forecast/serialize.h"

namespace tidegate::forecast {
namespace {

using arima_internal::ChandrasekharFilter;
using arima_internal::ConditionalSumOfSquares;
using arima_internal::ExpandSeasonal;
using arima_internal::FilterSums;
using arima_internal::KalmanFilter;
using arima_internal::PacfToAr;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();
// Floor of sigma2 (scaled data, whose largest magnitude is 1) inside logarithms, so that a perfect
// fit (constant or exactly linear series) has a finite likelihood.
constexpr double kSigma2Floor = 1e-20;
// Bound of the tanh coordinates: |partial autocorrelation| <= tanh(7) = 0.99999834.
constexpr double kPacfBound = 7.0;
constexpr double kMuBound = 100.0;  // In standard deviations of w around its mean.
constexpr double kBadObjective = 1e100;
// Stopping tolerances: x in tanh-PACF coordinates (1e-4 there moves a coefficient by < 1e-4),
// f per observation (the objectives are log-likelihoods divided by n, so 1e-9 is < 1e-6 in loglik
// for series of up to 1000 points). Tighter tolerances cost evaluations, not accuracy that shows.
constexpr double kMlXtol = 1e-4, kMlFtol = 1e-9;
constexpr double kCssXtol = 1e-4, kCssFtol = 1e-8;
constexpr uint32_t kFormatVersion = 1;

int CoefficientCount(const ArimaOrder& o) {
  return o.p + o.q + o.seasonal_p + o.seasonal_q + (o.constant ? 1 : 0);
}

int CountFinite(std::span<const double> v) {
  int n = 0;
  for (double x : v) n += std::isnan(x) ? 0 : 1;
  return n;
}

// Decodes optimiser coordinates: tanh-PACF blocks for ar, ma, sar, sma, then the mean.
ArimaCoefficients Decode(std::span<const double> x, const ArimaOrder& o, double mu0, double mu_sd) {
  ArimaCoefficients c;
  size_t at = 0;
  auto block = [&](int len, bool ma) {
    std::vector<double> v = PacfToAr(x.subspan(at, len));
    at += len;
    if (ma) {
      for (double& e : v) e = -e;
    }
    return v;
  };
  c.ar = block(o.p, false);
  c.ma = block(o.q, true);
  c.seasonal_ar = block(o.seasonal_p, false);
  c.seasonal_ma = block(o.seasonal_q, true);
  c.mu = o.constant ? mu0 + mu_sd * x[at] : 0.0;
  return c;
}

struct Objective {
  std::function<double(std::span<const double>)> f;
  int evaluations = 0;
  double best = kInf;
  std::vector<double> best_x;
};

double NloptThunk(const std::vector<double>& x, std::vector<double>& /*grad*/, void* data) {
  auto* o = static_cast<Objective*>(data);
  double v = o->f(x);
  if (!std::isfinite(v)) v = kBadObjective;
  ++o->evaluations;
  if (v < o->best) {
    o->best = v;
    o->best_x = x;
  }
  return v;
}

// Derivative-free bounded minimisation with NLopt (BOBYQA; Nelder-Mead in one dimension, where
// BOBYQA's quadratic model is degenerate). NLopt signals roundoff and stopping by exceptions;
// they are not errors here: the best point evaluated is the answer either way.
std::vector<double> Minimize(Objective& obj, std::vector<double> x0, std::span<const double> lower,
                             std::span<const double> upper, int max_evaluations, double xtol,
                             double ftol) {
  const unsigned n = static_cast<unsigned>(x0.size());
  for (unsigned i = 0; i < n; ++i) x0[i] = std::clamp(x0[i], lower[i], upper[i]);
  try {
    nlopt::opt opt(n >= 2 ? nlopt::LN_BOBYQA : nlopt::LN_NELDERMEAD, n);
    opt.set_lower_bounds(std::vector<double>(lower.begin(), lower.end()));
    opt.set_upper_bounds(std::vector<double>(upper.begin(), upper.end()));
    opt.set_min_objective(NloptThunk, &obj);
    opt.set_xtol_abs(xtol);
    opt.set_ftol_abs(ftol);
    opt.set_maxeval(max_evaluations);
    opt.set_initial_step(0.1);
    double fmin = 0;
    opt.optimize(x0, fmin);
  } catch (const std::exception&) {
    // Best point so far is in obj (see above).
  }
  if (obj.best_x.empty()) return x0;
  return obj.best_x;
}

}  // namespace

absl::Status ValidateArimaOrder(const ArimaOrder& o) {
  auto range = [](const char* name, int v, int lo, int hi) -> absl::Status {
    if (v < lo || v > hi) {
      return absl::InvalidArgumentError(
          fmt::format("ARIMA order: {} = {} is outside [{}, {}]", name, v, lo, hi));
    }
    return absl::OkStatus();
  };
  TIDEGATE_RETURN_IF_ERROR(range("p", o.p, 0, kArimaMaxOrder));
  TIDEGATE_RETURN_IF_ERROR(range("q", o.q, 0, kArimaMaxOrder));
  TIDEGATE_RETURN_IF_ERROR(range("d", o.d, 0, kArimaMaxDiff));
  TIDEGATE_RETURN_IF_ERROR(range("P", o.seasonal_p, 0, kArimaMaxSeasonal));
  TIDEGATE_RETURN_IF_ERROR(range("Q", o.seasonal_q, 0, kArimaMaxSeasonal));
  TIDEGATE_RETURN_IF_ERROR(range("D", o.seasonal_d, 0, 1));
  TIDEGATE_RETURN_IF_ERROR(range("period", o.period, 1, kArimaMaxPeriod));
  if (o.period == 1 && (o.seasonal_p | o.seasonal_d | o.seasonal_q) != 0) {
    return absl::InvalidArgumentError(
        "ARIMA order: seasonal terms (P, D, Q) need a period >= 2, got period = 1");
  }
  if (o.constant && o.d + o.seasonal_d >= 2) {
    return absl::InvalidArgumentError(fmt::format(
        "ARIMA order: a constant needs d + D <= 1, got d = {}, D = {}", o.d, o.seasonal_d));
  }
  return absl::OkStatus();
}

std::string ArimaOrderToString(const ArimaOrder& o) {
  std::string s = fmt::format("ARIMA({},{},{})", o.p, o.d, o.q);
  if (o.period > 1 && (o.seasonal_p | o.seasonal_d | o.seasonal_q) != 0) {
    s += fmt::format("({},{},{})[{}]", o.seasonal_p, o.seasonal_d, o.seasonal_q, o.period);
  }
  if (o.constant) s += o.d + o.seasonal_d == 0 ? " with non-zero mean" : " with drift";
  return s;
}

absl::Status ArimaFitOptions::IsValid() const {
  if (max_evaluations < 10 || max_evaluations > 1'000'000) {
    return absl::InvalidArgumentError(fmt::format(
        "ArimaFitOptions: max_evaluations = {} is outside [10, 1000000]", max_evaluations));
  }
  return absl::OkStatus();
}

double ArimaForecast::Lower(int i, double level) const {
  return mean[i] - arima_internal::NormalQuantile(0.5 + level / 2) * standard_error[i];
}
double ArimaForecast::Upper(int i, double level) const {
  return mean[i] + arima_internal::NormalQuantile(0.5 + level / 2) * standard_error[i];
}

absl::StatusOr<ArimaData> PrepareArimaData(std::span<const double> y) {
  ArimaData data;
  double largest = 0;
  for (size_t i = 0; i < y.size(); ++i) {
    if (std::isinf(y[i])) {
      return absl::InvalidArgumentError(
          fmt::format("ARIMA: value at index {} is {}", i, y[i] > 0 ? "inf" : "-inf"));
    }
    if (!std::isnan(y[i])) {
      ++data.n_finite;
      largest = std::max(largest, std::abs(y[i]));
    }
  }
  if (data.n_finite == 0) {
    return absl::InvalidArgumentError(
        fmt::format("ARIMA: the series has no observed value ({} values, all missing)", y.size()));
  }
  // Scaling by the largest magnitude keeps huge and tiny series in the range where the
  // optimiser's absolute tolerances mean something; the model is scale-equivariant.
  data.scale = largest > 0 ? largest : 1.0;
  data.ys.resize(y.size());
  for (size_t i = 0; i < y.size(); ++i) data.ys[i] = y[i] / data.scale;
  return data;
}

std::vector<double> Difference(std::span<const double> ys, int d, int seasonal_d, int period) {
  const std::vector<double> delta = arima_internal::DifferencingPolynomial(d, seasonal_d, period);
  const size_t nd = delta.size();
  if (ys.size() <= nd) return {};
  std::vector<double> w(ys.size() - nd);
  for (size_t t = nd; t < ys.size(); ++t) {
    double v = ys[t];
    for (size_t k = 0; k < nd; ++k) {
      if (delta[k] != 0.0) v -= delta[k] * ys[t - 1 - k];
    }
    w[t - nd] = v;
  }
  return w;
}

bool ArimaRootsOk(const ArimaCoefficients& c, double min_root_modulus) {
  const double max_radius = 1.0 / min_root_modulus;
  auto neg = [](std::vector<double> v) {
    for (double& e : v) e = -e;
    return v;
  };
  return arima_internal::CompanionSpectralRadius(c.ar) < max_radius &&
         arima_internal::CompanionSpectralRadius(c.seasonal_ar) < max_radius &&
         arima_internal::CompanionSpectralRadius(neg(c.ma)) < max_radius &&
         arima_internal::CompanionSpectralRadius(neg(c.seasonal_ma)) < max_radius;
}

ArimaCoreFit FitArimaCore(std::span<const double> w, const ArimaOrder& order, ArimaMethod method,
                          int max_evaluations, std::span<const double> start) {
  ArimaCoreFit out;
  const int nx = CoefficientCount(order);
  double sum = 0, sumsq = 0;
  int nobs = 0;
  bool has_nan = false;
  for (double x : w) {
    if (std::isnan(x)) {
      has_nan = true;
      continue;
    }
    sum += x;
    sumsq += x * x;
    ++nobs;
  }
  if (nobs == 0) return out;
  const double mean = sum / nobs;
  const double var = std::max(0.0, sumsq / nobs - mean * mean);
  const double mu0 = order.constant ? mean : 0.0;
  const double mu_sd = var > 0 ? std::sqrt(var) : 1.0;
  const int m = order.period;

  std::vector<double> centred(w.size());
  auto prepare = [&](const ArimaCoefficients& c, std::vector<double>* ar, std::vector<double>* ma) {
    *ar = ExpandSeasonal(c.ar, c.seasonal_ar, m, false);
    *ma = ExpandSeasonal(c.ma, c.seasonal_ma, m, true);
    for (size_t t = 0; t < w.size(); ++t) centred[t] = w[t] - c.mu;
  };
  auto css = [&](std::span<const double> x, FilterSums* s) {
    std::vector<double> ar, ma;
    prepare(Decode(x, order, mu0, mu_sd), &ar, &ma);
    *s = ConditionalSumOfSquares(ar, ma, centred);
    if (!s->ok || s->n <= 0) return kBadObjective;
    return 0.5 * std::log(std::max(s->ssq / s->n, kSigma2Floor));
  };
  auto ml = [&](std::span<const double> x, FilterSums* s) {
    std::vector<double> ar, ma;
    prepare(Decode(x, order, mu0, mu_sd), &ar, &ma);
    *s = has_nan ? KalmanFilter(ar, ma, centred, nullptr, nullptr, nullptr)
                 : ChandrasekharFilter(ar, ma, centred);
    if (!s->ok || s->n <= 0) return kBadObjective;
    return 0.5 * (std::log(std::max(s->ssq / s->n, kSigma2Floor)) + s->sumlog / s->n);
  };

  std::vector<double> lower(nx, -kPacfBound), upper(nx, kPacfBound);
  if (order.constant) {
    lower[nx - 1] = -kMuBound;
    upper[nx - 1] = kMuBound;
  }
  std::vector<double> x(nx, 0.0);
  const size_t ncond = static_cast<size_t>(order.p + order.seasonal_p * m);
  const bool css_feasible = nobs > static_cast<int>(ncond) + nx;
  if (nx > 0 && css_feasible &&
      (method == ArimaMethod::kConditionalSumOfSquares || start.empty())) {
    Objective obj;
    FilterSums scratch;
    obj.f = [&](std::span<const double> xx) { return css(xx, &scratch); };
    // CSS is a start (for ML) or a search score: a loose tolerance is enough.
    x = Minimize(obj, x, lower, upper, max_evaluations, kCssXtol, kCssFtol);
    out.evaluations += obj.evaluations;
  }
  if (method == ArimaMethod::kMaximumLikelihood) {
    if (!start.empty() && static_cast<int>(start.size()) == nx)
      x.assign(start.begin(), start.end());
    if (nx > 0) {
      Objective obj;
      FilterSums scratch;
      obj.f = [&](std::span<const double> xx) { return ml(xx, &scratch); };
      std::vector<double> x_ml = Minimize(obj, x, lower, upper, max_evaluations, kMlXtol, kMlFtol);
      out.evaluations += obj.evaluations;
      // A CSS start deep in a bad region can leave ML worse than the plain start; retry from 0.
      if (!(obj.best < kBadObjective)) {
        Objective again;
        again.f = obj.f;
        x_ml = Minimize(again, std::vector<double>(nx, 0.0), lower, upper, max_evaluations, kMlXtol,
                        kMlFtol);
        out.evaluations += again.evaluations;
      }
      x = std::move(x_ml);
    }
  }
  FilterSums sums;
  const double f = method == ArimaMethod::kMaximumLikelihood ? ml(x, &sums) : css(x, &sums);
  if (!(f < kBadObjective) || sums.n <= 0) return out;
  out.ok = true;
  out.x = x;
  out.coef = Decode(x, order, mu0, mu_sd);
  out.ssq = sums.ssq;
  out.n_used = sums.n;
  out.sigma2 = sums.ssq / sums.n;
  const double s2 = std::max(out.sigma2, kSigma2Floor);
  out.loglik = method == ArimaMethod::kMaximumLikelihood
                   ? -0.5 * (sums.n * std::log(2 * M_PI * s2) + sums.sumlog + sums.n)
                   : -0.5 * sums.n * (std::log(2 * M_PI * s2) + 1.0);
  return out;
}

double ArimaModel::Step(double y, double warm_fill) {
  const size_t nd = delta_.size();
  double resid = kNaN;
  double fill;
  if (y_raw_.size() >= nd) {
    double lag_raw = 0, lag_fill = 0;
    for (size_t k = 0; k < nd; ++k) {
      if (delta_[k] == 0.0) continue;
      lag_raw += delta_[k] * y_raw_[nd - 1 - k];
      lag_fill += delta_[k] * y_fill_[nd - 1 - k];
    }
    const double prediction = a_[0] + mu_scaled_ + lag_fill;
    const double w = y - lag_raw - mu_scaled_;
    const bool observed = !std::isnan(w);
    if (!observed) {
      steady_ = false;
      calm_ = 0;
    }
    double v, f;
    const double change =
        arima_internal::KalmanStep(ar_full_, ma_full_, w, steady_, a_, p_, scratch_, &v, &f);
    if (observed && f > 0) resid = v / std::sqrt(f);
    if (!steady_) {
      calm_ = (observed && change < arima_internal::kSteadyTolerance) ? calm_ + 1 : 0;
      if (calm_ >= r_) steady_ = true;
    }
    fill = std::isnan(y) ? prediction : y;
  } else {
    fill = std::isnan(y) ? (y_fill_.empty() ? warm_fill : y_fill_.back()) : y;
  }
  if (nd > 0) {
    // erase + push_back keeps the capacity: no allocation once the buffers are full.
    if (y_raw_.size() == nd) {
      y_raw_.erase(y_raw_.begin());
      y_fill_.erase(y_fill_.begin());
    }
    y_raw_.push_back(y);
    y_fill_.push_back(fill);
  }
  ++observations_;
  return resid;
}

ArimaModel ArimaModelBuilder::Build(const ArimaData& data, const ArimaOrder& order,
                                    const ArimaCoefficients& coef, const ArimaCoreFit* core,
                                    ArimaMethod method, std::string fallback) {
  ArimaModel model;
  const int m = order.period;
  model.scale_ = data.scale;
  model.ar_full_ = ExpandSeasonal(coef.ar, coef.seasonal_ar, m, false);
  model.ma_full_ = ExpandSeasonal(coef.ma, coef.seasonal_ma, m, true);
  model.delta_ = arima_internal::DifferencingPolynomial(order.d, order.seasonal_d, m);
  model.mu_scaled_ = coef.mu;
  model.r_ = static_cast<int>(std::max(model.ar_full_.size(), model.ma_full_.size() + 1));
  const size_t r = model.r_;
  if (!arima_internal::StationaryCovariance(model.ar_full_, model.ma_full_, &model.p_)) {
    // Cannot happen for coefficients from the PACF transform; a loud, diffuse-ish prior if it
    // does (Load validates stationarity before it gets here).
    model.p_.assign(r * r, 0.0);
    for (size_t i = 0; i < r; ++i) model.p_[i * r + i] = 1e6;
    fallback += fallback.empty() ? "" : "; ";
    fallback += "non-stationary AR part: diffuse initial state";
  }
  model.a_.assign(r, 0.0);
  model.scratch_.assign(r * r + r, 0.0);
  model.y_raw_.reserve(model.delta_.size());
  model.y_fill_.reserve(model.delta_.size());
  double first = 0;  // Stands in for missing values before the differencing buffers fill.
  for (double v : data.ys) {
    if (!std::isnan(v)) {
      first = v;
      break;
    }
  }

  std::vector<double> resid;
  resid.reserve(data.ys.size());
  model.residuals_.reserve(data.ys.size());
  double ssq = 0, sumlog = 0;
  int n = 0;
  for (double y : data.ys) {
    const double f_before = model.p_[0];
    const double e = model.Step(y, first);
    model.residuals_.push_back(std::isnan(e) ? kNaN : e * std::sqrt(f_before) * data.scale);
    if (!std::isnan(e)) {
      resid.push_back(e);
      ssq += e * e;
      sumlog += std::log(f_before);
      ++n;
    }
  }

  ArimaFitSummary& s = model.summary_;
  s.order = order;
  s.ar = coef.ar;
  s.ma = coef.ma;
  s.seasonal_ar = coef.seasonal_ar;
  s.seasonal_ma = coef.seasonal_ma;
  s.method = method;
  s.fallback = std::move(fallback);
  s.evaluations = core != nullptr ? core->evaluations : 0;
  const int ncoef = CoefficientCount(order);
  const int npar = ncoef + 1;
  s.n_star = data.n_finite - static_cast<int>(model.delta_.size());
  double sigma2 = n > 0 ? ssq / n : 0.0;
  double loglik_scaled =
      n > 0 ? -0.5 * (n * std::log(2 * M_PI * std::max(sigma2, kSigma2Floor)) + sumlog + n) : 0.0;
  s.n_used = n;
  if (method == ArimaMethod::kConditionalSumOfSquares && core != nullptr && core->ok) {
    sigma2 = core->sigma2;
    loglik_scaled = core->loglik;
    s.n_used = core->n_used;
  }
  const int dof = std::max(1, s.n_star - ncoef);
  model.sigma2_scaled_ = n > 0 ? ssq / dof : 0.0;
  const double scale2 = data.scale * data.scale;
  s.sigma2 = sigma2 * scale2;
  s.sigma2_unbiased = model.sigma2_scaled_ * scale2;
  s.loglik = loglik_scaled - s.n_used * std::log(data.scale);
  s.aic = -2 * s.loglik + 2 * npar;
  s.aicc = s.n_star - npar - 1 > 0 ? s.aic + 2.0 * npar * (npar + 1) / (s.n_star - npar - 1) : kInf;
  s.bic = s.n_star > 0 ? s.aic + npar * (std::log(static_cast<double>(s.n_star)) - 2) : kInf;
  s.mu = coef.mu * data.scale;
  const int nd_order = order.d + order.seasonal_d;
  s.drift = nd_order == 1 && order.seasonal_d == 1 ? s.mu / m : s.mu;

  // Ljung-Box on the standardised innovations.
  const int nr = static_cast<int>(resid.size());
  int lag = m > 1 ? std::min(2 * m, nr / 5) : std::min(10, nr / 5);
  if (lag >= 1) {
    double mean = 0;
    for (double e : resid) mean += e;
    mean /= nr;
    double denom = 0;
    for (double e : resid) denom += (e - mean) * (e - mean);
    double q = 0;
    if (denom > 0) {
      for (int k = 1; k <= lag; ++k) {
        double num = 0;
        for (int t = k; t < nr; ++t) num += (resid[t] - mean) * (resid[t - k] - mean);
        const double rho = num / denom;
        q += rho * rho / (nr - k);
      }
      q *= static_cast<double>(nr) * (nr + 2);
    }
    s.ljung_box = q;
    s.ljung_box_df = std::max(1, lag - ncoef);
  }
  return model;
}

namespace {

// Shared by Fit and AutoFit's final refit: the documented fallbacks, then the fit itself.
ArimaModel FitPrepared(const ArimaData& data, ArimaOrder order, const ArimaFitOptions& options,
                       ArimaCoreFit* core_out) {
  std::string fallback;
  std::vector<double> w = Difference(data.ys, order.d, order.seasonal_d, order.period);
  int n_w = CountFinite(w);
  if (n_w < CoefficientCount(order) + 3) {
    ArimaOrder simple = order;
    simple.p = simple.q = simple.seasonal_p = simple.seasonal_q = 0;
    std::vector<double> w2 = Difference(data.ys, simple.d, simple.seasonal_d, simple.period);
    const int n_w2 = CountFinite(w2);
    if (n_w2 >= CoefficientCount(simple) + 3) {
      fallback = fmt::format(
          "{} usable observations after differencing, {} needed for {}: fitted {} instead", n_w,
          CoefficientCount(order) + 3, ArimaOrderToString(order), ArimaOrderToString(simple));
      order = simple;
      w = std::move(w2);
      n_w = n_w2;
    } else {
      ArimaOrder mean_only;
      mean_only.period = order.period;
      mean_only.constant = true;
      fallback = fmt::format("{} observations are too few for {}: fitted the mean instead",
                             data.n_finite, ArimaOrderToString(order));
      double sum = 0;
      for (double v : data.ys) sum += std::isnan(v) ? 0.0 : v;
      ArimaCoefficients coef;
      coef.mu = sum / data.n_finite;
      return ArimaModelBuilder::Build(data, mean_only, coef, nullptr,
                                      ArimaMethod::kMaximumLikelihood, fallback);
    }
  }
  // A constant differenced series has no innovations to estimate: fit its constant exactly.
  double lo = kInf, hi = -kInf;
  for (double v : w) {
    if (!std::isnan(v)) {
      lo = std::min(lo, v);
      hi = std::max(hi, v);
    }
  }
  if (hi - lo <= 1e-12) {
    ArimaOrder simple = order;
    simple.p = simple.q = simple.seasonal_p = simple.seasonal_q = 0;
    simple.constant = order.d + order.seasonal_d <= 1 && std::abs(lo) > 0;
    if (!(simple == order)) {
      fallback += fallback.empty() ? "" : "; ";
      fallback += fmt::format("the differenced series is constant ({}): fitted {} instead",
                              lo * data.scale, ArimaOrderToString(simple));
    }
    ArimaCoefficients coef;
    coef.mu = simple.constant ? lo : 0.0;
    return ArimaModelBuilder::Build(data, simple, coef, nullptr, ArimaMethod::kMaximumLikelihood,
                                    fallback);
  }
  ArimaCoreFit core = FitArimaCore(w, order, options.method, options.max_evaluations);
  ArimaCoefficients coef;
  if (core.ok) {
    coef = core.coef;
  } else {
    fallback += fallback.empty() ? "" : "; ";
    fallback += "the optimiser found no finite likelihood: white-noise coefficients";
    double sum = 0;
    for (double v : w) sum += std::isnan(v) ? 0.0 : v;
    coef.ar.assign(order.p, 0.0);
    coef.ma.assign(order.q, 0.0);
    coef.seasonal_ar.assign(order.seasonal_p, 0.0);
    coef.seasonal_ma.assign(order.seasonal_q, 0.0);
    coef.mu = order.constant ? sum / n_w : 0.0;
  }
  ArimaModel model = ArimaModelBuilder::Build(data, order, coef, core.ok ? &core : nullptr,
                                              options.method, fallback);
  if (core_out != nullptr) *core_out = std::move(core);
  return model;
}

}  // namespace

absl::StatusOr<ArimaModel> FitArimaPrepared(const ArimaData& data, const ArimaOrder& order,
                                            const ArimaFitOptions& options) {
  return FitPrepared(data, order, options, nullptr);
}

absl::StatusOr<ArimaModel> ArimaModel::Fit(std::span<const double> y, const ArimaOrder& order,
                                           const ArimaFitOptions& options) {
  TIDEGATE_RETURN_IF_ERROR(ValidateArimaOrder(order));
  TIDEGATE_RETURN_IF_ERROR(options.IsValid());
  TIDEGATE_ASSIGN_OR_RETURN(ArimaData data, PrepareArimaData(y));
  return FitPrepared(data, order, options, nullptr);
}

double ArimaModel::NextPrediction() const {
  const size_t nd = delta_.size();
  double lag = 0;
  for (size_t k = 0; k < nd && k < y_fill_.size(); ++k) lag += delta_[k] * y_fill_[nd - 1 - k];
  return (a_[0] + mu_scaled_ + lag) * scale_;
}

absl::StatusOr<ArimaForecast> ArimaModel::Forecast(int horizon) const {
  if (horizon < 1 || horizon > kArimaMaxHorizon) {
    return absl::InvalidArgumentError(
        fmt::format("ARIMA forecast: horizon = {} is outside [1, {}]", horizon, kArimaMaxHorizon));
  }
  const size_t h = horizon, r = r_, nd = delta_.size();
  // G_j (row j of the state loading of the y forecast error) needs the last nd rows only: a ring.
  const size_t ring = nd + 1;
  std::vector<double> z(r, 0.0), zt(r), g(ring * r), psistar(h), yhat(h), prow(r);
  z[0] = 1.0;
  ArimaForecast out;
  out.mean.resize(h);
  out.standard_error.resize(h);
  double shocks = 0;  // sum_{k < j} psistar_k^2
  for (size_t j = 0; j < h; ++j) {
    double dot_a = 0, psi = z[0];
    for (size_t i = 0; i < r; ++i) dot_a += z[i] * a_[i];
    for (size_t i = 1; i < r; ++i) psi += z[i] * (i - 1 < ma_full_.size() ? ma_full_[i - 1] : 0);
    // G_j = z_j + sum_k delta_k G_{j-1-k}; psi*_j and the mean follow the same recursion.
    double* gj = &g[(j % ring) * r];
    for (size_t i = 0; i < r; ++i) gj[i] = z[i];
    double ylag = 0;
    psistar[j] = psi;
    for (size_t k = 0; k < nd; ++k) {
      if (delta_[k] == 0.0) continue;
      if (j >= k + 1) {
        const size_t src = j - 1 - k;
        const double* gs = &g[(src % ring) * r];
        for (size_t i = 0; i < r; ++i) gj[i] += delta_[k] * gs[i];
        psistar[j] += delta_[k] * psistar[src];
        ylag += delta_[k] * yhat[src];
      } else {
        ylag += delta_[k] * y_fill_[nd + j - 1 - k];
      }
    }
    yhat[j] = dot_a + mu_scaled_ + ylag;
    double quad = 0;
    for (size_t i = 0; i < r; ++i) {
      double row = 0;
      const double* pi = &p_[i * r];
      for (size_t k = 0; k < r; ++k) row += pi[k] * gj[k];
      quad += gj[i] * row;
    }
    const double var = std::max(0.0, quad + shocks) * sigma2_scaled_;
    shocks += psistar[j] * psistar[j];
    out.mean[j] = yhat[j] * scale_;
    out.standard_error[j] = std::sqrt(var) * scale_;
    if (!std::isfinite(out.mean[j]) || !std::isfinite(out.standard_error[j])) {
      return absl::InternalError(
          fmt::format("ARIMA forecast: step {} is not finite ({} +/- {}); model {}", j + 1,
                      out.mean[j], out.standard_error[j], ArimaOrderToString(summary_.order)));
    }
    // z_{j+1} = z_j T.
    double first = 0;
    for (size_t i = 0; i < r && i < ar_full_.size(); ++i) first += z[i] * ar_full_[i];
    zt[0] = first;
    for (size_t i = 1; i < r; ++i) zt[i] = z[i - 1];
    z.swap(zt);
  }
  return out;
}

absl::Status ArimaModel::Update(double y) {
  if (std::isinf(y)) {
    return absl::InvalidArgumentError(
        fmt::format("ARIMA update: observation {} is {}", observations_, y > 0 ? "inf" : "-inf"));
  }
  Step(y / scale_);
  return absl::OkStatus();
}

std::string ArimaModel::Serialize() const {
  ByteWriter w;
  w.PutString("TGARIMA");
  w.PutU32(kFormatVersion);
  const ArimaOrder& o = summary_.order;
  w.PutInts({o.p, o.d, o.q, o.seasonal_p, o.seasonal_d, o.seasonal_q, o.period, o.constant ? 1 : 0,
             summary_.method == ArimaMethod::kMaximumLikelihood ? 0 : 1});
  const ArimaFitSummary& s = summary_;
  w.PutDoubles(s.ar);
  w.PutDoubles(s.ma);
  w.PutDoubles(s.seasonal_ar);
  w.PutDoubles(s.seasonal_ma);
  w.PutDoubles({s.mu, s.drift, s.sigma2, s.sigma2_unbiased, s.loglik, s.aic, s.aicc, s.bic,
                s.kpss_statistic, s.seasonal_strength, s.ljung_box});
  w.PutInts({s.n_used, s.n_star, s.evaluations, s.models_tried, s.ljung_box_df});
  w.PutString(s.fallback);
  w.PutDoubles({scale_, mu_scaled_, sigma2_scaled_});
  w.PutI64(observations_);
  w.PutInts(std::vector<int>{steady_ ? 1 : 0, calm_});
  w.PutDoubles(a_);
  w.PutDoubles(p_);
  w.PutDoubles(y_raw_);
  w.PutDoubles(y_fill_);
  return w.Release();
}

absl::StatusOr<ArimaModel> ArimaModel::Load(std::string_view bytes) {
  ByteReader rd(bytes);
  auto bad = [](std::string_view what) {
    return absl::InvalidArgumentError(fmt::format("ARIMA load: {}", what));
  };
  std::string magic;
  uint32_t version = 0;
  if (!rd.GetString(&magic) || magic != "TGARIMA") return bad("not an ARIMA model (bad magic)");
  if (!rd.GetU32(&version) || version != kFormatVersion) {
    return bad(fmt::format("unsupported format version {}", version));
  }
  std::vector<int> ints;
  if (!rd.GetInts(&ints) || ints.size() != 9) return bad("truncated order");
  ArimaOrder o{ints[0], ints[1], ints[2], ints[3], ints[4], ints[5], ints[6], ints[7] != 0};
  if (absl::Status st = ValidateArimaOrder(o); !st.ok()) return bad(std::string(st.message()));
  ArimaModel model;
  ArimaFitSummary& s = model.summary_;
  s.order = o;
  s.method = ints[8] == 0 ? ArimaMethod::kMaximumLikelihood : ArimaMethod::kConditionalSumOfSquares;
  std::vector<double> stats, scal;
  std::vector<int> counts, flags;
  if (!rd.GetDoubles(&s.ar) || !rd.GetDoubles(&s.ma) || !rd.GetDoubles(&s.seasonal_ar) ||
      !rd.GetDoubles(&s.seasonal_ma)) {
    return bad("truncated coefficients");
  }
  if (s.ar.size() != static_cast<size_t>(o.p) || s.ma.size() != static_cast<size_t>(o.q) ||
      s.seasonal_ar.size() != static_cast<size_t>(o.seasonal_p) ||
      s.seasonal_ma.size() != static_cast<size_t>(o.seasonal_q)) {
    return bad("coefficient counts do not match the order");
  }
  if (!rd.GetDoubles(&stats) || stats.size() != 11 || !rd.GetInts(&counts) || counts.size() != 5 ||
      !rd.GetString(&s.fallback) || !rd.GetDoubles(&scal) || scal.size() != 3 ||
      !rd.GetI64(&model.observations_) || !rd.GetInts(&flags) || flags.size() != 2 ||
      !rd.GetDoubles(&model.a_) || !rd.GetDoubles(&model.p_) || !rd.GetDoubles(&model.y_raw_) ||
      !rd.GetDoubles(&model.y_fill_)) {
    return bad("truncated summary or filter state");
  }
  if (!rd.AtEnd()) return bad("trailing bytes after the filter state");
  s.mu = stats[0];
  s.drift = stats[1];
  s.sigma2 = stats[2];
  s.sigma2_unbiased = stats[3];
  s.loglik = stats[4];
  s.aic = stats[5];
  s.aicc = stats[6];
  s.bic = stats[7];
  s.kpss_statistic = stats[8];
  s.seasonal_strength = stats[9];
  s.ljung_box = stats[10];
  s.n_used = counts[0];
  s.n_star = counts[1];
  s.evaluations = counts[2];
  s.models_tried = counts[3];
  s.ljung_box_df = counts[4];
  model.scale_ = scal[0];
  model.mu_scaled_ = scal[1];
  model.sigma2_scaled_ = scal[2];
  model.steady_ = flags[0] != 0;
  model.calm_ = flags[1];
  if (!(model.scale_ > 0) || !std::isfinite(model.scale_) || !std::isfinite(model.mu_scaled_) ||
      !(model.sigma2_scaled_ >= 0) || !std::isfinite(model.sigma2_scaled_)) {
    return bad("scale, mean or sigma2 out of range");
  }
  ArimaCoefficients coef{s.ar, s.ma, s.seasonal_ar, s.seasonal_ma, model.mu_scaled_};
  for (const auto* v : {&s.ar, &s.ma, &s.seasonal_ar, &s.seasonal_ma}) {
    for (double c : *v) {
      if (!std::isfinite(c)) return bad("non-finite coefficient");
    }
  }
  if (!ArimaRootsOk(coef, 1.0 + 1e-9)) return bad("coefficients are not stationary/invertible");
  model.ar_full_ = ExpandSeasonal(s.ar, s.seasonal_ar, o.period, false);
  model.ma_full_ = ExpandSeasonal(s.ma, s.seasonal_ma, o.period, true);
  model.delta_ = arima_internal::DifferencingPolynomial(o.d, o.seasonal_d, o.period);
  model.r_ = static_cast<int>(std::max(model.ar_full_.size(), model.ma_full_.size() + 1));
  const size_t r = model.r_, nd = model.delta_.size();
  if (model.a_.size() != r || model.p_.size() != r * r) {
    return bad(fmt::format("filter state has {} / {} entries, expected {} / {}", model.a_.size(),
                           model.p_.size(), r, r * r));
  }
  if (model.y_raw_.size() != nd || model.y_fill_.size() != nd) {
    return bad(fmt::format("differencing buffers hold {} / {} values, expected {}",
                           model.y_raw_.size(), model.y_fill_.size(), nd));
  }
  for (const auto* v : {&model.a_, &model.p_, &model.y_fill_}) {
    for (double c : *v) {
      if (!std::isfinite(c)) return bad("non-finite filter state");
    }
  }
  for (double c : model.y_raw_) {
    if (std::isinf(c)) return bad("infinite value in the differencing buffer");
  }
  if (model.calm_ < 0 || model.observations_ < 0) return bad("negative counters");
  model.scratch_.assign(r * r + r, 0.0);
  model.y_raw_.reserve(nd);
  model.y_fill_.reserve(nd);
  return model;
}

}  // namespace tidegate::forecast
