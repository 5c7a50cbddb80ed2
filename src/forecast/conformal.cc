#include "tidegate/forecast/conformal.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "tidegate/common/status.h"
#include "tidegate/forecast/serialize.h"

namespace tidegate::forecast {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Half-width floor so that a zero-width model interval (a constant history) still yields finite
// scores and can be widened.
double Floor(double half, double mean) {
  const double floor = 1e-9 * std::max(1.0, std::fabs(mean));
  return std::max(half, floor);
}

}  // namespace

absl::Status ConformalOptions::Validate() const {
  if (horizon < 1 || horizon > kMaxHorizon) {
    return absl::InvalidArgumentError(
        fmt::format("conformal horizon must be >= 1, got {}", horizon));
  }
  if (levels.empty()) return absl::InvalidArgumentError("conformal levels must not be empty");
  TIDEGATE_RETURN_IF_ERROR(ValidatePredictArgs(horizon, levels));
  if (!(gamma > 0 && gamma < 1)) {
    return absl::InvalidArgumentError(
        fmt::format("conformal gamma must be in (0, 1), got {}", gamma));
  }
  if (window < 10) {
    return absl::InvalidArgumentError(
        fmt::format("conformal window must be >= 10, got {}", window));
  }
  if (min_scores < 1 || min_scores > window) {
    return absl::InvalidArgumentError(
        fmt::format("conformal min_scores must be in [1, window], got {}", min_scores));
  }
  return absl::OkStatus();
}

absl::StatusOr<AdaptiveConformal> AdaptiveConformal::Create(const ConformalOptions& options) {
  TIDEGATE_RETURN_IF_ERROR(options.Validate());
  return AdaptiveConformal(options);
}

AdaptiveConformal::AdaptiveConformal(const ConformalOptions& options)
    : options_(options), cells_(options.levels.size() * options.horizon) {
  for (size_t l = 0; l < options_.levels.size(); ++l) {
    for (int k = 0; k < options_.horizon; ++k) {
      At(static_cast<int>(l), k).alpha = 1 - options_.levels[l] / 100;
    }
  }
}

int AdaptiveConformal::LevelIndex(double level) const {
  for (size_t l = 0; l < options_.levels.size(); ++l) {
    if (options_.levels[l] == level) return static_cast<int>(l);
  }
  return -1;
}

double AdaptiveConformal::Cell::Quantile(double p, int min_scores, int window) const {
  if (static_cast<int>(scores.size()) < min_scores) return 1.0;
  if (p >= 1) {
    return *std::max_element(scores.begin(), scores.end()) * (1 + 1.0 / window);
  }
  if (p <= 0) return 0.0;
  std::vector<double> sorted = scores;
  // The ⌈p (n + 1)⌉-th smallest score: the finite-sample conformal quantile.
  const double n = static_cast<double>(sorted.size());
  size_t rank = static_cast<size_t>(std::ceil(p * (n + 1)));
  if (rank < 1) rank = 1;
  if (rank > sorted.size()) {
    return *std::max_element(sorted.begin(), sorted.end()) * (1 + 1.0 / window);
  }
  std::nth_element(sorted.begin(), sorted.begin() + (rank - 1), sorted.end());
  return sorted[rank - 1];
}

Forecast AdaptiveConformal::Calibrate(const Forecast& f) const {
  Forecast out = f;
  for (auto& pi : out.intervals) {
    const int l = LevelIndex(pi.level);
    if (l < 0) continue;
    const size_t steps = std::min<size_t>(pi.lower.size(), options_.horizon);
    for (size_t k = 0; k < steps; ++k) {
      const Cell& cell = At(l, static_cast<int>(k));
      const double q = cell.Quantile(1 - cell.alpha, options_.min_scores, options_.window);
      const double mu = f.mean[k];
      pi.lower[k] = mu - q * (mu - pi.lower[k]);
      pi.upper[k] = mu + q * (pi.upper[k] - mu);
    }
  }
  return out;
}

absl::Status AdaptiveConformal::Record(const Forecast& model_forecast) {
  for (double level : options_.levels) {
    if (model_forecast.Interval(level) == nullptr) {
      return absl::InvalidArgumentError(
          fmt::format("forecast has no {}% interval to calibrate", level));
    }
  }
  Pending p;
  p.model = model_forecast;
  p.calibrated = Calibrate(model_forecast);
  pending_.push_back(std::move(p));
  while (static_cast<int>(pending_.size()) > options_.horizon) pending_.pop_front();
  return absl::OkStatus();
}

void AdaptiveConformal::Observe(double y) {
  for (auto& p : pending_) {
    const int k = p.age++;  // This observation is step k + 1 of forecast p.
    if (std::isnan(y) || k >= options_.horizon || k >= p.model.horizon()) continue;
    const double mu = p.model.mean[k];
    for (size_t l = 0; l < options_.levels.size(); ++l) {
      const double level = options_.levels[l];
      const PredictionInterval* model_pi = p.model.Interval(level);
      const PredictionInterval* cal_pi = p.calibrated.Interval(level);
      const double half =
          y >= mu ? Floor(model_pi->upper[k] - mu, mu) : Floor(mu - model_pi->lower[k], mu);
      const double score = std::fabs(y - mu) / half;
      Cell& cell = At(static_cast<int>(l), k);
      const bool covered = y >= cal_pi->lower[k] && y <= cal_pi->upper[k];
      const double alpha = 1 - level / 100;
      cell.alpha += options_.gamma * (alpha - (covered ? 0.0 : 1.0));
      ++cell.total;
      if (covered) ++cell.covered;
      if (static_cast<int>(cell.scores.size()) < options_.window) {
        cell.scores.push_back(score);
      } else {
        cell.scores[cell.next] = score;
        cell.next = (cell.next + 1) % cell.scores.size();
      }
    }
    ++scored_;
  }
  while (!pending_.empty() && pending_.front().age >= options_.horizon) pending_.pop_front();
}

double AdaptiveConformal::Coverage(double level) const {
  const int l = LevelIndex(level);
  if (l < 0) return kNaN;
  int64_t covered = 0, total = 0;
  for (int k = 0; k < options_.horizon; ++k) {
    covered += At(l, k).covered;
    total += At(l, k).total;
  }
  return total ? static_cast<double>(covered) / static_cast<double>(total) : kNaN;
}

double AdaptiveConformal::Coverage(double level, int step) const {
  const int l = LevelIndex(level);
  if (l < 0 || step < 1 || step > options_.horizon) return kNaN;
  const Cell& c = At(l, step - 1);
  return c.total ? static_cast<double>(c.covered) / static_cast<double>(c.total) : kNaN;
}

double AdaptiveConformal::Alpha(double level, int step) const {
  const int l = LevelIndex(level);
  if (l < 0 || step < 1 || step > options_.horizon) return kNaN;
  return At(l, step - 1).alpha;
}

namespace {
constexpr uint32_t kConformalStateVersion = 1;
}  // namespace

std::string AdaptiveConformal::Serialize() const {
  ByteWriter w;
  w.PutU32(kConformalStateVersion);
  w.PutU64(static_cast<uint64_t>(options_.horizon));
  w.PutDoubles(options_.levels);
  w.PutI64(scored_);
  for (const Cell& c : cells_) {
    w.PutDouble(c.alpha);
    w.PutI64(c.covered);
    w.PutI64(c.total);
    // Oldest score first: once the ring is full the oldest sits at `next`.
    std::vector<double> ordered(c.scores.begin() + static_cast<std::ptrdiff_t>(c.next),
                                c.scores.end());
    ordered.insert(ordered.end(), c.scores.begin(),
                   c.scores.begin() + static_cast<std::ptrdiff_t>(c.next));
    w.PutDoubles(ordered);
  }
  return w.Release();
}

absl::StatusOr<AdaptiveConformal> AdaptiveConformal::Deserialize(const ConformalOptions& options,
                                                                 std::string_view bytes) {
  TIDEGATE_ASSIGN_OR_RETURN(AdaptiveConformal aci, Create(options));
  ByteReader r(bytes);
  uint32_t version = 0;
  uint64_t horizon = 0;
  std::vector<double> levels;
  if (!r.GetU32(&version)) return absl::InvalidArgumentError("conformal state: truncated");
  if (version != kConformalStateVersion) {
    return absl::InvalidArgumentError(fmt::format(
        "conformal state: version {} (this build reads {})", version, kConformalStateVersion));
  }
  if (!r.GetU64(&horizon) || !r.GetDoubles(&levels) || !r.GetI64(&aci.scored_)) {
    return absl::InvalidArgumentError("conformal state: truncated header");
  }
  if (horizon != static_cast<uint64_t>(options.horizon) || levels != options.levels) {
    return absl::InvalidArgumentError(
        fmt::format("conformal state: saved for horizon {} and {} levels, not horizon {} and {}",
                    horizon, levels.size(), options.horizon, options.levels.size()));
  }
  for (Cell& c : aci.cells_) {
    if (!r.GetDouble(&c.alpha) || !r.GetI64(&c.covered) || !r.GetI64(&c.total) ||
        !r.GetDoubles(&c.scores)) {
      return absl::InvalidArgumentError("conformal state: truncated cell");
    }
    if (!std::isfinite(c.alpha) || c.covered < 0 || c.total < c.covered ||
        c.scores.size() > static_cast<size_t>(options.window) ||
        !std::all_of(c.scores.begin(), c.scores.end(),
                     [](double v) { return std::isfinite(v) && v >= 0; })) {
      return absl::InvalidArgumentError("conformal state: a cell is out of range");
    }
    c.next = 0;  // Oldest first: the next overwrite replaces the oldest.
  }
  if (!r.AtEnd() || aci.scored_ < 0) {
    return absl::InvalidArgumentError("conformal state: trailing bytes");
  }
  return aci;
}

absl::StatusOr<Forecast> CalibratedForecast(Forecaster& model, const Series& series, int h,
                                            std::span<const double> levels, int warmup,
                                            ConformalOptions options,
                                            AdaptiveConformal* calibrator) {
  TIDEGATE_RETURN_IF_ERROR(ValidatePredictArgs(h, levels));
  if (warmup < 0) {
    return absl::InvalidArgumentError(fmt::format("warm-up must be >= 0, got {}", warmup));
  }
  if (warmup == 0) {
    TIDEGATE_RETURN_IF_ERROR(model.Fit(series));
    return model.Predict(h, levels);
  }
  const auto n = static_cast<int64_t>(series.values.size());
  if (n < warmup + 2 * static_cast<int64_t>(h)) {
    return absl::FailedPreconditionError(fmt::format(
        "series of {} values is too short for a calibration warm-up of {} steps with horizon {}", n,
        warmup, h));
  }
  options.horizon = h;
  options.levels.assign(levels.begin(), levels.end());
  TIDEGATE_ASSIGN_OR_RETURN(AdaptiveConformal aci, AdaptiveConformal::Create(options));
  Series head = series;
  head.values.resize(static_cast<size_t>(n - warmup));
  TIDEGATE_RETURN_IF_ERROR(model.Fit(head));
  for (int64_t t = n - warmup; t < n; ++t) {
    TIDEGATE_ASSIGN_OR_RETURN(Forecast f, model.Predict(h, levels));
    TIDEGATE_RETURN_IF_ERROR(aci.Record(f));
    const double y = series.values[static_cast<size_t>(t)];
    aci.Observe(y);
    TIDEGATE_RETURN_IF_ERROR(model.Update(y));
  }
  TIDEGATE_RETURN_IF_ERROR(model.Fit(series));
  TIDEGATE_ASSIGN_OR_RETURN(Forecast f, model.Predict(h, levels));
  Forecast calibrated = aci.Calibrate(f);
  if (calibrator != nullptr) *calibrator = std::move(aci);
  return calibrated;
}

}  // namespace tidegate::forecast
