#include "tidegate/anomaly/detector.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <span>

namespace tidegate::anomaly {
namespace {

template <typename T>
void PushBounded(std::deque<T>& q, T v, size_t cap) {
  q.push_back(v);
  while (q.size() > cap) q.pop_front();
}

absl::Status Positive(std::string_view field, int value) {
  if (value >= 1) return absl::OkStatus();
  return absl::InvalidArgumentError(fmt::format("{} = {}: must be >= 1", field, value));
}

constexpr double kSurpriseScale = 65536;  // Surprises are kept in units of 2^-16.

double NormalCdf(double z) { return 0.5 * std::erfc(-z / std::sqrt(2.0)); }

}  // namespace

std::string_view AnomalyKindName(AnomalyKind kind) {
  switch (kind) {
    case AnomalyKind::kNone:
      return "none";
    case AnomalyKind::kSpike:
      return "spike";
    case AnomalyKind::kDip:
      return "dip";
    case AnomalyKind::kLevelShift:
      return "level_shift";
  }
  return "none";
}

absl::Status ConformalDetectorOptions::Validate() const {
  for (auto [field, value] : {std::pair<std::string_view, int>{"level_window", level_window},
                              {"spread_window", spread_window},
                              {"calibration_window", calibration_window},
                              {"short_window", short_window},
                              {"long_window", long_window},
                              {"history_window", history_window},
                              {"season_max_period", season_max_period},
                              {"season_run", season_run},
                              {"context_window", context_window},
                              {"context_run", context_run}}) {
    if (absl::Status s = Positive(field, value); !s.ok()) return s;
  }
  if (probation < 0) {
    return absl::InvalidArgumentError(fmt::format("probation = {}: must be >= 0", probation));
  }
  if (!(flag_threshold > 0 && flag_threshold <= 1)) {
    return absl::InvalidArgumentError(
        fmt::format("flag_threshold = {}: must be in (0, 1]", flag_threshold));
  }
  // Bounded so that refractory_seconds / step_seconds, the period in steps, fits an int64.
  for (auto [field, value] : {std::pair<std::string_view, double>{"step_seconds", step_seconds},
                              {"refractory_seconds", refractory_seconds}}) {
    if (!(value >= 1e-3 && value <= 1e9)) {
      return absl::InvalidArgumentError(
          fmt::format("{} = {}: must be in [0.001, 1e9] seconds", field, value));
    }
  }
  if (!(tail_fraction > 0 && tail_fraction < 1)) {
    return absl::InvalidArgumentError(
        fmt::format("tail_fraction = {}: must be in (0, 1)", tail_fraction));
  }
  if (!(recurrence_tolerance >= 0 && recurrence_tolerance < 1)) {
    return absl::InvalidArgumentError(
        fmt::format("recurrence_tolerance = {}: must be in [0, 1)", recurrence_tolerance));
  }
  if (recurrence_count < 1 || recurrence_count > 8) {
    return absl::InvalidArgumentError(
        fmt::format("recurrence_count = {}: must be in [1, 8]", recurrence_count));
  }
  if (context_bins < 2 || context_bins > 64) {
    return absl::InvalidArgumentError(
        fmt::format("context_bins = {}: must be in [2, 64]", context_bins));
  }
  if (context_order < 1 || context_order > 16) {
    return absl::InvalidArgumentError(
        fmt::format("context_order = {}: must be in [1, 16]", context_order));
  }
  if (!(season_min_acf > 0 && season_min_acf <= 1)) {
    return absl::InvalidArgumentError(
        fmt::format("season_min_acf = {}: must be in (0, 1]", season_min_acf));
  }
  for (auto [field, value] : {std::pair<std::string_view, double>{"point_weight", point_weight},
                              {"likelihood_gate", likelihood_gate},
                              {"context_gate", context_gate},
                              {"likelihood_daily_gate", likelihood_daily_gate},
                              {"novelty_weight", novelty_weight},
                              {"season_weight", season_weight},
                              {"context_weight", context_weight}}) {
    if (!(value >= 0 && value <= 1)) {
      return absl::InvalidArgumentError(fmt::format("{} = {}: must be in [0, 1]", field, value));
    }
  }
  // Bounded so that the half-width in steps fits an int64; at most half a day, so that the
  // windows of successive days do not overlap.
  if (!(daily_halfwidth_seconds >= 0 && daily_halfwidth_seconds <= 43200)) {
    return absl::InvalidArgumentError(fmt::format(
        "daily_halfwidth_seconds = {}: must be in [0, 43200]", daily_halfwidth_seconds));
  }
  if (long_window <= short_window) {
    return absl::InvalidArgumentError(
        fmt::format("long_window = {} must exceed short_window = {}", long_window, short_window));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<ConformalDetector>> ConformalDetector::Create(
    const ConformalDetectorOptions& options) {
  if (absl::Status s = options.Validate(); !s.ok()) return s;
  return std::unique_ptr<ConformalDetector>(new ConformalDetector(options));
}

ConformalDetector::ConformalDetector(const ConformalDetectorOptions& o)
    : o_(o),
      residuals_(static_cast<size_t>(o.spread_window)),
      calibration_(static_cast<size_t>(o.calibration_window)),
      history_(static_cast<size_t>(o.history_window)),
      refractory_steps_(std::max<int64_t>(1, std::llround(o.refractory_seconds / o.step_seconds))),
      daily_period_(std::max<int64_t>(1, std::llround(86400 / o.step_seconds))),
      daily_halfwidth_(std::llround(o.daily_halfwidth_seconds / o.step_seconds)) {
  if (o.season_weight > 0) {
    season_ =
        std::make_unique<SeasonalTerm>(o.season_max_period, o.season_min_acf, o.season_run,
                                       o.spread_window, o.calibration_window, o.tail_fraction);
  }
  if (o.context_weight > 0) {
    context_ =
        std::make_unique<ContextNovelty>(o.context_bins, o.context_order, o.context_window,
                                         o.context_run, o.calibration_window, o.tail_fraction);
  }
}

void ConformalDetector::ReplaySequenceTerms() {
  // The sequence terms are not part of the saved state: they are rebuilt from the saved history
  // of values, replayed in order, as if the detector had seen only those.
  // The recurring extremes are rebuilt the same way: value i of the H in the history was the
  // (seen − H + i + 1)-th observation.
  RankWindow replayed(static_cast<size_t>(o_.history_window));
  int64_t step = seen_ - static_cast<int64_t>(history_.size());
  for (double v : history_.arrival()) {
    ++step;
    if (season_) season_->Observe(v, replayed.arrival());
    if (context_) context_->Observe(v, replayed.sorted());
    if (o_.recurrence_tolerance > 0 && NoveltyKnown(replayed.size())) {
      TrackExtreme(step, v, Outside(replayed.sorted(), v), replayed.sorted());
    }
    replayed.Push(v);
  }
}

absl::StatusOr<std::unique_ptr<ConformalDetector>> ConformalDetector::Restore(
    const ConformalDetectorOptions& options, ConformalDetectorState state) {
  if (absl::Status s = options.Validate(); !s.ok()) return s;
  const std::pair<const char*, std::pair<const std::vector<double>*, int>> windows[] = {
      {"values", {&state.values, options.level_window}},
      {"residuals", {&state.residuals, options.spread_window}},
      {"calibration", {&state.calibration, options.calibration_window}},
      {"surprise", {&state.surprise, options.long_window}},
      {"history", {&state.history, options.history_window}}};
  for (const auto& [name, window] : windows) {
    const auto& [values, limit] = window;
    if (values->size() > static_cast<size_t>(limit)) {
      return absl::InvalidArgumentError(
          fmt::format("detector state: {} holds {} values, more than its window of {}", name,
                      values->size(), limit));
    }
    for (double v : *values) {
      if (!std::isfinite(v)) {
        return absl::InvalidArgumentError(
            fmt::format("detector state: {} holds a non-finite value", name));
      }
    }
  }
  for (double v : state.surprise) {
    if (!(v >= 0 && v <= 1000)) {  // −log p with p ≥ 1e-300 lies in [0, 691].
      return absl::InvalidArgumentError(
          fmt::format("detector state: surprise holds {}, outside [0, 1000]", v));
    }
  }
  if (state.seen < 0 || state.since_flag < -1) {
    return absl::InvalidArgumentError(fmt::format(
        "detector state: seen = {}, since_flag = {} out of range", state.seen, state.since_flag));
  }
  std::unique_ptr<ConformalDetector> d(new ConformalDetector(options));
  d->values_.assign(state.values.begin(), state.values.end());
  d->residuals_.Assign(state.residuals);
  d->calibration_.Assign(state.calibration);
  for (double v : state.surprise) d->PushSurprise(std::llround(v * kSurpriseScale));
  d->history_.Assign(state.history);
  d->seen_ = state.seen;
  d->since_flag_ = state.since_flag;
  d->ReplaySequenceTerms();
  return d;
}

ConformalDetectorState ConformalDetector::State() const {
  ConformalDetectorState s;
  s.values.assign(values_.begin(), values_.end());
  s.residuals.assign(residuals_.arrival().begin(), residuals_.arrival().end());
  s.calibration.assign(calibration_.arrival().begin(), calibration_.arrival().end());
  for (int64_t q : surprise_) s.surprise.push_back(static_cast<double>(q) / kSurpriseScale);
  s.history.assign(history_.arrival().begin(), history_.arrival().end());
  s.seen = seen_;
  s.since_flag = since_flag_;
  return s;
}

double ConformalDetector::OutsideDailyProfile(double x) const {
  // The values at the same time of day (± daily_halfwidth steps) on the earlier days the history
  // holds, newest last in history_.arrival().
  const std::deque<double>& h = history_.arrival();
  const auto n = static_cast<int64_t>(h.size());
  int64_t above = 0, below = 0, m = 0;
  for (int64_t back = daily_period_; back - daily_halfwidth_ <= n; back += daily_period_) {
    const int64_t last = std::min(n, back + daily_halfwidth_);
    for (int64_t j = std::max<int64_t>(1, back - daily_halfwidth_); j <= last; ++j) {
      const double v = h[static_cast<size_t>(n - j)];
      above += v >= x;
      below += v <= x;
      ++m;
    }
  }
  const double count = static_cast<double>(m + 1);
  // Too few samples to resolve the gate: no evidence either way, the gate passes.
  if (1 - 2 / count < o_.likelihood_daily_gate) return 1;
  const double q = 2 * static_cast<double>(1 + std::min(above, below)) / count;
  return 1 - std::min(1.0, q);
}

void ConformalDetector::PushSurprise(int64_t quantum) {
  surprise_.push_back(quantum);
  surprise_sum_ += quantum;
  surprise_sum_sq_ += absl::int128(quantum) * quantum;
  if (surprise_.size() > static_cast<size_t>(o_.long_window)) {
    const int64_t old = surprise_.front();
    surprise_.pop_front();
    surprise_sum_ -= old;
    surprise_sum_sq_ -= absl::int128(old) * old;
  }
}

bool ConformalDetector::NoveltyKnown(size_t history_size) const {
  return history_size >= 30 &&
         (o_.novelty_weight > 0 || o_.likelihood_gate > 0 || o_.context_gate > 0);
}

double ConformalDetector::Outside(std::span<const double> sorted, double x) const {
  // A value already in the window has an exact rank; the tail fit, which extrapolates between
  // and beyond the samples, would call a repeat of a past extreme rarer than its rank says.
  const auto first = std::lower_bound(sorted.begin(), sorted.end(), x);
  double up, lo;
  if (first != sorted.end() && *first == x) {
    const double count = static_cast<double>(sorted.size() + 1);
    up = static_cast<double>(1 + (sorted.end() - first)) / count;
    lo = static_cast<double>(1 + (std::upper_bound(first, sorted.end(), x) - sorted.begin())) /
         count;
  } else {
    up = UpperTailPValue(sorted, x, o_.tail_fraction);
    lo = LowerTailPValue(sorted, x, o_.tail_fraction);
  }
  return 1 - std::min(1.0, 2 * std::min(up, lo));
}

bool ConformalDetector::TrackExtreme(int64_t step, double x, double outside,
                                     std::span<const double> sorted) {
  // A recurring extreme (same interval, same side, no larger) is routine. Steps within two of
  // the last extreme step continue its event.
  if (!(o_.recurrence_tolerance > 0 && outside >= 0.99)) return false;
  if (step - last_extreme_step_ > 2) {
    const double excess = x - sorted[sorted.size() / 2];
    std::deque<Extreme>& events = extremes_[excess >= 0 ? 1 : 0];
    extreme_recurrent_ = false;
    if (!events.empty()) {
      // The time since the last extreme event on this side against the intervals between the
      // remembered ones; and this one's distance from the median against theirs.
      const double gap = static_cast<double>(step - events.back().step);
      int matches = 0;
      double farthest = 0;
      for (size_t i = 0; i < events.size(); ++i) {
        farthest = std::max(farthest, std::fabs(events[i].excess));
        if (i == 0) continue;
        const double interval = static_cast<double>(events[i].step - events[i - 1].step);
        if (std::fabs(gap - interval) <= o_.recurrence_tolerance * interval) ++matches;
      }
      extreme_recurrent_ = matches >= o_.recurrence_count &&
                           std::fabs(excess) <= (1 + o_.recurrence_tolerance) * farthest;
    }
    constexpr size_t kRemembered = 9;  // Extreme events kept per side: eight intervals.
    events.push_back({step, excess});
    if (events.size() > kRemembered) events.pop_front();
  }
  last_extreme_step_ = step;
  return extreme_recurrent_;
}

AnomalyResult ConformalDetector::Observe(double x) {
  AnomalyResult out;
  if (!std::isfinite(x)) return out;  // Missing: no score, no state change.
  ++seen_;
  if (values_.empty()) {
    values_.push_back(x);
    return out;
  }

  // 1. Prediction and residual.
  std::vector<double>& scratch = scratch_;
  scratch.assign(values_.begin(), values_.end());
  const double predicted = MedianInPlace(scratch);
  const double residual = x - predicted;

  // 2. Robust scale: MAD of recent residuals (kept sorted, so it costs O(spread_window / 2)),
  // floored so a constant series still scales.
  double mad = 0;
  if (residuals_.size() >= 2) {
    double center = 0;
    mad = 1.4826 * MedianAbsDeviation(residuals_.sorted(), &center);
  }
  const double spread = std::max(mad, 1e-9 * std::max(1.0, std::fabs(predicted)));
  const double scaled = residual / spread;
  const double magnitude = std::fabs(scaled);

  // Conformal p-value against past scaled residuals, with a fitted tail beyond the largest few.
  const size_t n = calibration_.size();
  const double p = UpperTailPValue(calibration_.sorted(), magnitude, o_.tail_fraction);
  const double point = n >= 30 ? o_.point_weight * (1 - p) : 0;

  // 3. Anomaly likelihood of the short-run mean surprise.
  // v is kept on a grid of 2^-16 as an integer, so the long-run sums are exact and O(1) to
  // update, and a restored detector's sums equal the original's bit for bit.
  const int64_t quantum = std::llround(-std::log(std::max(p, 1e-300)) * kSurpriseScale);
  PushSurprise(quantum);
  double likelihood = 0;
  if (surprise_.size() >= static_cast<size_t>(2 * o_.short_window)) {
    const auto n_long = static_cast<int64_t>(surprise_.size());
    const double mean =
        static_cast<double>(surprise_sum_) / static_cast<double>(n_long) / kSurpriseScale;
    // n² · var · scale² = n · Σq² − (Σq)², exact in 128 bits.
    const absl::int128 spread_sq =
        absl::int128(n_long) * surprise_sum_sq_ - absl::int128(surprise_sum_) * surprise_sum_;
    const double var = static_cast<double>(spread_sq) / static_cast<double>(n_long) /
                       static_cast<double>(n_long) / (kSurpriseScale * kSurpriseScale);
    const double sd = std::max(std::sqrt(std::max(var, 0.0)), 0.05);
    int64_t short_sum = 0;
    for (auto it = surprise_.end() - o_.short_window; it != surprise_.end(); ++it) short_sum += *it;
    const double short_mean = static_cast<double>(short_sum) / o_.short_window / kSurpriseScale;
    likelihood = NormalCdf((short_mean - mean) / sd);
  }

  // 4. Value novelty: two-sided rank of x among past values, with the same tail extrapolation.
  // outside = 1 − q_t is 0 at the median of the recent values and near 1 beyond their extremes;
  // it is also the gate of the likelihood and context terms (step 6). Nothing is known until the
  // history holds 30 values: no novelty, no gate.
  double outside = 1;
  double novelty = 0;
  if (NoveltyKnown(history_.size())) {
    outside = Outside(history_.sorted(), x);
    novelty = o_.novelty_weight * outside;
    if (TrackExtreme(seen_, x, outside, history_.sorted())) novelty = 0;
  }

  // 5. Sequence terms (context.h): the season and the novelty of the recent context.
  double seasonal = 0;
  if (season_) {
    seasonal = o_.season_weight * (1 - season_->Observe(x, history_.arrival()));
  }
  double contextual = 0;
  if (context_) {
    contextual = o_.context_weight * (1 - context_->Observe(x, history_.sorted()));
  }

  // 6. Gates, score, probation, refractory damping, flag and kind. A run of surprising residuals
  // or of new contexts counts only while the value itself is away from the bulk of recent values.
  if (outside < o_.context_gate) contextual = 0;
  if (outside < o_.likelihood_gate) likelihood = 0;
  // The daily profile (O(days × width)) is read only when the likelihood would set the score:
  // otherwise zeroing it changes neither the score nor the kind.
  if (o_.likelihood_daily_gate > 0 &&
      likelihood > std::max({point, novelty, seasonal, contextual}) &&
      OutsideDailyProfile(x) < o_.likelihood_daily_gate) {
    likelihood = 0;
  }
  double score = std::max({point, likelihood, novelty, seasonal, contextual});
  if (seen_ <= o_.probation) score = 0;
  if (since_flag_ >= 0) {
    if (since_flag_ < refractory_steps_) {
      score *= static_cast<double>(since_flag_) / static_cast<double>(refractory_steps_);
    }
    ++since_flag_;
  }
  out.score = std::clamp(score, 0.0, 1.0);
  out.flag = out.score >= o_.flag_threshold;
  if (out.flag) {
    since_flag_ = 0;
    if (std::max({point, novelty, seasonal, contextual}) >= likelihood) {
      // Against the season when one is in use, else against the local level.
      const double sign = season_ && season_->period() > 0 ? season_->last_residual() : residual;
      out.kind = sign >= 0 ? AnomalyKind::kSpike : AnomalyKind::kDip;
    } else {
      out.kind = AnomalyKind::kLevelShift;
    }
  }

  // State updates (after scoring: the score of x_t never uses x_t as its own reference).
  history_.Push(x);
  PushBounded(values_, x, static_cast<size_t>(o_.level_window));
  residuals_.Push(residual);
  calibration_.Push(magnitude);
  return out;
}

absl::Status WindowedGaussianOptions::Validate() const {
  if (window < 2)
    return absl::InvalidArgumentError(fmt::format("window = {}: must be >= 2", window));
  if (probation < 0) {
    return absl::InvalidArgumentError(fmt::format("probation = {}: must be >= 0", probation));
  }
  if (!(flag_threshold > 0 && flag_threshold <= 1)) {
    return absl::InvalidArgumentError(
        fmt::format("flag_threshold = {}: must be in (0, 1]", flag_threshold));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<WindowedGaussianDetector>> WindowedGaussianDetector::Create(
    const WindowedGaussianOptions& options) {
  if (absl::Status s = options.Validate(); !s.ok()) return s;
  return std::unique_ptr<WindowedGaussianDetector>(new WindowedGaussianDetector(options));
}

AnomalyResult WindowedGaussianDetector::Observe(double x) {
  AnomalyResult out;
  if (!std::isfinite(x)) return out;
  const size_t n = window_.size();
  if (n >= 2) {
    const double mean = sum_ / static_cast<double>(n);
    const double var = std::max(0.0, sum_sq_ / static_cast<double>(n) - mean * mean);
    const double sd = std::sqrt(var);
    double score;
    if (sd > 1e-12 * std::max(1.0, std::fabs(mean))) {
      score = std::erf(std::fabs(x - mean) / sd / std::sqrt(2.0));
    } else {
      score = x == mean ? 0 : 1;
    }
    out.score = n >= static_cast<size_t>(o_.probation) ? score : 0;
    out.flag = out.score >= o_.flag_threshold;
    if (out.flag) out.kind = x >= mean ? AnomalyKind::kSpike : AnomalyKind::kDip;
  }
  window_.push_back(x);
  sum_ += x;
  sum_sq_ += x * x;
  if (window_.size() > static_cast<size_t>(o_.window)) {
    sum_ -= window_.front();
    sum_sq_ -= window_.front() * window_.front();
    window_.pop_front();
  }
  return out;
}

absl::Status SetOption(ConformalDetectorOptions& o, std::string_view assignment) {
  const size_t eq = assignment.find('=');
  if (eq == std::string_view::npos) {
    return absl::InvalidArgumentError(
        fmt::format("detector option '{}': expected key=value", assignment));
  }
  const std::string key(assignment.substr(0, eq));
  const std::string text(assignment.substr(eq + 1));
  char* end = nullptr;
  const double value = std::strtod(text.c_str(), &end);
  if (end == text.c_str() || *end != '\0' || !std::isfinite(value)) {
    return absl::InvalidArgumentError(
        fmt::format("detector option {}: '{}' is not a number", key, text));
  }
  const int as_int = static_cast<int>(value);
  if (key == "level_window")
    o.level_window = as_int;
  else if (key == "spread_window")
    o.spread_window = as_int;
  else if (key == "calibration_window")
    o.calibration_window = as_int;
  else if (key == "short_window")
    o.short_window = as_int;
  else if (key == "long_window")
    o.long_window = as_int;
  else if (key == "probation")
    o.probation = as_int;
  else if (key == "flag_threshold")
    o.flag_threshold = value;
  else if (key == "refractory_seconds")
    o.refractory_seconds = value;
  else if (key == "step_seconds")
    o.step_seconds = value;
  else if (key == "history_window")
    o.history_window = as_int;
  else if (key == "tail_fraction")
    o.tail_fraction = value;
  else if (key == "novelty_weight")
    o.novelty_weight = value;
  else if (key == "point_weight")
    o.point_weight = value;
  else if (key == "likelihood_gate")
    o.likelihood_gate = value;
  else if (key == "likelihood_daily_gate")
    o.likelihood_daily_gate = value;
  else if (key == "daily_halfwidth_seconds")
    o.daily_halfwidth_seconds = value;
  else if (key == "context_gate")
    o.context_gate = value;
  else if (key == "season_weight")
    o.season_weight = value;
  else if (key == "season_min_acf")
    o.season_min_acf = value;
  else if (key == "season_max_period")
    o.season_max_period = as_int;
  else if (key == "season_run")
    o.season_run = as_int;
  else if (key == "context_weight")
    o.context_weight = value;
  else if (key == "context_bins")
    o.context_bins = as_int;
  else if (key == "context_order")
    o.context_order = as_int;
  else if (key == "context_window")
    o.context_window = as_int;
  else if (key == "context_run")
    o.context_run = as_int;
  else if (key == "recurrence_tolerance")
    o.recurrence_tolerance = value;
  else if (key == "recurrence_count")
    o.recurrence_count = as_int;
  else
    return absl::InvalidArgumentError(fmt::format("unknown detector option '{}'", key));
  return o.Validate();
}

double MeasureStepSeconds(std::span<const double> times) {
  const size_t n = std::min(times.size(), kStepSample + 1);
  if (n < 2) return 0;
  std::vector<double> steps;
  for (size_t i = 1; i < n; ++i) steps.push_back(times[i] - times[i - 1]);
  return MedianInPlace(steps);
}

absl::StatusOr<std::unique_ptr<Detector>> MakeDetector(std::string_view name,
                                                       const std::vector<std::string>& settings,
                                                       double step_seconds) {
  if (name == "conformal") {
    ConformalDetectorOptions options;
    if (step_seconds > 0) options.step_seconds = step_seconds;
    for (const std::string& s : settings) {
      if (absl::Status status = SetOption(options, s); !status.ok()) return status;
    }
    auto d = ConformalDetector::Create(options);
    if (!d.ok()) return d.status();
    return std::unique_ptr<Detector>(std::move(*d));
  }
  if (name == "windowed_gaussian") {
    auto d = WindowedGaussianDetector::Create({});
    if (!d.ok()) return d.status();
    return std::unique_ptr<Detector>(std::move(*d));
  }
  return absl::NotFoundError(
      fmt::format("unknown detector '{}': choose conformal or windowed_gaussian", name));
}

}  // namespace tidegate::anomaly
