// Alerts delivered to a real Alertmanager (API v2) and read back from it.
//
// scripts/with-test-servers.sh starts Alertmanager and exports TIDEGATE_TEST_ALERTMANAGER_URL.
// Without it the test is skipped, unless TIDEGATE_TEST_SERVERS=1 says the servers should be up.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <thread>

#include "nlohmann/json.hpp"
#include "tidegate/alert/engine.h"
#include "tidegate/history/http_client.h"

namespace tidegate::alert {
namespace {

using nlohmann::json;
using std::chrono::seconds;

std::string AlertmanagerUrl() {
  const char* url = std::getenv("TIDEGATE_TEST_ALERTMANAGER_URL");
  return url == nullptr ? "" : url;
}

bool ServersExpected() {
  const char* s = std::getenv("TIDEGATE_TEST_SERVERS");
  return s != nullptr && std::string(s) == "1";
}

// The alerts Alertmanager holds with alertname = `name` (active, silenced and inhibited).
json AlertsNamed(history::HttpClient& http, const std::string& base, const std::string& name) {
  auto r = http.Get(
      history::BuildUrl(base, "/api/v2/alerts", {{"filter", "alertname=\"" + name + "\""}}));
  if (!r.ok() || r->status != 200) return json::array();
  return json::parse(r->body, nullptr, false);
}

TEST(AlertmanagerTest, FiringAlertArrivesAndResolves) {
  const std::string url = AlertmanagerUrl();
  if (url.empty()) {
    if (ServersExpected())
      FAIL() << "TIDEGATE_TEST_SERVERS=1 but TIDEGATE_TEST_ALERTMANAGER_URL is unset";
    GTEST_SKIP() << "no Alertmanager (run under scripts/with-test-servers.sh)";
  }
  auto http = history::HttpClient::Create({.timeout = seconds(5)});
  ASSERT_TRUE(http.ok());

  // A unique alert name, so that reruns against the same Alertmanager do not see old alerts.
  const std::string name =
      "TidegateTest" + std::to_string(RealClock().WallNow().time_since_epoch().count());
  SimulatedClock clock(MonoTime(seconds(1000)), RealClock().WallNow());
  AlertsConfig alerts;
  Rule rule;
  rule.name = name;
  rule.scope = Scope::kTenant;
  rule.resource = "requests";
  rule.statistic = Statistic::kUpper;
  rule.horizon = std::chrono::hours(1);
  rule.threshold = 100;
  rule.labels = {{"severity", "warning"}};
  rule.annotations = {{"description", "tenant {tenant} needs {value} requests/s"}};
  alerts.rules = {rule};
  alerts.alertmanagers = {url + "/"};
  alerts.external_url = "http://tidegate.test:8080";
  alerts.evaluation_interval = seconds(1);
  alerts.resend_interval = seconds(60);
  auto engine = Engine::Create(alerts, {}, clock);
  ASSERT_TRUE(engine.ok()) << engine.status();

  Snapshot snap;
  ClassSnapshot c;
  c.key = "shop/class=checkout";
  c.tenant = "shop";
  c.resources["requests"].observed_per_s = 50;
  c.resources["requests"].forecasts = {{std::chrono::hours(1), 90, 140}};
  snap.classes = {c};
  (*engine)->Tick(snap);
  ASSERT_TRUE((*engine)->WaitDelivered(seconds(30)));
  ASSERT_EQ((*engine)->DeliveryStats().at("alertmanager:" + url + "/").sent, 1u)
      << "delivery failed";

  json got = AlertsNamed(**http, url, name);
  ASSERT_EQ(got.size(), 1u) << got.dump();
  EXPECT_EQ(got[0]["labels"]["alertname"], name);
  EXPECT_EQ(got[0]["labels"]["tenant"], "shop");
  EXPECT_EQ(got[0]["labels"]["resource"], "requests");
  EXPECT_EQ(got[0]["labels"]["horizon"], "1h");
  EXPECT_EQ(got[0]["labels"]["severity"], "warning");
  EXPECT_EQ(got[0]["annotations"]["description"], "tenant shop needs 140 requests/s");
  EXPECT_THAT(got[0]["annotations"]["summary"].get<std::string>(), ::testing::HasSubstr("140"));
  EXPECT_EQ(got[0]["generatorURL"], "http://tidegate.test:8080/v1/alerts");
  EXPECT_EQ(got[0]["status"]["state"], "active");

  // The forecast falls under the threshold: the resolve message (endsAt = now) is sent.
  snap.classes[0].resources["requests"].forecasts = {{std::chrono::hours(1), 60, 80}};
  // The simulated clock follows real time here: Alertmanager compares endsAt with its own clock.
  clock.SetWall(RealClock().WallNow());
  (*engine)->Tick(snap, /*force=*/true);
  ASSERT_TRUE((*engine)->WaitDelivered(seconds(30)));
  ASSERT_EQ((*engine)->DeliveryStats().at("alertmanager:" + url + "/").sent, 2u);
  ASSERT_EQ((*engine)->Alerts().at(0).state, AlertState::kResolved);

  // Alertmanager's API lists only alerts whose endsAt has not passed; the resolve message set it
  // to the moment of resolution, so the alert leaves the list (allow a few seconds of real time).
  bool resolved = false;
  for (int i = 0; i < 50 && !resolved; ++i) {
    got = AlertsNamed(**http, url, name);
    resolved = got.empty() || got[0]["status"]["state"] != "active";
    if (!resolved) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(resolved) << got.dump();
}

}  // namespace
}  // namespace tidegate::alert
