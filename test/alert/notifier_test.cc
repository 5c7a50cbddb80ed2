// Delivery: payload shapes, the engine's send schedule, and webhooks POSTed to a real HTTP
// listener in this process.
#include "tidegate/alert/notifier.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <mutex>

#include "history/http_test_server.h"
#include "nlohmann/json.hpp"
#include "tidegate/alert/engine.h"

namespace tidegate::alert {
namespace {

using nlohmann::json;
using std::chrono::minutes;
using std::chrono::seconds;
using ::testing::HasSubstr;
using tidegate::testing::TestHttpResponse;
using tidegate::testing::TestHttpServer;

// Records every request it receives; answers with `status`.
struct Recorder {
  std::mutex mu;
  std::vector<std::pair<std::string, json>> requests;  // (target, body)
  std::atomic<int> status{200};

  TestHttpServer::Handler Handler() {
    return [this](const std::string& method, const std::string& target, const std::string& body) {
      std::lock_guard lock(mu);
      requests.emplace_back(target, json::parse(body, nullptr, false));
      return TestHttpResponse{status.load(), "{}", "application/json"};
    };
  }
  std::vector<std::pair<std::string, json>> Take() {
    std::lock_guard lock(mu);
    return std::exchange(requests, {});
  }
};

Snapshot Hot(double upper) {
  Snapshot s;
  ClassSnapshot c;
  c.key = "shop/class=checkout";
  c.tenant = "shop";
  ResourceSnapshot r;
  r.observed_per_s = 1;
  r.forecasts = {{std::chrono::hours(1), upper / 2, upper}};
  c.resources["cpu"] = r;
  s.classes.push_back(c);
  return s;
}

Rule CpuRule() {
  Rule r;
  r.name = "CheckoutCpuHigh";
  r.resource = "cpu";
  r.threshold = 100;
  r.labels = {{"severity", "page"}};
  return r;
}

TEST(PayloadTest, AlertmanagerShape) {
  Alert firing;
  firing.rule = "R";
  firing.labels = {{"alertname", "R"}, {"class", "shop/class=a"}};
  firing.annotations = {{"summary", "s"}};
  firing.state = AlertState::kFiring;
  firing.active_at = WallTime(seconds(1'700'000'000));
  Alert resolved = firing;
  resolved.state = AlertState::kResolved;
  resolved.resolved_at = WallTime(seconds(1'700'000'600));
  const json j = json::parse(AlertmanagerPayload(
      {firing, resolved}, WallTime(seconds(1'700'000'700)), minutes(4), "http://t:1/v1/alerts"));
  ASSERT_TRUE(j.is_array());
  ASSERT_EQ(j.size(), 2u);
  EXPECT_EQ(j[0]["labels"]["alertname"], "R");
  EXPECT_EQ(j[0]["annotations"]["summary"], "s");
  EXPECT_EQ(j[0]["startsAt"], "2023-11-14T22:13:20Z");
  EXPECT_EQ(j[0]["endsAt"], "2023-11-14T22:29:00Z");  // now + 4 min.
  EXPECT_EQ(j[0]["generatorURL"], "http://t:1/v1/alerts");
  EXPECT_EQ(j[1]["endsAt"], "2023-11-14T22:23:20Z");  // resolved_at.
  EXPECT_FALSE(json::parse(AlertmanagerPayload({firing}, WallTime{}, minutes(1), ""))[0].contains(
      "generatorURL"));
}

TEST(PayloadTest, WebhookGroupShape) {
  Alert a;
  a.rule = "R";
  a.labels = {{"alertname", "R"}, {"class", "x"}, {"severity", "page"}};
  a.state = AlertState::kFiring;
  a.value = 12.5;
  Alert b = a;
  b.labels["class"] = "y";
  const json j = json::parse(WebhookPayload("ops", {a, b}, "http://t:1", "http://t:1/v1/alerts"));
  EXPECT_EQ(j["version"], "1");
  EXPECT_EQ(j["receiver"], "ops");
  EXPECT_EQ(j["status"], "firing");
  EXPECT_EQ(j["groupLabels"], json({{"alertname", "R"}}));
  EXPECT_EQ(j["commonLabels"], json({{"alertname", "R"}, {"severity", "page"}}));
  ASSERT_EQ(j["alerts"].size(), 2u);
  EXPECT_EQ(j["alerts"][1]["labels"]["class"], "y");
  EXPECT_EQ(j["alerts"][0]["status"], "firing");
  EXPECT_DOUBLE_EQ(j["alerts"][0]["value"].get<double>(), 12.5);
}

TEST(NotifierTest, RetriesServerErrorsThenCountsFailure) {
  Recorder rec;
  rec.status = 503;
  TestHttpServer server(rec.Handler());
  ASSERT_TRUE(server.ok());
  auto n = Notifier::Create({.timeout = seconds(2),
                             .max_attempts = 3,
                             .initial_backoff = std::chrono::milliseconds(1),
                             .queue_capacity = 4});
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_TRUE((*n)->Enqueue("hook", server.url() + "/x", "{}"));
  ASSERT_TRUE((*n)->WaitIdle(seconds(20)));
  EXPECT_EQ(rec.Take().size(), 3u);
  const ReceiverStats s = (*n)->stats().at("hook");
  EXPECT_EQ(s.failed, 1u);
  EXPECT_EQ(s.retries, 2u);
  EXPECT_EQ(s.sent, 0u);
  EXPECT_THAT((*n)->last_errors().at("hook"), HasSubstr("HTTP 503"));

  rec.status = 400;  // Permanent: not retried.
  EXPECT_TRUE((*n)->Enqueue("hook", server.url() + "/x", "{}"));
  ASSERT_TRUE((*n)->WaitIdle(seconds(20)));
  EXPECT_EQ(rec.Take().size(), 1u);
  EXPECT_EQ((*n)->stats().at("hook").failed, 2u);

  rec.status = 200;
  EXPECT_TRUE((*n)->Enqueue("hook", server.url() + "/x", "{}"));
  ASSERT_TRUE((*n)->WaitIdle(seconds(20)));
  EXPECT_EQ((*n)->stats().at("hook").sent, 1u);
  EXPECT_EQ((*n)->last_errors().at("hook"), "");
}

TEST(NotifierTest, UnreachableReceiverFailsWithoutBlockingAndFullQueueDrops) {
  // A server that never answers: every attempt times out.
  TestHttpServer silent([](auto&&...) { return TestHttpResponse{}; }, /*silent=*/true);
  ASSERT_TRUE(silent.ok());
  auto n = Notifier::Create({.timeout = std::chrono::milliseconds(200),
                             .max_attempts = 1,
                             .initial_backoff = Duration::zero(),
                             .queue_capacity = 2});
  ASSERT_TRUE(n.ok());
  int accepted = 0;
  for (int i = 0; i < 10; ++i) accepted += (*n)->Enqueue("slow", silent.url(), "{}") ? 1 : 0;
  EXPECT_GE(accepted, 2);
  EXPECT_LE(accepted, 3);  // Two queued, perhaps one already taken by the thread.
  EXPECT_EQ((*n)->stats().at("slow").dropped, static_cast<uint64_t>(10 - accepted));
  ASSERT_TRUE((*n)->WaitIdle(seconds(20)));
  EXPECT_EQ((*n)->stats().at("slow").failed, static_cast<uint64_t>(accepted));
  EXPECT_THAT((*n)->last_errors().at("slow"), HasSubstr("timed out"));
}

TEST(EngineWebhookTest, FiringResendAndResolvedGroupsReachTheListener) {
  Recorder rec;
  TestHttpServer server(rec.Handler());
  ASSERT_TRUE(server.ok());
  SimulatedClock clock;
  AlertsConfig alerts;
  Rule rule = CpuRule();
  rule.for_duration = seconds(30);
  alerts.rules = {rule};
  alerts.webhooks = {{"ops", server.url() + "/hook"}};
  alerts.evaluation_interval = seconds(10);
  alerts.resend_interval = minutes(1);
  alerts.external_url = "http://tidegate.example:8080/";
  ServiceSpec svc;
  svc.name = "checkout";
  svc.per_replica = {{"cpu", 50}};
  svc.target_utilization = 1;
  svc.lead_time = std::chrono::hours(1);
  svc.webhook = server.url() + "/scale";
  ScalingConfig scaling;
  scaling.services = {svc};
  scaling.evaluation_interval = seconds(10);
  auto engine = Engine::Create(alerts, scaling, clock);
  ASSERT_TRUE(engine.ok()) << engine.status();
  Engine& e = **engine;

  EXPECT_TRUE(e.Due());
  e.Tick(Hot(150));  // Pending: no alert notification; the first recommendation (3) is sent.
  EXPECT_FALSE(e.Due());
  ASSERT_TRUE(e.WaitDelivered(seconds(20)));
  auto got = rec.Take();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].first, "/scale");
  EXPECT_EQ(got[0].second["service"], "checkout");
  EXPECT_EQ(got[0].second["recommended_replicas"], 3);
  EXPECT_EQ(got[0].second["driving_resource"], "cpu");
  EXPECT_TRUE(got[0].second["current_replicas"].is_null());
  ASSERT_EQ(e.Alerts().size(), 1u);
  EXPECT_EQ(e.Alerts()[0].state, AlertState::kPending);

  clock.Advance(seconds(30));
  e.Tick(Hot(150));  // Firing; the recommendation is unchanged: no scaling call.
  ASSERT_TRUE(e.WaitDelivered(seconds(20)));
  got = rec.Take();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].first, "/hook");
  EXPECT_EQ(got[0].second["status"], "firing");
  EXPECT_EQ(got[0].second["receiver"], "ops");
  EXPECT_EQ(got[0].second["externalURL"], "http://tidegate.example:8080/");
  EXPECT_EQ(got[0].second["alerts"][0]["labels"]["alertname"], "CheckoutCpuHigh");
  EXPECT_EQ(got[0].second["alerts"][0]["generatorURL"], "http://tidegate.example:8080/v1/alerts");
  EXPECT_THAT(got[0].second["alerts"][0]["annotations"]["summary"].get<std::string>(),
              HasSubstr("150"));

  clock.Advance(seconds(30));
  e.Tick(Hot(150));  // Within the resend interval: nothing.
  ASSERT_TRUE(e.WaitDelivered(seconds(20)));
  EXPECT_TRUE(rec.Take().empty());

  clock.Advance(seconds(30));
  e.Tick(Hot(150));  // 60 s after the first send: re-sent.
  ASSERT_TRUE(e.WaitDelivered(seconds(20)));
  got = rec.Take();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].second["status"], "firing");

  clock.Advance(seconds(10));
  e.Tick(Hot(260));  // Still firing, recommendation 6: scaling call only.
  ASSERT_TRUE(e.WaitDelivered(seconds(20)));
  got = rec.Take();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].first, "/scale");
  EXPECT_EQ(got[0].second["recommended_replicas"], 6);

  clock.Advance(seconds(10));
  e.Tick(Hot(50));  // Resolved, once.
  ASSERT_TRUE(e.WaitDelivered(seconds(20)));
  got = rec.Take();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].first, "/hook");
  EXPECT_EQ(got[0].second["status"], "resolved");
  EXPECT_NE(got[0].second["alerts"][0]["endsAt"], "0001-01-01T00:00:00Z");
  clock.Advance(minutes(2));
  e.Tick(Hot(50));
  ASSERT_TRUE(e.WaitDelivered(seconds(20)));
  EXPECT_TRUE(rec.Take().empty());
  EXPECT_EQ(e.Alerts().at(0).state, AlertState::kResolved);

  EXPECT_EQ(e.DeliveryStats().at("webhook:ops").sent, 3u);
  EXPECT_EQ(e.DeliveryStats().at("scaling:checkout").sent, 2u);
  const std::string text = history::EncodeExposition(e.MetricFamilies());
  EXPECT_THAT(text,
              HasSubstr("tidegate_alerts{alertname=\"CheckoutCpuHigh\",state=\"resolved\"} 1"));
  EXPECT_THAT(text, HasSubstr("tidegate_scaling_recommended_replicas{service=\"checkout\"} 6"));
  EXPECT_THAT(
      text, HasSubstr("tidegate_notifications_total{receiver=\"webhook:ops\",result=\"sent\"} 3"));
}

TEST(EngineTest, ReconfigureValidatesFirstAndKeepsState) {
  SimulatedClock clock;
  AlertsConfig alerts;
  alerts.rules = {CpuRule()};
  auto engine = Engine::Create(alerts, {}, clock);
  ASSERT_TRUE(engine.ok());
  (*engine)->Tick(Hot(150));
  ASSERT_EQ((*engine)->Alerts().at(0).state, AlertState::kFiring);
  AlertsConfig bad = alerts;
  bad.rules.push_back(CpuRule());
  absl::Status s = (*engine)->Reconfigure(bad, {});
  EXPECT_THAT(std::string(s.message()), HasSubstr("rules[1].name: duplicate rule name"));
  AlertsConfig bad_url = alerts;
  bad_url.alertmanagers = {"ftp://x"};
  EXPECT_THAT(std::string((*engine)->Reconfigure(bad_url, {}).message()),
              HasSubstr("alertmanagers[0]: 'ftp://x' is not an http"));
  AlertsConfig more = alerts;
  more.delivery.max_attempts = 5;  // A new notifier.
  ASSERT_TRUE((*engine)->Reconfigure(more, {}).ok());
  EXPECT_EQ((*engine)->Alerts().at(0).state, AlertState::kFiring);
}

}  // namespace
}  // namespace tidegate::alert
