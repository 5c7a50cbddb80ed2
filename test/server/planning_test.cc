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

  void MakeService() {
    planning_.reset();
    service_.reset();
    absl::StatusOr<Config> config = ParseConfig(kConfig, "test.yaml");
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
    auto planning = Planning::Create(*service_, po);
    ASSERT_TRUE(planning.ok()) << planning.status();
    planning_ = *std::move(planning);
  }

  // Writes checkout's per-minute demand for [from, to) into the store.
  void WriteHistory(WallTime from, WallTime to, double factor = 1) {
    history::SampleBatch batch;
    const history::SeriesKey key{"requests", "shop", "class=checkout"};
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
