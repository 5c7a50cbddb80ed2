#include "tidegate/server/planning.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>
#include <utility>

#include "fmt/format.h"
#include "tidegate/common/status.h"
#include "tidegate/forecast/forecaster.h"
#include "tidegate/forecast/horizons.h"
#include "tidegate/forecast/model_registry.h"
#include "tidegate/forecast/serialize.h"
#include "tidegate/history/exposition.h"
#include "tidegate/history/history_store.h"

namespace tidegate::server {
namespace {

constexpr Duration kHour = std::chrono::hours(1);
constexpr int kFineHorizon = 60;    // Steps of the fine model's forecast (1 h at 1 min).
constexpr int kCoarseHorizon = 24;  // Steps of the coarse model's forecast (1 d at 1 h).
constexpr int kMinCoarseSteps = 6;  // Hourly observations needed for a coarse model.
constexpr Duration kAnomalyRecent = std::chrono::minutes(5);
constexpr Duration kWorkBudget = std::chrono::seconds(2);  // Fits per RunModelWork call.

double Seconds(Duration d) { return std::chrono::duration<double>(d).count(); }

// Planner resource index of a config resource name (-1: not planned).
int ResourceIndex(std::string_view name) {
  if (name == "cpu_ms") return static_cast<int>(plan::Resource::kCpuMs);
  if (name == "mem_bytes") return static_cast<int>(plan::Resource::kMem);
  if (name == "io_read_bytes" || name == "io_write_bytes")
    return static_cast<int>(plan::Resource::kIo);
  if (name == "net_in_bytes" || name == "net_out_bytes")
    return static_cast<int>(plan::Resource::kNet);
  if (name == "requests") return static_cast<int>(plan::Resource::kRequests);
  return -1;
}

plan::ResourceVector CostVector(const std::map<std::string, double>& cost) {
  if (cost.empty()) return plan::RequestsOnly();
  plan::ResourceVector v{};
  for (const auto& [name, amount] : cost) {
    if (int i = ResourceIndex(name); i >= 0) v[static_cast<size_t>(i)] += amount;
  }
  return v;
}

plan::ResourceVector CapacityVector(const std::map<std::string, double>& capacity) {
  plan::ResourceVector v = plan::UnlimitedCapacity();
  std::array<bool, plan::kNumResources> set{};
  for (const auto& [name, amount] : capacity) {
    const int i = ResourceIndex(name);
    if (i < 0) continue;
    const auto u = static_cast<size_t>(i);
    v[u] = set[u] ? v[u] + amount : amount;
    set[u] = true;
  }
  return v;
}

uint64_t Fnv1a(std::string_view s, uint64_t h = 1469598103934665603ULL) {
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return h;
}

// Values of a query result on a regular grid [start, end) (absent buckets are 0: no requests).
std::vector<double> Grid(const std::vector<history::Point>& points, WallTime start, WallTime end,
                         Duration step) {
  std::vector<double> out(static_cast<size_t>((end - start) / step), 0.0);
  for (const history::Point& p : points) {
    if (p.time < start || p.time >= end) continue;
    out[static_cast<size_t>((p.time - start) / step)] = p.value;
  }
  return out;
}

HorizonSnapshot MakeHorizon(std::string name, const forecast::Forecast& f, int steps,
                            WallTime start, Duration step, double level) {
  HorizonSnapshot h;
  h.name = std::move(name);
  h.step = step;
  h.start = start;
  const forecast::PredictionInterval* in = f.Interval(level);
  const double per_s = 1 / Seconds(step);
  const int n = std::min(steps, f.horizon());
  for (int i = 0; i < n; ++i) {
    const auto u = static_cast<size_t>(i);
    // Demand is never negative: clamp, keeping lower <= mean <= upper.
    const double mean = std::max(0.0, f.mean[u] * per_s);
    const double lower = in ? std::clamp(in->lower[u] * per_s, 0.0, mean) : mean;
    const double upper = in ? std::max(in->upper[u] * per_s, mean) : mean;
    h.mean.push_back(mean);
    h.lower.push_back(lower);
    h.upper.push_back(upper);
  }
  return h;
}

// One adaptive conformal calibrator with the bookkeeping that keeps it aligned with the steps it
// is fed: `next` is the time of the value it expects next, so a jump (a refit moved the origin, a
// restore) ages its pending forecasts with missing values instead of scoring them against the
// wrong step.
struct Calibration {
  std::optional<forecast::AdaptiveConformal> aci;
  WallTime next{};
  std::optional<WallTime> recorded;  // Origin of the newest recorded forecast.

  void SkipTo(WallTime t, Duration step, int horizon) {
    if (!aci || t <= next) return;
    const int64_t gap = std::min<int64_t>((t - next) / step, horizon + 1);
    for (int64_t i = 0; i < gap; ++i) aci->Observe(std::numeric_limits<double>::quiet_NaN());
    next = t;
  }
  void Observe(WallTime t, double y, Duration step, int horizon) {
    if (!aci) return;
    SkipTo(t, step, horizon);
    if (t < next) return;  // Already seen (cannot be un-observed).
    aci->Observe(y);
    next = t + step;
  }
  // The calibrated version of `f`, issued at `origin`; records it for scoring when `record`.
  forecast::Forecast Calibrate(const forecast::Forecast& f, WallTime origin, Duration step,
                               int horizon, bool record) {
    if (!aci) return f;
    if (record && recorded != origin) {
      SkipTo(origin, step, horizon);
      if (origin == next && aci->Record(f).ok()) recorded = origin;
    }
    return aci->Calibrate(f);
  }
  std::optional<double> Coverage(double level, int step = 0) const {
    if (!aci) return std::nullopt;
    const double c = step > 0 ? aci->Coverage(level, step) : aci->Coverage(level);
    return std::isnan(c) ? std::nullopt : std::optional<double>(c);
  }
};

// Gives `cal` a fresh calibrator expecting its first value at `origin` unless it has one.
void EnsureCalibration(Calibration& cal, forecast::ConformalOptions options, int horizon,
                       WallTime origin) {
  if (cal.aci) return;
  options.horizon = horizon;
  absl::StatusOr<forecast::AdaptiveConformal> aci = forecast::AdaptiveConformal::Create(options);
  if (!aci.ok()) return;  // The options were validated by Planning::Create.
  cal.aci = *std::move(aci);
  cal.next = origin;
}

}  // namespace

std::string_view FitReasonName(FitReason r) {
  switch (r) {
    case FitReason::kNew:
      return "new";
    case FitReason::kSchedule:
      return "schedule";
    case FitReason::kDrift:
      return "drift";
    case FitReason::kConfig:
      return "config";
    case FitReason::kGap:
      return "gap";
  }
  return "new";
}

std::string_view ClassConditionName(ClassCondition c) {
  switch (c) {
    case ClassCondition::kOk:
      return "ok";
    case ClassCondition::kThrottled:
      return "throttled";
    case ClassCondition::kSurge:
      return "surge";
    case ClassCondition::kAnomaly:
      return "anomaly";
  }
  return "ok";
}

const HorizonSnapshot* ClassForecastSnapshot::Horizon(std::string_view name) const {
  for (const HorizonSnapshot& h : horizons) {
    if (h.name == name) return &h;
  }
  return nullptr;
}

// One class's models (worker-owned, under work_mu_).
struct Planning::ModelState {
  std::string key;
  std::string canonical;
  history::SeriesKey series;
  std::string model_name = "auto";  // Requested (predict.model).
  std::unique_ptr<forecast::Forecaster> fine;
  std::unique_ptr<forecast::Forecaster> coarse;
  std::string spec;
  WallTime trained_at{};
  WallTime fine_next{};    // Start of the next fine step to feed.
  WallTime coarse_next{};  // Start of the next hour to feed.
  std::unique_ptr<anomaly::ConformalDetector> detector;
  bool needs_fit = true;
  FitReason fit_reason = FitReason::kNew;  // Of the pending fit (needs_fit) ...
  FitReason fitted_for = FitReason::kNew;  // ... and of the current model.
  int64_t drift_refits = 0;
  std::optional<WallTime> last_drift_at;
  WallTime retry_at{};
  // The calibrated one-step-ahead forecast of fine_next in model units (requests per step):
  // mean, lower, upper.
  std::optional<std::array<double, 3>> next_pred;
  Calibration fine_cal, coarse_cal;
  double last_actual_per_s = 0;
  std::optional<double> abs_error_per_s;
  std::optional<WallTime> last_step;
  anomaly::AnomalyResult last_result;
  std::optional<WallTime> last_anomaly_at;
  WallTime cost_learned_at{};
};

struct Planning::PlanRecord {
  std::deque<PlanPoint> points;
  PlanPoint current;
  int tier = 0;
};

absl::StatusOr<std::unique_ptr<Planning>> Planning::Create(Service& service,
                                                           PlanningOptions options) {
  const std::shared_ptr<const Config> config = service.config();
  const Duration store_step = service.aggregator().options().step;
  if (options.model_step <= Duration::zero() ||
      options.model_step % store_step != Duration::zero() ||
      kHour % options.model_step != Duration::zero()) {
    return absl::InvalidArgumentError(fmt::format(
        "planning.model_step: {} s must be a multiple of store.step ({} s) dividing one hour",
        Seconds(options.model_step), Seconds(store_step)));
  }
  if (options.fit_window < options.model_step * options.min_fit_steps) {
    return absl::InvalidArgumentError("planning.fit_window: shorter than min_fit_steps steps");
  }
  if (!(options.level > 0 && options.level < 100)) {
    return absl::InvalidArgumentError(
        fmt::format("planning.level: {} is not in (0, 100)", options.level));
  }
  if (!(options.reserve_fraction >= 0 && options.reserve_fraction < 1)) {
    return absl::InvalidArgumentError(
        fmt::format("planning.reserve_fraction: {} is not in [0, 1)", options.reserve_fraction));
  }
  TIDEGATE_RETURN_IF_ERROR(options.feedback.Validate());
  options.detector.step_seconds = Seconds(options.model_step);  // The detector sees fine steps.
  TIDEGATE_RETURN_IF_ERROR(options.detector.Validate());
  TIDEGATE_ASSIGN_OR_RETURN(learn::DriftDetector drift,
                            learn::DriftDetector::Create(options.drift));
  if (options.drift_cooldown < Duration::zero()) {
    return absl::InvalidArgumentError("planning.drift_cooldown: must not be negative");
  }
  if (options.fine_calibration_stride < 1 || options.fine_calibration_stride > kFineHorizon) {
    return absl::InvalidArgumentError(
        fmt::format("planning.fine_calibration_stride: {} is not in [1, {}]",
                    options.fine_calibration_stride, kFineHorizon));
  }
  options.calibration.levels = {options.level};
  for (int horizon : {kFineHorizon, kCoarseHorizon}) {
    forecast::ConformalOptions c = options.calibration;
    c.horizon = horizon;
    TIDEGATE_RETURN_IF_ERROR(c.Validate());
  }
  TIDEGATE_ASSIGN_OR_RETURN(CronSchedule schedule, CronSchedule::Parse(config->schedule.training));
  return std::unique_ptr<Planning>(
      new Planning(service, std::move(options), std::move(schedule), std::move(drift)));
}

Planning::Planning(Service& service, PlanningOptions options, CronSchedule schedule,
                   learn::DriftDetector drift)
    : service_(service),
      options_(std::move(options)),
      schedule_(std::move(schedule)),
      drift_(std::move(drift)) {}

void Planning::MarkForFit(ModelState& m, FitReason reason, WallTime not_before) {
  // A class without a model is always fitted as "new", whatever asked for it.
  m.fit_reason = m.fine ? reason : FitReason::kNew;
  m.needs_fit = true;
  m.retry_at = not_before;
}

Planning::~Planning() { Stop(); }

void Planning::Log(const std::string& line) const {
  if (options_.log) options_.log(line);
}

void Planning::Start() {
  std::lock_guard guard(worker_mu_);
  if (worker_.joinable()) return;
  stop_ = false;
  stopping_.store(false, std::memory_order_relaxed);
  if (!options_.lstm_path.empty()) {
    // Training rounds take minutes: they run here, never on the model worker or the tick.
    learner_ = std::thread([this] {
      std::unique_lock lock(worker_mu_);
      while (!stop_) {
        lock.unlock();
        RunLearningWork();
        lock.lock();
        worker_cv_.wait_for(lock, std::chrono::seconds(5), [this] { return stop_; });
      }
    });
  }
  worker_ = std::thread([this] {
    std::unique_lock lock(worker_mu_);
    while (!stop_) {
      lock.unlock();
      RunModelWork(true);
      lock.lock();
      // Pacing only (the models read time from the service's clock).
      worker_cv_.wait_for(lock, std::chrono::seconds(1), [this] { return stop_; });
    }
  });
}

void Planning::Stop() {
  {
    std::lock_guard lock(worker_mu_);
    stop_ = true;
  }
  stopping_.store(true, std::memory_order_relaxed);  // Cancels a training round in progress.
  worker_cv_.notify_all();
  if (worker_.joinable()) worker_.join();
  if (learner_.joinable()) learner_.join();
}

void Planning::RequestTraining() { training_requested_.store(true, std::memory_order_release); }

void Planning::SyncClasses(std::shared_ptr<const std::vector<PlanningClass>> snapshot) {
  if (snapshot == synced_classes_) return;  // Nothing a model depends on changed.
  synced_classes_ = snapshot;
  const std::vector<PlanningClass>& classes = *snapshot;
  std::set<std::string> present;
  for (const PlanningClass& c : classes) {
    present.insert(c.key);
    auto& m = models_[c.key];
    if (!m) {
      m = std::make_unique<ModelState>();
      m->key = c.key;
      m->canonical = c.canonical;
      m->series = {std::string(history::kMetricRequests), c.tenant, c.series_class};
    }
    const std::string wanted = c.predict ? c.predict->model : PredictSpec{}.model;
    if (m->model_name != wanted) {
      m->model_name = wanted;
      MarkForFit(*m, FitReason::kConfig);  // The configured model changed.
    }
  }
  for (auto it = models_.begin(); it != models_.end();) {
    if (present.count(it->first)) {
      ++it;
      continue;
    }
    {
      std::lock_guard lock(snap_mu_);
      forecasts_.erase(it->first);
      feedback_.erase(it->first);
      costs_.erase(it->first);
    }
    drift_.Erase(it->first);
    it = models_.erase(it);
  }
}

void Planning::RunModelWork(bool fits) {
  std::lock_guard work(work_mu_);
  Clock& clock = service_.clock();
  const WallTime now = clock.WallNow();
  SyncClasses(service_.PlanningClasses());
  // A new global LSTM (trained or fine-tuned): refit the classes it serves (cheap: the adapter
  // only normalises the series).
  if (const uint64_t gen = lstm_generation_.load(std::memory_order_acquire);
      gen != lstm_generation_seen_) {
    lstm_generation_seen_ = gen;
    for (auto& [key, m] : models_) {
      if (m->model_name == "lstm") MarkForFit(*m, FitReason::kSchedule);
    }
  }

  if (!next_training_) next_training_ = schedule_.Next(now);
  bool training = training_requested_.exchange(false, std::memory_order_acq_rel);
  if (next_training_ && now >= *next_training_) {
    training = true;
    next_training_ = schedule_.Next(now);
  }
  if (training) {
    Log(fmt::format("training: refitting {} classes", models_.size()));
    for (auto& [key, m] : models_) MarkForFit(*m, FitReason::kSchedule);
  }

  for (auto& [key, m] : models_) CatchUp(*m, now);
  if (!fits) return;

  const MonoTime started = clock.Now();
  int fitted = 0;
  for (auto& [key, m] : models_) {
    if (!m->needs_fit || m->retry_at > now) continue;
    {
      std::lock_guard stop(worker_mu_);
      if (stop_) break;  // Shutting down: the remaining fits wait for the next start.
    }
    if (clock.Now() - started > kWorkBudget && fitted > 0) break;  // Let catch-up run first.
    const MonoTime t0 = clock.Now();
    absl::Status s = Fit(*m, now);
    last_fit_seconds_.store(Seconds(clock.Now() - t0), std::memory_order_relaxed);
    ++fitted;
    if (s.ok()) {
      fits_ok_.fetch_add(1, std::memory_order_relaxed);
      refits_[static_cast<size_t>(m->fitted_for)].fetch_add(1, std::memory_order_relaxed);
    } else {
      fits_failed_.fetch_add(1, std::memory_order_relaxed);
      Log(fmt::format("class {}: no model ({}); it keeps its configured limit", key,
                      std::string(s.message())));
    }
  }
  if (fitted > 0) {
    last_training_seconds_.store(Seconds(clock.Now() - started), std::memory_order_relaxed);
  }
}

absl::Status Planning::Fit(ModelState& m, WallTime now) {
  history::HistoryStore& store = service_.store();
  const Duration step = options_.model_step;
  const FitReason reason = m.fit_reason;
  m.needs_fit = false;
  m.retry_at = now + kHour;  // Unless the fit succeeds, try again in an hour.
  drift_.Reset(m.key);       // The CUSUM judges the next model afresh.
  const WallTime end = history::AlignDown(now - options_.settle_delay, step);
  TIDEGATE_ASSIGN_OR_RETURN(
      std::vector<history::Point> points,
      store.Query(m.series, end - options_.fit_window, end, step, history::Aggregation::kSum));
  if (static_cast<int>(points.size()) < options_.min_fit_steps) {
    return absl::FailedPreconditionError(fmt::format("{} of the needed {} steps of demand history",
                                                     points.size(), options_.min_fit_steps));
  }
  forecast::Series series;
  series.start = points.front().time;
  series.step = step;
  series.values = Grid(points, series.start, end, step);
  series.seasonal_periods = forecast::CalendarPeriods(step, series.size());

  std::string name = m.model_name;
  forecast::ModelContext context;
  if (name == "lstm") {
    if (std::shared_ptr<const learn::LstmModel> lstm = CurrentLstm()) {
      context = learn::LstmContext(std::move(lstm));
    } else {
      Log(fmt::format("class {}: the global LSTM is not trained yet ({}); using auto until it is",
                      m.key, Lstm().state));
      name = "auto";
    }
  }
  absl::StatusOr<std::unique_ptr<forecast::Forecaster>> fine =
      forecast::MakeForecaster(name, context);
  if (!fine.ok()) {
    Log(fmt::format("class {}: model '{}' is not available ({}); using auto", m.key, name,
                    std::string(fine.status().message())));
    name = "auto";
    TIDEGATE_ASSIGN_OR_RETURN(fine, forecast::MakeForecaster(name));
  }
  TIDEGATE_RETURN_IF_ERROR((*fine)->Fit(series));

  // The coarse model, on whole hours.
  std::unique_ptr<forecast::Forecaster> coarse;
  const WallTime end_h = history::AlignDown(now - options_.settle_delay, kHour);
  absl::StatusOr<std::vector<history::Point>> hours = store.Query(
      m.series, end_h - options_.coarse_window, end_h, kHour, history::Aggregation::kSum);
  if (hours.ok() && static_cast<int>(hours->size()) >= kMinCoarseSteps) {
    forecast::Series hs;
    hs.start = hours->front().time;
    hs.step = kHour;
    hs.values = Grid(*hours, hs.start, end_h, kHour);
    hs.seasonal_periods = forecast::CalendarPeriods(kHour, hs.size());
    // The LSTM is trained on minute data; the hourly model of its classes is auto's.
    absl::StatusOr<std::unique_ptr<forecast::Forecaster>> c =
        forecast::MakeForecaster(name == "lstm" ? "auto" : name);
    if (c.ok() && (*c)->Fit(hs).ok()) coarse = *std::move(c);
  }

  TIDEGATE_RETURN_IF_ERROR(WarmDetector(m, series.values, series.start));
  const forecast::FitSummary summary = (*fine)->Summary();
  m.spec = summary.spec.empty() ? summary.model : summary.spec;
  if (!summary.fallback.empty()) m.spec += " (" + summary.fallback + ")";
  m.fine = *std::move(fine);
  m.coarse = std::move(coarse);
  m.trained_at = now;
  m.fine_next = end;
  m.coarse_next = end_h;
  m.retry_at = {};
  m.next_pred.reset();
  m.fitted_for = reason;
  if (reason == FitReason::kDrift) ++m.drift_refits;
  // The calibrators outlive refits: their scores are relative to the model's own half-widths,
  // and a new model of the same class errs much as the old one did.
  EnsureCalibration(m.fine_cal, options_.calibration, kFineHorizon, end);
  EnsureCalibration(m.coarse_cal, options_.calibration, kCoarseHorizon, end_h);
  LearnCost(m, now);
  Publish(m);
  Log(fmt::format("class {}: trained {} on {} steps (reason: {})", m.key, m.spec, series.size(),
                  FitReasonName(reason)));
  return absl::OkStatus();
}

absl::Status Planning::WarmDetector(ModelState& m, const std::vector<double>& values,
                                    WallTime start) {
  // A fresh detector, warmed on the last day of the series (flags found there are anomalies of
  // the recent past and are recorded, once).
  TIDEGATE_ASSIGN_OR_RETURN(std::unique_ptr<anomaly::ConformalDetector> detector,
                            anomaly::ConformalDetector::Create(options_.detector));
  const Duration step = options_.model_step;
  const size_t warm = std::min<size_t>(values.size(), 1440);
  const double per_s = 1 / Seconds(step);
  std::vector<AnomalyEvent> found;
  for (size_t i = values.size() - warm; i < values.size(); ++i) {
    const anomaly::AnomalyResult r = detector->Observe(values[i] * per_s);
    if (r.flag) {
      found.push_back(
          {m.key, start + step * static_cast<int64_t>(i), values[i] * per_s, r.score, r.kind});
    }
  }
  m.detector = std::move(detector);
  std::lock_guard lock(snap_mu_);
  auto& list = anomalies_[m.key];
  for (AnomalyEvent& e : found) {
    const bool known =
        std::any_of(list.begin(), list.end(), [&](const AnomalyEvent& a) { return a.t == e.t; });
    if (known) continue;
    auto at = std::upper_bound(list.begin(), list.end(), e.t,
                               [](WallTime t, const AnomalyEvent& a) { return t < a.t; });
    list.insert(at, std::move(e));
    while (list.size() > options_.anomaly_history) list.pop_front();
  }
  return absl::OkStatus();
}

void Planning::LearnCost(ModelState& m, WallTime now) {
  // Per-request cost = resource sums / requests over the last day of usage reports. Only the
  // resources with reported usage count; none reported: the configured cost stays.
  m.cost_learned_at = now;
  history::HistoryStore& store = service_.store();
  const WallTime end = history::AlignDown(now, kHour);
  const WallTime start = end - std::chrono::hours(24);
  auto total = [&](std::string_view metric) -> double {
    history::SeriesKey k = m.series;
    k.metric = std::string(metric);
    absl::StatusOr<std::vector<history::Point>> p =
        store.Query(k, start, end, end - start, history::Aggregation::kSum);
    return p.ok() && !p->empty() ? p->front().value : 0;
  };
  const double requests = total(history::kMetricRequests);
  if (requests <= 0) return;
  plan::ResourceVector cost{};
  bool any = false;
  for (std::string_view metric :
       {history::kMetricCpuMs, history::kMetricMemBytes, history::kMetricIoReadBytes,
        history::kMetricIoWriteBytes, history::kMetricNetInBytes, history::kMetricNetOutBytes}) {
    const double sum = total(metric);
    if (sum <= 0) continue;
    cost[static_cast<size_t>(ResourceIndex(metric))] += sum / requests;
    any = true;
  }
  if (!any) return;
  cost[static_cast<size_t>(plan::Resource::kRequests)] = 1;
  std::lock_guard lock(snap_mu_);
  costs_[m.key] = cost;
}

void Planning::CatchUp(ModelState& m, WallTime now) {
  // A pending fit that is due replaces the model this pass; one deferred by the drift cooldown
  // leaves the current model serving (and catching up) until then.
  if (!m.fine || (m.needs_fit && m.retry_at <= now)) return;
  history::HistoryStore& store = service_.store();
  if (!m.detector) {  // Restored model: warm a detector on the day before its next step.
    const Duration step = options_.model_step;
    absl::StatusOr<std::vector<history::Point>> day =
        store.Query(m.series, m.fine_next - std::chrono::hours(24), m.fine_next, step,
                    history::Aggregation::kSum);
    const WallTime start = day.ok() && !day->empty() ? day->front().time : m.fine_next;
    if (!WarmDetector(m, day.ok() ? Grid(*day, start, m.fine_next, step) : std::vector<double>{},
                      start)
             .ok()) {
      return;
    }
  }
  const Duration step = options_.model_step;
  const WallTime end = history::AlignDown(now - options_.settle_delay, step);
  bool changed = false;
  if (end > m.fine_next) {
    if (end - m.fine_next > options_.fit_window) {
      MarkForFit(m, FitReason::kGap);  // Too far behind (the daemon was down): refit instead.
      return;
    }
    absl::StatusOr<std::vector<history::Point>> points =
        store.Query(m.series, m.fine_next, end, step, history::Aggregation::kSum);
    if (!points.ok()) return;  // The store is unavailable: try again next time.
    const std::vector<double> values = Grid(*points, m.fine_next, end, step);
    const double per_s = 1 / Seconds(step);
    double planned = 0;
    {
      std::lock_guard lock(plan_mu_);
      if (auto it = plans_.find(m.key); it != plans_.end())
        planned = it->second->current.rate_per_s;
    }
    for (size_t i = 0; i < values.size(); ++i) {
      const WallTime t = m.fine_next + step * static_cast<int64_t>(i);
      const double actual = values[i] * per_s;
      const anomaly::AnomalyResult r = m.detector->Observe(actual);
      m.fine_cal.Observe(t, values[i], step, kFineHorizon);
      ObserveDrift(m, t, values[i], now);
      std::optional<double> error;
      {
        std::lock_guard lock(snap_mu_);
        if (m.next_pred) {
          // Demand's domain, per second, as published (MakeHorizon).
          const double mean = std::max(0.0, (*m.next_pred)[0] * per_s);
          const double lower = std::clamp((*m.next_pred)[1] * per_s, 0.0, mean);
          const double upper = std::max((*m.next_pred)[2] * per_s, mean);
          error = std::abs(actual - mean);
          plan::Observation obs{actual, mean, lower, upper, planned, r.flag};
          (void)plan::UpdateFeedback(options_.feedback, obs, &feedback_[m.key]);
        }
        if (r.flag) {
          auto& list = anomalies_[m.key];
          list.push_back({m.key, t, actual, r.score, r.kind});
          while (list.size() > options_.anomaly_history) list.pop_front();
          ++anomaly_counts_[{m.key, static_cast<int>(r.kind)}];
        }
      }
      m.next_pred.reset();  // Only the first step of a catch-up has its one-step forecast.
      if (!m.fine->Update(values[i]).ok()) {
        MarkForFit(m, FitReason::kGap);
        return;
      }
      m.abs_error_per_s = error;
      m.last_actual_per_s = actual;
      m.last_step = t;
      m.last_result = r;
      if (r.flag) m.last_anomaly_at = t;
    }
    m.fine_next = end;
    changed = true;
  }
  const WallTime end_h = history::AlignDown(now - options_.settle_delay, kHour);
  if (m.coarse && end_h > m.coarse_next) {
    absl::StatusOr<std::vector<history::Point>> hours =
        store.Query(m.series, m.coarse_next, end_h, kHour, history::Aggregation::kSum);
    if (hours.ok()) {
      bool ok = true;
      WallTime t = m.coarse_next;
      for (double v : Grid(*hours, m.coarse_next, end_h, kHour)) {
        m.coarse_cal.Observe(t, v, kHour, kCoarseHorizon);
        t += kHour;
        ok = ok && m.coarse->Update(v).ok();
      }
      if (!ok) m.coarse.reset();
      m.coarse_next = end_h;
      changed = true;
    }
  }
  if (changed) Publish(m);
  if (now - m.cost_learned_at >= kHour) LearnCost(m, now);
}

void Planning::ObserveDrift(ModelState& m, WallTime t, double value, WallTime now) {
  if (!m.next_pred) return;  // No one-step forecast for this step (the middle of a catch-up).
  const auto& [mean, lower, upper] = *m.next_pred;
  // Scale from the calibrated interval, floored at the Poisson noise of a count (sqrt of the
  // mean): a model cannot know a request count more precisely than that, and a zero-width
  // interval (a constant history) would otherwise turn every error into an alarm.
  const double z = forecast::NormalQuantile(0.5 + options_.level / 200);
  const double scale = std::max((upper - lower) / (2 * z), std::sqrt(std::max(1.0, mean)));
  absl::StatusOr<bool> fired = drift_.Observe(m.key, value, mean, scale);
  if (!fired.ok() || !*fired) return;
  const learn::DriftState st = drift_.State(m.key);
  m.last_drift_at = t;
  const WallTime not_before = std::max(now, m.trained_at + options_.drift_cooldown);
  Log(fmt::format(
      "class {}: forecast errors drifted at {} (CUSUM g+ {:.1f}, g- {:.1f} after {} steps); "
      "refit {}",
      m.key, history::FormatWallTime(t), st.g_pos, st.g_neg, st.observations,
      not_before > now ? "after the cooldown, at " + history::FormatWallTime(not_before)
                       : std::string("at the next model-work pass")));
  MarkForFit(m, FitReason::kDrift, not_before > now ? not_before : WallTime{});
}

void Planning::Publish(ModelState& m) {
  auto snap = std::make_shared<ClassForecastSnapshot>();
  snap->key = m.key;
  snap->level = options_.level;
  const double levels[] = {options_.level};
  if (m.fine) {
    snap->model = std::string(m.fine->Name());
    snap->spec = m.spec;
    snap->trained_at = m.trained_at;
    snap->fit_reason = m.fitted_for;
    snap->drift_refits = m.drift_refits;
    snap->last_drift_at = m.last_drift_at;
    const Duration step = options_.model_step;
    absl::StatusOr<forecast::Forecast> f = m.fine->Predict(kFineHorizon, levels);
    if (f.ok()) {
      // Every stride-th origin is recorded for scoring (bounded memory, see PlanningOptions).
      const bool record =
          (m.fine_next.time_since_epoch() / step) % options_.fine_calibration_stride == 0;
      const forecast::Forecast c =
          m.fine_cal.Calibrate(*f, m.fine_next, step, kFineHorizon, record);
      snap->horizons.push_back(MakeHorizon("1m", c, 1, m.fine_next, step, options_.level));
      snap->horizons.back().coverage = m.fine_cal.Coverage(options_.level, 1);
      snap->horizons.push_back(
          MakeHorizon("1h", c, kFineHorizon, m.fine_next, step, options_.level));
      snap->horizons.back().coverage = m.fine_cal.Coverage(options_.level);
      const forecast::PredictionInterval* in = c.Interval(options_.level);
      if (c.horizon() > 0) {
        m.next_pred = std::array<double, 3>{c.mean[0], in ? in->lower[0] : c.mean[0],
                                            in ? in->upper[0] : c.mean[0]};
      }
    }
  }
  if (m.coarse) {
    absl::StatusOr<forecast::Forecast> f = m.coarse->Predict(kCoarseHorizon, levels);
    if (f.ok()) {
      const forecast::Forecast c =
          m.coarse_cal.Calibrate(*f, m.coarse_next, kHour, kCoarseHorizon, /*record=*/true);
      snap->horizons.push_back(
          MakeHorizon("1d", c, kCoarseHorizon, m.coarse_next, kHour, options_.level));
      snap->horizons.back().coverage = m.coarse_cal.Coverage(options_.level);
    }
  }
  snap->last_step = m.last_step;
  snap->last_actual_per_s = m.last_actual_per_s;
  snap->abs_error_per_s = m.abs_error_per_s;
  snap->anomaly = m.last_result.flag;
  snap->anomaly_kind = m.last_result.kind;
  snap->anomaly_score = m.last_result.score;
  snap->last_anomaly_at = m.last_anomaly_at;
  std::lock_guard lock(snap_mu_);
  forecasts_[m.key] = std::move(snap);
}

void Planning::InjectForecast(std::shared_ptr<const ClassForecastSnapshot> snapshot) {
  std::lock_guard lock(snap_mu_);
  forecasts_[snapshot->key] = std::move(snapshot);
}

absl::Status Planning::Tick() {
  Clock& clock = service_.clock();
  const MonoTime t0 = clock.Now();
  const WallTime wall = clock.WallNow();
  const std::shared_ptr<const std::vector<PlanningClass>> snapshot = service_.PlanningClasses();
  const std::vector<PlanningClass>& classes = *snapshot;
  const std::shared_ptr<const Config> config = service_.config();

  // Rebuild the planner when the configuration or the class list changed (an override or a
  // request's limit also gives a new snapshot, with the same signature).
  std::string signature = planner_signature_;
  if (snapshot != signed_classes_) {
    signed_classes_ = snapshot;
    uint64_t h = Fnv1a(config->version);
    for (const PlanningClass& c : classes) h = Fnv1a(c.key, Fnv1a("\n", h));
    signature = fmt::format("{}:{:x}", classes.size(), h);
  }
  if (signature != planner_signature_) {
    planner_signature_ = signature;
    plan::PlannerConfig pc;
    pc.capacity = CapacityVector(config->capacity);
    pc.reserve_fraction = options_.reserve_fraction;
    pc.feedback = options_.feedback;
    std::set<std::string> tenants;
    for (const PlanningClass& c : classes) tenants.insert(c.tenant);
    for (const std::string& t : tenants) {
      plan::TenantConfig tc;
      tc.name = t;
      if (const TenantSpec* spec = config->FindTenant(t); spec != nullptr && spec->quota) {
        tc.quota[static_cast<size_t>(plan::Resource::kRequests)] = spec->quota->rate_per_s();
      }
      pc.tenants.push_back(std::move(tc));
    }
    for (const PlanningClass& c : classes) {
      const PredictSpec predict = c.predict.value_or(PredictSpec{});
      plan::ClassConfig cc;
      cc.name = c.key;
      cc.tenant = c.tenant;
      cc.tier = std::clamp(c.priority, 0, plan::kMaxTiers - 1);
      cc.weight = c.weight;
      cc.floor_per_s = c.floor_per_s;
      cc.ceiling_per_s = c.ceiling_per_s.value_or(plan::kUnlimited);
      cc.static_rate_per_s = c.static_config.rate_per_s;
      cc.static_size = c.static_config.size;
      cc.margin = predict.margin;
      cc.lead_time = predict.lead_time;
      cc.base_burst = predict.base_burst > 0 ? predict.base_burst : c.static_config.size;
      // A wide interval may buy up to ten base bursts (the configured size at least).
      cc.max_burst = std::max(10 * cc.base_burst, c.static_config.size);
      cc.min_burst = std::min(cc.min_burst, cc.base_burst);
      cc.cost = CostVector(c.cost);
      pc.classes.push_back(std::move(cc));
    }
    absl::StatusOr<plan::Planner> planner = plan::Planner::Create(std::move(pc));
    if (!planner.ok()) {
      planner_.reset();
      Log(fmt::format("planner disabled, classes keep their configured limits: {}",
                      std::string(planner.status().message())));
      for (const PlanningClass& c : classes) (void)service_.ApplyPlan(c.canonical, std::nullopt);
      return planner.status();
    }
    planner_ = *std::move(planner);
  }
  if (!planner_) return absl::FailedPreconditionError("planner disabled (see the log)");

  std::vector<plan::ClassInput> inputs(classes.size());
  std::vector<plan::FeedbackState> feedback(classes.size());
  {
    std::lock_guard lock(snap_mu_);
    for (size_t i = 0; i < classes.size(); ++i) {
      const std::string& key = classes[i].key;
      if (auto it = feedback_.find(key); it != feedback_.end()) feedback[i] = it->second;
      if (auto it = costs_.find(key); it != costs_.end()) inputs[i].cost = it->second;
      auto it = forecasts_.find(key);
      if (it == forecasts_.end()) continue;
      const HorizonSnapshot* hz = it->second->Horizon("1h");
      if (hz == nullptr || hz->mean.empty()) continue;
      plan::DemandForecast f;
      f.origin = t0 + (hz->start - wall);
      f.step = hz->step;
      f.level = it->second->level;
      f.mean = hz->mean;
      f.lower = hz->lower;
      f.upper = hz->upper;
      inputs[i].forecast = std::move(f);
    }
  }
  TIDEGATE_ASSIGN_OR_RETURN(plan::Plan plan, planner_->MakePlan(inputs, feedback, t0));

  TickInfo info;
  info.t = wall;
  info.classes = plan.stats.classes;
  info.fallbacks = plan.stats.fallbacks;
  info.committed = plan.stats.committed;
  info.capacity = planner_->config().capacity;
  info.reserve_fraction = planner_->config().reserve_fraction;
  std::vector<PlanPoint> points(classes.size());
  for (size_t i = 0; i < classes.size(); ++i) {
    const plan::ClassPlan& cp = plan.classes[i];
    const bool forecast = cp.why.reason == plan::Reason::kForecast;
    std::optional<shaping::BucketConfig> bucket;
    if (forecast) bucket = plan::ToBucketConfig(cp);
    if (absl::Status s = service_.ApplyPlan(classes[i].canonical, bucket); !s.ok()) {
      Log(fmt::format("class {}: plan not applied: {}", classes[i].key, std::string(s.message())));
    }
    PlanPoint& p = points[i];
    p.t = wall;
    p.rate_per_s = bucket ? bucket->rate_per_s : cp.rate_per_s;
    p.size = bucket ? bucket->size : cp.size;
    p.applied = forecast && !classes[i].has_override && !classes[i].has_request_limit;
    p.why = cp.why;
    const plan::ResourceVector cost = cp.why.learned_cost && inputs[i].cost
                                          ? *inputs[i].cost
                                          : planner_->config().classes[i].cost;
    for (int r = 0; r < plan::kNumResources; ++r) {
      info.committed_by_tier[static_cast<size_t>(cp.why.tier)][static_cast<size_t>(r)] +=
          cp.rate_per_s * cost[static_cast<size_t>(r)];
    }
  }
  info.duration_ms = Seconds(clock.Now() - t0) * 1e3;
  {
    std::lock_guard lock(plan_mu_);
    if (snapshot != planned_classes_) {
      // The records of this class list, by position (records of dropped classes are erased).
      plan_records_.assign(classes.size(), nullptr);
      std::set<std::string_view> present;
      for (size_t i = 0; i < classes.size(); ++i) {
        present.insert(classes[i].key);
        std::unique_ptr<PlanRecord>& rec = plans_[classes[i].key];
        if (!rec) rec = std::make_unique<PlanRecord>();
        plan_records_[i] = rec.get();
      }
      for (auto it = plans_.begin(); it != plans_.end();) {
        it = present.count(it->first) ? std::next(it) : plans_.erase(it);
      }
      planned_classes_ = snapshot;
    }
    for (size_t i = 0; i < classes.size(); ++i) {
      PlanRecord* rec = plan_records_[i];
      PlanPoint& p = points[i];
      const PlanPoint& last = rec->points.empty() ? p : rec->points.back();
      const bool changed_reason =
          rec->points.empty() || last.why.reason != p.why.reason || last.applied != p.applied;
      const bool moved = std::abs(p.rate_per_s - last.rate_per_s) > 0.01 * last.rate_per_s ||
                         std::abs(p.size - last.size) > 0.01 * last.size;
      if (changed_reason || (moved && p.t - last.t >= options_.plan_interval) ||
          p.t - last.t >= options_.plan_interval * 10) {
        rec->points.push_back(p);
        while (rec->points.size() > options_.plan_history) rec->points.pop_front();
      }
      rec->current = std::move(p);
    }
    last_tick_ = info;
  }
  ticks_.fetch_add(1, std::memory_order_relaxed);
  return absl::OkStatus();
}

std::shared_ptr<const ClassForecastSnapshot> Planning::Forecast(std::string_view key) const {
  std::lock_guard lock(snap_mu_);
  auto it = forecasts_.find(std::string(key));
  return it == forecasts_.end() ? nullptr : it->second;
}

std::vector<std::shared_ptr<const ClassForecastSnapshot>> Planning::Forecasts() const {
  std::vector<std::shared_ptr<const ClassForecastSnapshot>> out;
  {
    std::lock_guard lock(snap_mu_);
    out.reserve(forecasts_.size());
    for (const auto& [k, s] : forecasts_) out.push_back(s);
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a->key < b->key; });
  return out;
}

std::optional<Service::PredictedDemand> Planning::PredictedDemandOf(std::string_view key) const {
  const std::shared_ptr<const ClassForecastSnapshot> f = Forecast(key);
  if (f == nullptr || f->model.empty()) return std::nullopt;
  Service::PredictedDemand out;
  for (const HorizonSnapshot& h : f->horizons) {
    if (h.mean.empty()) continue;
    alert::ForecastPoint p;
    if (h.name == "1m") {
      p.horizon = std::chrono::minutes(1);
    } else if (h.name == "1h") {
      p.horizon = std::chrono::hours(1);
    } else if (h.name == "1d") {
      p.horizon = std::chrono::hours(24);
    } else {
      continue;
    }
    p.mean = *std::max_element(h.mean.begin(), h.mean.end());
    p.upper = std::max(p.mean, *std::max_element(h.upper.begin(), h.upper.end()));
    out.forecasts.push_back(p);
  }
  std::sort(out.forecasts.begin(), out.forecasts.end(),
            [](const auto& a, const auto& b) { return a.horizon < b.horizon; });
  out.anomaly.flagged = f->anomaly;
  out.anomaly.kind = f->anomaly ? std::string(anomaly::AnomalyKindName(f->anomaly_kind)) : "";
  out.anomaly.score = f->anomaly_score;
  return out;
}

std::vector<AnomalyEvent> Planning::Anomalies(WallTime since, std::string_view key) const {
  std::vector<AnomalyEvent> out;
  std::lock_guard lock(snap_mu_);
  for (const auto& [k, list] : anomalies_) {
    if (!key.empty() && k != key) continue;
    for (const AnomalyEvent& e : list) {
      if (e.t >= since) out.push_back(e);
    }
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const AnomalyEvent& a, const AnomalyEvent& b) { return a.t < b.t; });
  return out;
}

absl::StatusOr<std::vector<PlanPoint>> Planning::PlanHistory(std::string_view key,
                                                             WallTime since) const {
  std::lock_guard lock(plan_mu_);
  auto it = plans_.find(std::string(key));
  if (it == plans_.end()) {
    return absl::NotFoundError(fmt::format("class '{}' has no plan", key));
  }
  std::vector<PlanPoint> out;
  for (const PlanPoint& p : it->second->points) {
    if (p.t >= since) out.push_back(p);
  }
  return out;
}

std::vector<CurrentClassPlan> Planning::CurrentPlan() const {
  std::lock_guard lock(plan_mu_);
  std::vector<CurrentClassPlan> out;
  out.reserve(plans_.size());
  for (const auto& [k, rec] : plans_) out.push_back({k, rec->current});
  return out;
}

std::optional<TickInfo> Planning::LastTick() const {
  std::lock_guard lock(plan_mu_);
  return last_tick_;
}

ClassCondition Planning::Condition(const ClassInfo& info) const {
  const WallTime now = service_.clock().WallNow();
  std::lock_guard lock(snap_mu_);
  if (auto it = forecasts_.find(info.key); it != forecasts_.end()) {
    const auto& at = it->second->last_anomaly_at;
    if (at && now - *at <= kAnomalyRecent + options_.model_step + options_.settle_delay) {
      return ClassCondition::kAnomaly;
    }
  }
  if (auto it = feedback_.find(info.key);
      it != feedback_.end() && it->second.surge != plan::SurgeMode::kNone) {
    return ClassCondition::kSurge;
  }
  return info.refused_last_minute ? ClassCondition::kThrottled : ClassCondition::kOk;
}

std::string Planning::RenderMetrics() const {
  using history::ExpositionFamily;
  using Labels = std::vector<std::pair<std::string, std::string>>;
  ExpositionFamily mean{"tidegate_forecast_mean_per_second",
                        "Forecast demand for the next step (requests/s).",
                        "gauge",
                        {}};
  ExpositionFamily lower{"tidegate_forecast_lower_per_second",
                         "Lower bound of the next step's forecast interval (requests/s).",
                         "gauge",
                         {}};
  ExpositionFamily upper{"tidegate_forecast_upper_per_second",
                         "Upper bound of the next step's forecast interval (requests/s).",
                         "gauge",
                         {}};
  ExpositionFamily error{"tidegate_forecast_abs_error_per_second",
                         "Absolute one-step forecast error of the last closed step (requests/s).",
                         "gauge",
                         {}};
  ExpositionFamily coverage{
      "tidegate_forecast_interval_coverage_ratio",
      "Share of the calibrated forecast intervals that covered the actual demand, by horizon "
      "(1m: the next step; 1h, 1d: every step of that horizon), since the class was first fitted.",
      "gauge",
      {}};
  ExpositionFamily anomalies{"tidegate_anomalies_total",
                             "Anomalies flagged in live demand, by class and kind.",
                             "counter",
                             {}};
  ExpositionFamily rate{"tidegate_planned_rate_per_second",
                        "Refill rate the planner chose (requests/s).",
                        "gauge",
                        {}};
  ExpositionFamily size{
      "tidegate_planned_size_tokens", "Bucket size the planner chose.", "gauge", {}};
  ExpositionFamily fallback{"tidegate_planned_fallback",
                            "1 when the class runs on its configured limit (no usable forecast).",
                            "gauge",
                            {}};
  auto labels = [](const std::string& key) {
    const size_t slash = key.find('/');
    return Labels{{"tenant", key.substr(0, slash)},
                  {"class", slash == std::string::npos ? "" : key.substr(slash + 1)}};
  };
  {
    std::lock_guard lock(snap_mu_);
    std::vector<std::pair<std::string, const ClassForecastSnapshot*>> sorted;
    for (const auto& [k, s] : forecasts_) sorted.emplace_back(k, s.get());
    std::sort(sorted.begin(), sorted.end());
    for (const auto& [k, s] : sorted) {
      const HorizonSnapshot* h = s->Horizon("1m");
      if (h == nullptr || h->mean.empty()) continue;
      mean.samples.push_back({mean.name, labels(k), h->mean[0], std::nullopt});
      lower.samples.push_back({lower.name, labels(k), h->lower[0], std::nullopt});
      upper.samples.push_back({upper.name, labels(k), h->upper[0], std::nullopt});
      if (s->abs_error_per_s) {
        error.samples.push_back({error.name, labels(k), *s->abs_error_per_s, std::nullopt});
      }
      for (const HorizonSnapshot& hz : s->horizons) {
        if (!hz.coverage) continue;
        Labels l = labels(k);
        l.emplace_back("horizon", hz.name);
        coverage.samples.push_back({coverage.name, std::move(l), *hz.coverage, std::nullopt});
      }
    }
    for (const auto& [kk, n] : anomaly_counts_) {
      Labels l = labels(kk.first);
      l.emplace_back(
          "kind",
          std::string(anomaly::AnomalyKindName(static_cast<anomaly::AnomalyKind>(kk.second))));
      anomalies.samples.push_back({anomalies.name, l, static_cast<double>(n), std::nullopt});
    }
  }
  std::optional<TickInfo> tick;
  {
    std::lock_guard lock(plan_mu_);
    tick = last_tick_;
    for (const auto& [k, rec] : plans_) {
      rate.samples.push_back({rate.name, labels(k), rec->current.rate_per_s, std::nullopt});
      size.samples.push_back({size.name, labels(k), rec->current.size, std::nullopt});
      fallback.samples.push_back({fallback.name, labels(k),
                                  rec->current.why.reason == plan::Reason::kForecast ? 0.0 : 1.0,
                                  std::nullopt});
    }
  }
  std::vector<ExpositionFamily> families = {
      std::move(mean),  std::move(lower),    std::move(upper),
      std::move(error), std::move(coverage), std::move(anomalies),
      std::move(rate),  std::move(size),     std::move(fallback)};
  families.push_back({"tidegate_planner_tick_duration_seconds",
                      "Duration of the last planning tick.",
                      "gauge",
                      {{"tidegate_planner_tick_duration_seconds",
                        {},
                        tick ? tick->duration_ms / 1e3 : 0.0,
                        std::nullopt}}});
  families.push_back(
      {"tidegate_planner_ticks_total",
       "Planning ticks run.",
       "counter",
       {{"tidegate_planner_ticks_total", {}, static_cast<double>(ticks_.load()), std::nullopt}}});
  families.push_back(
      {"tidegate_training_duration_seconds",
       "Duration of the last round of model fits.",
       "gauge",
       {{"tidegate_training_duration_seconds", {}, last_training_seconds_.load(), std::nullopt}}});
  families.push_back({"tidegate_model_fits_total",
                      "Model fits, by result.",
                      "counter",
                      {{"tidegate_model_fits_total",
                        {{"result", "ok"}},
                        static_cast<double>(fits_ok_.load()),
                        std::nullopt},
                       {"tidegate_model_fits_total",
                        {{"result", "failed"}},
                        static_cast<double>(fits_failed_.load()),
                        std::nullopt}}});
  ExpositionFamily refits{"tidegate_model_refits_total",
                          "Successful model fits, by reason (new, schedule, drift, config, gap).",
                          "counter",
                          {}};
  for (int r = 0; r < kNumFitReasons; ++r) {
    refits.samples.push_back(
        {refits.name,
         {{"reason", std::string(FitReasonName(static_cast<FitReason>(r)))}},
         static_cast<double>(refits_[static_cast<size_t>(r)].load(std::memory_order_relaxed)),
         std::nullopt});
  }
  families.push_back(std::move(refits));
  const LstmStatus lstm = Lstm();
  families.push_back(
      {"tidegate_lstm_rounds_total",
       "Trainings and fine-tunings of the global LSTM completed since start.",
       "counter",
       {{"tidegate_lstm_rounds_total", {}, static_cast<double>(lstm.rounds), std::nullopt}}});
  families.push_back(
      {"tidegate_lstm_round_duration_seconds",
       "Duration of the last training or fine-tuning round of the global LSTM.",
       "gauge",
       {{"tidegate_lstm_round_duration_seconds", {}, lstm.last_round_seconds, std::nullopt}}});
  return history::EncodeExposition(families);
}

// ---- The global LSTM ----------------------------------------------------------------------

std::shared_ptr<const learn::LstmModel> Planning::CurrentLstm() const {
  std::lock_guard lock(lstm_mu_);
  return lstm_;
}

LstmStatus Planning::Lstm() const {
  std::lock_guard lock(lstm_mu_);
  return lstm_status_;
}

void Planning::LoadLstm() {
  const std::string& path = options_.lstm_path;
  {
    std::lock_guard lock(lstm_mu_);
    if (lstm_loaded_) return;
    lstm_loaded_ = true;
    if (path.empty()) return;  // "disabled"
    lstm_status_.state = "pending";
  }
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return;  // Never trained: trained when a class asks.
  absl::StatusOr<std::shared_ptr<const learn::LstmModel>> model = learn::LstmModel::LoadFile(path);
  std::string problem;
  if (!model.ok()) {
    problem = std::string(model.status().message());
  } else if (const learn::LstmOptions& o = (*model)->options();
             o.period != options_.lstm.period || o.patches != options_.lstm.patches ||
             o.horizon != options_.lstm.horizon) {
    problem = fmt::format(
        "it was trained for period {}, {} patches, horizon {}; this daemon uses {}, {}, {}",
        o.period, o.patches, o.horizon, options_.lstm.period, options_.lstm.patches,
        options_.lstm.horizon);
  }
  std::lock_guard lock(lstm_mu_);
  if (!problem.empty()) {
    lstm_status_.message = fmt::format("{} was rejected: {}", path, problem);
    Log(fmt::format("global LSTM: {}; it is retrained", lstm_status_.message));
    return;
  }
  lstm_ = *model;
  lstm_status_.state = "trained";
  lstm_status_.message = (*model)->summary().ToString();
  lstm_status_.trained_at = service_.clock().WallNow();
  lstm_status_.steps = (*model)->summary().steps;
  lstm_status_.series = (*model)->summary().series_used;
  lstm_status_.validation_loss = (*model)->summary().validation_loss;
  Log(fmt::format("global LSTM: loaded {} ({})", path, lstm_status_.message));
}

absl::StatusOr<std::vector<forecast::Series>> Planning::LstmSeries(Duration window,
                                                                   int* classes_asking) {
  const std::shared_ptr<const std::vector<PlanningClass>> snapshot = service_.PlanningClasses();
  const std::vector<PlanningClass>& classes = *snapshot;
  *classes_asking = 0;
  for (const PlanningClass& c : classes) {
    if (c.predict && c.predict->model == "lstm") ++*classes_asking;
  }
  std::vector<forecast::Series> out;
  if (*classes_asking == 0) return out;
  const Duration step = options_.model_step;
  const WallTime end = history::AlignDown(service_.clock().WallNow() - options_.settle_delay, step);
  // A training window plus the hold-out (learn/lstm.h).
  const size_t needed = static_cast<size_t>(options_.lstm.window() + 2 * options_.lstm.horizon);
  for (const PlanningClass& c : classes) {
    const history::SeriesKey key{std::string(history::kMetricRequests), c.tenant, c.series_class};
    TIDEGATE_ASSIGN_OR_RETURN(
        std::vector<history::Point> points,
        service_.store().Query(key, end - window, end, step, history::Aggregation::kSum));
    if (points.empty()) continue;
    forecast::Series s;
    s.start = points.front().time;
    s.step = step;
    s.values = Grid(points, s.start, end, step);
    if (s.values.size() >= needed) out.push_back(std::move(s));
  }
  return out;
}

void Planning::RunLearningWork() {
  LoadLstm();
  if (options_.lstm_path.empty()) return;
  Clock& clock = service_.clock();
  const WallTime now = clock.WallNow();
  if (!lstm_next_training_) lstm_next_training_ = schedule_.Next(now);
  const bool scheduled = lstm_next_training_ && now >= *lstm_next_training_;
  if (scheduled) lstm_next_training_ = schedule_.Next(now);
  const std::shared_ptr<const learn::LstmModel> current = CurrentLstm();
  const LstmStatus status = Lstm();
  const bool full = scheduled || (!current && now >= lstm_retry_at_);
  std::optional<WallTime> last = status.fine_tuned_at;
  if (!last || (status.trained_at && *status.trained_at > *last)) last = status.trained_at;
  const bool tune = !full && current && now >= lstm_retry_at_ && last &&
                    now - *last >= options_.lstm_fine_tune_every;
  if (!full && !tune) return;
  const std::string_view round = full ? "training" : "fine-tuning";

  const auto set_status = [&](std::string state, std::string message) {
    std::lock_guard lock(lstm_mu_);
    if (!lstm_) lstm_status_.state = std::move(state);  // A served model stays "trained".
    lstm_status_.message = std::move(message);
  };
  const auto retry = [&](std::string state, std::string message) {
    set_status(std::move(state), std::move(message));
    Log(fmt::format("global LSTM: {} not done: {}; retried in an hour", round, Lstm().message));
    lstm_retry_at_ = now + kHour;
  };
  int asking = 0;
  absl::StatusOr<std::vector<forecast::Series>> series =
      LstmSeries(full ? options_.fit_window : options_.lstm_fine_tune_window, &asking);
  if (!series.ok()) {
    return retry("failed",
                 fmt::format("history store: {}", std::string(series.status().message())));
  }
  if (asking == 0) return set_status("unused", "no class has predict.model: lstm");
  if (static_cast<int>(series->size()) < options_.lstm_min_series) {
    return retry("skipped",
                 fmt::format("{} classes have the {} steps of history it needs, fewer than {}",
                             series->size(), options_.lstm.window() + 2 * options_.lstm.horizon,
                             options_.lstm_min_series));
  }

  learn::TrainOptions train = full ? options_.lstm_train : options_.lstm_fine_tune;
  train.cancelled = [this] { return stopping_.load(std::memory_order_relaxed); };
  Log(fmt::format("global LSTM: {} on {} classes' history ({} steps)", round, series->size(),
                  train.steps));
  const MonoTime t0 = clock.Now();
  absl::StatusOr<std::shared_ptr<const learn::LstmModel>> model =
      full ? learn::LstmModel::Train(*series, options_.lstm, train)
           : current->FineTune(*series, train);
  const double seconds = Seconds(clock.Now() - t0);
  if (!model.ok()) {
    if (model.status().code() == absl::StatusCode::kCancelled) {
      Log(fmt::format("global LSTM: {} cancelled (shutting down)", round));
      return;
    }
    return retry("failed", std::string(model.status().message()));
  }
  if (absl::Status saved = (*model)->SaveFile(options_.lstm_path); !saved.ok()) {
    // Served from memory anyway; the next round tries to save again.
    Log(fmt::format("global LSTM: not saved: {}", std::string(saved.message())));
  }
  {
    std::lock_guard lock(lstm_mu_);
    lstm_ = *model;
    lstm_status_.state = "trained";
    lstm_status_.message = (*model)->summary().ToString();
    (full ? lstm_status_.trained_at : lstm_status_.fine_tuned_at) = now;
    lstm_status_.series = static_cast<int>(series->size());
    lstm_status_.steps = (*model)->summary().steps;
    lstm_status_.last_round_seconds = seconds;
    lstm_status_.validation_loss = (*model)->summary().validation_loss;
    ++lstm_status_.rounds;
  }
  lstm_retry_at_ = {};
  lstm_generation_.fetch_add(1, std::memory_order_release);
  Log(fmt::format("global LSTM: {} done in {:.1f} s ({}); saved to {}", round, seconds,
                  (*model)->summary().ToString(), options_.lstm_path));
}

// ---- Checkpoints (docs/formats/planning-state.md) -------------------------------------------

namespace {

constexpr uint32_t kStateMagic = 0x53504754;  // "TGPS" little-endian.
// Version 2 added per class the learning state (fit reason, drift CUSUM, anomaly detector and
// recent anomalies, interval calibrators); version 1 files still load (those start afresh).
constexpr uint32_t kStateVersion = 2;
constexpr uint32_t kOldestStateVersion = 1;

int64_t Ns(WallTime t) { return t.time_since_epoch().count(); }
WallTime FromNs(int64_t ns) { return WallTime(Duration(ns)); }

void PutFeedback(forecast::ByteWriter& w, const plan::FeedbackState& f) {
  w.PutDouble(f.bias_per_s);
  w.PutDouble(f.abs_error_per_s);
  w.PutU32(static_cast<uint32_t>(f.surge));
  w.PutDouble(f.surge_rate_per_s);
  w.PutI64(f.observations);
  w.PutI64(f.surge_ticks);
}

bool GetFeedback(forecast::ByteReader& r, plan::FeedbackState* f) {
  uint32_t surge = 0;
  if (!r.GetDouble(&f->bias_per_s) || !r.GetDouble(&f->abs_error_per_s) || !r.GetU32(&surge) ||
      surge > 2 || !r.GetDouble(&f->surge_rate_per_s) || !r.GetI64(&f->observations) ||
      !r.GetI64(&f->surge_ticks)) {
    return false;
  }
  f->surge = static_cast<plan::SurgeMode>(surge);
  return std::isfinite(f->bias_per_s) && std::isfinite(f->abs_error_per_s) &&
         std::isfinite(f->surge_rate_per_s);
}

void PutTime(forecast::ByteWriter& w, const std::optional<WallTime>& t) {
  w.PutU32(t ? 1 : 0);
  w.PutI64(t ? Ns(*t) : 0);
}

bool GetTime(forecast::ByteReader& r, std::optional<WallTime>* t) {
  uint32_t has = 0;
  int64_t ns = 0;
  if (!r.GetU32(&has) || has > 1 || !r.GetI64(&ns)) return false;
  *t = has ? std::optional<WallTime>(FromNs(ns)) : std::nullopt;
  return true;
}

}  // namespace

// A class's learning state (checkpoint version 2), parsed before anything is applied.
struct SavedLearning {
  FitReason fitted_for = FitReason::kNew;
  int64_t drift_refits = 0;
  std::optional<WallTime> last_drift_at;
  learn::DriftState drift;
  std::optional<anomaly::ConformalDetectorState> detector;
  std::optional<WallTime> last_step, last_anomaly_at;
  double last_actual_per_s = 0;
  anomaly::AnomalyResult last_result;
  std::vector<AnomalyEvent> anomalies;
  std::string fine_cal, coarse_cal;  // AdaptiveConformal::Serialize(); "" = none.
  int64_t fine_cal_next = 0, coarse_cal_next = 0;
};

namespace {

std::string EncodeLearning(const SavedLearning& l) {
  forecast::ByteWriter w;
  w.PutU32(static_cast<uint32_t>(l.fitted_for));
  w.PutI64(l.drift_refits);
  PutTime(w, l.last_drift_at);
  w.PutDouble(l.drift.g_pos);
  w.PutDouble(l.drift.g_neg);
  w.PutI64(l.drift.observations);
  w.PutU32(l.drift.drifted ? 1 : 0);
  w.PutI64(l.drift.drifted_at);
  w.PutU32(l.detector ? 1 : 0);
  if (l.detector) {
    for (const std::vector<double>* v :
         {&l.detector->values, &l.detector->residuals, &l.detector->calibration,
          &l.detector->surprise, &l.detector->history}) {
      w.PutDoubles(*v);
    }
    w.PutI64(l.detector->seen);
    w.PutI64(l.detector->since_flag);
  }
  PutTime(w, l.last_step);
  PutTime(w, l.last_anomaly_at);
  w.PutDouble(l.last_actual_per_s);
  w.PutDouble(l.last_result.score);
  w.PutU32(l.last_result.flag ? 1 : 0);
  w.PutU32(static_cast<uint32_t>(l.last_result.kind));
  w.PutU64(l.anomalies.size());
  for (const AnomalyEvent& e : l.anomalies) {
    w.PutI64(Ns(e.t));
    w.PutDouble(e.value_per_s);
    w.PutDouble(e.score);
    w.PutU32(static_cast<uint32_t>(e.kind));
  }
  w.PutString(l.fine_cal);
  w.PutI64(l.fine_cal_next);
  w.PutString(l.coarse_cal);
  w.PutI64(l.coarse_cal_next);
  return w.Release();
}

// False when the bytes are malformed.
bool DecodeLearning(std::string_view bytes, const std::string& key, SavedLearning* l) {
  forecast::ByteReader r(bytes);
  uint32_t reason = 0, drifted = 0, has = 0, flag = 0, kind = 0;
  if (!r.GetU32(&reason) || reason >= static_cast<uint32_t>(kNumFitReasons) ||
      !r.GetI64(&l->drift_refits) || !GetTime(r, &l->last_drift_at) ||
      !r.GetDouble(&l->drift.g_pos) || !r.GetDouble(&l->drift.g_neg) ||
      !r.GetI64(&l->drift.observations) || !r.GetU32(&drifted) || drifted > 1 ||
      !r.GetI64(&l->drift.drifted_at) || !r.GetU32(&has) || has > 1) {
    return false;
  }
  l->fitted_for = static_cast<FitReason>(reason);
  l->drift.drifted = drifted != 0;
  if (has) {
    anomaly::ConformalDetectorState d;
    for (std::vector<double>* v :
         {&d.values, &d.residuals, &d.calibration, &d.surprise, &d.history}) {
      if (!r.GetDoubles(v)) return false;
    }
    if (!r.GetI64(&d.seen) || !r.GetI64(&d.since_flag)) return false;
    l->detector = std::move(d);
  }
  uint64_t n = 0;
  if (!GetTime(r, &l->last_step) || !GetTime(r, &l->last_anomaly_at) ||
      !r.GetDouble(&l->last_actual_per_s) || !r.GetDouble(&l->last_result.score) ||
      !r.GetU32(&flag) || flag > 1 || !r.GetU32(&kind) || kind > 3 || !r.GetU64(&n) ||
      n > forecast::kMaxSerializedElements) {
    return false;
  }
  l->last_result.flag = flag != 0;
  l->last_result.kind = static_cast<anomaly::AnomalyKind>(kind);
  for (uint64_t i = 0; i < n; ++i) {
    AnomalyEvent e;
    int64_t t = 0;
    if (!r.GetI64(&t) || !r.GetDouble(&e.value_per_s) || !r.GetDouble(&e.score) ||
        !r.GetU32(&kind) || kind > 3) {
      return false;
    }
    e.key = key;
    e.t = FromNs(t);
    e.kind = static_cast<anomaly::AnomalyKind>(kind);
    l->anomalies.push_back(std::move(e));
  }
  return r.GetString(&l->fine_cal) && r.GetI64(&l->fine_cal_next) && r.GetString(&l->coarse_cal) &&
         r.GetI64(&l->coarse_cal_next) && r.AtEnd();
}

}  // namespace

absl::Status Planning::Checkpoint() {
  if (options_.state_path.empty()) return absl::OkStatus();
  forecast::ByteWriter w;
  w.PutI64(Ns(service_.clock().WallNow()));
  w.PutString(service_.config()->version);
  const std::vector<BucketState> buckets = service_.SnapshotBuckets();
  w.PutU64(buckets.size());
  for (const BucketState& b : buckets) {
    w.PutString(b.canonical);
    w.PutDouble(b.level);
    w.PutU32(b.override_info ? 1 : 0);
    if (b.override_info) {
      w.PutU32(b.override_info->rate_per_s ? 1 : 0);
      w.PutDouble(b.override_info->rate_per_s.value_or(0));
      w.PutU32(b.override_info->size ? 1 : 0);
      w.PutDouble(b.override_info->size.value_or(0));
      w.PutI64(Ns(b.override_info->expires_at));
    }
    w.PutU32(b.plan ? 1 : 0);
    if (b.plan) {
      w.PutDouble(b.plan->rate_per_s);
      w.PutDouble(b.plan->size);
    }
  }
  {
    std::lock_guard work(work_mu_);
    std::lock_guard lock(snap_mu_);
    uint64_t n = 0;
    for (const auto& [k, m] : models_) n += m->fine ? 1 : 0;
    w.PutU64(n);
    for (const auto& [k, m] : models_) {
      if (!m->fine) continue;
      w.PutString(k);
      w.PutString(m->model_name);
      w.PutString(m->spec);
      w.PutI64(Ns(m->trained_at));
      w.PutI64(Ns(m->fine_next));
      w.PutI64(Ns(m->coarse_next));
      w.PutString(m->fine->Serialize());
      w.PutString(m->coarse ? m->coarse->Serialize() : std::string());
      auto fb = feedback_.find(k);
      w.PutU32(fb != feedback_.end() ? 1 : 0);
      if (fb != feedback_.end()) PutFeedback(w, fb->second);
      auto cost = costs_.find(k);
      w.PutU32(cost != costs_.end() ? 1 : 0);
      if (cost != costs_.end()) {
        for (double c : cost->second) w.PutDouble(c);
      }
      SavedLearning l;
      l.fitted_for = m->fitted_for;
      l.drift_refits = m->drift_refits;
      l.last_drift_at = m->last_drift_at;
      l.drift = drift_.State(k);
      if (m->detector) l.detector = m->detector->State();
      l.last_step = m->last_step;
      l.last_anomaly_at = m->last_anomaly_at;
      l.last_actual_per_s = m->last_actual_per_s;
      l.last_result = m->last_result;
      if (auto a = anomalies_.find(k); a != anomalies_.end()) {
        l.anomalies.assign(a->second.begin(), a->second.end());
      }
      if (m->fine_cal.aci) l.fine_cal = m->fine_cal.aci->Serialize();
      l.fine_cal_next = Ns(m->fine_cal.next);
      if (m->coarse_cal.aci) l.coarse_cal = m->coarse_cal.aci->Serialize();
      l.coarse_cal_next = Ns(m->coarse_cal.next);
      w.PutString(EncodeLearning(l));
    }
  }
  {
    std::lock_guard lock(plan_mu_);
    w.PutU64(plans_.size());
    for (const auto& [k, rec] : plans_) {
      const PlanPoint& p = rec->current;
      w.PutString(k);
      w.PutI64(Ns(p.t));
      w.PutDouble(p.rate_per_s);
      w.PutDouble(p.size);
      w.PutU32(static_cast<uint32_t>(p.why.reason));
      w.PutU32(p.applied ? 1 : 0);
      w.PutU32(static_cast<uint32_t>(p.why.tier));
      for (double v : {p.why.forecast_per_s, p.why.bias_correction_per_s, p.why.margin,
                       p.why.target_per_s, p.why.cap_per_s, p.why.ceiling_per_s, p.why.demand_per_s,
                       p.why.spread, p.why.weight, p.why.floor_per_s}) {
        w.PutDouble(v);
      }
    }
  }
  const std::string payload = w.Release();
  forecast::ByteWriter file;
  file.PutU32(kStateMagic);
  file.PutU32(kStateVersion);
  file.PutString(payload);
  file.PutU64(Fnv1a(payload));

  const std::string tmp = options_.state_path + ".tmp";
  {
    std::FILE* f = std::fopen(tmp.c_str(), "wb");
    if (f == nullptr) {
      return absl::InternalError(fmt::format("{}: cannot write the planning state", tmp));
    }
    const std::string& bytes = file.bytes();
    const bool ok =
        std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size() && std::fflush(f) == 0;
    const bool closed = std::fclose(f) == 0;
    if (!ok || !closed) {
      return absl::InternalError(fmt::format("{}: write failed", tmp));
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, options_.state_path, ec);
  if (ec) {
    return absl::InternalError(
        fmt::format("{}: rename to {} failed: {}", tmp, options_.state_path, ec.message()));
  }
  return absl::OkStatus();
}

void Planning::RestoreLearning(ModelState& m, SavedLearning& l) {
  const std::string& path = options_.state_path;
  m.fitted_for = l.fitted_for;
  m.drift_refits = l.drift_refits;
  m.last_drift_at = l.last_drift_at;
  if (absl::Status s = drift_.Restore(m.key, l.drift); !s.ok()) {
    Log(fmt::format("{}: {} (the CUSUM starts afresh)", path, std::string(s.message())));
  }
  if (l.detector) {
    absl::StatusOr<std::unique_ptr<anomaly::ConformalDetector>> d =
        anomaly::ConformalDetector::Restore(options_.detector, std::move(*l.detector));
    if (d.ok()) {
      m.detector = *std::move(d);
    } else {  // E.g. the detector's windows were reconfigured: re-warm from history.
      Log(fmt::format("{}: anomaly detector of {} not restored ({}); re-warmed from history", path,
                      m.key, std::string(d.status().message())));
    }
  }
  m.last_step = l.last_step;
  m.last_anomaly_at = l.last_anomaly_at;
  m.last_actual_per_s = l.last_actual_per_s;
  m.last_result = l.last_result;
  if (m.detector) {  // A re-warmed detector records the recent anomalies itself.
    std::lock_guard lock(snap_mu_);
    auto& list = anomalies_[m.key];
    list.assign(l.anomalies.begin(), l.anomalies.end());
    while (list.size() > options_.anomaly_history) list.pop_front();
  }
  for (auto [cal, bytes, next, horizon] :
       {std::tuple{&m.fine_cal, &l.fine_cal, l.fine_cal_next, kFineHorizon},
        std::tuple{&m.coarse_cal, &l.coarse_cal, l.coarse_cal_next, kCoarseHorizon}}) {
    if (bytes->empty()) continue;
    forecast::ConformalOptions c = options_.calibration;
    c.horizon = horizon;
    absl::StatusOr<forecast::AdaptiveConformal> aci =
        forecast::AdaptiveConformal::Deserialize(c, *bytes);
    if (!aci.ok()) {
      Log(fmt::format("{}: interval calibration of {} not restored ({}); it starts afresh", path,
                      m.key, std::string(aci.status().message())));
      continue;
    }
    cal->aci = *std::move(aci);
    cal->next = FromNs(next);
  }
}

absl::Status Planning::Restore() {
  if (options_.state_path.empty()) return absl::OkStatus();
  std::ifstream in(options_.state_path, std::ios::binary);
  if (!in) return absl::OkStatus();  // No checkpoint: a fresh start.
  std::stringstream buffer;
  buffer << in.rdbuf();
  const std::string bytes = buffer.str();
  const std::string& path = options_.state_path;
  forecast::ByteReader file(bytes);
  uint32_t magic = 0, version = 0;
  std::string payload;
  uint64_t checksum = 0;
  if (!file.GetU32(&magic) || magic != kStateMagic) {
    return absl::DataLossError(fmt::format("{}: not a tidegate planning state (bad magic)", path));
  }
  if (!file.GetU32(&version) || version < kOldestStateVersion || version > kStateVersion) {
    return absl::FailedPreconditionError(
        fmt::format("{}: planning state version {} (this tidegated reads {} to {})", path, version,
                    kOldestStateVersion, kStateVersion));
  }
  if (!file.GetString(&payload) || !file.GetU64(&checksum) || !file.AtEnd()) {
    return absl::DataLossError(fmt::format("{}: truncated planning state", path));
  }
  if (Fnv1a(payload) != checksum) {
    return absl::DataLossError(fmt::format("{}: checksum mismatch (corrupt file)", path));
  }

  // Parse everything first; apply only a complete file.
  forecast::ByteReader r(payload);
  const auto bad = [&](std::string_view what) {
    return absl::DataLossError(fmt::format("{}: malformed planning state ({})", path, what));
  };
  int64_t saved_at = 0;
  std::string config_version;
  uint64_t n = 0;
  if (!r.GetI64(&saved_at) || !r.GetString(&config_version) || !r.GetU64(&n)) return bad("header");
  std::vector<BucketState> buckets;
  for (uint64_t i = 0; i < n; ++i) {
    BucketState b;
    uint32_t has = 0;
    if (!r.GetString(&b.canonical) || !r.GetDouble(&b.level) || !r.GetU32(&has)) {
      return bad("bucket");
    }
    if (has) {
      uint32_t has_rate = 0, has_size = 0;
      double rate = 0, size = 0;
      int64_t expires = 0;
      if (!r.GetU32(&has_rate) || !r.GetDouble(&rate) || !r.GetU32(&has_size) ||
          !r.GetDouble(&size) || !r.GetI64(&expires)) {
        return bad("override");
      }
      OverrideInfo o;
      if (has_rate) o.rate_per_s = rate;
      if (has_size) o.size = size;
      o.expires_at = FromNs(expires);
      b.override_info = o;
    }
    if (!r.GetU32(&has)) return bad("bucket plan");
    if (has) {
      shaping::BucketConfig c;
      if (!r.GetDouble(&c.rate_per_s) || !r.GetDouble(&c.size)) return bad("bucket plan");
      b.plan = c;
    }
    buckets.push_back(std::move(b));
  }
  struct SavedModel {
    std::string key, model_name, spec, fine, coarse;
    int64_t trained_at = 0, fine_next = 0, coarse_next = 0;
    std::optional<plan::FeedbackState> feedback;
    std::optional<plan::ResourceVector> cost;
    std::optional<SavedLearning> learning;  // Version 2 on.
  };
  std::vector<SavedModel> models;
  if (!r.GetU64(&n)) return bad("models");
  for (uint64_t i = 0; i < n; ++i) {
    SavedModel m;
    uint32_t has = 0;
    if (!r.GetString(&m.key) || !r.GetString(&m.model_name) || !r.GetString(&m.spec) ||
        !r.GetI64(&m.trained_at) || !r.GetI64(&m.fine_next) || !r.GetI64(&m.coarse_next) ||
        !r.GetString(&m.fine) || !r.GetString(&m.coarse) || !r.GetU32(&has)) {
      return bad("model");
    }
    if (has) {
      plan::FeedbackState f;
      if (!GetFeedback(r, &f)) return bad("feedback");
      m.feedback = f;
    }
    if (!r.GetU32(&has)) return bad("cost");
    if (has) {
      plan::ResourceVector c{};
      for (double& v : c) {
        if (!r.GetDouble(&v) || !std::isfinite(v) || v < 0) return bad("cost");
      }
      m.cost = c;
    }
    if (version >= 2) {
      std::string learning;
      SavedLearning l;
      if (!r.GetString(&learning) || !DecodeLearning(learning, m.key, &l)) {
        return bad("learning state");
      }
      m.learning = std::move(l);
    }
    models.push_back(std::move(m));
  }
  std::vector<std::pair<std::string, PlanPoint>> plans;
  if (!r.GetU64(&n)) return bad("plans");
  for (uint64_t i = 0; i < n; ++i) {
    std::string key;
    PlanPoint p;
    int64_t t = 0;
    uint32_t reason = 0, applied = 0, tier = 0;
    if (!r.GetString(&key) || !r.GetI64(&t) || !r.GetDouble(&p.rate_per_s) ||
        !r.GetDouble(&p.size) || !r.GetU32(&reason) || reason > 3 || !r.GetU32(&applied) ||
        !r.GetU32(&tier) || tier >= static_cast<uint32_t>(plan::kMaxTiers)) {
      return bad("plan");
    }
    p.t = FromNs(t);
    p.applied = applied != 0;
    p.why.reason = static_cast<plan::Reason>(reason);
    p.why.tier = static_cast<int>(tier);
    for (double* v : {&p.why.forecast_per_s, &p.why.bias_correction_per_s, &p.why.margin,
                      &p.why.target_per_s, &p.why.cap_per_s, &p.why.ceiling_per_s,
                      &p.why.demand_per_s, &p.why.spread, &p.why.weight, &p.why.floor_per_s}) {
      if (!r.GetDouble(v)) return bad("plan");
    }
    plans.emplace_back(std::move(key), std::move(p));
  }
  if (!r.AtEnd()) return bad("trailing bytes");

  // Apply.
  LoadLstm();  // Before the models: the adapters of LSTM classes need its weights.
  forecast::ModelContext context;
  if (std::shared_ptr<const learn::LstmModel> lstm = CurrentLstm()) {
    context = learn::LstmContext(std::move(lstm));
  }
  int restored_buckets = 0, restored_models = 0, restored_detectors = 0;
  for (const BucketState& b : buckets) {
    if (service_.RestoreBucket(b).ok()) ++restored_buckets;
  }
  std::lock_guard work(work_mu_);
  SyncClasses(service_.PlanningClasses());
  for (SavedModel& saved : models) {
    auto it = models_.find(saved.key);
    if (it == models_.end()) continue;  // No longer configured.
    ModelState& m = *it->second;
    absl::StatusOr<std::unique_ptr<forecast::Forecaster>> fine =
        forecast::Forecaster::Load(saved.fine, context);
    if (!fine.ok()) {
      Log(fmt::format("{}: model of {} not restored ({}); it is refitted", path, saved.key,
                      std::string(fine.status().message())));
      continue;
    }
    m.fine = *std::move(fine);
    m.coarse.reset();
    if (!saved.coarse.empty()) {
      absl::StatusOr<std::unique_ptr<forecast::Forecaster>> coarse =
          forecast::Forecaster::Load(saved.coarse);
      if (coarse.ok()) m.coarse = *std::move(coarse);
    }
    m.spec = saved.spec;
    m.trained_at = FromNs(saved.trained_at);
    m.fine_next = FromNs(saved.fine_next);
    m.coarse_next = FromNs(saved.coarse_next);
    m.needs_fit = m.model_name != saved.model_name;  // The configured model changed meanwhile.
    if (m.needs_fit) m.fit_reason = FitReason::kConfig;
    m.detector.reset();  // Without a saved one: warmed from history at the next catch-up.
    if (saved.learning) RestoreLearning(m, *saved.learning);
    // A version-1 file (or a refused calibrator) starts calibrating from here.
    EnsureCalibration(m.fine_cal, options_.calibration, kFineHorizon, m.fine_next);
    EnsureCalibration(m.coarse_cal, options_.calibration, kCoarseHorizon, m.coarse_next);
    {
      std::lock_guard lock(snap_mu_);
      if (saved.feedback) feedback_[saved.key] = *saved.feedback;
      if (saved.cost) costs_[saved.key] = *saved.cost;
    }
    Publish(m);
    ++restored_models;
    if (m.detector) ++restored_detectors;
  }
  {
    std::lock_guard lock(plan_mu_);
    for (auto& [key, p] : plans) {
      if (!models_.count(key)) continue;
      auto& rec = plans_[key];
      if (!rec) rec = std::make_unique<PlanRecord>();
      rec->current = p;
      rec->points.push_back(std::move(p));
    }
  }
  lstm_generation_seen_ = lstm_generation_.load(std::memory_order_acquire);
  Log(
      fmt::format("{}: restored {} buckets, {} models ({} with their anomaly detectors), {} plans "
                  "(saved at {}, format version {})",
                  path, restored_buckets, restored_models, restored_detectors, plans.size(),
                  history::FormatWallTime(FromNs(saved_at)), version));
  return absl::OkStatus();
}

}  // namespace tidegate::server
