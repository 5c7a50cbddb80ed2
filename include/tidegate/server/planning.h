// tidegate/server/planning.h — the daemon's planning loop: demand history -> forecasts ->
// anomaly flags -> plans -> buckets, with feedback, plan history and checkpoints.
//
// A Planning object runs beside a Service (service.h). For every class with a bucket it keeps
//   * a fine model at `model_step` (1 min) serving the 1m and 1h horizons and a coarse model at
//     1 h serving the 1d horizon, both made by the model registry (the class's `predict.model`,
//     default "auto"), fitted on the class's demand series `requests{tenant, class}` (the series
//     live checks and imported usage logs write, service.h) and updated online (Forecaster::Update)
//     with every newly closed step;
//   * adaptive conformal calibrators (forecast/conformal.h) of both models' intervals, per horizon
//     step, whose coverage is published with the forecast;
//   * a drift CUSUM (learn/drift.h) on the one-step errors: an alarm refits that class only;
//   * a causal anomaly detector (anomaly/detector.h) fed with every closed fine step;
//   * the planner's feedback state (plan/feedback.h), updated with every closed fine step;
//   * a learned per-request cost (resource sums / requests over the last day of usage reports).
// Every planning tick builds plan::PlannerConfig from the active Config, feeds each class's
// forecast of the next hour, calls Planner::MakePlan and applies each class's plan with
// Service::ApplyPlan (an active override or a request's descriptor limit wins; a class without a
// forecast keeps its configured limit). docs/design/planning-loop.md has the schedule and formulas.
//
// Threads: RunModelWork (catch-up, forecasts, detection, feedback, fits) runs on one worker
// thread (Start) so that fits never delay the tick; Tick runs on the caller's thread (the daemon's
// main loop). Tests call both directly on a SimulatedClock, without Start. Readers (the HTTP API,
// metrics, alerting) get immutable snapshots and never wait for a fit.
//
// Persistence: Checkpoint writes bucket levels, overrides, plans, models, feedback and each
// class's learning state (fit reason, drift CUSUM, anomaly detector, calibrators) to
// `state_path` (docs/formats/planning-state.md) atomically (temp file + rename); Restore reads it
// back. A corrupt, truncated or version-mismatched file is refused as a whole (DataLoss /
// FailedPrecondition naming the problem) and nothing is applied.
//
// Thread-safety: every public method may be called from any thread, except that RunModelWork
// must not run concurrently with itself (Start's worker or the test) and Tick not with itself.
#ifndef TIDEGATE_SERVER_PLANNING_H_
#define TIDEGATE_SERVER_PLANNING_H_

#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "tidegate/anomaly/detector.h"
#include "tidegate/common/clock.h"
#include "tidegate/forecast/conformal.h"
#include "tidegate/learn/drift.h"
#include "tidegate/learn/lstm.h"
#include "tidegate/plan/feedback.h"
#include "tidegate/plan/planner.h"
#include "tidegate/server/cron.h"
#include "tidegate/server/service.h"

namespace tidegate::server {

struct PlanningOptions {
  Duration model_step = std::chrono::minutes(1);     // Fine model step; a multiple of store.step.
  Duration fit_window = std::chrono::hours(24 * 3);  // Fine model: history per fit.
  Duration coarse_window = std::chrono::hours(24 * 56);  // Coarse (1 h) model: history per fit.
  int min_fit_steps = 30;  // Fewer observed fine steps: no model yet (retried each hour).
  double level = 95;       // Interval level, percent.
  // A step is read from the store this long after it ends (the usage aggregator's lateness plus
  // one tick), so that it is complete.
  Duration settle_delay = std::chrono::seconds(25);
  size_t plan_history = 240;                         // Plan points kept per class.
  Duration plan_interval = std::chrono::minutes(1);  // At most one point per interval unless
                                                     // the reason changes.
  size_t anomaly_history = 200;                      // Anomalies kept per class.
  double reserve_fraction = 0.1;                     // Capacity kept free by the planner.
  plan::FeedbackConfig feedback = [] {
    plan::FeedbackConfig f;
    f.require_anomaly = true;  // Surge only when the detector flags the observation.
    return f;
  }();
  anomaly::ConformalDetectorOptions detector = [] {
    anomaly::ConformalDetectorOptions o;  // Windows sized for one value per minute.
    o.level_window = 15;
    o.spread_window = 120;
    o.calibration_window = 720;
    o.long_window = 240;
    o.probation = 60;
    o.refractory_seconds = 1800;
    o.history_window = 720;
    // The sequence terms (season, context novelty) are off here and the point surprise flags on
    // its own, as before they existed: they keep windows of their own per class (a hash map of
    // up to context_window contexts among them), and the daemon's memory per class has not been
    // measured with them.
    o.point_weight = 1;
    o.season_weight = 0;
    o.context_weight = 0;
    // Without the seasonal term, a class jumping at night to its usual daytime level is caught
    // only by the likelihood, and its values lie inside the range of the history: no gate.
    o.likelihood_gate = 0;
    // The daily-profile gate is off as well (the history of 720 values holds no earlier day).
    o.likelihood_daily_gate = 0;
    // Recurring extremes (a daily spike grown routine) keep flagging here, as before the rule.
    o.recurrence_tolerance = 0;
    return o;
  }();
  // Drift: every closed fine step's one-step-ahead error, in units of the calibrated interval's
  // scale, feeds a two-sided CUSUM per class (learn/drift.h; h = 8 for minute data: ~6.6 days
  // between false alarms on calibrated errors). An alarm refits that class, and only that class,
  // at the next RunModelWork — but at most once per `drift_cooldown` after its last fit.
  learn::DriftOptions drift = [] {
    learn::DriftOptions d;
    d.h = 8;
    return d;
  }();
  Duration drift_cooldown = std::chrono::hours(1);
  // Adaptive conformal calibration (forecast/conformal.h) of the published intervals, per horizon
  // step: the fine model's 60 steps (a forecast is recorded for scoring every
  // `fine_calibration_stride` steps, which bounds memory at 60 / stride pending forecasts) and
  // the coarse model's 24. `horizon` and `levels` are set by the loop (levels = {level}).
  forecast::ConformalOptions calibration = [] {
    forecast::ConformalOptions c;
    c.gamma = 0.005;
    c.window = 100;
    c.min_scores = 20;
    return c;
  }();
  int fine_calibration_stride = 5;
  // The global LSTM (learn/lstm.h) for the fine model of classes whose predict.model is "lstm"
  // (their coarse model is "auto"). It is trained across every class's fine-step history (the
  // last fit_window) when schedule.training fires, and at start when no usable model file
  // exists, provided some class asks for it and at least `lstm_min_series` classes have
  // lstm.window() + 2·lstm.horizon steps of history (else it is skipped, logged, and retried
  // hourly); fine-tuned every `lstm_fine_tune_every` on the last `lstm_fine_tune_window` of
  // history; saved to `lstm_path` (atomically) after each round and loaded from it at Restore.
  // Training runs on its own thread (Start), with one libtorch thread. "" = no LSTM: such
  // classes are served by "auto", with a log line.
  std::string lstm_path;
  learn::LstmOptions lstm = [] {
    learn::LstmOptions o;
    o.period = 60;   // Patches of an hour of minutes...
    o.patches = 24;  // ...a day of them as input...
    o.horizon = 60;  // ...and the fine model's 60 steps out.
    o.hidden = 32;
    return o;
  }();
  learn::TrainOptions lstm_train = [] {
    learn::TrainOptions t;
    t.steps = 1500;
    t.batch = 128;
    t.threads = 1;
    return t;
  }();
  learn::TrainOptions lstm_fine_tune = [] {
    learn::TrainOptions t;
    t.steps = 100;
    t.batch = 64;
    t.learning_rate = 3e-4;
    t.warmup_steps = 10;
    t.threads = 1;
    return t;
  }();
  Duration lstm_fine_tune_every = std::chrono::hours(6);
  Duration lstm_fine_tune_window = std::chrono::hours(30);
  int lstm_min_series = 1;
  std::string state_path;  // Checkpoint file; "" = no persistence.
  // Log lines (fits, fallbacks, restore problems). Null = silent.
  std::function<void(const std::string&)> log;
};

// One horizon of a class's forecast; values are requests/s averaged over each step.
struct HorizonSnapshot {
  std::string name;  // "1m", "1h", "1d".
  Duration step{0};
  WallTime start{};                        // Start of step 1.
  std::vector<double> mean, lower, upper;  // Intervals calibrated (when calibration has data).
  // Share of the calibrated intervals that covered the actual value, over every step of this
  // horizon scored so far (1m: step 1 of the fine model; 1h: its 60 steps; 1d: the coarse
  // model's 24); nullopt before the first score.
  std::optional<double> coverage;
};

// Why a class's current model was fitted.
enum class FitReason {
  kNew,       // First model of the class (at start, new class, or retried after too little data).
  kSchedule,  // schedule.training fired (or RequestTraining).
  kDrift,     // The class's forecast errors drifted (CUSUM alarm).
  kConfig,    // Its predict.model changed.
  kGap,       // Its model fell behind by more than the fit window or rejected an update.
};
inline constexpr int kNumFitReasons = 5;
std::string_view FitReasonName(FitReason r);  // "new", "schedule", "drift", "config", "gap"

// What the forecasting side knows of a class now (immutable once published).
struct ClassForecastSnapshot {
  std::string key;    // ClassKey::ToString().
  std::string model;  // "" while no model is trained.
  std::string spec;   // The fitted form, e.g. "auto = ets 0.6 + snaive 0.4".
  WallTime trained_at{};
  FitReason fit_reason = FitReason::kNew;  // Why the current model was fitted.
  int64_t drift_refits = 0;                // Fits of this class triggered by drift (persisted).
  std::optional<WallTime> last_drift_at;   // Newest drift alarm.
  double level = 95;
  std::vector<HorizonSnapshot> horizons;  // "1m", "1h" (fine model) and "1d" (coarse model).
  // The newest closed fine step and what the detector said of it.
  std::optional<WallTime> last_step;
  double last_actual_per_s = 0;
  std::optional<double> abs_error_per_s;  // |actual - one-step-ahead mean| of that step.
  bool anomaly = false;
  anomaly::AnomalyKind anomaly_kind = anomaly::AnomalyKind::kNone;
  double anomaly_score = 0;
  std::optional<WallTime> last_anomaly_at;  // Newest flagged step.

  const HorizonSnapshot* Horizon(std::string_view name) const;
};

struct AnomalyEvent {
  std::string key;
  WallTime t{};
  double value_per_s = 0;
  double score = 0;
  anomaly::AnomalyKind kind = anomaly::AnomalyKind::kNone;
};

struct PlanPoint {
  WallTime t{};
  double rate_per_s = 0;  // The planner's rate (the class's bucket unless overridden).
  double size = 0;
  bool applied = false;  // False when an override or request limit was in force instead.
  plan::Explanation why;
};

struct TickInfo {
  WallTime t{};
  double duration_ms = 0;
  int64_t classes = 0;
  int64_t fallbacks = 0;
  plan::ResourceVector committed{};
  std::array<plan::ResourceVector, plan::kMaxTiers> committed_by_tier{};
  plan::ResourceVector capacity = plan::UnlimitedCapacity();
  double reserve_fraction = 0;
};

// The latest plan of one class (GET /v1/plan).
struct CurrentClassPlan {
  std::string key;
  PlanPoint point;
};

// What the daemon's global LSTM is doing (GET /v1/learning).
struct LstmStatus {
  // "disabled" (no lstm_path), "unused" (no class asks for it), "pending" (not trained yet),
  // "skipped" (too little history; retried hourly), "trained", "failed" (retried hourly).
  std::string state = "disabled";
  std::string message;                 // Why, for skipped/failed; the training record otherwise.
  std::optional<WallTime> trained_at;  // Last full training (or load of the file).
  std::optional<WallTime> fine_tuned_at;
  int series = 0;                 // Series of the last training or fine-tuning round.
  int64_t steps = 0;              // Optimiser steps the model has had in total.
  double last_round_seconds = 0;  // CPU-thread wall time of the last round.
  double validation_loss = 0;
  int64_t rounds = 0;  // Trainings and fine-tunings completed since start.
};

// The state of a class as the dashboard shows it.
enum class ClassCondition { kOk, kThrottled, kSurge, kAnomaly };
std::string_view ClassConditionName(ClassCondition c);  // "ok", "throttled", "surge", "anomaly"

struct SavedLearning;  // A class's learning state read from a checkpoint (planning.cc).

class Planning {
 public:
  // `service` must outlive the Planning. InvalidArgument for bad options (naming the field).
  static absl::StatusOr<std::unique_ptr<Planning>> Create(Service& service,
                                                          PlanningOptions options);
  ~Planning();  // Stops the worker.
  Planning(const Planning&) = delete;
  Planning& operator=(const Planning&) = delete;

  // Reads the checkpoint: restores bucket levels, overrides and plans into the service, models,
  // feedback, detectors, calibrators and drift sums into the planning state. OK when there is no
  // file (fresh start); DataLoss / FailedPrecondition when it is corrupt or of an unknown version
  // (nothing applied); version 1 files load without the learning state. Classes no longer
  // configured are skipped.
  absl::Status Restore();
  // Writes the checkpoint atomically. Internal naming the path on an I/O error.
  absl::Status Checkpoint();

  // The worker's unit of work: syncs the class list, feeds every closed fine/coarse step to the
  // detectors, feedback and models and republishes their forecasts, then fits the classes that
  // need it (new classes, no model yet, or all of them when the training schedule fired). With
  // `fits = false` no fit runs (fits are then left pending).
  void RunModelWork(bool fits = true);
  // Marks every class for a refit at the next RunModelWork (the schedule does this).
  void RequestTraining();

  // The learner's unit of work (Start's learner thread; tests call it directly): loads the LSTM
  // file if not yet done, then trains or fine-tunes the global LSTM when due (see
  // PlanningOptions::lstm_path). Blocks for the length of a training round.
  void RunLearningWork();
  LstmStatus Lstm() const;

  // One planning tick (see the header comment). Errors only for an impossible planner
  // configuration (logged; classes keep their previous buckets).
  absl::Status Tick();

  // Starts / stops the worker thread running RunModelWork about every second.
  void Start();
  void Stop();

  // ---- Read side (any thread) ----
  // Snapshot of one class by ClassKey::ToString() key, or null when it is unknown.
  std::shared_ptr<const ClassForecastSnapshot> Forecast(std::string_view key) const;
  // Every class's snapshot, sorted by key (for alerting and metrics).
  std::vector<std::shared_ptr<const ClassForecastSnapshot>> Forecasts() const;
  // A class's predicted requests for alerting and scaling (Service::SetDemandSource): per horizon
  // (1m, 1h, 1d) the largest mean and upper bound over that window, so a rule on "1h" sees any
  // crossing within the next hour; and the detector's state of the newest closed step. nullopt
  // while the class has no trained model.
  std::optional<Service::PredictedDemand> PredictedDemandOf(std::string_view key) const;
  // Anomalies at or after `since`, of one class (key non-empty) or all, oldest first.
  std::vector<AnomalyEvent> Anomalies(WallTime since, std::string_view key = "") const;
  // Plan points of one class at or after `since`; NotFound when the class was never planned.
  absl::StatusOr<std::vector<PlanPoint>> PlanHistory(std::string_view key, WallTime since) const;
  std::vector<CurrentClassPlan> CurrentPlan() const;
  std::optional<TickInfo> LastTick() const;
  ClassCondition Condition(const ClassInfo& info) const;
  // Prometheus text (0.0.4) of the planning metrics (appended to Service::RenderMetrics).
  std::string RenderMetrics() const;

  // Publishes `snapshot` for its class as if a model had produced it (benchmarks and tests that
  // need many forecasts without fitting many models).
  void InjectForecast(std::shared_ptr<const ClassForecastSnapshot> snapshot);

 private:
  struct ModelState;
  struct PlanRecord;

  Planning(Service& service, PlanningOptions options, CronSchedule schedule,
           learn::DriftDetector drift);
  // Creates the models of new classes and drops those of removed ones (a no-op for the snapshot
  // it saw last).
  void SyncClasses(std::shared_ptr<const std::vector<PlanningClass>> snapshot);
  void CatchUp(ModelState& m, WallTime now);
  absl::Status Fit(ModelState& m, WallTime now);
  void Publish(ModelState& m);
  void LearnCost(ModelState& m, WallTime now);
  absl::Status WarmDetector(ModelState& m, const std::vector<double>& values, WallTime start);
  void MarkForFit(ModelState& m, FitReason reason, WallTime not_before = {});
  void RestoreLearning(ModelState& m, SavedLearning& l);
  void LoadLstm();
  std::shared_ptr<const learn::LstmModel> CurrentLstm() const;
  absl::StatusOr<std::vector<forecast::Series>> LstmSeries(Duration window, int* classes_asking);
  void ObserveDrift(ModelState& m, WallTime t, double value, WallTime now);
  void Log(const std::string& line) const;

  Service& service_;
  const PlanningOptions options_;
  CronSchedule schedule_;

  // Worker-owned model states (work_mu_ also serialises Checkpoint/Restore with the worker).
  mutable std::mutex work_mu_;
  std::map<std::string, std::unique_ptr<ModelState>> models_;         // By key.
  std::shared_ptr<const std::vector<PlanningClass>> synced_classes_;  // models_ follows it.
  std::optional<WallTime> next_training_;
  learn::DriftDetector drift_;  // One CUSUM per class key.
  std::atomic<bool> training_requested_{false};

  // Published state.
  mutable std::mutex snap_mu_;
  std::unordered_map<std::string, std::shared_ptr<const ClassForecastSnapshot>> forecasts_;
  std::unordered_map<std::string, plan::FeedbackState> feedback_;
  std::unordered_map<std::string, plan::ResourceVector> costs_;
  std::map<std::string, std::deque<AnomalyEvent>> anomalies_;

  mutable std::mutex plan_mu_;
  std::map<std::string, std::unique_ptr<PlanRecord>> plans_;
  // The tick's class list and its records in plans_, by position (tick thread; plan_mu_).
  std::shared_ptr<const std::vector<PlanningClass>> planned_classes_;
  std::vector<PlanRecord*> plan_records_;
  std::optional<TickInfo> last_tick_;

  // Planner, rebuilt when the class list or the config changes (tick thread only).
  std::optional<plan::Planner> planner_;
  std::string planner_signature_;
  std::shared_ptr<const std::vector<PlanningClass>> signed_classes_;  // The signature's list.

  // Metrics.
  std::atomic<uint64_t> fits_ok_{0}, fits_failed_{0}, ticks_{0};
  std::array<std::atomic<uint64_t>, kNumFitReasons> refits_{};  // Successful fits by reason.
  std::atomic<double> last_fit_seconds_{0};
  std::atomic<double> last_training_seconds_{0};
  std::map<std::pair<std::string, int>, uint64_t> anomaly_counts_;  // Under snap_mu_.

  // The global LSTM: the model (swapped whole; readers copy the pointer) and its status.
  mutable std::mutex lstm_mu_;
  std::shared_ptr<const learn::LstmModel> lstm_;
  LstmStatus lstm_status_;
  bool lstm_loaded_ = false;                    // LoadLstm ran (learner thread / Restore).
  std::optional<WallTime> lstm_next_training_;  // Learner-owned.
  WallTime lstm_retry_at_{};                    // Learner-owned.
  std::atomic<uint64_t> lstm_generation_{0};    // Bumped at every swap; the worker refits.
  uint64_t lstm_generation_seen_ = 0;           // Worker-owned.
  std::atomic<bool> stopping_{false};           // Cancels a training round at Stop.

  std::thread worker_;
  std::thread learner_;
  std::mutex worker_mu_;
  std::condition_variable worker_cv_;
  bool stop_ = false;
};

}  // namespace tidegate::server

#endif  // TIDEGATE_SERVER_PLANNING_H_
