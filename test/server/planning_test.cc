// Unit tests of the planning loop on simulated time: demand history from checks, forecasts that
// plan ahead of a daily rise, overrides winning over plans, fallback without a forecast, surge on
// an anomaly, checkpoints (and corrupt ones), and the schedule's cron expressions.
#include "tidegate/server/planning.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <numbers>
#include <string>

#include "fmt/format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tidegate/forecast/model_registry.h"
#include "tidegate/forecast/serialize.h"
#include "tidegate/history/calendar.h"
#include "tidegate/history/sqlite_store.h"
#include "tidegate/server/cron.h"

namespace tidegate::server {
namespace {

using ::testing::HasSubstr;
using namespace std::chrono_literals;

constexpr char kConfig[] = R"(
domain: shop
descriptors:
  - key: class
    value: checkout
    rate_limit: {unit: second, requests_per_unit: 100}
    priority: critical
    predict: {model: snaive, margin: 0.2, lead_time: 30m, base_burst: 50}
  - key: class
    value: browse
    rate_limit: {unit: second, requests_per_unit: 70}
capacity: {requests: 100000}
)";

// Demand of checkout in requests/s: a daily cycle, low at 03:00 UTC, high at 15:00.
double Demand(WallTime t) {
  const double hours = std::chrono::duration<double>(t.time_since_epoch()).count() / 3600.0;
  const double phase = 2 * std::numbers::pi * (hours - 9) / 24;
  return 20 + 15 * std::sin(phase);
}

WallTime Wall(std::string_view text) {
  absl::StatusOr<WallTime> t = history::ParseRfc3339(text);
  EXPECT_TRUE(t.ok()) << t.status();
  return t.value_or(WallTime{});
}

class PlanningTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           fmt::format("planning_test_{}_{}", ::getpid(),
                       ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    // 09:00: demand is rising fastest towards its 15:00 peak.
    clock_.SetWall(Wall("2026-11-05T09:00:00Z"));
  }
  void TearDown() override {
    planning_.reset();
    service_.reset();
    std::filesystem::remove_all(dir_);
  }

  void MakeService(const char* config_text = kConfig) {
    planning_.reset();
    service_.reset();
    absl::StatusOr<Config> config = ParseConfig(config_text, "test.yaml");
    ASSERT_TRUE(config.ok()) << config.status();
    auto store = history::SqliteStore::Open(dir_.string());
    ASSERT_TRUE(store.ok()) << store.status();
    ServiceOptions options;
    options.config = *std::move(config);
    options.store = *std::move(store);
    options.aggregator.step = 10s;
    auto service = Service::Create(std::move(options), clock_);
    ASSERT_TRUE(service.ok()) << service.status();
    service_ = *std::move(service);
    PlanningOptions po;
    po.state_path = (dir_ / "planning-state.bin").string();
    po.log = [this](const std::string& line) { log_.push_back(line); };
    if (with_lstm_) {  // A small global LSTM, trained in a second or two.
      po.lstm_path = (dir_ / "lstm-model.bin").string();
      po.lstm.period = 60;
      po.lstm.patches = 4;
      po.lstm.horizon = 60;
      po.lstm.hidden = 8;
      po.lstm_train.steps = 30;
      po.lstm_train.batch = 16;
      po.lstm_fine_tune.steps = 5;
      po.lstm_fine_tune.batch = 8;
    }
    auto planning = Planning::Create(*service_, po);
    ASSERT_TRUE(planning.ok()) << planning.status();
    planning_ = *std::move(planning);
  }

  // Writes a class's per-minute demand for [from, to) into the store.
  void WriteHistory(WallTime from, WallTime to, double factor = 1,
                    const std::string& series_class = "class=checkout") {
    history::SampleBatch batch;
    const history::SeriesKey key{"requests", "shop", series_class};
    int i = 0;
    for (WallTime t = from; t < to; t += 1min, ++i) {
      const double noise = 1 + 0.05 * std::sin(i * 1.7);  // Deterministic wiggle.
      batch.Add(key, t, std::round(Demand(t) * factor * noise * 60));
    }
    ASSERT_TRUE(service_->store().Append(batch).ok());
  }

  ClassInfo Info(const std::string& key) {
    absl::StatusOr<ClassInfo> c = service_->GetClass(key);
    EXPECT_TRUE(c.ok()) << c.status();
    return c.value_or(ClassInfo{});
  }

  PlanPoint Current(const std::string& key) {
    for (const CurrentClassPlan& c : planning_->CurrentPlan()) {
      if (c.key == key) return c.point;
    }
    ADD_FAILURE() << "no plan for " << key;
    return {};
  }

  std::filesystem::path dir_;
  SimulatedClock clock_;
  std::unique_ptr<Service> service_;
  std::unique_ptr<Planning> planning_;
  std::vector<std::string> log_;
  bool with_lstm_ = false;
};

TEST_F(PlanningTest, ChecksRecordOfferedAndAdmittedDemand) {
  MakeService();
  CheckRequest req;
  req.domain = "shop";
  req.descriptors.push_back({{{"class", "browse"}}, std::nullopt, 3});
  // 70 tokens: 23 requests of 3 are admitted, the rest refused; all are offered.
  for (int i = 0; i < 30; ++i) ASSERT_TRUE(service_->Check(req).ok());
  clock_.Advance(30s);
  ASSERT_TRUE(service_->Tick().ok());
  const WallTime step = history::AlignDown(clock_.WallNow() - 30s, 10s);
  auto offered = service_->store().Query({"requests", "shop", "class=browse"}, step, step + 10s,
                                         10s, history::Aggregation::kSum);
  auto admitted = service_->store().Query({"requests_admitted", "shop", "class=browse"}, step,
                                          step + 10s, 10s, history::Aggregation::kSum);
  ASSERT_TRUE(offered.ok() && admitted.ok());
  ASSERT_EQ(offered->size(), 1u);
  ASSERT_EQ(admitted->size(), 1u);
  EXPECT_EQ((*offered)[0].value, 90);
  EXPECT_EQ((*admitted)[0].value, 69);
}

TEST_F(PlanningTest, PlansFollowTheForecastAheadOfTheDailyRise) {
  MakeService();
  const WallTime now = clock_.WallNow();
  WriteHistory(now - std::chrono::hours(24 * 4), history::AlignDown(now, 1min));
  planning_->RunModelWork();
  auto snap = planning_->Forecast("shop/class=checkout");
  ASSERT_NE(snap, nullptr);
  EXPECT_EQ(snap->model, "snaive");
  const HorizonSnapshot* h = snap->Horizon("1h");
  ASSERT_NE(h, nullptr);
  ASSERT_EQ(h->mean.size(), 60u);
  for (size_t i = 0; i < h->mean.size(); ++i) {
    EXPECT_LE(h->lower[i], h->mean[i]);
    EXPECT_LE(h->mean[i], h->upper[i]);
  }
  ASSERT_NE(snap->Horizon("1d"), nullptr);
  EXPECT_EQ(snap->Horizon("1d")->mean.size(), 24u);

  ASSERT_TRUE(planning_->Tick().ok());
  const PlanPoint p = Current("shop/class=checkout");
  EXPECT_EQ(p.why.reason, plan::Reason::kForecast);
  // Planned for the rise 30 min (lead time) ahead, with the 20 % margin, not for what arrives
  // now.
  const double later = Demand(now + 30min);
  EXPECT_GT(later, Demand(now) * 1.08);
  EXPECT_GE(p.rate_per_s, later * 1.1);
  EXPECT_LE(p.rate_per_s, later * 1.6);
  const ClassInfo info = Info("shop/class=checkout");
  EXPECT_DOUBLE_EQ(info.rate_per_s, p.rate_per_s);
  ASSERT_TRUE(info.planned_rate_per_s.has_value());
  EXPECT_DOUBLE_EQ(*info.planned_rate_per_s, p.rate_per_s);

  // Two hours later (the forecast moved on with the closed steps), the plan has risen with it.
  for (int i = 0; i < 120; ++i) {
    WriteHistory(history::AlignDown(clock_.WallNow(), 1min),
                 history::AlignDown(clock_.WallNow(), 1min) + 1min);
    clock_.Advance(1min);
    planning_->RunModelWork();
  }
  ASSERT_TRUE(planning_->Tick().ok());
  const PlanPoint q = Current("shop/class=checkout");
  EXPECT_GT(q.rate_per_s, p.rate_per_s);
  EXPECT_GE(q.rate_per_s, Demand(clock_.WallNow() + 30min) * 1.1);
  auto history = planning_->PlanHistory("shop/class=checkout", WallTime{});
  ASSERT_TRUE(history.ok());
  EXPECT_GE(history->size(), 2u);
}

TEST_F(PlanningTest, OverrideWinsOverThePlanAndThePlanReturnsAfterIt) {
  MakeService();
  const WallTime now = clock_.WallNow();
  WriteHistory(now - std::chrono::hours(24 * 3), history::AlignDown(now, 1min));
  planning_->RunModelWork();
  OverrideRequest o;
  o.key = {"shop", {{"class", "checkout"}}};
  o.rate_per_s = 5;
  o.ttl = 1h;
  ASSERT_TRUE(service_->SetOverride(o).ok());
  ASSERT_TRUE(planning_->Tick().ok());
  const PlanPoint p = Current("shop/class=checkout");
  EXPECT_EQ(p.why.reason, plan::Reason::kForecast);
  EXPECT_FALSE(p.applied);
  EXPECT_DOUBLE_EQ(Info("shop/class=checkout").rate_per_s, 5);
  ASSERT_TRUE(service_->ClearOverride(o.key).ok());
  EXPECT_DOUBLE_EQ(Info("shop/class=checkout").rate_per_s, p.rate_per_s);
}

TEST_F(PlanningTest, ClassWithoutForecastKeepsItsConfiguredLimit) {
  MakeService();
  planning_->RunModelWork();
  ASSERT_TRUE(planning_->Tick().ok());
  const PlanPoint p = Current("shop/class=browse");
  EXPECT_EQ(p.why.reason, plan::Reason::kFallbackNoForecast);
  EXPECT_DOUBLE_EQ(p.rate_per_s, 70);
  const ClassInfo info = Info("shop/class=browse");
  EXPECT_DOUBLE_EQ(info.rate_per_s, 70);
  EXPECT_FALSE(info.planned_rate_per_s.has_value());
  auto snap = planning_->Forecast("shop/class=browse");
  EXPECT_TRUE(snap == nullptr || snap->model.empty());
  ASSERT_TRUE(planning_->LastTick().has_value());
  EXPECT_EQ(planning_->LastTick()->fallbacks, 2);  // Nothing has history yet.
}

TEST_F(PlanningTest, AnomalySetsSurge) {
  MakeService();
  const WallTime now = clock_.WallNow();
  WriteHistory(now - std::chrono::hours(24 * 3), history::AlignDown(now, 1min));
  planning_->RunModelWork();
  ASSERT_TRUE(planning_->Tick().ok());
  const double before = Current("shop/class=checkout").rate_per_s;
  // A flash crowd: ten times the usual demand, minute after minute.
  bool surged = false;
  for (int i = 0; i < 5 && !surged; ++i) {
    const WallTime m = history::AlignDown(clock_.WallNow(), 1min);
    WriteHistory(m, m + 1min, 10);
    clock_.Advance(1min);
    planning_->RunModelWork();
    ASSERT_TRUE(planning_->Tick().ok());
    surged = Current("shop/class=checkout").why.surge == plan::SurgeMode::kUp;
  }
  EXPECT_TRUE(surged);
  EXPECT_GT(Current("shop/class=checkout").rate_per_s, before * 2);
  auto anomalies = planning_->Anomalies(now, "shop/class=checkout");
  ASSERT_FALSE(anomalies.empty());
  EXPECT_EQ(anomalies.back().kind, anomaly::AnomalyKind::kSpike);
  const ClassCondition c = planning_->Condition(Info("shop/class=checkout"));
  EXPECT_EQ(c, ClassCondition::kAnomaly);
  EXPECT_THAT(planning_->RenderMetrics(), HasSubstr("tidegate_anomalies_total{tenant=\"shop\""));
}

TEST_F(PlanningTest, CheckpointRestoresBucketsOverridesModelsAndPlans) {
  MakeService();
  const WallTime now = clock_.WallNow();
  WriteHistory(now - std::chrono::hours(24 * 3), history::AlignDown(now, 1min));
  planning_->RunModelWork();
  ASSERT_TRUE(planning_->Tick().ok());
  OverrideRequest o;
  o.key = {"shop", {{"class", "browse"}}};
  o.rate_per_s = 7;
  o.size = 9;
  o.ttl = 1h;
  ASSERT_TRUE(service_->SetOverride(o).ok());
  CheckRequest req;
  req.domain = "shop";
  req.descriptors.push_back({{{"class", "browse"}}, std::nullopt, 4});
  ASSERT_TRUE(service_->Check(req).ok());  // 9 - 4 = 5 tokens left.
  const double planned = Current("shop/class=checkout").rate_per_s;
  const auto trained = planning_->Forecast("shop/class=checkout")->trained_at;
  ASSERT_TRUE(planning_->Checkpoint().ok());

  MakeService();  // A restart on the same data directory.
  ASSERT_TRUE(planning_->Restore().ok());
  auto snap = planning_->Forecast("shop/class=checkout");
  ASSERT_NE(snap, nullptr);
  EXPECT_EQ(snap->model, "snaive");
  EXPECT_EQ(snap->trained_at, trained);
  EXPECT_EQ(snap->Horizon("1h")->mean.size(), 60u);
  const ClassInfo browse = Info("shop/class=browse");
  ASSERT_TRUE(browse.override_info.has_value());
  EXPECT_NEAR(browse.rate_per_s, 7, 1e-6);
  EXPECT_NEAR(browse.size, 9, 1e-6);
  EXPECT_NEAR(browse.available, 5, 1e-6);
  EXPECT_DOUBLE_EQ(Info("shop/class=checkout").rate_per_s, planned);
  EXPECT_DOUBLE_EQ(Current("shop/class=checkout").rate_per_s, planned);
}

TEST_F(PlanningTest, CorruptOrForeignStateIsRefusedAndNothingApplied) {
  MakeService();
  const WallTime now = clock_.WallNow();
  WriteHistory(now - std::chrono::hours(24 * 3), history::AlignDown(now, 1min));
  planning_->RunModelWork();
  ASSERT_TRUE(planning_->Checkpoint().ok());
  const auto path = dir_ / "planning-state.bin";
  std::string bytes;
  {
    std::ifstream in(path, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  bytes[bytes.size() / 2] ^= 0x5a;
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
  MakeService();
  absl::Status s = planning_->Restore();
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(s.message(), HasSubstr("checksum"));
  EXPECT_EQ(planning_->Forecast("shop/class=checkout"), nullptr);

  std::ofstream(path, std::ios::binary | std::ios::trunc) << "TGPS\x07";
  s = planning_->Restore();
  EXPECT_FALSE(s.ok());
  std::ofstream(path, std::ios::binary | std::ios::trunc) << "not a state file at all";
  s = planning_->Restore();
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(s.message(), HasSubstr("bad magic"));
}

TEST_F(PlanningTest, TrainingScheduleRefitsEveryClass) {
  MakeService();
  const WallTime now = clock_.WallNow();
  WriteHistory(now - std::chrono::hours(24 * 3), history::AlignDown(now, 1min));
  planning_->RunModelWork();
  const WallTime first = planning_->Forecast("shop/class=checkout")->trained_at;
  // Default schedule: nightly at 03:00 UTC. Advance past it, minute by minute of history.
  clock_.SetWall(Wall("2026-11-06T03:00:30Z"));
  WriteHistory(history::AlignDown(now, 1min), Wall("2026-11-06T03:00:00Z"));
  planning_->RunModelWork();
  const WallTime second = planning_->Forecast("shop/class=checkout")->trained_at;
  EXPECT_GT(second, first);
  EXPECT_EQ(second, Wall("2026-11-06T03:00:30Z"));
}

// Both classes forecast by seasonal naive (fast to fit under the sanitizers).
constexpr char kTwoClassConfig[] = R"(
domain: shop
descriptors:
  - key: class
    value: checkout
    rate_limit: {unit: second, requests_per_unit: 100}
    predict: {model: snaive}
  - key: class
    value: browse
    rate_limit: {unit: second, requests_per_unit: 70}
    predict: {model: snaive}
capacity: {requests: 100000}
)";

TEST_F(PlanningTest, DriftRefitsOnlyTheClassThatShifted) {
  MakeService(kTwoClassConfig);
  const WallTime now = clock_.WallNow();
  WriteHistory(now - std::chrono::hours(24 * 3), history::AlignDown(now, 1min));
  WriteHistory(now - std::chrono::hours(24 * 3), history::AlignDown(now, 1min), 0.5,
               "class=browse");
  planning_->RunModelWork();
  const auto checkout0 = planning_->Forecast("shop/class=checkout");
  const auto browse0 = planning_->Forecast("shop/class=browse");
  ASSERT_NE(checkout0, nullptr);
  ASSERT_NE(browse0, nullptr);
  EXPECT_EQ(checkout0->fit_reason, FitReason::kNew);
  // 70 quiet minutes (past the 1 h cooldown after the first fit): no drift anywhere.
  auto minute = [&](double checkout_factor) {
    const WallTime m = history::AlignDown(clock_.WallNow(), 1min);
    WriteHistory(m, m + 1min, checkout_factor);
    WriteHistory(m, m + 1min, 0.5, "class=browse");
    clock_.Advance(1min);
    planning_->RunModelWork();
  };
  for (int i = 0; i < 70; ++i) minute(1);
  EXPECT_EQ(planning_->Forecast("shop/class=checkout")->trained_at, checkout0->trained_at);
  EXPECT_EQ(planning_->Forecast("shop/class=checkout")->last_drift_at, std::nullopt);
  // Checkout's demand doubles and stays there. Each error is ~20 interval scales: the clipped
  // CUSUM (3 − 0.5 per step) crosses h = 8 at the 4th shifted step; the refit follows at once.
  int refit_after = -1;
  for (int i = 1; i <= 15 && refit_after < 0; ++i) {
    minute(2);
    if (planning_->Forecast("shop/class=checkout")->trained_at != checkout0->trained_at) {
      refit_after = i;
    }
  }
  ASSERT_GT(refit_after, 0) << "checkout was not refitted within 15 shifted minutes";
  EXPECT_LE(refit_after, 6);
  const auto checkout1 = planning_->Forecast("shop/class=checkout");
  EXPECT_EQ(checkout1->fit_reason, FitReason::kDrift);
  EXPECT_EQ(checkout1->drift_refits, 1);
  ASSERT_TRUE(checkout1->last_drift_at.has_value());
  EXPECT_GT(*checkout1->last_drift_at, now + 70min);
  // Browse, unchanged, was not refitted.
  const auto browse1 = planning_->Forecast("shop/class=browse");
  EXPECT_EQ(browse1->trained_at, browse0->trained_at);
  EXPECT_EQ(browse1->fit_reason, FitReason::kNew);
  EXPECT_EQ(browse1->drift_refits, 0);
  const std::string metrics = planning_->RenderMetrics();
  EXPECT_THAT(metrics, HasSubstr("tidegate_model_refits_total{reason=\"drift\"} 1\n"));
  EXPECT_THAT(metrics, HasSubstr("tidegate_model_refits_total{reason=\"new\"} 2\n"));
  EXPECT_THAT(log_,
              testing::Contains(HasSubstr("class shop/class=checkout: forecast errors drifted")));
  EXPECT_THAT(log_, testing::Contains(HasSubstr("(reason: drift)")));

  // The refitted seasonal naive still forecasts yesterday's level, so the CUSUM fires again, but
  // the next drift refit waits for the cooldown (1 h after the refit).
  for (int i = 0; i < 20; ++i) minute(2);
  EXPECT_EQ(planning_->Forecast("shop/class=checkout")->trained_at, checkout1->trained_at);
  EXPECT_THAT(log_, testing::Contains(HasSubstr("refit after the cooldown")));
}

TEST_F(PlanningTest, IntervalsAreCalibratedAndTheirCoverageReported) {
  MakeService(kTwoClassConfig);
  const WallTime now = clock_.WallNow();
  WriteHistory(now - std::chrono::hours(24 * 3), history::AlignDown(now, 1min));
  planning_->RunModelWork();
  auto snap = planning_->Forecast("shop/class=checkout");
  ASSERT_NE(snap, nullptr);
  EXPECT_EQ(snap->Horizon("1m")->coverage, std::nullopt);  // Nothing scored yet.
  // 3 h of minutes: a forecast is recorded every 5 minutes and scored at each of its 60 steps.
  for (int i = 0; i < 180; ++i) {
    const WallTime m = history::AlignDown(clock_.WallNow(), 1min);
    WriteHistory(m, m + 1min);
    clock_.Advance(1min);
    planning_->RunModelWork();
  }
  snap = planning_->Forecast("shop/class=checkout");
  for (const char* h : {"1m", "1h"}) {
    SCOPED_TRACE(h);
    ASSERT_TRUE(snap->Horizon(h)->coverage.has_value());
    // The snaive residuals describe the deterministic wiggle well: coverage near the nominal 95 %.
    EXPECT_GE(*snap->Horizon(h)->coverage, 0.8);
    EXPECT_LE(*snap->Horizon(h)->coverage, 1.0);
  }
  EXPECT_THAT(planning_->RenderMetrics(),
              HasSubstr("tidegate_forecast_interval_coverage_ratio{tenant=\"shop\",class=\"class="
                        "checkout\",horizon=\"1h\"}"));
}

TEST_F(PlanningTest, CheckpointResumesDetectorsCalibrationAndDrift) {
  MakeService(kTwoClassConfig);
  const WallTime now = clock_.WallNow();
  WriteHistory(now - std::chrono::hours(24 * 3), history::AlignDown(now, 1min));
  planning_->RunModelWork();
  auto minute = [&](double factor) {
    const WallTime m = history::AlignDown(clock_.WallNow(), 1min);
    WriteHistory(m, m + 1min, factor);
    clock_.Advance(1min);
    planning_->RunModelWork();
  };
  for (int i = 0; i < 150; ++i) minute(i == 120 ? 8 : 1);  // One spike at minute 120.
  const auto before = planning_->Forecast("shop/class=checkout");
  const std::vector<AnomalyEvent> anomalies_before = planning_->Anomalies(WallTime{});
  ASSERT_FALSE(anomalies_before.empty());
  ASSERT_TRUE(before->Horizon("1h")->coverage.has_value());
  ASSERT_TRUE(planning_->Checkpoint().ok());
  // The original goes on for 10 minutes; a restarted daemon catches up the same minutes.
  for (int i = 0; i < 10; ++i) minute(1);
  const auto continued = planning_->Forecast("shop/class=checkout");

  MakeService(kTwoClassConfig);
  ASSERT_TRUE(planning_->Restore().ok());
  auto restored = planning_->Forecast("shop/class=checkout");
  ASSERT_NE(restored, nullptr);
  EXPECT_EQ(restored->Horizon("1h")->coverage, before->Horizon("1h")->coverage);
  EXPECT_EQ(restored->Horizon("1m")->coverage, before->Horizon("1m")->coverage);
  EXPECT_EQ(restored->anomaly_score, before->anomaly_score);
  EXPECT_EQ(restored->last_anomaly_at, before->last_anomaly_at);
  const std::vector<AnomalyEvent> anomalies_after = planning_->Anomalies(WallTime{});
  ASSERT_EQ(anomalies_after.size(), anomalies_before.size());
  for (size_t i = 0; i < anomalies_after.size(); ++i) {
    EXPECT_EQ(anomalies_after[i].t, anomalies_before[i].t);
    EXPECT_EQ(anomalies_after[i].score, anomalies_before[i].score);
  }
  planning_->RunModelWork();  // Catch-up of the 10 minutes through the restored detector.
  restored = planning_->Forecast("shop/class=checkout");
  EXPECT_EQ(restored->last_step, continued->last_step);
  EXPECT_EQ(restored->anomaly_score, continued->anomaly_score);
  EXPECT_EQ(restored->trained_at, continued->trained_at);
  EXPECT_THAT(log_, testing::Not(testing::Contains(HasSubstr("not restored"))));
}

// FNV-1a 64, the checkpoint's checksum (docs/formats/planning-state.md).
uint64_t Fnv1a(std::string_view s) {
  uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return h;
}

TEST_F(PlanningTest, VersionOneCheckpointStillLoads) {
  MakeService(kTwoClassConfig);
  const WallTime now = clock_.WallNow();
  WriteHistory(now - std::chrono::hours(24 * 3), history::AlignDown(now, 1min));
  // A version-1 file as the previous release wrote it: one model, no learning state.
  absl::StatusOr<std::unique_ptr<forecast::Forecaster>> model = forecast::MakeForecaster("snaive");
  ASSERT_TRUE(model.ok());
  forecast::Series series;
  series.step = 1min;
  series.start = history::AlignDown(now, 1min) - 2880min;
  for (int i = 0; i < 2880; ++i) series.values.push_back(Demand(series.start + i * 1min) * 60);
  series.seasonal_periods = {1440};
  ASSERT_TRUE((*model)->Fit(series).ok());
  const auto ns = [](WallTime t) { return t.time_since_epoch().count(); };
  forecast::ByteWriter payload;
  payload.PutI64(ns(now));
  payload.PutString("v1");
  payload.PutU64(0);  // Buckets.
  payload.PutU64(1);  // Models.
  payload.PutString("shop/class=checkout");
  payload.PutString("snaive");
  payload.PutString("snaive");
  payload.PutI64(ns(now - 1h));
  payload.PutI64(ns(history::AlignDown(now, 1min)));
  payload.PutI64(ns(history::AlignDown(now, 1h)));
  payload.PutString((*model)->Serialize());
  payload.PutString("");
  payload.PutU32(0);  // Feedback.
  payload.PutU32(0);  // Cost.
  payload.PutU64(0);  // Plans.
  const std::string bytes = payload.Release();
  forecast::ByteWriter file;
  file.PutU32(0x53504754);
  file.PutU32(1);
  file.PutString(bytes);
  file.PutU64(Fnv1a(bytes));
  std::ofstream(dir_ / "planning-state.bin", std::ios::binary | std::ios::trunc) << file.bytes();

  ASSERT_TRUE(planning_->Restore().ok());
  auto snap = planning_->Forecast("shop/class=checkout");
  ASSERT_NE(snap, nullptr);
  EXPECT_EQ(snap->model, "snaive");
  EXPECT_EQ(snap->trained_at, now - 1h);
  EXPECT_EQ(snap->fit_reason, FitReason::kNew);
  clock_.Advance(2min);
  WriteHistory(history::AlignDown(now, 1min), history::AlignDown(clock_.WallNow(), 1min));
  planning_->RunModelWork();  // The detector is warmed from history, as before version 2.
  snap = planning_->Forecast("shop/class=checkout");
  EXPECT_EQ(snap->trained_at, now - 1h);  // Not refitted: the restored model went on.
  EXPECT_TRUE(snap->last_step.has_value());
}

constexpr char kLstmConfig[] = R"(
domain: shop
descriptors:
  - key: class
    value: checkout
    rate_limit: {unit: second, requests_per_unit: 100}
    predict: {model: lstm}
  - key: class
    value: browse
    rate_limit: {unit: second, requests_per_unit: 70}
    predict: {model: snaive}
capacity: {requests: 100000}
)";

TEST_F(PlanningTest, GlobalLstmIsTrainedSavedLoadedFineTunedAndServesItsClasses) {
  with_lstm_ = true;
  MakeService(kLstmConfig);
  const auto lstm_file = dir_ / "lstm-model.bin";
  // No history yet: training is skipped, said in the status and the log, and retried hourly.
  planning_->RunLearningWork();
  EXPECT_EQ(planning_->Lstm().state, "skipped");
  EXPECT_THAT(planning_->Lstm().message, HasSubstr("0 classes have the 360 steps"));
  EXPECT_THAT(log_, testing::Contains(HasSubstr("global LSTM: training not done")));
  const WallTime now = clock_.WallNow();
  WriteHistory(now - std::chrono::hours(24 * 3), history::AlignDown(now, 1min));
  planning_->RunLearningWork();  // Within the hour: not retried yet.
  EXPECT_EQ(planning_->Lstm().state, "skipped");
  clock_.Advance(61min);
  planning_->RunLearningWork();
  LstmStatus st = planning_->Lstm();
  ASSERT_EQ(st.state, "trained") << st.message;
  EXPECT_EQ(st.series, 1);
  EXPECT_EQ(st.steps, 30);
  EXPECT_EQ(st.rounds, 1);
  ASSERT_TRUE(st.trained_at.has_value());
  EXPECT_TRUE(std::filesystem::exists(lstm_file));
  EXPECT_THAT(planning_->RenderMetrics(), HasSubstr("tidegate_lstm_rounds_total 1\n"));

  // The class that asks for it is served by the LSTM (its hourly model by auto).
  planning_->RunModelWork();
  auto snap = planning_->Forecast("shop/class=checkout");
  ASSERT_NE(snap, nullptr);
  EXPECT_EQ(snap->model, "lstm");
  const HorizonSnapshot* h = snap->Horizon("1h");
  ASSERT_NE(h, nullptr);
  ASSERT_EQ(h->mean.size(), 60u);
  for (size_t i = 0; i < h->mean.size(); ++i) {
    EXPECT_TRUE(std::isfinite(h->mean[i]));
    EXPECT_LE(h->lower[i], h->mean[i]);
    EXPECT_LE(h->mean[i], h->upper[i]);
  }
  const WallTime trained = snap->trained_at;
  ASSERT_TRUE(planning_->Checkpoint().ok());

  // A restart loads the model file; the class's adapter comes back from the checkpoint.
  MakeService(kLstmConfig);
  ASSERT_TRUE(planning_->Restore().ok());
  EXPECT_EQ(planning_->Lstm().state, "trained");
  EXPECT_THAT(log_, testing::Contains(HasSubstr("global LSTM: loaded")));
  snap = planning_->Forecast("shop/class=checkout");
  ASSERT_NE(snap, nullptr);
  EXPECT_EQ(snap->model, "lstm");
  EXPECT_EQ(snap->trained_at, trained);

  // Six hours on, it is fine-tuned on recent history and the class is refitted on it.
  const WallTime from = history::AlignDown(clock_.WallNow(), 1min);
  clock_.Advance(6h + 1min);
  WriteHistory(history::AlignDown(now, 1min), history::AlignDown(clock_.WallNow(), 1min));
  planning_->RunModelWork();
  planning_->RunLearningWork();
  st = planning_->Lstm();
  ASSERT_TRUE(st.fine_tuned_at.has_value()) << st.message;
  EXPECT_EQ(st.steps, 35);
  planning_->RunModelWork();
  snap = planning_->Forecast("shop/class=checkout");
  EXPECT_GT(snap->trained_at, from);
  EXPECT_EQ(snap->fit_reason, FitReason::kSchedule);
  EXPECT_EQ(snap->model, "lstm");

  // A corrupt model file is rejected with a clear message and retrained.
  std::ofstream(lstm_file, std::ios::binary | std::ios::trunc) << "TGLSTM but not really";
  log_.clear();
  MakeService(kLstmConfig);
  ASSERT_TRUE(planning_->Restore().ok());
  st = planning_->Lstm();
  EXPECT_EQ(st.state, "pending");
  EXPECT_THAT(st.message, HasSubstr("lstm-model.bin was rejected"));
  EXPECT_THAT(log_, testing::Contains(HasSubstr("it is retrained")));
  planning_->RunLearningWork();
  EXPECT_EQ(planning_->Lstm().state, "trained");
  EXPECT_TRUE(learn::LstmModel::LoadFile(lstm_file.string()).ok());
}

TEST_F(PlanningTest, GlobalLstmIsNotTrainedWhenNoClassAsksForIt) {
  with_lstm_ = true;
  MakeService(kTwoClassConfig);
  const WallTime now = clock_.WallNow();
  WriteHistory(now - std::chrono::hours(24 * 3), history::AlignDown(now, 1min));
  planning_->RunLearningWork();
  EXPECT_EQ(planning_->Lstm().state, "unused");
  EXPECT_FALSE(std::filesystem::exists(dir_ / "lstm-model.bin"));
}

TEST(CronScheduleTest, ParsesAndFindsTheNextMinute) {
  auto c = CronSchedule::Parse("0 3 * * *");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->Next(Wall("2026-11-05T08:00:00Z")), Wall("2026-11-06T03:00:00Z"));
  EXPECT_EQ(c->Next(Wall("2026-11-05T02:59:59Z")), Wall("2026-11-05T03:00:00Z"));
  auto q = CronSchedule::Parse("*/15 9-17 * * 1-5");
  ASSERT_TRUE(q.ok()) << q.status();
  // 2026-11-07 is a Saturday: the next match is Monday 09:00.
  EXPECT_EQ(q->Next(Wall("2026-11-06T17:50:00Z")), Wall("2026-11-09T09:00:00Z"));
  EXPECT_EQ(q->Next(Wall("2026-11-09T09:00:00Z")), Wall("2026-11-09T09:15:00Z"));
  auto never = CronSchedule::Parse("0 0 31 2 *");
  ASSERT_TRUE(never.ok());
  EXPECT_FALSE(never->Next(Wall("2026-11-05T00:00:00Z")).has_value());
}

TEST(CronScheduleTest, RejectsMalformedExpressionsNamingTheField) {
  EXPECT_THAT(CronSchedule::Parse("0 24 * * *").status().message(), HasSubstr("hour"));
  EXPECT_THAT(CronSchedule::Parse("0 3 * *").status().message(), HasSubstr("5 fields"));
  EXPECT_THAT(CronSchedule::Parse("x 3 * * *").status().message(), HasSubstr("minute"));
  EXPECT_THAT(CronSchedule::Parse("0 3 * * 1/0").status().message(), HasSubstr("step"));
}

TEST(ScheduleConfigTest, ParsesAndValidatesTheScheduleSection) {
  auto ok = ParseConfig(
      "schedule: {training: '30 2 * * 0', planning_tick: 500ms, checkpoint: 5m}\n", "s.yaml");
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->schedule.training, "30 2 * * 0");
  EXPECT_EQ(ok->schedule.planning_tick, 500ms);
  EXPECT_EQ(ok->schedule.checkpoint, 5min);
  auto bad = ParseConfig("schedule:\n  training: '0 25 * * *'\n", "s.yaml");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("s.yaml:2: schedule.training"));
  auto tick = ParseConfig("schedule: {planning_tick: 10ms}\n", "s.yaml");
  EXPECT_THAT(tick.status().message(), HasSubstr("schedule.planning_tick"));
  auto unknown = ParseConfig("schedule: {nightly: yes}\n", "s.yaml");
  EXPECT_THAT(unknown.status().message(), HasSubstr("nightly"));
}

}  // namespace
}  // namespace tidegate::server
