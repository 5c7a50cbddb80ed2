// End-to-end test of tidegated's planning loop: a data directory preloaded with three days of
// generated usage (`tidegate generate` + `tidegate import`, as scripts/demo.sh does), the daemon
// on free loopback ports trains on it, serves forecasts and plans over HTTP; then SIGTERM and a
// restart keep buckets, overrides, models and plans.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "fmt/format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "server/daemon_process.h"
#include "tidegate/history/http_client.h"

namespace tidegate::server {
namespace {

using json = nlohmann::json;
using ::testing::HasSubstr;

constexpr char kConfig[] = R"(domain: shop
descriptors:
  - key: class
    value: checkout
    descriptors:
      - key: op
        value: write
        rate_limit: {unit: second, requests_per_unit: 500}
        priority: critical
        predict: {model: ets, margin: 0.2, lead_time: 5m}
  - key: class
    value: browse
    descriptors:
      - key: op
        value: read
        rate_limit: {unit: second, requests_per_unit: 2000}
        predict: {model: snaive}
capacity: {requests: 100000}
store: {step: 60s}
schedule: {checkpoint: 1m}
)";

constexpr char kCheckout[] = "shop/class=checkout,op=write";
constexpr char kBrowse[] = "shop/class=browse,op=read";

class TidegatedPlanningTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           fmt::format("tidegated_planning_test_{}", ::getpid());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    config_ = (dir_ / "config.yaml").string();
    log_ = (dir_ / "log.txt").string();
    data_ = (dir_ / "data").string();
    std::ofstream(config_) << kConfig;
    daemon_.emplace(log_);
    auto client = history::HttpClient::Create();
    ASSERT_TRUE(client.ok());
    client_ = *std::move(client);
  }
  void TearDown() override {
    daemon_.reset();
    std::filesystem::remove_all(dir_);
  }

  std::string Log() const { return daemon_->Log(); }

  // Real waiting is unavoidable: the daemon is another process on the real clock.
  template <typename Pred>
  bool Eventually(Pred pred, int seconds = 60) {
    for (int i = 0; i < seconds * 10; ++i) {
      if (pred()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
  }

  void Start() {
    auto base = test::StartTidegated(*daemon_, TIDEGATED_PATH, config_, data_);
    ASSERT_TRUE(base.ok()) << base.status();
    base_ = *base;
  }

  void Stop() {
    const absl::StatusOr<int> exit_code = daemon_->Stop();
    ASSERT_TRUE(exit_code.ok()) << exit_code.status();
    EXPECT_EQ(*exit_code, 0) << Log();
  }

  json Get(const std::string& path, int expected = 200) {
    auto r = client_->Get(base_ + path);
    EXPECT_TRUE(r.ok()) << r.status();
    if (!r.ok()) return json();
    EXPECT_EQ(r->status, expected) << path << ": " << r->body;
    return json::parse(r->body, nullptr, false);
  }

  json Post(const std::string& path, const json& body, int expected = 200) {
    auto r = client_->Post(base_ + path, body.dump(), "application/json");
    EXPECT_TRUE(r.ok()) << r.status();
    if (!r.ok()) return json();
    EXPECT_EQ(r->status, expected) << path << ": " << r->body;
    return json::parse(r->body, nullptr, false);
  }

  json ClassEntry(const std::string& key) {
    const json all = Get("/v1/classes");
    for (const json& c : all["classes"]) {
      if (c["key"] == key) return c;
    }
    ADD_FAILURE() << "no class " << key;
    return json();
  }

  std::filesystem::path dir_;
  std::string config_, log_, data_, base_;
  std::optional<test::DaemonProcess> daemon_;
  std::unique_ptr<history::HttpClient> client_;
};

TEST_F(TidegatedPlanningTest, TrainsOnImportedHistoryPlansAndResumesAfterRestart) {
  const std::string usage = (dir_ / "usage.jsonl").string();
  ASSERT_EQ(
      test::RunTool({TIDEGATE_PATH, "generate", "--days", "3", "--step-s", "60", "--output", usage},
                    log_),
      0)
      << Log();
  ASSERT_EQ(
      test::RunTool({TIDEGATE_PATH, "import", usage, "--data-dir", data_, "--step-s", "60"}, log_),
      0)
      << Log();
  Start();

  // Training on the imported series.
  json forecast;
  ASSERT_TRUE(Eventually(
      [&] {
        forecast = Get(fmt::format("/v1/classes/{}/forecast?horizon=1h", kCheckout));
        return !forecast["model"].is_null();
      },
      /*seconds=*/120))
      << Log();
  EXPECT_EQ(forecast["class"], kCheckout);
  EXPECT_EQ(forecast["model"], "ets");
  EXPECT_EQ(forecast["step_s"], 60);
  EXPECT_EQ(forecast["level"], 95);
  ASSERT_EQ(forecast["forecast"].size(), 60u);
  for (const json& p : forecast["forecast"]) {
    EXPECT_LE(p["lower"].get<double>(), p["mean"].get<double>());
    EXPECT_LE(p["mean"].get<double>(), p["upper"].get<double>());
  }
  EXPECT_GE(forecast["actual"].size(), 60u);
  EXPECT_EQ(forecast["fit_reason"], "new");
  EXPECT_EQ(forecast["drift_refits"], 0);
  EXPECT_TRUE(forecast["last_drift_at"].is_null());
  ASSERT_TRUE(forecast.contains("coverage"));  // null until the first forecast is scored.
  const std::string trained_at = forecast["trained_at"];
  json day = Get(fmt::format("/v1/classes/{}/forecast?horizon=1d", kCheckout));
  EXPECT_EQ(day["step_s"], 3600);
  EXPECT_EQ(day["forecast"].size(), 24u);
  json bad = Get(fmt::format("/v1/classes/{}/forecast?horizon=2w", kCheckout), 400);
  EXPECT_THAT(bad["error"]["message"].get<std::string>(), HasSubstr("horizon"));
  // Three days of history in at most 100 points: hourly, each the mean of its minutes.
  const json fine = Get(fmt::format("/v1/classes/{}/forecast?horizon=1h", kCheckout));
  const json hist =
      Get(fmt::format("/v1/classes/{}/forecast?horizon=1h&history=3d&points=100", kCheckout));
  EXPECT_EQ(hist["step_s"], 60);
  EXPECT_EQ(hist["actual_step_s"], 3600);
  EXPECT_LE(hist["actual"].size(), 100u);
  EXPECT_GE(hist["actual"].size(), 60u);
  int compared = 0;
  for (const json& hour : hist["actual"]) {
    double sum = 0;
    int minutes = 0;
    const std::string prefix = hour["t"].get<std::string>().substr(0, 13);  // "YYYY-MM-DDTHH"
    for (const json& m : fine["actual"]) minutes += m["t"].get<std::string>().starts_with(prefix);
    if (minutes != 60) continue;
    for (const json& m : fine["actual"]) {
      if (m["t"].get<std::string>().starts_with(prefix)) sum += m["value"].get<double>();
    }
    EXPECT_NEAR(hour["value"].get<double>(), sum / 60, 1e-6 * (1 + sum)) << hour["t"];
    ++compared;
  }
  EXPECT_GE(compared, 1) << fine["actual"].dump();
  for (const char* q :
       {"history=2w", "history=0d", "history=400d", "history=30", "points=5", "points=many"}) {
    json refused = Get(fmt::format("/v1/classes/{}/forecast?{}", kCheckout, q), 400);
    EXPECT_THAT(refused["error"]["message"].get<std::string>(),
                HasSubstr(std::string(q).substr(0, std::string(q).find('='))))
        << q;
  }
  Get("/v1/classes/shop%2Fnope/forecast", 404);

  // Plans from the forecast.
  ASSERT_TRUE(Eventually([&] {
    json plan = Get("/v1/plan");
    if (plan["tick"].is_null()) return false;
    int forecasted = 0;
    for (const json& c : plan["classes"]) forecasted += c["reason"] == "forecast" ? 1 : 0;
    return forecasted == 2;
  })) << Get("/v1/plan").dump(2)
      << Log();
  json plan = Get("/v1/plan");
  EXPECT_EQ(plan["tick"]["classes"], 2);
  EXPECT_EQ(plan["tick"]["fallbacks"], 0);
  ASSERT_EQ(plan["capacity"].size(), 1u);
  EXPECT_EQ(plan["capacity"][0]["resource"], "requests");
  EXPECT_EQ(plan["capacity"][0]["by_tier"].size(), 4u);
  // Every class element names its tenant (auth filters lists by it).
  for (const json& c : plan["classes"]) EXPECT_EQ(c["tenant"], "shop") << c.dump();
  const json checkout = ClassEntry(kCheckout);
  EXPECT_FALSE(checkout["planned_rate_per_s"].is_null());
  EXPECT_NEAR(checkout["rate_per_s"].get<double>(), checkout["planned_rate_per_s"].get<double>(),
              1e-6);
  EXPECT_THAT(checkout["state"].get<std::string>(),
              ::testing::AnyOf("ok", "throttled", "surge", "anomaly"));
  json plans = Get(fmt::format("/v1/classes/{}/plans?since=2000-01-01T00:00:00Z", kCheckout));
  ASSERT_FALSE(plans["points"].empty());
  EXPECT_EQ(plans["points"].back()["reason"], "forecast");
  EXPECT_TRUE(plans["points"].back()["explanation"].contains("limited_by"));
  Get(fmt::format("/v1/classes/{}/plans?since=yesterday", kCheckout), 400);
  json tenants = Get("/v1/tenants");
  ASSERT_EQ(tenants["tenants"].size(), 1u);
  EXPECT_EQ(tenants["tenants"][0]["name"], "shop");
  EXPECT_EQ(tenants["tenants"][0]["classes"], 2);
  EXPECT_TRUE(Get("/v1/anomalies?since=2000-01-01T00:00:00Z")["anomalies"].is_array());
  auto metrics = client_->Get(base_ + "/metrics");
  ASSERT_TRUE(metrics.ok());
  EXPECT_THAT(metrics->body, HasSubstr("tidegate_forecast_upper_per_second{tenant=\"shop\""));
  EXPECT_THAT(metrics->body, HasSubstr("tidegate_planned_rate_per_second{tenant=\"shop\""));
  EXPECT_THAT(metrics->body, HasSubstr("tidegate_model_refits_total{reason=\"new\"} 2"));
  if (std::system("command -v promtool >/dev/null 2>&1") == 0) {
    const std::string file = (dir_ / "metrics.txt").string();
    std::ofstream(file) << metrics->body;
    EXPECT_EQ(std::system(fmt::format("promtool check metrics < '{}'", file).c_str()), 0)
        << metrics->body;
  }

  // An override and a partly drained bucket on browse.
  Post("/v1/overrides",
       {{"class", kBrowse}, {"rate_per_s", 0.001}, {"size", 10}, {"ttl_seconds", 3600}}, 201);
  for (int i = 0; i < 4; ++i) {
    Post("/v1/check",
         {{"domain", "shop"},
          {"descriptors",
           {{{"entries",
              {{{"key", "class"}, {"value", "browse"}}, {{"key", "op"}, {"value", "read"}}}}}}}});
  }
  const json browse = ClassEntry(kBrowse);
  EXPECT_NEAR(browse["available"].get<double>(), 6, 0.1);
  const std::string expires = browse["override"]["expires_at"];

  const json anomalies = Get("/v1/anomalies?since=2000-01-01T00:00:00Z")["anomalies"];
  Stop();
  EXPECT_THAT(Log(), HasSubstr("planning state saved"));
  ASSERT_TRUE(std::filesystem::exists(std::filesystem::path(data_) / "planning-state.bin"));

  Start();
  // The anomaly detectors resume from the checkpoint (not re-warmed from history), with the
  // anomalies they had found.
  EXPECT_THAT(Log(), HasSubstr("restored 2 buckets, 2 models (2 with their anomaly detectors)"));
  // (A minute closing meanwhile may add one: the live minutes after the import are empty.)
  const json anomalies2 = Get("/v1/anomalies?since=2000-01-01T00:00:00Z")["anomalies"];
  for (const json& a : anomalies) {
    EXPECT_NE(std::find(anomalies2.begin(), anomalies2.end(), a), anomalies2.end()) << a.dump();
  }
  const json again = Get(fmt::format("/v1/classes/{}/forecast?horizon=1h", kCheckout));
  EXPECT_EQ(again["model"], "ets");
  EXPECT_EQ(again["fit_reason"], "new");
  EXPECT_EQ(again["trained_at"], trained_at);  // The saved model, not a new fit.
  EXPECT_EQ(again["forecast"].size(), 60u);
  const json browse2 = ClassEntry(kBrowse);
  ASSERT_FALSE(browse2["override"].is_null());
  EXPECT_EQ(browse2["override"]["expires_at"], expires);
  EXPECT_NEAR(browse2["rate_per_s"].get<double>(), 0.001, 1e-9);
  EXPECT_NEAR(browse2["available"].get<double>(), 6, 0.1);
  EXPECT_FALSE(ClassEntry(kCheckout)["planned_rate_per_s"].is_null());
  Stop();
}

TEST_F(TidegatedPlanningTest, CorruptStateIsLoggedAndIgnored) {
  std::filesystem::create_directories(data_);
  std::ofstream(std::filesystem::path(data_) / "planning-state.bin") << "garbage, not a state";
  Start();
  EXPECT_TRUE(Eventually([&] {
    return Log().find("state not restored, starting fresh") != std::string::npos;
  })) << Log();
  EXPECT_THAT(Log(), HasSubstr("bad magic"));
  EXPECT_EQ(Get("/v1/classes")["classes"].size(), 2u);
  Stop();
}

}  // namespace
}  // namespace tidegate::server
