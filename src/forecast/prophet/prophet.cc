// The "prophet" model: additive trend + Fourier seasonalities + events, MAP fit (see prophet.h
// and docs/design/forecast-prophet.md for the math).
#include "tidegate/forecast/prophet.h"

#include <fmt/format.h>

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <exception>
#include <limits>
#include <nlopt.hpp>
#include <numbers>
#include <optional>
#include <random>

#include "../adapter_state.h"
#include "tidegate/common/status.h"
#include "tidegate/forecast/serialize.h"
#include "tidegate/forecast/stats.h"

namespace tidegate::forecast {
namespace {

constexpr uint32_t kStateVersion = 1;
constexpr uint32_t kCoreVersion = 1;
constexpr double kTrendPriorSd = 5;    // k, m ~ N(0, 5²), as Prophet.
constexpr double kSigmaPriorSd = 0.5;  // σ ~ half-N(0, 0.5²) on the scaled data, as Prophet.
constexpr double kInf = std::numeric_limits<double>::infinity();
// Floor of σ² on the scaled data (max|y| = 1): keeps the objective bounded below on an exactly
// representable series (a constant), where the profiled n·log σ would run to −∞.
constexpr double kSigma2Floor = 1e-20;

// A deterministic generator whose output is fixed by the C++ standard (mt19937_64) with the
// uniform, normal and exponential transforms written here, so that interval bounds are identical
// on every standard library.
class Rng {
 public:
  explicit Rng(uint64_t seed) : engine_(seed) {}
  // Uniform in (0, 1).
  double Uniform() { return (static_cast<double>(engine_() >> 11) + 0.5) * 0x1.0p-53; }
  double Normal() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    const double r = std::sqrt(-2 * std::log(Uniform()));
    const double a = 2 * std::numbers::pi * Uniform();
    spare_ = r * std::sin(a);
    has_spare_ = true;
    return r * std::cos(a);
  }
  double Exponential(double rate) { return -std::log(Uniform()) / rate; }
  double Laplace(double scale) {
    const double u = Uniform() - 0.5;
    return -scale * std::copysign(1.0, u) * std::log(1 - 2 * std::fabs(u));
  }

 private:
  std::mt19937_64 engine_;
  bool has_spare_ = false;
  double spare_ = 0;
};

int64_t Ns(Duration d) { return d.count(); }

// The MAP objective over x = [k, m, δ⁺ (S), δ⁻ (S), β (rest)], with σ profiled out: for fixed θ,
// ∂/∂σ of n log σ + RSS/(2σ²) + σ²/(2 s²) vanishes at σ² = s²(−n + √(n² + 4 RSS/s²))/2, and by
// the envelope theorem the gradient in θ is the partial one at that σ.
struct Objective {
  const Eigen::MatrixXd* gram = nullptr;  // AᵀA.
  const Eigen::VectorXd* aty = nullptr;   // Aᵀy.
  double yty = 0;
  double n = 0;
  int n_cp = 0;               // S.
  Eigen::VectorXd precision;  // Gaussian prior precision per θ entry (0 for δ).
  double inv_tau = 0;         // 1/τ of the Laplace prior.
  std::vector<double> best_x;
  double best_f = kInf;
  int evaluations = 0;

  int Dim() const { return static_cast<int>(aty->size()); }

  Eigen::VectorXd Theta(const double* x) const {
    Eigen::VectorXd theta(Dim());
    theta[0] = x[0];
    theta[1] = x[1];
    for (int j = 0; j < n_cp; ++j) theta[2 + j] = x[2 + j] - x[2 + n_cp + j];
    for (int i = 2 + n_cp; i < Dim(); ++i) theta[i] = x[i + n_cp];
    return theta;
  }

  static double Sigma2(double rss, double n) {
    const double s2 = kSigmaPriorSd * kSigmaPriorSd;
    return s2 * (-n + std::sqrt(n * n + 4 * rss / s2)) / 2;
  }

  double Evaluate(const std::vector<double>& x, std::vector<double>* grad) {
    ++evaluations;
    const Eigen::VectorXd theta = Theta(x.data());
    const Eigen::VectorXd g_theta = *gram * theta;
    const double rss = std::max(0.0, yty - 2 * theta.dot(*aty) + theta.dot(g_theta));
    const double sigma2 = std::max(Sigma2(rss, n), kSigma2Floor);
    double f = 0.5 * n * std::log(sigma2) + rss / (2 * sigma2) +
               sigma2 / (2 * kSigmaPriorSd * kSigmaPriorSd);
    f += 0.5 * theta.dot(precision.cwiseProduct(theta));
    for (int j = 0; j < n_cp; ++j) f += inv_tau * (x[2 + j] + x[2 + n_cp + j]);
    if (grad != nullptr && !grad->empty()) {
      const Eigen::VectorXd d = (g_theta - *aty) / sigma2 + precision.cwiseProduct(theta);
      (*grad)[0] = d[0];
      (*grad)[1] = d[1];
      for (int j = 0; j < n_cp; ++j) {
        (*grad)[2 + j] = d[2 + j] + inv_tau;
        (*grad)[2 + n_cp + j] = -d[2 + j] + inv_tau;
      }
      for (int i = 2 + n_cp; i < Dim(); ++i) (*grad)[i + n_cp] = d[i];
    }
    if (std::isfinite(f) && f < best_f) {
      best_f = f;
      best_x = x;
    }
    return std::isfinite(f) ? f : 1e300;
  }

  static double Call(const std::vector<double>& x, std::vector<double>& grad, void* self) {
    return static_cast<Objective*>(self)->Evaluate(x, &grad);
  }
};

// Runs bound-constrained L-BFGS on `obj` from `x`; the best point seen is in obj->best_x. Returns
// a note when the optimiser did not converge normally (empty otherwise).
std::string Optimise(Objective* obj, const std::vector<double>& lb, int max_evaluations,
                     std::vector<double>* x) {
  try {
    nlopt::opt opt(nlopt::LD_LBFGS, static_cast<unsigned>(x->size()));
    opt.set_lower_bounds(lb);
    opt.set_min_objective(&Objective::Call, obj);
    opt.set_maxeval(max_evaluations);
    opt.set_ftol_rel(1e-12);
    opt.set_xtol_rel(1e-10);
    double f = 0;
    if (opt.optimize(*x, f) == nlopt::MAXEVAL_REACHED) {
      return fmt::format("L-BFGS stopped at {} evaluations", max_evaluations);
    }
  } catch (const std::exception& ex) {
    // Round-off limits end L-BFGS near the optimum; the best point seen is kept.
    if (obj->best_x.empty()) return fmt::format("L-BFGS failed ({})", ex.what());
  }
  return "";
}

class Prophet final : public Forecaster {
 public:
  explicit Prophet(ProphetOptions options) : options_(std::move(options)) {}

  std::string_view Name() const override { return "prophet"; }
  absl::Status Fit(const Series& series) override;
  absl::StatusOr<Forecast> Predict(int h, std::span<const double> levels) const override;
  absl::Status Update(double y) override;
  FitSummary Summary() const override {
    if (!fitted_) {
      FitSummary s;
      s.model = "prophet";
      return s;
    }
    return summary_;
  }
  std::unique_ptr<Forecaster> Clone() const override { return std::make_unique<Prophet>(*this); }
  std::string SaveState() const override;
  absl::Status LoadState(std::string_view bytes) override;

 private:
  // Number of θ entries: k, m, δ (S), Fourier (2 Σ N_p), events (E).
  int NumSeasonCols() const {
    int q = 0;
    for (const auto& s : seasons_) q += 2 * s.order;
    return q;
  }
  double ScaledTime(int64_t i) const { return static_cast<double>(i) / t_den_; }
  WallTime TimeOf(int64_t i) const { return WallTime(Duration(start_ns_ + i * step_ns_)); }
  // Fills the design row of step i (length 2 + S + Q + E).
  void Row(int64_t i, double* row) const;
  // g + s + h at step i on the scaled data.
  double Fitted(int64_t i) const;
  std::string CoreBytes() const;
  absl::Status LoadCore(std::string_view bytes);
  void BuildSummary(const std::vector<double>& residuals);

  ProphetOptions options_;
  // Fitted state.
  bool fitted_ = false;
  int64_t start_ns_ = 0;
  int64_t step_ns_ = 1;
  double t_den_ = 1;    // t_i = i / t_den_.
  int64_t origin_ = 0;  // Index of the next step (forecast step 1).
  double y_scale_ = 1;
  std::vector<ProphetSeasonality> seasons_;  // Those used.
  std::vector<double> changepoints_;         // c_j (scaled time).
  std::vector<double> theta_;                // [k, m, δ, Fourier, events].
  double sigma_ = 0;                         // Scaled residual sd.
  // Summary parts not rebuilt from the state.
  double log_likelihood_ = FitSummary::kNaN;
  int64_t n_fit_ = 0;
  std::string notes_;
  FitSummary summary_;
};

void Prophet::Row(int64_t i, double* row) const {
  const double t = ScaledTime(i);
  int c = 0;
  row[c++] = t;
  row[c++] = 1;
  for (double cp : changepoints_) row[c++] = t > cp ? t - cp : 0.0;
  for (const auto& s : seasons_) {
    // Reduce i modulo an integer period first so that the phase stays exact far from t = 0.
    const double phase_steps =
        s.period_steps == std::floor(s.period_steps)
            ? static_cast<double>(((i % static_cast<int64_t>(s.period_steps)) +
                                   static_cast<int64_t>(s.period_steps)) %
                                  static_cast<int64_t>(s.period_steps))
            : static_cast<double>(i);
    const double w = 2 * std::numbers::pi * phase_steps / s.period_steps;
    for (int r = 1; r <= s.order; ++r) {
      row[c++] = std::cos(r * w);
      row[c++] = std::sin(r * w);
    }
  }
  const WallTime time = TimeOf(i);
  for (const auto& e : options_.events) {
    double x = 0;
    for (const auto& win : e.windows) {
      if (time >= win.begin && time < win.end) {
        x = 1;
        break;
      }
    }
    row[c++] = x;
  }
}

double Prophet::Fitted(int64_t i) const {
  std::vector<double> row(theta_.size());
  Row(i, row.data());
  double v = 0;
  for (size_t c = 0; c < row.size(); ++c) v += row[c] * theta_[c];
  return v;
}

absl::Status Prophet::Fit(const Series& series) {
  TIDEGATE_RETURN_IF_ERROR(ValidateSeries(series));
  TIDEGATE_RETURN_IF_ERROR(options_.Validate());
  const auto n = static_cast<int64_t>(series.values.size());
  std::vector<int64_t> observed;
  double absmax = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double v = series.values[static_cast<size_t>(i)];
    if (std::isnan(v)) continue;
    observed.push_back(i);
    absmax = std::max(absmax, std::fabs(v));
  }
  if (observed.empty()) {
    return absl::FailedPreconditionError(
        fmt::format("prophet: no observed value in {} points", series.values.size()));
  }
  fitted_ = false;
  std::vector<std::string> notes;
  start_ns_ = Ns(series.start.time_since_epoch());
  step_ns_ = Ns(series.step);
  t_den_ = static_cast<double>(std::max<int64_t>(1, n - 1));
  origin_ = n;
  y_scale_ = absmax > 0 ? absmax : 1.0;

  // Seasonalities: the requested ones that at least two observed cycles can carry.
  std::vector<ProphetSeasonality> wanted = options_.seasonalities;
  if (wanted.empty()) {
    for (int p : series.seasonal_periods) {
      wanted.push_back({static_cast<double>(p), std::min(10, p / 2)});
    }
    if (options_.calendar_seasonalities) {
      const int64_t day_ns = int64_t{86'400'000'000'000};
      const std::pair<int64_t, int> calendar[] = {{day_ns, 10},
                                                  {7 * day_ns, options_.weekly_order}};
      for (const auto& [cycle_ns, order] : calendar) {
        if (cycle_ns % step_ns_ != 0 || cycle_ns / step_ns_ < 4) continue;
        const auto period = static_cast<double>(cycle_ns / step_ns_);
        const bool named = std::any_of(wanted.begin(), wanted.end(),
                                       [&](const auto& s) { return s.period_steps == period; });
        if (!named) wanted.push_back({period, order});
      }
    }
  }
  seasons_.clear();
  const double span = static_cast<double>(observed.back() - observed.front() + 1);
  for (auto s : wanted) {
    s.order = std::max(1, std::min(s.order, static_cast<int>(std::floor(s.period_steps / 2))));
    if (span >= 2 * s.period_steps) {
      seasons_.push_back(s);
    } else {
      notes.push_back(fmt::format("seasonal period {} dropped ({} observed steps < 2 cycles)",
                                  s.period_steps, span));
    }
  }

  // Changepoints at evenly spaced observed rows of the first changepoint_range of the history.
  changepoints_.clear();
  const auto n_obs = static_cast<int64_t>(observed.size());
  const auto hist =
      static_cast<int64_t>(std::floor(static_cast<double>(n_obs) * options_.changepoint_range));
  const int n_cp =
      static_cast<int>(std::max<int64_t>(0, std::min<int64_t>(options_.n_changepoints, hist - 1)));
  if (n_cp < options_.n_changepoints) {
    notes.push_back(fmt::format("{} changepoints instead of {} ({} observations)", n_cp,
                                options_.n_changepoints, n_obs));
  }
  for (int j = 1; j <= n_cp; ++j) {
    const auto row = static_cast<int64_t>(
        std::llround(static_cast<double>(j) * static_cast<double>(hist - 1) / n_cp));
    changepoints_.push_back(ScaledTime(observed[static_cast<size_t>(row)]));
  }

  // Design matrix over the observed rows, reduced to AᵀA and Aᵀy.
  const int q = NumSeasonCols();
  const int e = static_cast<int>(options_.events.size());
  const int p = 2 + n_cp + q + e;
  theta_.assign(static_cast<size_t>(p), 0.0);
  Eigen::MatrixXd a(n_obs, p);
  Eigen::VectorXd y(n_obs);
  for (int64_t r = 0; r < n_obs; ++r) {
    std::vector<double> row(static_cast<size_t>(p));
    Row(observed[static_cast<size_t>(r)], row.data());
    for (int c = 0; c < p; ++c) a(r, c) = row[static_cast<size_t>(c)];
    y[r] = series.values[static_cast<size_t>(observed[static_cast<size_t>(r)])] / y_scale_;
  }
  const Eigen::MatrixXd gram = a.transpose() * a;
  const Eigen::VectorXd aty = a.transpose() * y;

  Objective obj;
  obj.gram = &gram;
  obj.aty = &aty;
  obj.yty = y.squaredNorm();
  obj.n = static_cast<double>(n_obs);
  obj.n_cp = n_cp;
  obj.inv_tau = 1 / options_.changepoint_prior_scale;
  obj.precision = Eigen::VectorXd::Zero(p);
  obj.precision[0] = obj.precision[1] = 1 / (kTrendPriorSd * kTrendPriorSd);
  for (int c = 2 + n_cp; c < 2 + n_cp + q; ++c) {
    obj.precision[c] = 1 / (options_.seasonality_prior_scale * options_.seasonality_prior_scale);
  }
  for (int c = 2 + n_cp + q; c < p; ++c) {
    obj.precision[c] = 1 / (options_.event_prior_scale * options_.event_prior_scale);
  }

  // Start from the ridge solution without changepoints (a well-conditioned linear solve).
  Eigen::MatrixXd ridge = gram;
  for (int c = 0; c < p; ++c) ridge(c, c) += c >= 2 && c < 2 + n_cp ? 1e6 : 1e-6 + obj.precision[c];
  const Eigen::VectorXd start = ridge.ldlt().solve(aty);
  std::vector<double> x(static_cast<size_t>(p + n_cp), 0.0);
  std::vector<double> lb(x.size(), -kInf);
  x[0] = start[0];
  x[1] = start[1];
  for (int j = 0; j < n_cp; ++j) {
    lb[static_cast<size_t>(2 + j)] = lb[static_cast<size_t>(2 + n_cp + j)] = 0;
  }
  for (int c = 2 + n_cp; c < p; ++c) x[static_cast<size_t>(c + n_cp)] = start[c];
  for (double& v : x) {
    if (!std::isfinite(v)) v = 0;
  }
  // A constant series is fitted exactly by the level alone; the optimiser would only chase the
  // σ floor.
  const double first_value = series.values[static_cast<size_t>(observed.front())];
  const bool constant = std::all_of(observed.begin(), observed.end(), [&](int64_t i) {
    return series.values[static_cast<size_t>(i)] == first_value;
  });
  std::string optimiser_note;
  if (constant) {
    obj.best_x.assign(x.size(), 0.0);
    obj.best_x[1] = first_value / y_scale_;
    notes.push_back("constant series: fitted its level");
  } else {
    optimiser_note = Optimise(&obj, lb, options_.max_iterations, &x);
  }
  if (obj.best_x.empty()) {
    obj.Evaluate(x, nullptr);
  }
  if (!optimiser_note.empty()) notes.push_back(optimiser_note);
  const Eigen::VectorXd theta = obj.Theta(obj.best_x.data());
  for (int c = 0; c < p; ++c) theta_[static_cast<size_t>(c)] = theta[c];
  const double rss = std::max(0.0, obj.yty - 2 * theta.dot(aty) + theta.dot(gram * theta));
  sigma_ = std::sqrt(Objective::Sigma2(rss, obj.n));
  if (!std::isfinite(sigma_)) sigma_ = 0;

  // In-sample residuals (original units) and the Gaussian log-likelihood at the MAP σ.
  std::vector<double> residuals(static_cast<size_t>(n), std::nan(""));
  double rss_units = 0;
  for (int64_t i : observed) {
    const double r = series.values[static_cast<size_t>(i)] - Fitted(i) * y_scale_;
    residuals[static_cast<size_t>(i)] = r;
    rss_units += r * r;
  }
  const double s2 = std::max(sigma_ * sigma_ * y_scale_ * y_scale_, 1e-300);
  log_likelihood_ = -0.5 * static_cast<double>(n_obs) * std::log(2 * std::numbers::pi * s2) -
                    rss_units / (2 * s2);
  n_fit_ = n_obs;
  notes_.clear();
  for (const auto& note : notes) notes_ += (notes_.empty() ? "" : "; ") + note;
  fitted_ = true;
  BuildSummary(residuals);
  return absl::OkStatus();
}

void Prophet::BuildSummary(const std::vector<double>& residuals) {
  FitSummary s;
  s.model = "prophet";
  std::string seasons;
  for (const auto& season : seasons_) {
    seasons +=
        fmt::format("{}{}:{}", seasons.empty() ? "" : "+", season.period_steps, season.order);
  }
  s.spec =
      fmt::format("prophet(changepoints={}, seasonalities={}, events={})", changepoints_.size(),
                  seasons.empty() ? "none" : seasons, options_.events.size());
  const size_t n_cp = changepoints_.size();
  s.params["k"] = theta_[0] * y_scale_ / t_den_;  // Initial slope, units per step.
  s.params["m"] = theta_[1] * y_scale_;
  int active = 0;
  double mean_abs = 0;
  for (size_t j = 0; j < n_cp; ++j) {
    const double d = theta_[2 + j];
    if (std::fabs(d) > 1e-3 * std::max(1.0, std::fabs(theta_[0]))) ++active;
    mean_abs += std::fabs(d) / static_cast<double>(n_cp);
  }
  s.params["active_changepoints"] = active;
  if (n_cp > 0) {
    s.params["mean_abs_delta"] = mean_abs * y_scale_;
    // The largest slope change: where (in steps from the start) and how much (units per step).
    size_t top = 0;
    for (size_t j = 1; j < n_cp; ++j) {
      if (std::fabs(theta_[2 + j]) > std::fabs(theta_[2 + top])) top = j;
    }
    s.params["max_delta_step"] = std::round(changepoints_[top] * t_den_);
    s.params["max_delta"] = theta_[2 + top] * y_scale_ / t_den_;
  }
  const size_t first_event = 2 + n_cp + static_cast<size_t>(NumSeasonCols());
  for (size_t i = 0; i < options_.events.size(); ++i) {
    s.params["event_" + options_.events[i].name] = theta_[first_event + i] * y_scale_;
  }
  s.n_obs = n_fit_;
  s.n_params = static_cast<int>(theta_.size()) + 1;
  s.log_likelihood = log_likelihood_;
  const double k = s.n_params;
  const double nn = static_cast<double>(n_fit_);
  s.aic = -2 * log_likelihood_ + 2 * k;
  s.aicc = nn - k - 1 > 0 ? s.aic + 2 * k * (k + 1) / (nn - k - 1) : kInf;
  s.bic = -2 * log_likelihood_ + k * std::log(nn);
  s.sigma2 = sigma_ * sigma_ * y_scale_ * y_scale_;
  s.fallback = notes_;
  std::vector<int> periods;
  for (const auto& season : seasons_) {
    if (season.period_steps == std::floor(season.period_steps)) {
      periods.push_back(static_cast<int>(season.period_steps));
    }
  }
  std::sort(periods.begin(), periods.end());
  if (!residuals.empty()) FillResidualDiagnostics(residuals, periods, 0, &s);
  summary_ = std::move(s);
}

absl::StatusOr<Forecast> Prophet::Predict(int h, std::span<const double> levels) const {
  if (!fitted_) return absl::FailedPreconditionError("prophet: Predict before a successful Fit");
  TIDEGATE_RETURN_IF_ERROR(ValidatePredictArgs(h, levels));
  std::vector<double> mean(static_cast<size_t>(h));
  for (int j = 0; j < h; ++j) mean[static_cast<size_t>(j)] = Fitted(origin_ + j);

  // Future trend changes: a Poisson process of rate S per unit of scaled time after the fitted
  // history (t > 1), slope changes ~ Laplace(0, λ̂).
  const int paths = options_.uncertainty_samples;
  const size_t n_cp = changepoints_.size();
  double lambda = 0;
  for (size_t j = 0; j < n_cp; ++j) lambda += std::fabs(theta_[2 + j]) / static_cast<double>(n_cp);
  lambda += 1e-8;
  const double t_fit_end = 1.0;
  const double t_last = ScaledTime(origin_ + h - 1);
  Rng rng(options_.seed);
  struct Change {
    double t;
    double delta;
  };
  std::vector<std::vector<Change>> changes(static_cast<size_t>(paths));
  if (n_cp > 0 && t_last > t_fit_end) {
    const double rate = static_cast<double>(n_cp);
    for (auto& path : changes) {
      double t = t_fit_end + rng.Exponential(rate);
      while (t < t_last) {
        path.push_back({t, rng.Laplace(lambda)});
        t += rng.Exponential(rate);
      }
    }
  }
  // Step-major walk: per path, slope-change sum Σδ and Σδc of the changes before t.
  std::vector<size_t> cursor(static_cast<size_t>(paths), 0);
  std::vector<double> sum_d(static_cast<size_t>(paths), 0.0),
      sum_dc(static_cast<size_t>(paths), 0.0);
  std::vector<double> samples(static_cast<size_t>(paths));
  Forecast out;
  out.mean.resize(static_cast<size_t>(h));
  for (double level : levels) {
    PredictionInterval pi;
    pi.level = level;
    pi.lower.resize(static_cast<size_t>(h));
    pi.upper.resize(static_cast<size_t>(h));
    out.intervals.push_back(std::move(pi));
  }
  for (int j = 0; j < h; ++j) {
    const double t = ScaledTime(origin_ + j);
    const double m = mean[static_cast<size_t>(j)];
    for (size_t s = 0; s < static_cast<size_t>(paths); ++s) {
      auto& c = cursor[s];
      const auto& path = changes[s];
      while (c < path.size() && path[c].t < t) {
        sum_d[s] += path[c].delta;
        sum_dc[s] += path[c].delta * path[c].t;
        ++c;
      }
      samples[s] = m + (t * sum_d[s] - sum_dc[s]) + sigma_ * rng.Normal();
    }
    out.mean[static_cast<size_t>(j)] = m * y_scale_;
    for (size_t l = 0; l < levels.size(); ++l) {
      const double alpha = 1 - levels[l] / 100;
      auto quantile = [&](double prob) {
        // Type-7 sample quantile (linear interpolation between order statistics).
        const double pos = prob * static_cast<double>(paths - 1);
        const auto lo = static_cast<size_t>(std::floor(pos));
        std::nth_element(samples.begin(), samples.begin() + static_cast<ptrdiff_t>(lo),
                         samples.end());
        const double a = samples[lo];
        if (lo + 1 >= samples.size()) return a;
        const double b =
            *std::min_element(samples.begin() + static_cast<ptrdiff_t>(lo) + 1, samples.end());
        return a + (pos - static_cast<double>(lo)) * (b - a);
      };
      const double lower = quantile(alpha / 2) * y_scale_;
      const double upper = quantile(1 - alpha / 2) * y_scale_;
      auto& pi = out.intervals[l];
      pi.lower[static_cast<size_t>(j)] = std::min(lower, out.mean[static_cast<size_t>(j)]);
      pi.upper[static_cast<size_t>(j)] = std::max(upper, out.mean[static_cast<size_t>(j)]);
    }
  }
  return out;
}

absl::Status Prophet::Update(double y) {
  if (!fitted_) return absl::FailedPreconditionError("prophet: Update before a successful Fit");
  if (std::isinf(y)) {
    return absl::InvalidArgumentError(
        fmt::format("prophet: Update with an infinite value ({})", y));
  }
  ++origin_;
  if (!std::isnan(y)) ++summary_.n_obs;
  return absl::OkStatus();
}

std::string Prophet::CoreBytes() const {
  ByteWriter w;
  w.PutU32(kCoreVersion);
  w.PutI64(options_.n_changepoints);
  w.PutDouble(options_.changepoint_range);
  w.PutDouble(options_.changepoint_prior_scale);
  w.PutDouble(options_.seasonality_prior_scale);
  w.PutDouble(options_.event_prior_scale);
  w.PutI64(options_.uncertainty_samples);
  w.PutU64(options_.seed);
  w.PutI64(options_.max_iterations);
  w.PutU32(options_.calendar_seasonalities ? 1 : 0);
  w.PutI64(options_.weekly_order);
  w.PutU64(options_.seasonalities.size());
  for (const auto& s : options_.seasonalities) {
    w.PutDouble(s.period_steps);
    w.PutI64(s.order);
  }
  w.PutU64(options_.events.size());
  for (const auto& e : options_.events) {
    w.PutString(e.name);
    w.PutU64(e.windows.size());
    for (const auto& win : e.windows) {
      w.PutI64(Ns(win.begin.time_since_epoch()));
      w.PutI64(Ns(win.end.time_since_epoch()));
    }
  }
  w.PutI64(start_ns_);
  w.PutI64(step_ns_);
  w.PutDouble(t_den_);
  w.PutI64(origin_);
  w.PutDouble(y_scale_);
  w.PutU64(seasons_.size());
  for (const auto& s : seasons_) {
    w.PutDouble(s.period_steps);
    w.PutI64(s.order);
  }
  w.PutDoubles(changepoints_);
  w.PutDoubles(theta_);
  w.PutDouble(sigma_);
  w.PutDouble(log_likelihood_);
  w.PutI64(n_fit_);
  w.PutString(notes_);
  return w.Release();
}

absl::Status Prophet::LoadCore(std::string_view bytes) {
  ByteReader r(bytes);
  const auto bad = [] {
    return absl::InvalidArgumentError("prophet state: truncated or malformed");
  };
  uint32_t version = 0;
  if (!r.GetU32(&version) || version != kCoreVersion) {
    return absl::InvalidArgumentError(
        fmt::format("prophet state: core version {}, expected {}", version, kCoreVersion));
  }
  ProphetOptions o;
  int64_t i64 = 0;
  uint64_t count = 0;
  if (!r.GetI64(&i64)) return bad();
  o.n_changepoints = static_cast<int>(i64);
  if (!r.GetDouble(&o.changepoint_range) || !r.GetDouble(&o.changepoint_prior_scale) ||
      !r.GetDouble(&o.seasonality_prior_scale) || !r.GetDouble(&o.event_prior_scale) ||
      !r.GetI64(&i64)) {
    return bad();
  }
  o.uncertainty_samples = static_cast<int>(i64);
  if (!r.GetU64(&o.seed) || !r.GetI64(&i64)) return bad();
  o.max_iterations = static_cast<int>(i64);
  uint32_t calendar = 0;
  if (!r.GetU32(&calendar) || calendar > 1 || !r.GetI64(&i64)) return bad();
  o.calendar_seasonalities = calendar == 1;
  o.weekly_order = static_cast<int>(i64);
  auto get_seasons = [&](std::vector<ProphetSeasonality>* out) {
    uint64_t k = 0;
    if (!r.GetU64(&k) || k > 1024) return false;
    out->resize(k);
    for (auto& s : *out) {
      int64_t order = 0;
      if (!r.GetDouble(&s.period_steps) || !r.GetI64(&order)) return false;
      s.order = static_cast<int>(order);
    }
    return true;
  };
  if (!get_seasons(&o.seasonalities) || !r.GetU64(&count) || count > 4096) return bad();
  o.events.resize(count);
  for (auto& e : o.events) {
    uint64_t windows = 0;
    if (!r.GetString(&e.name) || !r.GetU64(&windows) || windows > kMaxSerializedElements ||
        windows * 16 > r.Rest().size()) {
      return bad();
    }
    e.windows.resize(windows);
    for (auto& win : e.windows) {
      int64_t b = 0, en = 0;
      if (!r.GetI64(&b) || !r.GetI64(&en)) return bad();
      win.begin = WallTime(Duration(b));
      win.end = WallTime(Duration(en));
    }
  }
  TIDEGATE_RETURN_IF_ERROR(o.Validate());
  Prophet m(o);
  if (!r.GetI64(&m.start_ns_) || !r.GetI64(&m.step_ns_) || !r.GetDouble(&m.t_den_) ||
      !r.GetI64(&m.origin_) || !r.GetDouble(&m.y_scale_) || !get_seasons(&m.seasons_) ||
      !r.GetDoubles(&m.changepoints_) || !r.GetDoubles(&m.theta_) || !r.GetDouble(&m.sigma_) ||
      !r.GetDouble(&m.log_likelihood_) || !r.GetI64(&m.n_fit_) || !r.GetString(&m.notes_) ||
      !r.AtEnd()) {
    return bad();
  }
  int q = 0;
  for (const auto& s : m.seasons_) {
    if (!(s.period_steps > 1) || s.order < 1 || s.order > 100'000) return bad();
    q += 2 * s.order;
  }
  const size_t p = 2 + m.changepoints_.size() + static_cast<size_t>(q) + o.events.size();
  if (m.theta_.size() != p || !(m.t_den_ >= 1) || m.step_ns_ <= 0 || !(m.y_scale_ > 0) ||
      !(m.sigma_ >= 0) || !std::isfinite(m.sigma_)) {
    return bad();
  }
  for (double v : m.theta_) {
    if (!std::isfinite(v)) return bad();
  }
  m.fitted_ = true;
  *this = std::move(m);
  return absl::OkStatus();
}

std::string Prophet::SaveState() const {
  if (!fitted_) return SaveAdapterState(kStateVersion, nullptr, summary_);
  const std::string core = CoreBytes();
  return SaveAdapterState(kStateVersion, &core, summary_);
}

absl::Status Prophet::LoadState(std::string_view bytes) {
  TIDEGATE_ASSIGN_OR_RETURN(std::optional<AdapterState> state,
                            LoadAdapterState("prophet", kStateVersion, bytes));
  if (!state) {
    fitted_ = false;
    summary_ = FitSummary{};
    return absl::OkStatus();
  }
  TIDEGATE_RETURN_IF_ERROR(LoadCore(state->core));
  BuildSummary({});
  ApplyAdapterExtras(state->extras, &summary_);
  return absl::OkStatus();
}

}  // namespace

absl::Status ProphetOptions::Validate() const {
  if (n_changepoints < 0 || n_changepoints > 10'000) {
    return absl::InvalidArgumentError(
        fmt::format("prophet: n_changepoints must be in [0, 10000], got {}", n_changepoints));
  }
  if (!(changepoint_range > 0 && changepoint_range <= 1)) {
    return absl::InvalidArgumentError(
        fmt::format("prophet: changepoint_range must be in (0, 1], got {}", changepoint_range));
  }
  const std::pair<const char*, double> scales[] = {
      {"changepoint_prior_scale", changepoint_prior_scale},
      {"seasonality_prior_scale", seasonality_prior_scale},
      {"event_prior_scale", event_prior_scale}};
  for (const auto& [name, v] : scales) {
    if (!(v > 0 && std::isfinite(v))) {
      return absl::InvalidArgumentError(
          fmt::format("prophet: {} must be positive and finite, got {}", name, v));
    }
  }
  for (size_t i = 0; i < seasonalities.size(); ++i) {
    const auto& s = seasonalities[i];
    if (!(s.period_steps > 1 && std::isfinite(s.period_steps))) {
      return absl::InvalidArgumentError(fmt::format(
          "prophet: seasonality #{} period must be > 1 step, got {}", i + 1, s.period_steps));
    }
    if (s.order < 1 || s.order > 1000) {
      return absl::InvalidArgumentError(fmt::format(
          "prophet: seasonality #{} order must be in [1, 1000], got {}", i + 1, s.order));
    }
  }
  for (size_t i = 0; i < events.size(); ++i) {
    if (events[i].name.empty()) {
      return absl::InvalidArgumentError(fmt::format("prophet: event #{} has no name", i + 1));
    }
    for (size_t w = 0; w < events[i].windows.size(); ++w) {
      if (!(events[i].windows[w].begin < events[i].windows[w].end)) {
        return absl::InvalidArgumentError(fmt::format(
            "prophet: event '{}' window #{} is empty (begin >= end)", events[i].name, w + 1));
      }
    }
  }
  if (uncertainty_samples < 10 || uncertainty_samples > 100'000) {
    return absl::InvalidArgumentError(fmt::format(
        "prophet: uncertainty_samples must be in [10, 100000], got {}", uncertainty_samples));
  }
  if (weekly_order < 1 || weekly_order > 1000) {
    return absl::InvalidArgumentError(
        fmt::format("prophet: weekly_order must be in [1, 1000], got {}", weekly_order));
  }
  if (max_iterations < 10) {
    return absl::InvalidArgumentError(
        fmt::format("prophet: max_iterations must be >= 10, got {}", max_iterations));
  }
  return absl::OkStatus();
}

std::unique_ptr<Forecaster> NewProphet(const ProphetOptions& options) {
  return std::make_unique<Prophet>(options);
}
std::unique_ptr<Forecaster> NewProphet() { return NewProphet(ProphetOptions{}); }

}  // namespace tidegate::forecast
