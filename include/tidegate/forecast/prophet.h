// tidegate/forecast/prophet.h — "prophet": a Prophet-style additive regression of the series on a
// function of time (Taylor & Letham, "Forecasting at scale", The American Statistician 72(1),
// 2018), fitted by penalised maximum likelihood.
//
// Model. With t scaled to [0, 1] over the history (t_i = i / (n − 1), i = 0..n−1) and y scaled by
// ŝ = max|y|,
//     y(t) = g(t) + s(t) + h(t) + ε,   ε ~ N(0, σ²)
//   trend        g(t) = k·t + m + Σ_j δ_j (t − c_j)₊         (piecewise linear, continuous; c_j are
//                S changepoints at evenly spaced positions of the first `changepoint_range` of
//                the history; δ_j is the change of slope at c_j)
//   seasonality  s(t) = Σ_p Σ_{r=1..N_p} a_{p,r} cos(2π r i / P_p) + b_{p,r} sin(2π r i / P_p)
//                (period P_p in steps, Fourier order N_p; several periods at once)
//   events       h(t) = Σ_e κ_e · 1{time of step i is inside one of event e's windows}
// Priors: k, m ~ N(0, 5²); δ_j ~ Laplace(0, τ) (sparsity: most slopes do not change); a, b ~
// N(0, σ_s²); κ_e ~ N(0, σ_h²); σ ~ half-N(0, 0.5²). The MAP estimate minimises
//     n log σ + RSS/(2σ²) + σ²/(2·0.5²) + (k² + m²)/(2·5²) + Σ|δ_j|/τ + Σ a²/(2σ_s²) + Σ κ²/(2σ_h²)
// with NLopt's L-BFGS. The L1 term is made smooth by splitting δ_j = δ_j⁺ − δ_j⁻ with bounds
// δ_j^± >= 0 (exact, not an approximation: at the optimum one of the two is zero). The model is
// linear in (k, m, δ, a, b, κ), so RSS is evaluated from the precomputed Gram matrix AᵀA in
// O(p²) per iteration, independent of n. See docs/design/forecast-prophet.md.
//
// Intervals. Future trend changes are simulated as in Prophet: changepoints arrive as a Poisson
// process with the historical rate (S per unit of scaled time), each with a slope change drawn
// from Laplace(0, λ̂), λ̂ = mean |δ̂_j|; every sample path adds N(0, σ²) noise; the interval bounds
// are empirical quantiles of `uncertainty_samples` paths. The generator is seeded from `seed`, so
// Predict is deterministic (and bit-identical after Save/Load).
//
// Missing values are left out of the likelihood. Update(y) advances the forecast origin by one
// step in O(1) and counts y; it does not re-estimate the curve (refit on a schedule).
//
// Fallbacks, stated in FitSummary::fallback: a seasonal period is used only when at least two
// full cycles are observed; the number of changepoints shrinks to what the history carries (none
// below 4 observations); a series with fewer than 2 observations fits a constant level.
//
// Thread-safety: as every Forecaster (forecaster.h).
#ifndef TIDEGATE_FORECAST_PROPHET_H_
#define TIDEGATE_FORECAST_PROPHET_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "tidegate/common/clock.h"
#include "tidegate/forecast/forecaster.h"

namespace tidegate::forecast {

// One Fourier seasonality.
struct ProphetSeasonality {
  double period_steps = 24;  // P > 1, in steps of the series (may be fractional).
  int order = 10;            // N >= 1 Fourier pairs; capped at floor(P / 2).
};

// A holiday or event: a regressor equal to 1 at every step whose timestamp falls in one of the
// half-open windows [begin, end), in the history and in the future. Build the windows from a
// holiday calendar (e.g. one local day per holiday date) or from known campaigns.
struct ProphetEvent {
  std::string name;
  struct Window {
    WallTime begin;
    WallTime end;
  };
  std::vector<Window> windows;
};

struct ProphetOptions {
  int n_changepoints = 25;                // S >= 0 (fewer when the history is short).
  double changepoint_range = 0.8;         // In (0, 1]: changepoints lie in this first fraction.
  double changepoint_prior_scale = 0.05;  // τ > 0 of the Laplace prior on δ.
  // Empty = one seasonality per Series::seasonal_periods with order min(10, P / 2), plus (when
  // calendar_seasonalities) the daily and weekly cycles the series' step implies.
  std::vector<ProphetSeasonality> seasonalities;
  // As Prophet's automatic seasonalities: add the daily cycle (order 10) when one day is a whole
  // number >= 4 of steps, and the weekly cycle (order `weekly_order`) when one week is a whole
  // number >= 4 of steps, unless a hint already names that period. A cycle is still used only
  // when two of them are observed.
  bool calendar_seasonalities = true;
  int weekly_order = 5;
  double seasonality_prior_scale = 10;  // σ_s > 0.
  std::vector<ProphetEvent> events;
  double event_prior_scale = 10;   // σ_h > 0.
  int uncertainty_samples = 1000;  // Trend/noise sample paths for intervals, in [10, 100000].
  uint64_t seed = 0x5EEDu;
  int max_iterations = 2000;  // L-BFGS evaluations, >= 10.

  // OK, or InvalidArgument naming the field and value.
  absl::Status Validate() const;
};

// The "prophet" model; the registry's factory uses ProphetOptions{}.
std::unique_ptr<Forecaster> NewProphet(const ProphetOptions& options);
std::unique_ptr<Forecaster> NewProphet();

}  // namespace tidegate::forecast

#endif  // TIDEGATE_FORECAST_PROPHET_H_
